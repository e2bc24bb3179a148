// JSON Lines harness around Digital Bazaar's VC stack, used by vccore's
// interop tests. One JSON request per stdin line, one JSON response per
// stdout line. Fully offline: see README.md for the protocol.
import {
  constants as cryptoConstants, createHash, createPublicKey, verify as cryptoVerify
} from 'node:crypto';
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {dirname, join} from 'node:path';
import {createInterface} from 'node:readline';
import {fileURLToPath} from 'node:url';

import * as vc from '@digitalbazaar/vc';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {
  checkStatus as checkBitstringStatus
} from '@digitalbazaar/vc-bitstring-status-list';
import {Ed25519Signature2020} from '@digitalbazaar/ed25519-signature-2020';
import {
  Ed25519VerificationKey2020
} from '@digitalbazaar/ed25519-verification-key-2020';
import {
  cryptosuite as eddsaRdfc2022CryptoSuite
} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {
  createSignCryptosuite as createEddsaJcs2022SignCryptosuite,
  createVerifyCryptosuite as createEddsaJcs2022VerifyCryptosuite
} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import jsonld from 'jsonld';

import {loadContexts} from './contexts.mjs';
import jsigs from 'jsonld-signatures';
// jsonld-signatures 6 (CommonJS) still has RsaSignature2018, as DIVOC 2.x/3.x signed with it
import jsigsLegacy from 'jsonld-signatures-legacy';
import cryptoLdLegacy from 'crypto-ld-legacy';

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
// vc-js 0.6.4 (CommonJS, with its own jsonld-signatures 5): what Sunbird RC's signer and
// DIVOC's certificate-signer-library call vc.issue / vc.verifyCredential on
const vcLegacy = require('vc-js');
// DIVOC's and Sunbird RC's signers log every document they load with console.log/info;
// stdout carries the protocol, so their chatter goes to stderr
console.log = console.info = (...args) => console.error(...args);
const KEY_PACKAGES = [
  '@digitalbazaar/vc',
  '@digitalbazaar/vc-bitstring-status-list',
  '@digitalbazaar/data-integrity',
  '@digitalbazaar/eddsa-rdfc-2022-cryptosuite',
  '@digitalbazaar/eddsa-jcs-2022-cryptosuite',
  '@digitalbazaar/ed25519-signature-2020',
  '@digitalbazaar/ed25519-multikey',
  '@digitalbazaar/ed25519-verification-key-2020',
  'jsonld-signatures',
  'jsonld',
  'rdf-canonize',
  'vc-js',
  'jsonld-signatures-legacy',
  'crypto-ld-legacy',
  'certificate-signer-library'
];
// DataIntegrityProof cryptosuites. The JCS package has separate sign and
// verify variants: only the sign one copies the document's @context into the
// proof, and it refuses to verify.
const SIGN_CRYPTOSUITES = {
  'eddsa-rdfc-2022': eddsaRdfc2022CryptoSuite,
  'eddsa-jcs-2022': createEddsaJcs2022SignCryptosuite()
};
const VERIFY_CRYPTOSUITES = [
  eddsaRdfc2022CryptoSuite,
  createEddsaJcs2022VerifyCryptosuite()
];
const DID_V1 = 'https://www.w3.org/ns/did/v1';
const MULTIKEY_V1 = 'https://w3id.org/security/multikey/v1';
// properties of a controller document that may embed verification methods
const VM_PROPERTIES = [
  'verificationMethod', 'assertionMethod', 'authentication',
  'capabilityInvocation', 'capabilityDelegation', 'keyAgreement'
];

const CONTEXTS = loadContexts();

// did:key is resolved locally: the DID document is fully determined by the
// public key multibase, so there is no need for a resolver package.
function didKeyDocument(url) {
  const did = url.split('#')[0];
  const publicKeyMultibase = did.slice('did:key:'.length);
  if(!publicKeyMultibase.startsWith('z6Mk')) {
    throw new Error(`Only Ed25519 did:key identifiers are supported: ${url}`);
  }
  const vm = {
    id: `${did}#${publicKeyMultibase}`,
    type: 'Multikey',
    controller: did,
    publicKeyMultibase
  };
  if(url.includes('#')) {
    if(url !== vm.id) {
      throw new Error(`Unknown did:key verification method: ${url}`);
    }
    return {'@context': MULTIKEY_V1, ...vm};
  }
  return {
    '@context': [DID_V1, MULTIKEY_V1],
    id: did,
    verificationMethod: [vm],
    assertionMethod: [vm.id],
    authentication: [vm.id],
    capabilityInvocation: [vm.id],
    capabilityDelegation: [vm.id]
  };
}

// A verification method URL like https://x/issuer#key may be served only as
// part of its controller document; pick the embedded node out of it.
function embeddedNode(documents, url) {
  const base = url.split('#')[0];
  const parent = documents[base];
  if(!parent || typeof parent !== 'object') {
    return undefined;
  }
  for(const property of VM_PROPERTIES) {
    for(const node of jsonld.getValues(parent, property)) {
      if(node && typeof node === 'object' && node.id === url) {
        return node['@context'] ? node :
          {'@context': parent['@context'], ...node};
      }
    }
  }
  return undefined;
}

function makeDocumentLoader(documents = {}) {
  if(!documents || typeof documents !== 'object' || Array.isArray(documents)) {
    throw new TypeError('"documents" must be an object {URL: document}.');
  }
  return async url => {
    let document;
    if(url.startsWith('did:key:')) {
      document = didKeyDocument(url);
    } else if(CONTEXTS.has(url)) {
      // bundled contexts win: jsonld.js caches contexts by URL across calls,
      // so serving different content under the same URL would be unreliable
      document = CONTEXTS.get(url);
    } else if(Object.hasOwn(documents, url)) {
      document = documents[url];
    } else if(url.includes('#')) {
      document = embeddedNode(documents, url);
    }
    if(document === undefined) {
      throw new Error(`Offline document loader: unknown URL "${url}"`);
    }
    // hand out copies: the libraries may mutate what they load
    return {
      contextUrl: null,
      documentUrl: url,
      document: structuredClone(document)
    };
  };
}

// Digital Bazaar's Ed25519VerificationKey2020 only imports the 64-byte
// seed||public secret key ("zrv..."), while the vc-di-eddsa vectors use the
// 32-byte seed form ("z3u2..."). Expand the seed to the 64-byte form and check
// that it matches the given public key.
async function expandSecretKey({publicKeyMultibase, secretKeyMultibase}) {
  const imported = await Ed25519Multikey.from({
    publicKeyMultibase, secretKeyMultibase
  });
  const {secretKey} = imported;
  if(secretKey.length === 64) {
    return secretKeyMultibase;
  }
  if(secretKey.length !== 32) {
    throw new Error(`Unexpected secret key length ${secretKey.length}.`);
  }
  const derived = await Ed25519Multikey.generate({seed: secretKey});
  if(derived.publicKeyMultibase !== publicKeyMultibase) {
    throw new Error(
      'The secret key does not match "publicKeyMultibase" ' +
      `(it derives ${derived.publicKeyMultibase}).`);
  }
  return derived.secretKeyMultibase;
}

async function makeSigningSuite({suite, key, created}) {
  if(!key || typeof key !== 'object') {
    throw new TypeError('"key" must be an object.');
  }
  const {id, controller, publicKeyMultibase} = key;
  const secretKeyMultibase = await expandSecretKey({
    publicKeyMultibase,
    secretKeyMultibase: key.secretKeyMultibase ?? key.privateKeyMultibase
  });
  let signingSuite;
  if(Object.hasOwn(SIGN_CRYPTOSUITES, suite)) {
    const keyPair = await Ed25519Multikey.from({
      id, controller, publicKeyMultibase, secretKeyMultibase
    });
    signingSuite = new DataIntegrityProof({
      signer: keyPair.signer(),
      cryptosuite: SIGN_CRYPTOSUITES[suite]
    });
  } else if(suite === 'Ed25519Signature2020') {
    const keyPair = await Ed25519VerificationKey2020.from({
      type: 'Ed25519VerificationKey2020', id, controller, publicKeyMultibase,
      privateKeyMultibase: secretKeyMultibase
    });
    signingSuite = new Ed25519Signature2020({key: keyPair});
  } else {
    throw new Error(`Unsupported suite "${suite}".`);
  }
  if(created !== undefined) {
    if(typeof created !== 'string' || isNaN(new Date(created))) {
      throw new TypeError('"created" must be an ISO date-time string.');
    }
    // the suites keep a string date verbatim; a Date (what their constructors
    // make of `date`) would be reformatted, dropping fractional seconds
    signingSuite.date = created;
  }
  return signingSuite;
}

// The contexts certificate-signer-library's own loader serves (security-context's security v1,
// its credentials.json); every other bundled context is handed to it.
const DIVOC_LIBRARY_CONTEXTS = [
  'https://w3id.org/security/v1',
  'https://www.w3.org/2018/credentials/v1'
];
let divocLibrary;

// certificate-signer-library's signer.js, loaded on first use. Its loader falls back to the
// network (jsonld's node loader, taken when signer.js loads) for a URL it does not know: that
// loader is replaced first by one that refuses, so the harness stays offline.
function divocSignerLibrary() {
  if(divocLibrary === undefined) {
    const signerPath = join(HERE, 'node_modules', 'certificate-signer-library', 'signer.js');
    const libraryRequire = createRequire(signerPath);
    libraryRequire('jsonld').documentLoaders.node = () => async url => {
      throw new Error(`Offline document loader: unknown URL "${url}"`);
    };
    divocLibrary = libraryRequire(signerPath);
  }
  return divocLibrary;
}

// A jsonld-signatures 6 suite from a Sunbird RC config.json issuer, as its getSignatureSuite
// builds it; `created` becomes the suite's `date`.
function legacySigningSuite(issuer, created) {
  const {publicKey, privateKey, signatureType, verificationMethod} = issuer;
  if(created !== undefined && (typeof created !== 'string' || isNaN(new Date(created)))) {
    throw new TypeError('"created" must be an ISO date-time string.');
  }
  const date = created;
  if(signatureType === 'RSA') {
    const key = new cryptoLdLegacy.RSAKeyPair({
      id: verificationMethod, publicKeyPem: publicKey, privateKeyPem: privateKey
    });
    return new jsigsLegacy.suites.RsaSignature2018({key, date});
  }
  if(signatureType === 'ED25519') {
    const key = new cryptoLdLegacy.Ed25519KeyPair({
      publicKeyBase58: publicKey, privateKeyBase58: privateKey, id: verificationMethod
    });
    return new jsigsLegacy.suites.Ed25519Signature2018({key, date});
  }
  throw new TypeError('"issuer.signatureType" must be "RSA" or "ED25519".');
}

// Errors from jsonld-signatures nest (VerificationError.errors, results[]);
// flatten them into readable messages.
function errorMessages(result) {
  const messages = [];
  const visit = error => {
    if(!error) {
      return;
    }
    if(Array.isArray(error.errors) && error.errors.length > 0) {
      error.errors.forEach(visit);
    } else {
      messages.push(describeError(error));
      // e.g. a status list credential's own verification errors
      if(Array.isArray(error.cause?.errors)) {
        visit(error.cause);
      }
    }
  };
  visit(result.error);
  visit(result.statusResult?.error);
  for(const entry of result.results || []) {
    visit(entry.error);
    visit(entry.purposeResult?.error);
  }
  return [...new Set(messages)];
}

function describeError(error) {
  if(!(error instanceof Error) && typeof error !== 'object') {
    return String(error);
  }
  let message = error.message ?? String(error);
  // jsonld.js puts the useful part (e.g. which term failed safe mode) into
  // `details`, while its message is generic
  const event = error.details?.event;
  if(event) {
    message += ` (${event.code}: ${event.message})`;
  } else if(error.details?.code) {
    message += ` (${error.details.code})`;
  }
  if(error.name && error.name !== 'Error' && !message.includes(error.name)) {
    message = `${error.name}: ${message}`;
  }
  return message;
}

// The status library answers {verified, results: [{verified,
// credentialStatus, status}]} or {verified: false, error}; vc.js leaves
// statusResult undefined when it did not get as far as checking status.
function statusResultJson(statusResult) {
  if(!statusResult) {
    return null;
  }
  const {error, ...rest} = statusResult;
  return error ? {...rest, error: describeError(error)} : rest;
}

function installedVersions() {
  const versions = {};
  for(const name of KEY_PACKAGES) {
    const manifest = join(HERE, 'node_modules', name, 'package.json');
    versions[name] = JSON.parse(readFileSync(manifest)).version;
  }
  return versions;
}

function requireObject(request, property) {
  const value = request[property];
  if(!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`"${property}" must be a JSON object.`);
  }
  return value;
}

const OPERATIONS = {
  async ping() {
    return {ok: true, versions: installedVersions()};
  },

  async sign(request) {
    const credential = requireObject(request, 'credential');
    const suite = await makeSigningSuite(request);
    const documentLoader = makeDocumentLoader(request.documents);
    const signed = await vc.issue({credential, suite, documentLoader});
    return {signed};
  },

  async verify(request) {
    const credential = requireObject(request, 'credential');
    const options = {
      credential,
      suite: [
        ...VERIFY_CRYPTOSUITES.map(
          cryptosuite => new DataIntegrityProof({cryptosuite})),
        new Ed25519Signature2020()
      ],
      documentLoader: makeDocumentLoader(request.documents)
    };
    // vc.js requires the issuer to be the verification method's controller
    // (CredentialIssuancePurpose). Spec vectors such as vc-di-eddsa's sign for
    // https://vc.example/issuers/5678 with a did:key, so tests may opt out and
    // check only the proof and its assertionMethod relationship.
    if(request.checkIssuer === false) {
      options.purpose = new jsigs.purposes.AssertionProofPurpose();
    } else if(![undefined, true].includes(request.checkIssuer)) {
      throw new TypeError('"checkIssuer" must be a boolean.');
    }
    if(request.now !== undefined && request.now !== null) {
      if(isNaN(new Date(request.now))) {
        throw new TypeError('"now" must be an ISO date-time string.');
      }
      options.now = new Date(request.now);
    }
    // Bitstring Status List: the status list credentials are loaded with the
    // same (offline) document loader, so they come from "documents"
    if(request.checkStatus === true) {
      options.checkStatus = checkBitstringStatus;
    } else if(![undefined, false].includes(request.checkStatus)) {
      throw new TypeError('"checkStatus" must be a boolean.');
    }
    const result = await vc.verifyCredential(options);
    const response = {
      verified: result.verified === true,
      errors: result.verified ? [] : errorMessages(result)
    };
    if(options.checkStatus) {
      response.statusResult = statusResultJson(result.statusResult);
    }
    return response;
  },

  // A 2018 detached-JWS proof (Ed25519Signature2018 / RsaSignature2018, as DIVOC signs them),
  // checked with jsonld.js and Node's own crypto: the proof options (the proof without jws,
  // under the security v2 context) and the document (without proof) canonicalized, each
  // SHA-256, after ASCII(base64url(header)) + "."; PS256 is PSS, SHA-256, a 32-byte salt.
  async verifyJws2018(request) {
    const credential = requireObject(request, 'credential');
    const documentLoader = makeDocumentLoader(request.documents);
    const {proof, ...document} = credential;
    const {jws, ...options} = proof;
    options['@context'] = 'https://w3id.org/security/v2';
    const canon = async doc => jsonld.canonize(doc, {
      algorithm: 'URDNA2015', format: 'application/n-quads', documentLoader
    });
    const sha = text => createHash('sha256').update(text, 'utf8').digest();
    const [encodedHeader, , encodedSignature] = jws.split('.');
    const header = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString('utf8'));
    const data = Buffer.concat([
      Buffer.from(encodedHeader + '.', 'ascii'),
      sha(await canon(options)),
      sha(await canon(document))
    ]);
    const signature = Buffer.from(encodedSignature, 'base64url');
    const key = createPublicKey(request.publicKeyPem);
    let verified;
    if(header.alg === 'PS256') {
      verified = cryptoVerify('sha256', data, {
        key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: 32
      }, signature);
    } else if(header.alg === 'EdDSA') {
      verified = cryptoVerify(null, data, key, signature);
    } else {
      throw new TypeError(`Unsupported alg ${header.alg}.`);
    }
    return {verified, header};
  },

  // RsaSignature2018 by Digital Bazaar's jsonld-signatures 6 with a new RSA key: the proof is
  // left uncompacted (compactProof: false), as DIVOC's signer wrote it; compacted into
  // credentials/v1 its keys would come out as full IRIs (that context's RsaSignature2018 is broken).
  async signRsa2018Legacy(request) {
    const credential = requireObject(request, 'credential');
    const key = await cryptoLdLegacy.RSAKeyPair.generate({
      id: request.verificationMethod, controller: request.controller
    });
    const suite = new jsigsLegacy.suites.RsaSignature2018({
      key, verificationMethod: request.verificationMethod, date: request.created
    });
    const signed = await jsigsLegacy.sign(structuredClone(credential), {
      suite,
      purpose: new jsigsLegacy.purposes.AssertionProofPurpose(),
      documentLoader: makeDocumentLoader(request.documents),
      compactProof: false
    });
    return {signed, publicKeyPem: key.publicKeyPem};
  },

  // Sign exactly as Sunbird RC's certificate-signer (v0.0.13, signerService.js) does, from one of
  // its config.json issuers ({publicKey, privateKey, signatureType, verificationMethod}):
  // Ed25519Signature2018 with a crypto-ld 3.9 Ed25519KeyPair (base58 keys) or RsaSignature2018
  // with an RSAKeyPair (PEM keys), both from jsonld-signatures 6, through vc-js 0.6.4's vc.issue
  // with AssertionProofPurpose and compactProof: false. "via": "jsigs" calls jsonld-signatures
  // 6's sign instead, as DIVOC's certificate-signer-library does for RSA. `created` is the
  // suite's `date` (the only change: it stands in for the clock).
  async signSunbird2018(request) {
    const credential = requireObject(request, 'credential');
    const issuer = requireObject(request, 'issuer');
    const suite = legacySigningSuite(issuer, request.created);
    const options = {
      suite,
      purpose: new jsigsLegacy.purposes.AssertionProofPurpose({
        controller: {
          '@context': jsigsLegacy.SECURITY_CONTEXT_URL,
          id: 'controller_id',
          publicKey: [],
          assertionMethod: [issuer.verificationMethod]
        }
      }),
      documentLoader: makeDocumentLoader(request.documents),
      compactProof: false
    };
    const input = structuredClone(credential);
    let signed;
    if(request.via === undefined || request.via === 'vc-js') {
      signed = await vcLegacy.issue({credential: input, ...options});
    } else if(request.via === 'jsigs') {
      signed = await jsigsLegacy.sign(input, options);
    } else {
      throw new TypeError('"via" must be "vc-js" or "jsigs".');
    }
    return {signed};
  },

  // Verify as DIVOC's verification does with certificate-signer-library 2.0.5 (signer.js):
  // setDocumentLoader(documents, config), then verifyJSON: RSA through jsonld-signatures 6's
  // verify, Ed25519 through vc-js 0.6.4's verifyCredential, each with the configured key and
  // AssertionProofPurpose. `config`: {keyType: "RSA" | "ED25519", CERTIFICATE_DID,
  // CERTIFICATE_PUBKEY_ID, CERTIFICATE_CONTROLLER_ID, publicKeyPem | publicKeyBase58}. The
  // library's loader knows security v1 and credentials v1; the other bundled contexts and
  // `documents` are handed to it as its extra mapping, and its network fallback is cut off.
  async verifyDivocLibrary(request) {
    const credential = requireObject(request, 'credential');
    const config = requireObject(request, 'config');
    const library = divocSignerLibrary();
    const mapping = {...(request.documents || {})};
    for(const [url, document] of CONTEXTS) {
      if(!DIVOC_LIBRARY_CONTEXTS.includes(url)) {
        mapping[url] = structuredClone(document);
      }
    }
    library.setDocumentLoader(mapping, config);
    const result = await library.verifyJSON(structuredClone(credential));
    return {
      verified: result.verified === true,
      errors: result.verified ? [] : errorMessages(result)
    };
  },

  // vc-js 0.6.4's verifyCredential with jsonld-signatures 6's Ed25519Signature2018 or
  // RsaSignature2018 holding `key` (an Ed25519VerificationKey2018 with publicKeyBase58, or an
  // RsaVerificationKey2018 with publicKeyPem), AssertionProofPurpose with a controller whose
  // assertionMethod is the key, as Sunbird RC's verifyCredentials does. vc-js refuses a
  // credential with credentialStatus unless given checkStatus: "skipStatus": true gives it one
  // that answers verified.
  async verifyVcjs2018(request) {
    const credential = requireObject(request, 'credential');
    const key = requireObject(request, 'key');
    const {Ed25519Signature2018, RsaSignature2018} = jsigsLegacy.suites;
    const suite = key.publicKeyPem !== undefined ?
      new RsaSignature2018({key: new cryptoLdLegacy.RSAKeyPair({...key})}) :
      new Ed25519Signature2018({key: new cryptoLdLegacy.Ed25519KeyPair({...key})});
    const options = {
      credential: structuredClone(credential),
      suite,
      purpose: new jsigsLegacy.purposes.AssertionProofPurpose({
        controller: {
          '@context': jsigsLegacy.SECURITY_CONTEXT_URL,
          id: key.controller,
          publicKey: [key],
          assertionMethod: [key.id]
        }
      }),
      documentLoader: makeDocumentLoader(request.documents),
      compactProof: false
    };
    if(request.skipStatus === true) {
      options.checkStatus = async () => ({verified: true});
    }
    const result = await vcLegacy.verifyCredential(options);
    return {
      verified: result.verified === true,
      errors: result.verified ? [] : errorMessages(result)
    };
  },

  async canonize(request) {
    const document = requireObject(request, 'document');
    const nquads = await jsonld.canonize(document, {
      algorithm: 'RDFC-1.0',
      format: 'application/n-quads',
      safe: true,
      base: null,
      documentLoader: makeDocumentLoader(request.documents)
    });
    return {nquads};
  }
};

async function handle(line) {
  let request;
  try {
    request = JSON.parse(line);
  } catch(error) {
    return {error: `Invalid JSON request: ${error.message}`};
  }
  if(!request || typeof request !== 'object' || Array.isArray(request)) {
    return {error: 'A request must be a JSON object.'};
  }
  const operation = Object.hasOwn(OPERATIONS, request.op) ?
    OPERATIONS[request.op] : undefined;
  if(!operation) {
    return {error: `Unknown op ${JSON.stringify(request.op)}.`};
  }
  try {
    return await operation(request);
  } catch(error) {
    return {error: describeError(error)};
  }
}

// Requests are handled one at a time so responses stay in request order.
const lines = createInterface({input: process.stdin, crlfDelay: Infinity});
for await (const line of lines) {
  const response = await handle(line);
  process.stdout.write(JSON.stringify(response) + '\n');
}
