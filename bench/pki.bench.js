// pki benchmark: device certificate credentials per second through lwprov (worker threads + DER template), the raw
// node:crypto P-256 keygen+sign rate on one thread measured in the same run, their ratio, and 100,000 PSK credentials.
// Run `npx tsc -p tsconfig.json` first (npm run bench does).
import 'reflect-metadata'

import { generateKeyPairSync, sign } from 'node:crypto'

import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { createCa, fileSigner, finalizeModules, generatePsk, issueDeviceCertificates, loadTokenCa, parsePkcs11Uri, randomPskIdentity, tokenSigner, writeTokenCaDir } from '../dist/core/pki/index.js'

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
    signer: fileSigner(createPrivateKey({ key: made.keyPkcs8Der, format: 'der', type: 'pkcs8' })),
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

// The same issuing through a CA key held in SoftHSM2 (a session per worker thread), beside the file-key rate above.
const TOKEN_CERTS = Number(process.env.PKI_BENCH_TOKEN_CERTS ?? 5000)
const MODULE = process.env.LWPROV_PKCS11_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so'
let tokenLine = `pki: cert credentials/s through SoftHSM2 skipped (no ${MODULE} or softhsm2-util)`
let hasUtil = true
try {
  execFileSync('softhsm2-util', ['--version'], { stdio: 'ignore' })
} catch {
  hasUtil = false
}
if (existsSync(MODULE) && hasUtil) {
  const dir = mkdtempSync(join(tmpdir(), 'lwprov-bench-hsm-'))
  try {
    mkdirSync(join(dir, 'tokens'))
    process.env.SOFTHSM2_CONF = join(dir, 'softhsm2.conf')
    writeFileSync(process.env.SOFTHSM2_CONF, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`)
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'Bench', '--so-pin', '12345678', '--pin', '1234'], { stdio: 'ignore' })
    const uri = parsePkcs11Uri('pkcs11:token=Bench;object=bench-ca')
    const s = tokenSigner(uri, MODULE, '1234', 'ec-p256')
    const key = s.session.generate('ec-p256')
    writeTokenCaDir(join(dir, 'ca'), await createCa({ name: 'Bench Token CA', keyType: 'ec-p256', days: 3650, key: { spki: key.spki, signer: s } }), { ...uri, id: key.id, modulePath: MODULE })
    s.session.close()
    const tca = await loadTokenCa(join(dir, 'ca'), '1234')
    const treqs = reqs.slice(0, TOKEN_CERTS)
    await issueDeviceCertificates(tca, treqs.slice(0, 500), { days: 3650, workers: 2 })
    t = performance.now()
    const tcerts = await issueDeviceCertificates(tca, treqs, { days: 3650 })
    const tSecs = (performance.now() - t) / 1000
    if (tcerts.length !== TOKEN_CERTS) throw new Error('short token result')
    const tRate = TOKEN_CERTS / tSecs
    t = performance.now()
    await issueDeviceCertificates(ca, treqs, { days: 3650 })
    const fRate = TOKEN_CERTS / ((performance.now() - t) / 1000)
    tokenLine = `pki: cert credentials/s through SoftHSM2 ${Math.round(tRate)} beside file key ${Math.round(fRate)} (same run, ${TOKEN_CERTS} certificates each; ratio ${(tRate / fRate).toFixed(2)})`
    tca.signer.close?.()
    finalizeModules()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const r = (x) => Math.round(x)
console.log(`pki: cert credentials/s ${r(certRate)} (target >= 5000; ${CERTS} certificates in ${certSecs.toFixed(2)} s)`)
console.log(`pki: raw node:crypto P-256 keygen+sign/s ${r(rawRate)} (generateKeyPairSync to DER + sign, 1 thread)`)
console.log(`pki: ratio lwprov/raw ${(certRate / rawRate).toFixed(2)}`)
console.log(`pki: 100000 PSK credentials in ${pskSecs.toFixed(2)} s (target < 5)`)
console.log(tokenLine)
