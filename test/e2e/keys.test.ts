/**
 * Keys that never leave the token, end to end through the CLI: a SoftHSM2 root CA, a delegated line CA with a quota,
 * a station batch on simulated devices issuing under the line CA, a signed export checked (and an altered one
 * refused), the audit chain verified, revocation with a CRL that OpenSSL honours, and the coded errors.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { appendFileSync, chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { runCli, tempDir } from '../helpers/cli.js'
import { cleanupSims, startSim } from '../helpers/pty.js'
import { SOFTHSM_MODULE, startSoftHsm } from '../helpers/softhsm.js'

const dir = tempDir('lwprov-e2e-keys-')
const PIN = '87654321'
const pinFile = join(dir, 'pin')
const db = join(dir, 'm.db')
let env: Record<string, string>

beforeAll(() => {
  const hsm = startSoftHsm()
  hsm.initToken('Factory', PIN)
  writeFileSync(pinFile, `${PIN}\n`)
  chmodSync(pinFile, 0o600)
  env = { SOFTHSM2_CONF: hsm.conf, LWPROV_MASTER_KEY: randomBytes(32).toString('hex'), LWPROV_CA_PASSPHRASE: 'e2e-line-ca-passphrase', LWPROV_OPERATOR: 'alice', LWPROV_STATION: 'line-3' }
})
afterAll(async () => cleanupSims())

const cli = (args: string[], timeoutMs = 60_000) => runCli(args, { env, timeoutMs })
const openssl = (args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' })
const inFuture = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10)

describe('token root, delegated line CA, station, signed export, audit (e2e)', () => {
  it('runs a line under a token-held root and proves what it did', async () => {
    // 1. the root's key is generated in the token: the CA directory holds no key
    const c = await cli(['ca', 'create', '--name', 'HSM Root', '--pkcs11', 'pkcs11:token=Factory;object=root-ca', '--module', SOFTHSM_MODULE, '--pin-file', pinFile, '--out', join(dir, 'root'), '--json'])
    expect(c.code, c.stderr).toBe(0)
    expect(c.json.result.pkcs11).toMatch(/^pkcs11:token=Factory;object=root-ca;id=/)
    for (const f of readdirSync(join(dir, 'root'))) expect(readFileSync(join(dir, 'root', f), 'latin1')).not.toMatch(/PRIVATE KEY/)

    // 2. a line CA with a quota of 4, recorded in the manifest
    const d = await cli(['ca', 'delegate', '--parent', join(dir, 'root'), '--pin-file', pinFile, '--name', 'Line 3', '--max-certificates', '4', '--not-after', inFuture(30), '--out', join(dir, 'line3'), '--manifest', db, '--json'])
    expect(d.code, d.stderr).toBe(0)
    expect(d.json.result.maxCertificates).toBe(4)
    const line = readFileSync(join(dir, 'line3', 'ca.pem'), 'latin1')
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: line, encoding: 'utf8' })
    expect(text).toMatch(/CA:TRUE, pathlen:0/)

    // 3. a station batch on simulated devices, certificates issued under the line CA
    const ports = []
    for (let i = 0; i < 2; i++) ports.push((await startSim({ protocol: 'lwprov', serial: `K${i}-00000`, renew: true, link: join(dir, `p${i}`) })).link!)
    const b = await cli(['batch', 'create', '--name', 'WO-K', '--count', '4', '--endpoint', 'hsm-{seq:03}', '--manifest', db])
    expect(b.code, b.stderr).toBe(0)
    const s = await cli(['station', '--ports', ports.join(','), '--protocol', 'lwprov', '--batch', 'WO-K', '--count', '4', '--mode', 'direct', '--security', 'cert', '--server', 'coaps://lwm2m.example.com:5684', '--ca', join(dir, 'line3'), '--manifest', db, '--json'], 90_000)
    expect(s.code, s.stderr + s.stdout).toBe(0)
    expect(s.json.result.verified).toBe(4)

    // 4. the quota is spent: a fifth certificate is refused
    const over = await cli(['credentials', 'generate', '--count', '1', '--endpoint', 'over-{seq:03}', '--mode', 'direct', '--security', 'cert', '--server', 'coaps://lwm2m.example.com:5684', '--ca', join(dir, 'line3'), '--manifest', db, '--json'])
    expect(over.code).toBe(3)
    expect(over.json.error.code).toBe('E_CA_QUOTA')

    // 5. OpenSSL accepts every chain: device -> line CA -> token root
    const pems = join(dir, 'pems')
    expect((await cli(['manifest', 'export', '--format', 'pem', '--out', pems, '--manifest', db])).code).toBe(0)
    const certs = readdirSync(pems).filter((f) => f.endsWith('.pem'))
    expect(certs).toHaveLength(4)
    for (const f of certs) {
      const v = openssl(['verify', '-CAfile', join(dir, 'root', 'ca.pem'), '-untrusted', join(dir, 'line3', 'ca.pem'), join(pems, f)])
      expect(v.status, v.stderr).toBe(0)
    }

    // 6. a signed export verifies; an altered one does not
    const csv = join(dir, 'signed.csv')
    const e = await cli(['manifest', 'export', '--format', 'csv', '--sign', '--out', csv, '--manifest', db, '--json'])
    expect(e.code, e.stderr).toBe(0)
    expect(e.json.result.signatures).toEqual([`${csv}.jws`])
    const ok = await cli(['manifest', 'verify-export', csv, '--manifest', db, '--json'])
    expect(ok.code, ok.stderr).toBe(0)
    appendFileSync(csv, 'hsm-999,injected\n')
    const altered = await cli(['manifest', 'verify-export', csv, '--manifest', db, '--json'])
    expect(altered.code).toBe(6)
    expect(altered.json.error.code).toBe('E_EXPORT_SIGNATURE')

    // 7. the audit trail holds every act, chained and signed
    const a = await cli(['audit', 'verify', '--manifest', db, '--json'])
    expect(a.code, a.stderr).toBe(0)
    expect(a.json.result).toMatchObject({ ok: true })
    expect(a.json.result.signedThrough).toBe(a.json.result.entries)
    const list = await cli(['audit', 'list', '--manifest', db, '--json'])
    const actions = list.json.result.map((x: { action: string }) => x.action)
    expect(actions.slice(0, 3)).toEqual(['ca.delegated', 'batch.created', 'reserved'])
    expect(actions.filter((x: string) => x === 'verified')).toHaveLength(4)
    expect(actions).toContain('exported.signed')
    expect(list.json.result[0]).toMatchObject({ operator: 'alice', station: 'line-3', subject: 'CN=Line 3' })
    const one = await cli(['audit', 'list', '--endpoint', 'hsm-002', '--manifest', db, '--json'])
    expect(one.json.result.map((x: { action: string }) => x.action)).toEqual(expect.arrayContaining(['reserved', 'verified']))
  }, 240_000)

  it('revokes a device and the line CA: a CRL signed by the line CA, manifest verify flags what is still active, no more issuing', async () => {
    const r = await cli(['ca', 'revoke', '--endpoint', 'hsm-001', '--reason', 'keyCompromise', '--manifest', db, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const crl = join(dir, 'line3.crl')
    const x = await cli(['manifest', 'export', '--format', 'crl', '--ca', join(dir, 'line3'), '--out', crl, '--manifest', db, '--json'])
    expect(x.code, x.stderr).toBe(0)
    expect(x.json.result.revoked).toBe(1)
    const chk = openssl(['crl', '-in', crl, '-CAfile', join(dir, 'line3', 'ca.pem'), '-noout', '-verify'])
    expect(chk.stderr + chk.stdout).toMatch(/verify OK/)
    // OpenSSL refuses the revoked device with the CRL, and still accepts another
    const chain = join(dir, 'chain.pem')
    writeFileSync(chain, readFileSync(join(dir, 'line3', 'ca.pem'), 'latin1') + readFileSync(join(dir, 'root', 'ca.pem'), 'latin1'))
    const rootCrl = join(dir, 'root.crl')
    const rx = await cli(['manifest', 'export', '--format', 'crl', '--ca', join(dir, 'root'), '--pin-file', pinFile, '--out', rootCrl, '--manifest', db])
    expect(rx.code, rx.stderr).toBe(0)
    const crls = join(dir, 'crls.pem')
    writeFileSync(crls, readFileSync(crl, 'latin1') + readFileSync(rootCrl, 'latin1'))
    const revoked = openssl(['verify', '-crl_check_all', '-CRLfile', crls, '-CAfile', chain, join(dir, 'pems', 'hsm-001.pem')])
    expect(revoked.status).not.toBe(0)
    expect(revoked.stdout + revoked.stderr).toMatch(/revoked/)
    expect(openssl(['verify', '-crl_check_all', '-CRLfile', crls, '-CAfile', chain, join(dir, 'pems', 'hsm-002.pem')]).status).toBe(0)

    // revoking the line CA: it may not issue, and its devices still marked active are flagged
    expect((await cli(['ca', 'revoke', '--ca', join(dir, 'line3'), '--reason', 'cessationOfOperation', '--manifest', db])).code).toBe(0)
    const v = await cli(['manifest', 'verify', '--manifest', db, '--json'])
    expect(v.code).not.toBe(0)
    const out = JSON.stringify(v.json)
    expect(out).toContain('REVOKED_ACTIVE')
    expect(out).toContain('hsm-002')
    const after = await cli(['credentials', 'generate', '--count', '1', '--endpoint', 'late-{seq:03}', '--mode', 'direct', '--security', 'cert', '--server', 'coaps://lwm2m.example.com:5684', '--ca', join(dir, 'line3'), '--manifest', db, '--json'])
    expect(after.json.error.code).toBe('E_CA_REVOKED')
    expect((await cli(['audit', 'verify', '--manifest', db])).code).toBe(0)
  }, 120_000)

  it('a wrong PIN is E_PKCS11_PIN (exit 6); a missing token and a missing module are coded too', async () => {
    const bad = join(dir, 'badpin')
    writeFileSync(bad, '00000000\n')
    chmodSync(bad, 0o600)
    const w = await cli(['credentials', 'generate', '--count', '1', '--endpoint', 'x-{seq}', '--mode', 'direct', '--security', 'cert', '--server', 'coaps://a.example.com:5684', '--ca', join(dir, 'root'), '--pin-file', bad, '--manifest', join(dir, 'other.db'), '--json'])
    expect(w.code).toBe(6)
    expect(w.json.error.code).toBe('E_PKCS11_PIN')
    const t = await cli(['ca', 'create', '--name', 'X', '--pkcs11', 'pkcs11:token=Nowhere;object=x', '--module', SOFTHSM_MODULE, '--pin-file', pinFile, '--out', join(dir, 'x1'), '--json'])
    expect(t.code).toBe(5)
    expect(t.json.error.code).toBe('E_PKCS11_TOKEN_NOT_FOUND')
    const m = await cli(['ca', 'create', '--name', 'X', '--pkcs11', 'pkcs11:token=Factory;object=x', '--pin-file', pinFile, '--out', join(dir, 'x2'), '--json'])
    expect(m.code).toBe(2)
    expect(m.json.error.code).toBe('E_PKCS11_MODULE_MISSING')
    // adopting the root's token key under a new directory: ca.key.uri only, and it signs
    const imp = await cli(['ca', 'import', '--pkcs11', 'pkcs11:token=Factory;object=root-ca', '--module', SOFTHSM_MODULE, '--pin-file', pinFile, '--cert', join(dir, 'root', 'ca.pem'), '--out', join(dir, 'adopted'), '--json'])
    expect(imp.code, imp.stderr).toBe(0)
    expect(readdirSync(join(dir, 'adopted')).sort()).toEqual(['ca.key.uri', 'ca.pem', 'chain.pem'])
    const g = await cli(['credentials', 'generate', '--count', '1', '--endpoint', 'adopted-{seq}', '--mode', 'direct', '--security', 'cert', '--server', 'coaps://a.example.com:5684', '--ca', join(dir, 'adopted'), '--pin-file', pinFile, '--manifest', join(dir, 'other.db'), '--json'])
    expect(g.code, g.stderr).toBe(0)
    const noPin = await runCli(['ca', 'create', '--name', 'X', '--pkcs11', 'pkcs11:token=Factory;object=x', '--module', SOFTHSM_MODULE, '--out', join(dir, 'x3'), '--json'], { env: { ...env, CI: 'true' } })
    expect(noPin.json.error.code).toBe('E_PKCS11_PIN_MISSING')
  }, 60_000)
})
