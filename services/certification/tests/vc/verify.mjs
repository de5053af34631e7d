// A relying party verifies one credential with Digital Bazaar's libraries, offline (ADR 0032).
//
//   node verify.mjs case.json
//
// case.json: {"credential": file, "now": ISO date-time, "contexts": the service's contexts directory,
//             "documents": {url: file}} — the issuer's DID document and status lists as fetched over HTTP.
// Prints {"verified": bool, "errors": [message…], "revoked": bool|null, "proof_verified": bool} and exits 0
// whatever the verdict: verified is the relying party's answer (a good proof, in its validity, not revoked);
// the library's own `verified` stays true for a revoked credential whose list it read (the status check ran).
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';

const read = file => JSON.parse(readFileSync(file, 'utf8'));
const spec = read(process.argv[2]);
const documents = new Map();
for(const [url, file] of Object.entries(read(join(spec.contexts, 'index.json')))) {
  documents.set(url, read(join(spec.contexts, file)));
}
for(const [url, file] of Object.entries(spec.documents)) {
  documents.set(url, read(file));
}

// did:web resolution as the method says (host, then path segments, over https), from what was fetched
function didWebUrl(did) {
  const [host, ...path] = did.slice('did:web:'.length).split(':').map(decodeURIComponent);
  return path.length ? `https://${host}/${path.join('/')}/did.json` : `https://${host}/.well-known/did.json`;
}

async function documentLoader(url) {
  if(url.startsWith('did:web:')) {
    const [did, fragment] = url.split('#');
    const document = documents.get(didWebUrl(did));
    if(!document || document.id !== did) {
      throw new Error(`DID ${did} not resolved`);
    }
    if(!fragment) {
      return {contextUrl: null, documentUrl: url, document};
    }
    const method = document.verificationMethod.find(m => m.id === url);
    if(!method) {
      throw new Error(`${url} is not in its DID document`);
    }
    return {contextUrl: null, documentUrl: url, document: {'@context': document['@context'], ...method}};
  }
  if(documents.has(url)) {
    return {contextUrl: null, documentUrl: url, document: documents.get(url)};
  }
  throw new Error(`${url}: not shipped nor fetched, and this verifier never goes to the network`);
}

const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
const result = await vc.verifyCredential({
  credential: read(spec.credential), suite, documentLoader, checkStatus, now: new Date(spec.now)
});
const errors = [];
const collect = error => {
  if(!error) return;
  for(const e of (error.errors || [error])) errors.push(e.message || String(e));
};
collect(result.error);
for(const r of result.results || []) collect(r.error);
const statuses = result.statusResult?.results || [];
collect(result.statusResult?.error);
const revoked = statuses.length ? statuses.some(s => s.status === true) : null;
if(revoked) errors.push('revoked: the status list has this credential\'s bit set');
const proofVerified = result.verified === true;
console.log(JSON.stringify({
  verified: proofVerified && revoked !== true, errors: [...new Set(errors)], revoked, proof_verified: proofVerified
}));
