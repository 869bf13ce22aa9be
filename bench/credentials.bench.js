// Credentials end to end, as `lwprov credentials generate` runs them: names from a {seq} template, keys and
// certificates (worker threads), PSKs, secrets sealed with the master key, one SQLite transaction. Prints the cert
// credentials/s, the raw node:crypto P-256 keygen+sign rate on one thread measured in the same run, their ratio, and
// the time for 100,000 PSK credentials. Targets (issue 2): >= 5,000 cert credentials/s, 100,000 PSKs < 5 s.
import 'reflect-metadata'

import { generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { generateBatch } from '../dist/core/credentials/index.js'
import { openManifest } from '../dist/core/manifest/open.js'
import { DEFAULT_PROFILE } from '../dist/core/model.js'
import { createCa, loadCa, writeCaDir } from '../dist/core/pki/index.js'

const CERTS = Number(process.env.CRED_BENCH_CERTS ?? 20_000)
const PSKS = 100_000
const dir = mkdtempSync(join(tmpdir(), 'lwprov-bench-cred-'))
try {
  const made = await createCa({ name: 'Bench CA', keyType: 'ec-p256', days: 3650 })
  await writeCaDir(join(dir, 'ca'), made, 'bench-passphrase')
  const ca = await loadCa(join(dir, 'ca'), 'bench-passphrase')
  const masterKey = randomBytes(32)
  const store = await openManifest(join(dir, 'm.db'), { migrate: true })
  const profile = (security) => ({ ...DEFAULT_PROFILE, mode: 'bootstrap', security, serverUri: 'coaps://bs.example.com:5684' })

  // Warm-up: JIT and worker start-up paths.
  await generateBatch(store, { template: 'warm-{seq:06}', count: 1000 }, profile('cert'), { batch: 'warm', ca, masterKey, now: new Date() })

  let t = performance.now()
  const r = await generateBatch(store, { template: 'urn:dev:os:320973-BENCH{seq:06}', count: CERTS }, profile('cert'), { batch: 'bench-cert', ca, masterKey, now: new Date() })
  const certSecs = (performance.now() - t) / 1000
  if (r.count !== CERTS) throw new Error('short result')
  const certRate = CERTS / certSecs

  const tbsLike = Buffer.alloc(350, 1)
  let n = 0
  t = performance.now()
  while (performance.now() - t < 2000) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    sign('sha256', tbsLike, privateKey)
    n++
  }
  const rawRate = n / ((performance.now() - t) / 1000)

  t = performance.now()
  const p = await generateBatch(store, { template: 'urn:dev:os:320973-PSK{seq:06}', count: PSKS }, profile('psk'), { batch: 'bench-psk', masterKey, now: new Date() })
  const pskSecs = (performance.now() - t) / 1000
  if (p.count !== PSKS) throw new Error('short PSK result')
  await store.close()

  const ok = (cond) => (cond ? 'ok' : 'MISSED')
  console.log(`credentials: cert credentials/s through lwprov (${CERTS}, sealed, one SQLite transaction): ${certRate.toFixed(0)} (target >= 5000: ${ok(certRate >= 5000)})`)
  console.log(`credentials: raw node:crypto P-256 keygen+sign/s, one thread, same run: ${rawRate.toFixed(0)}`)
  console.log(`credentials: ratio lwprov / raw: ${(certRate / rawRate).toFixed(2)}x`)
  console.log(`credentials: ${PSKS} PSK credentials (sealed, recorded): ${pskSecs.toFixed(2)} s (target < 5 s: ${ok(pskSecs < 5)})`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
