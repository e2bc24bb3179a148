// The canonical N-Quads Digital Bazaar's RDF suites sign, for vccore's base direction tests
// (tests/test_direction.py). Reads one JSON request from stdin,
// {"documents": [{...}, ...], "suite": "eddsa-rdfc-2022" | "Ed25519Signature2020"}, and writes
// one JSON answer: {"results": [{"nquads": "..."} | {"error": "..."}, ...]}, one per document.
//
// Each document goes through the suite's own canonize: the eddsa-rdfc-2022 cryptosuite's (as
// DataIntegrityProof calls it: base null, safe mode) or jsonld-signatures 11's
// LinkedDataSignature (under Ed25519Signature2020), both of which set
// rdfDirection: 'i18n-datatype'. Offline: contexts come from ../../contexts (digests checked).
import {cryptosuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {Ed25519Signature2020} from '@digitalbazaar/ed25519-signature-2020';

import {loadContexts} from './contexts.mjs';

const CONTEXTS = loadContexts();

async function documentLoader(url) {
  if(!CONTEXTS.has(url)) {
    throw new Error(`Offline document loader: unknown URL "${url}"`);
  }
  return {contextUrl: null, documentUrl: url, document: structuredClone(CONTEXTS.get(url))};
}

const CANONIZE = {
  'eddsa-rdfc-2022': doc => cryptosuite.canonize(doc, {documentLoader, base: null, safe: true}),
  'Ed25519Signature2020': doc => new Ed25519Signature2020().canonize(doc, {documentLoader})
};

const chunks = [];
for await (const chunk of process.stdin) {
  chunks.push(chunk);
}
const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const canonize = CANONIZE[request.suite];
if(!canonize) {
  throw new Error(`Unknown suite ${JSON.stringify(request.suite)}.`);
}
const results = [];
for(const document of request.documents) {
  try {
    results.push({nquads: await canonize(document)});
  } catch(error) {
    results.push({error: String(error?.message ?? error)});
  }
}
process.stdout.write(JSON.stringify({results}) + '\n');
