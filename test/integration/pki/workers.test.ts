// The worker-thread path of device issuing runs only from the compiled build (the worker is dist/core/pki/issue-worker.js;
// from TypeScript source issuing stays on the calling thread), so this test drives dist/ — `npm test` builds it first.
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

type Pki = typeof import('../../../src/core/pki/index.js')

const distIndex = fileURLToPath(new URL('../../../dist/core/pki/index.js', import.meta.url))
let pki: Pki
let dir: string

beforeAll(async () => {
  expect(existsSync(distIndex), 'dist/ is missing: run `npm run build` (npm test does) before the integration tests').toBe(true)
  pki = (await import(pathToFileURL(distIndex).href)) as Pki
  dir = mkdtempSync(join(tmpdir(), 'lwprov-pki-workers-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('issuing in worker threads (compiled build)', () => {
  it('issues a large batch across workers in request order with the same profile', async () => {
    expect(pki.workersAvailable()).toBe(true)
    pki.writeCaDir(join(dir, 'ca'), await pki.createCa({ name: 'Worker CA', keyType: 'ec-p256', days: 365 }), 'pw-workers-12')
    const ca = await pki.loadCa(join(dir, 'ca'), 'pw-workers-12')
    const reqs = Array.from({ length: 1200 }, (_, i) => ({ endpoint: `w-${i}`, ...(i % 3 === 0 ? { accountId: 'acct' } : {}) }))
    const certs = await pki.issueDeviceCertificates(ca, reqs, { days: 30, workers: 2 })
    expect(certs.map((c) => c.endpoint)).toEqual(reqs.map((r) => r.endpoint))
    expect(new Set(certs.map((c) => c.serialHex)).size).toBe(1200)
    const caKey = createPublicKey(ca.privateKey!)
    for (const [i, c] of certs.entries()) {
      const x = new X509Certificate(c.certificateDer)
      expect(x.verify(caKey)).toBe(true)
      expect(x.subject).toBe(i % 3 === 0 ? 'OU=acct\nCN=w-' + i : `CN=w-${i}`)
      expect(x.checkPrivateKey(createPrivateKey({ key: c.privateKeyDer, format: 'der', type: 'pkcs8' }))).toBe(true)
      expect(c.certificatePem).toBe(x.toString())
      expect(c.fingerprint).toBe(x.fingerprint256.replaceAll(':', '').toLowerCase())
      expect(x.serialNumber.toLowerCase()).toBe(c.serialHex)
    }
  })
})
