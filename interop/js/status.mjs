// Multi-bit status lists read by Digital Bazaar's @digitalbazaar/vc-bitstring-status-list, for
// vccore's state list tests (tests/test_status_messages.py). Reads one JSON request from stdin,
// {"lists": [{"encodedList": "u...", "reads": [[statusListIndex, statusSize], ...]}, ...]}, and
// writes one JSON answer:
// {"version": "2.0.1", "results": [{"length": bits, "values": [...], "atIndex": [...]}, ...]}.
//
// The library has no statusSize: decodeList gives a list of single bits, and getStatus(i) reads
// bit i. "values" reads an entry the spec's way with that API, statusSize bits from bit
// statusListIndex * statusSize, most significant first; "atIndex" is what the library's own
// checkStatus reads for such an entry, getStatus(statusListIndex), whatever its statusSize.
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {readFileSync} from 'node:fs';

import {decodeList} from '@digitalbazaar/vc-bitstring-status-list';

// the package's exports name no package.json: read it from its folder
const {version} = JSON.parse(readFileSync(join(
  dirname(fileURLToPath(import.meta.url)),
  'node_modules', '@digitalbazaar', 'vc-bitstring-status-list', 'package.json')));

async function read({encodedList, reads}) {
  const list = await decodeList({encodedList});
  const values = [];
  const atIndex = [];
  for(const [index, size] of reads) {
    let value = 0;
    for(let bit = index * size; bit < (index + 1) * size; bit++) {
      value = value * 2 + (list.getStatus(bit) ? 1 : 0);
    }
    values.push(value);
    atIndex.push(list.getStatus(index));
  }
  return {length: list.length, values, atIndex};
}

try {
  const request = JSON.parse(readFileSync(0, 'utf8'));
  const results = [];
  for(const one of request.lists) {
    results.push(await read(one));
  }
  process.stdout.write(JSON.stringify({version, results}) + '\n');
} catch(e) {
  process.stdout.write(JSON.stringify({error: String(e && e.stack || e)}) + '\n');
  process.exitCode = 1;
}
