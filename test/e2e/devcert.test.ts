/**
 * `lwprov devcert` end to end through the built CLI: Izuma file that compiles and embeds CN = endpoint, `--json`
 * result, duplicates and `--reuse`, the template's server-CA requirement, the per-user developer CA and master key,
 * the device limit, the git warning, and no secret on stdout/stderr.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { beforeAll, describe, expect, it } from 'vitest'

import { openManifest } from '../../src/core/manifest/open.js'
import { runCli, tempDir } from '../helpers/cli.js'

const dir = tempDir('lwprov-e2e-devcert-')
const home = join(dir, 'home')
const base = { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), LWPROV_MANIFEST: undefined, LWPROV_CA: undefined, LWPROV_DEV_CA: undefined }
const env = { ...base, LWPROV_CA_PASSPHRASE: 'e2e-devcert-pass', LWPROV_MASTER_KEY: randomBytes(32).toString('hex') }
const db = join(dir, 'm.db')
const AID = '0123456789abcdef0123456789abcdef'
const BS = `coaps://bootstrap.example.com:5684?aid=${AID}`
const mode = (p: string) => statSync(p).mode & 0o777
const sh = (cmd: string, args: string[], cwd = dir) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString()

function izuma(ep: string, out: string, extra: string[] = []) {
  return ['devcert', '--endpoint', ep, '--server', BS, '--server-ca', join(dir, 'srv.pem'), '--template', 'izuma', '--out', out, '--ca', join(dir, 'devca'), '--manifest', db, '--json', ...extra]
}

describe('devcert (e2e)', () => {
  beforeAll(() => {
    sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'srv.key', '-out', 'srv.pem', '-subj', '/CN=E2E Server CA', '-days', '30'])
  })

  it('renders an Izuma file that compiles, embeds CN = endpoint, and reports out/endpoint/fingerprint', async () => {
    const out = join(dir, 'izuma', 'mbed_cloud_dev_credentials.c')
    const r = await runCli(izuma('e2e-dev-0001', out), { env })
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.status).toBe(0)
    expect(r.json.result).toMatchObject({ out, files: [out], endpoint: 'e2e-dev-0001', template: 'izuma', reused: false })
    expect(r.json.result.fingerprint).toMatch(/^[0-9a-f]{64}$/)
    expect(mode(out)).toBe(0o600)
    expect(mode(join(dir, 'devca', 'ca.key.pem'))).toBe(0o600)

    writeFileSync(
      join(dir, 'izuma', 'main.c'),
      `#include <stdio.h>
#include <inttypes.h>
extern const uint8_t MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_CERTIFICATE[];
extern const uint32_t MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_CERTIFICATE_SIZE;
int main(void) { fwrite(MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_CERTIFICATE, 1, MBED_CLOUD_DEV_BOOTSTRAP_DEVICE_CERTIFICATE_SIZE, stdout); return 0; }
`,
    )
    sh('gcc', ['-Wall', '-Wextra', '-Werror', '-o', 't', 'main.c', 'mbed_cloud_dev_credentials.c'], join(dir, 'izuma'))
    const der = execFileSync(join(dir, 'izuma', 't'))
    writeFileSync(join(dir, 'izuma', 'cert.der'), der)
    expect(sh('openssl', ['x509', '-inform', 'der', '-in', join(dir, 'izuma', 'cert.der'), '-noout', '-subject'])).toContain('CN = e2e-dev-0001')
    expect(sh('openssl', ['x509', '-inform', 'der', '-in', join(dir, 'izuma', 'cert.der'), '-noout', '-fingerprint', '-sha256']).replace(/[:\n]/g, '').toLowerCase()).toContain(
      r.json.result.fingerprint,
    )
    // the key is in the file (by design) but never on stdout/stderr
    const keyLine = /DEVICE_PRIVATE_KEY\[\] =\n\{ ([^\n]*)/.exec(readFileSync(out, 'utf8'))![1]!
    const keyHex = keyLine.replace(/0x|,|\s/g, '')
    expect(r.stdout + r.stderr).not.toContain(keyHex)

    // the manifest records it as a developer credential, its key sealed
    const store = await openManifest(db)
    try {
      const row = await store.get('e2e-dev-0001')
      expect(row).toMatchObject({ developer: true, batch: 'devcert', status: 'generated', security: 'cert', fingerprint: r.json.result.fingerprint })
      expect(row!.secret).toBeTruthy()
      expect(Buffer.from(row!.secret!).toString('hex')).not.toContain(keyHex.slice(-64))
    } finally {
      await store.close()
    }
  })

  it('refuses a second devcert for the endpoint (exit 3); --reuse renders the same credential', async () => {
    const out = join(dir, 'izuma2', 'creds.c')
    const again = await runCli(izuma('e2e-dev-0001', out), { env })
    expect(again.code).toBe(3)
    expect(again.json.error.code).toBe('E_DUPLICATE_ENDPOINT')
    expect(existsSync(out)).toBe(false)
    const reuse = await runCli(izuma('e2e-dev-0001', out, ['--reuse']), { env })
    expect(reuse.code, reuse.stderr).toBe(0)
    expect(reuse.json.result.reused).toBe(true)
    const first = readFileSync(join(dir, 'izuma', 'mbed_cloud_dev_credentials.c'), 'utf8')
    const second = readFileSync(out, 'utf8')
    const arrays = (t: string) => t.replace(/\/\*[\s\S]*?\*\//, '')
    expect(arrays(second)).toBe(arrays(first))
  })

  it('an unwritable --out fails (exit 2) before the endpoint is recorded; the rerun with a good --out works', async () => {
    const plain = join(dir, 'plain-file')
    writeFileSync(plain, 'x')
    const bad = await runCli(izuma('e2e-dev-out', join(plain, 'sub', 'creds.c')), { env })
    expect(bad.code, bad.stderr).toBe(2)
    expect(bad.json.error).toMatchObject({ code: 'E_DEVCERT_OUT_UNWRITABLE', details: { code: 'ENOTDIR' } })
    const out = join(dir, 'izuma-out', 'creds.c')
    const ok = await runCli(izuma('e2e-dev-out', out), { env })
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.json.result.reused).toBe(false)
    expect(existsSync(out)).toBe(true)
  })

  it('izuma without --server-ca fails clearly (exit 2) and records nothing', async () => {
    const args = ['devcert', '--endpoint', 'e2e-dev-0002', '--server', BS, '--template', 'izuma', '--out', join(dir, 'x.c'), '--ca', join(dir, 'devca'), '--manifest', db, '--json']
    const r = await runCli(args, { env })
    expect(r.code).toBe(2)
    expect(r.json.error.code).toBe('E_DEVCERT_REQUIRES')
    expect(r.json.error.hint).toContain('--server-ca')
    const ok = await runCli(izuma('e2e-dev-0002', join(dir, 'x.c')), { env })
    expect(ok.code, ok.stderr).toBe(0)
  })

  it('creates the per-user developer CA and master key on first use; needs a passphrase to do so', async () => {
    const envNoPass = { ...base, LWPROV_MASTER_KEY: undefined, LWPROV_CA_PASSPHRASE: undefined }
    const args = ['devcert', '--endpoint', 'e2e-dev-0003', '--server', 'coaps://lwm2m.example.com:5684', '--mode', 'direct', '--template', 'c', '--out', join(dir, 'c', 'lwm2m_dev_credentials.c'), '--manifest', db, '--json']
    const noPass = await runCli(args, { env: envNoPass })
    expect(noPass.code).toBe(2)
    expect(noPass.json.error.code).toBe('E_CA_PASSPHRASE_MISSING')
    expect(noPass.json.error.hint).toContain('LWPROV_CA_PASSPHRASE')
    const r = await runCli(args, { env: { ...envNoPass, LWPROV_CA_PASSPHRASE: 'per-user-pass' } })
    expect(r.code, r.stderr).toBe(0)
    const devca = join(home, '.config', 'lwprov', 'dev-ca')
    expect(r.json.result.developerCa).toBe(devca)
    expect(readFileSync(join(devca, 'ca.pem'), 'utf8')).toContain('BEGIN CERTIFICATE')
    expect(sh('openssl', ['x509', '-in', join(devca, 'ca.pem'), '-noout', '-subject'])).toContain('lwprov Developer CA')
    expect(mode(join(devca, 'master.key'))).toBe(0o600)
    expect(r.json.result.files).toEqual([join(dir, 'c', 'lwm2m_dev_credentials.c'), join(dir, 'c', 'lwm2m_dev_credentials.h')])
    expect(r.json.warnings.join(' ')).toContain('--server-ca')
    sh('gcc', ['-Wall', '-Wextra', '-Werror', '-c', '-o', '/dev/null', 'lwm2m_dev_credentials.c'], join(dir, 'c'))
    // reuse with the per-user key (no LWPROV_MASTER_KEY); the files of the first run exist: replacing them takes --force
    const refused = await runCli([...args, '--reuse'], { env: { ...envNoPass, LWPROV_CA_PASSPHRASE: 'per-user-pass' } })
    expect(refused.json.error.code).toBe('E_OUTPUT_EXISTS')
    const reuse = await runCli([...args, '--reuse', '--force'], { env: { ...envNoPass, LWPROV_CA_PASSPHRASE: 'per-user-pass' } })
    expect(reuse.code, reuse.stderr).toBe(0)
    expect(reuse.json.result.fingerprint).toBe(r.json.result.fingerprint)
  })

  it('enforces --max-devices unless --force', async () => {
    const ca = join(dir, 'small-ca')
    const mk = (ep: string, extra: string[] = []) =>
      runCli(['devcert', '--endpoint', ep, '--server', BS, '--template', 'arduino', '--out', join(dir, 'ard', `${ep}.h`), '--ca', ca, '--manifest', db, '--max-devices', '1', '--json', ...extra], { env })
    expect((await mk('e2e-lim-1')).code).toBe(0)
    const over = await mk('e2e-lim-2')
    expect(over.code).toBe(3)
    expect(over.json.error.code).toBe('E_DEVCERT_LIMIT')
    expect((await mk('e2e-lim-2', ['--force'])).code).toBe(0)
  })

  it('warns when the output lands in a git work tree that does not ignore it', async () => {
    const repo = join(dir, 'repo')
    sh('git', ['init', '-q', repo])
    const r = await runCli(['devcert', '--endpoint', 'e2e-git-1', '--server', BS, '--security', 'psk', '--template', 'zephyr', '--out', join(repo, 'src', 'dev.c'), '--ca', join(dir, 'devca'), '--manifest', db, '--json'], {
      env,
    })
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.warnings.join(' ')).toMatch(/gitignore/)
    writeFileSync(join(repo, '.gitignore'), 'src/dev.*\n')
    const r2 = await runCli(['devcert', '--endpoint', 'e2e-git-1', '--server', BS, '--security', 'psk', '--template', 'zephyr', '--out', join(repo, 'src', 'dev.c'), '--ca', join(dir, 'devca'), '--manifest', db, '--json', '--reuse', '--force'], {
      env,
    })
    expect(r2.code, r2.stderr).toBe(0)
    expect((r2.json.warnings ?? []).join(' ')).not.toMatch(/gitignore/)
    expect(readFileSync(join(repo, 'src', 'dev.conf'), 'utf8')).toMatch(/CONFIG_NET_SAMPLE_LWM2M_PSK="[0-9a-f]{64}"/)
  })

  it('lists the data model in --help', async () => {
    const r = await runCli(['devcert', '--help'], { env })
    expect(r.code).toBe(0)
    for (const k of ['serverUri', 'certificate', 'fingerprint', 'c_bytes', 'izuma', 'esp-idf']) expect(r.stdout).toContain(k)
  })
})
