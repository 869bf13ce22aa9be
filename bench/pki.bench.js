// pki benchmark: device certificate credentials per second through lwprov (worker threads + DER template), the raw
// node:crypto P-256 keygen+sign rate on one thread measured in the same run, their ratio, and 100,000 PSK credentials.
// Run `npx tsc -p tsconfig.json` first (npm run bench does).
import 'reflect-metadata'

import { generateKeyPairSync, sign } from 'node:crypto'

import { createCa, generatePsk, issueDeviceCertificates, randomPskIdentity } from '../dist/core/pki/index.js'

const CERTS = Number(process.env.PKI_BENCH_CERTS ?? 20_000)
const PSKS = 100_000
const RAW_MS = 2000

/** An in-memory CA shaped like loadCa's result, without touching the disk. */
async function memoryCa() {
  const { createPrivateKey, X509Certificate } = await import('node:crypto')
  const { pemBlocks } = await import('../dist/core/pki/index.js')
  const { parseRawCertificate, readSki } = await import('../dist/core/pki/cert.js')
  const made = await createCa({ name: 'Bench CA', keyType: 'ec-p256', days: 3650 })
  const certDer = pemBlocks(made.certPem)[0].der
  const x = new X509Certificate(certDer)
  const raw = parseRawCertificate(certDer)
  return {
    dir: '',
    certPem: made.certPem,
    certDer,
    chainDer: [certDer],
    privateKey: createPrivateKey({ key: made.keyPkcs8Der, format: 'der', type: 'pkcs8' }),
    subject: x.subject,
    issuer: x.issuer,
    subjectDer: raw.subject,
    keyId: readSki(raw.extensions.get('2.5.29.14').value),
    keyType: 'ec-p256',
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    pathLen: 0,
    fingerprint: '',
  }
}

const ca = await memoryCa()
const reqs = Array.from({ length: CERTS }, (_, i) => ({ endpoint: `urn:dev:os:320973-BENCH${String(i).padStart(6, '0')}` }))

// Warm-up (JIT, worker start-up code paths) on a small batch through the worker path.
await issueDeviceCertificates(ca, reqs.slice(0, 1000), { days: 3650, workers: 2 })

let t = performance.now()
const certs = await issueDeviceCertificates(ca, reqs, { days: 3650 })
const certSecs = (performance.now() - t) / 1000
if (certs.length !== CERTS) throw new Error('short result')
const certRate = CERTS / certSecs

// The raw floor: what node:crypto alone does on one thread (key generation + one ECDSA signature).
const tbsLike = Buffer.alloc(350, 1)
let n = 0
t = performance.now()
while (performance.now() - t < RAW_MS) {
  generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  })
  sign('sha256', tbsLike, { key: ca.privateKey, dsaEncoding: 'der' })
  n++
}
const rawRate = n / ((performance.now() - t) / 1000)

t = performance.now()
for (let i = 0; i < PSKS; i++) {
  generatePsk(32)
  randomPskIdentity()
}
const pskSecs = (performance.now() - t) / 1000

const r = (x) => Math.round(x)
console.log(`pki: cert credentials/s ${r(certRate)} (target >= 5000; ${CERTS} certificates in ${certSecs.toFixed(2)} s)`)
console.log(`pki: raw node:crypto P-256 keygen+sign/s ${r(rawRate)} (generateKeyPairSync to DER + sign, 1 thread)`)
console.log(`pki: ratio lwprov/raw ${(certRate / rawRate).toFixed(2)}`)
console.log(`pki: 100000 PSK credentials in ${pskSecs.toFixed(2)} s (target < 5)`)
