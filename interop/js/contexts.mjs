// The project's pinned contexts (../../contexts, by its index.json), for the offline document
// loaders of the JS harnesses. Each file is checked against the index's sha256 digest as it is
// read, so a corrupted or edited context fails loudly instead of changing signatures.
import {createHash} from 'node:crypto';
import {readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const CONTEXTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'contexts');

// URL (and each alias) -> the parsed context document.
export function loadContexts() {
  const index = JSON.parse(readFileSync(join(CONTEXTS_DIR, 'index.json')));
  const contexts = new Map();
  for(const [url, entry] of Object.entries(index)) {
    const bytes = readFileSync(join(CONTEXTS_DIR, entry.file));
    const digest = createHash('sha256').update(bytes).digest('hex');
    if(entry.sha256 && digest !== entry.sha256) {
      throw new Error(`sha256 mismatch for ${entry.file} (${url})`);
    }
    const document = JSON.parse(bytes);
    for(const alias of [url, ...(entry.aliases || [])]) {
      contexts.set(alias, document);
    }
  }
  return contexts;
}
