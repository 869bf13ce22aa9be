/**
 * `credentials generate` end to end: CA chain verified by OpenSSL, duplicates refused atomically, {seq} continuation,
 * no PSK secret anywhere but an explicit `--include-secrets` export, and coded errors that change nothing.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'

import { runCli, tempDir } from '../helpers/cli.js'

const dir = tempDir('lwprov-e2e-cred-')
const env = { LWPROV_CA_PASSPHRASE: 'e2e-passphrase-1', LWPROV_MASTER_KEY: randomBytes(32).toString('hex') }
const db = join(dir, 'm.db')
const certArgs = ['--mode', 'bootstrap', '--security', 'cert', '--server', 'coaps://bs.example.com:5684', '--manifest', db]

async function rowsOf(manifest: string, extra: string[] = []): Promise<any[]> {
  const r = await runCli(['manifest', 'export', '--format', 'json', '--manifest', manifest, ...extra], { env })
  expect(r.code, r.stderr).toBe(0)
  const parsed = JSON.parse(r.stdout)
  return Array.isArray(parsed) ? parsed : parsed.result
}

describe('credentials generate (e2e)', () => {
  beforeAll(async () => {
    const root = await runCli(['ca', 'create', '--name', 'E2E Root', '--out', join(dir, 'root'), '--json'], { env })
    expect(root.code, root.stderr).toBe(0)
    const line = await runCli(['ca', 'create', '--name', 'E2E Line', '--parent', join(dir, 'root'), '--out', join(dir, 'line'), '--json'], { env })
    expect(line.code, line.stderr).toBe(0)
  })

  it('issues 200 certificates that chain to root + intermediate with CN = endpoint and clientAuth', async () => {
    const r = await runCli(
      ['credentials', 'generate', '--count', '200', '--endpoint', 'urn:dev:os:320973-0973BA{seq:06}', ...certArgs, '--ca', join(dir, 'line'), '--json'],
      { env },
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.status).toBe(0)
    expect(r.json.result.count).toBe(200)
    expect(r.json.result.endpoints[0]).toBe('urn:dev:os:320973-0973BA000001')
    expect(r.json.warnings?.join(' ')).toMatch(/server-ca/)

    const rows = await rowsOf(db)
    expect(rows).toHaveLength(200)
    const bundle = join(dir, 'all.pem')
    const serials = new Set<string>()
    for (const [i, row] of rows.entries()) {
      const f = join(dir, `c${i}.pem`)
      writeFileSync(f, row.certificate)
      const subject = execFileSync('openssl', ['x509', '-in', f, '-noout', '-subject', '-nameopt', 'multiline']).toString()
      expect(subject).toContain(`commonName                = ${row.endpoint}`)
      serials.add(execFileSync('openssl', ['x509', '-in', f, '-noout', '-serial']).toString())
      if (i < 3) {
        const text = execFileSync('openssl', ['x509', '-in', f, '-noout', '-text']).toString()
        expect(text).toMatch(/TLS Web Client Authentication/)
        expect(text).toMatch(/Digital Signature/)
        expect(text).toMatch(/CA:FALSE/)
        expect(text).toMatch(/Subject Key Identifier/)
        expect(text).toMatch(/Authority Key Identifier/)
      }
    }
    writeFileSync(bundle, rows.map((r) => r.certificate).join(''))
    // One openssl call per certificate is what a user would run; sample a spread to keep the suite fast.
    for (const i of [0, 57, 123, 199]) {
      const out = execFileSync('openssl', ['verify', '-CAfile', join(dir, 'root', 'ca.pem'), '-untrusted', join(dir, 'line', 'ca.pem'), join(dir, `c${i}.pem`)]).toString()
      expect(out).toMatch(/OK/)
    }
    expect(serials.size).toBe(200)
  })

  it('refuses a batch containing an issued name, names it, and writes nothing', async () => {
    const f = join(dir, 'dup.txt')
    writeFileSync(f, 'urn:dev:os:320973-0973BA000007\nurn:dev:os:320973-0973BAfresh1\n')
    const r = await runCli(['credentials', 'generate', '--endpoints', f, ...certArgs, '--ca', join(dir, 'line'), '--json'], { env })
    expect(r.code).toBe(3)
    expect(r.json.error.code).toBe('E_DUPLICATE_ENDPOINT')
    expect(r.stdout).toContain('urn:dev:os:320973-0973BA000007')
    expect(await rowsOf(db)).toHaveLength(200)
  })

  it('continues {seq} after the highest issued number, so two runs are disjoint', async () => {
    const m = join(dir, 'seq.db')
    const args = ['credentials', 'generate', '--count', '5', '--endpoint', 'dev-{seq:04}', '--mode', 'direct', '--security', 'nosec', '--server', 'coap://127.0.0.1:5683', '--manifest', m, '--json']
    const a = await runCli(args, { env })
    const b = await runCli(args, { env })
    expect(a.json.result.endpoints).toEqual(['dev-0001', 'dev-0002', 'dev-0003', 'dev-0004', 'dev-0005'])
    expect(b.json.result.endpoints).toEqual(['dev-0006', 'dev-0007', 'dev-0008', 'dev-0009', 'dev-0010'])
  })

  it('never leaks a PSK secret to the database, stdout or stderr', async () => {
    const m = join(dir, 'psk.db')
    const r = await runCli(
      ['credentials', 'generate', '--count', '30', '--endpoint', 'psk-{seq:04}', '--mode', 'direct', '--security', 'psk', '--server', 'coaps://lwm2m.example.com:5684', '--manifest', m, '--json'],
      { env },
    )
    expect(r.code, r.stderr).toBe(0)
    const secretRows = await rowsOf(m, ['--include-secrets'])
    const secrets = secretRows.map((x) => String(x.pskKeyHex))
    expect(secrets.every((s) => /^[0-9a-f]{64}$/.test(s))).toBe(true)
    const plain = await runCli(['manifest', 'export', '--format', 'json', '--manifest', m], { env })
    const files = [m, `${m}-wal`].filter(existsSync).map((f) => readFileSync(f))
    for (const hex of secrets) {
      const raw = Buffer.from(hex, 'hex')
      for (const text of [r.stdout, r.stderr, plain.stdout]) {
        expect(text.toLowerCase()).not.toContain(hex)
        expect(text).not.toContain(raw.toString('base64'))
      }
      for (const bytes of files) {
        expect(bytes.includes(raw)).toBe(false)
        expect(bytes.includes(Buffer.from(hex))).toBe(false)
        expect(bytes.includes(Buffer.from(raw.toString('base64')))).toBe(false)
      }
    }
  })

  it.each([
    // the flag lists its options, so oclif's parser refuses it first (a usage error naming them)
    [['--security', 'quantum'], 'E_USAGE'],
    [['--security', 'psk', '--server', 'http://x.example.com'], 'E_URI_INVALID'],
    [['--security', 'nosec', '--server', 'coaps://x.example.com:5684'], 'E_URI_INVALID'],
    [['--security', 'psk', '--endpoint', 'bad{nope}'], 'E_TEMPLATE_INVALID'],
    [['--security', 'cert', '--ca', '/nonexistent/ca'], 'E_CA_UNREADABLE'],
  ])('rejects bad input %j with a coded error and changes nothing', async (extra, code) => {
    const m = join(dir, `bad-${code}.db`)
    const defaults: Record<string, string> = { '--endpoint': 'ok-{seq}', '--server': 'coaps://lwm2m.example.com:5684' }
    const base = ['credentials', 'generate', '--count', '2', '--mode', 'direct', '--manifest', m, '--json']
    for (const [flag, value] of Object.entries(defaults)) if (!extra.includes(flag)) base.push(flag, value)
    const r = await runCli([...base, ...extra], { env })
    expect(r.code).not.toBe(0)
    expect(r.json.error.code).toBe(code)
    expect(r.json.error.hint).toBeTruthy()
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
    if (existsSync(m)) expect(await rowsOf(m)).toHaveLength(0)
  })

  it('without a TTY, a run missing required flags exits 2 and names them', async () => {
    const r = await runCli(['credentials', 'generate', '--count', '1', '--endpoint', 'n-{seq}', '--manifest', join(dir, 'none.db'), '--json'], { env })
    expect(r.code).toBe(2)
    expect(r.json.error.code).toBe('E_FLAGS_MISSING')
    expect(r.json.error.message).toMatch(/--mode.*--security.*--server/)
    expect(existsSync(join(dir, 'none.db'))).toBe(false)
  })

  it('fails with the wrong CA passphrase (exit 6) and without a master key (exit 2)', async () => {
    const m = join(dir, 'pp.db')
    const wrong = await runCli(['credentials', 'generate', '--count', '1', '--endpoint', 'pp-{seq}', ...certArgs.slice(0, -2), '--manifest', m, '--ca', join(dir, 'line'), '--json'], {
      env: { ...env, LWPROV_CA_PASSPHRASE: 'not-the-passphrase' },
    })
    expect(wrong.code).toBe(6)
    expect(wrong.json.error.code).toBe('E_CA_PASSPHRASE')
    const nokey = await runCli(['credentials', 'generate', '--count', '1', '--endpoint', 'pp-{seq}', '--mode', 'direct', '--security', 'psk', '--server', 'coaps://l.example.com:5684', '--manifest', m, '--json'], {
      env: { ...env, LWPROV_MASTER_KEY: undefined },
    })
    expect(nokey.code).toBe(2)
    expect(nokey.json.error.code).toBe('E_MASTER_KEY_MISSING')
    if (existsSync(m)) expect(await rowsOf(m)).toHaveLength(0)
  })
})
