// `lwprov ca …` as a user runs it: the built CLI in a child process (`npm test` builds dist/ first).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const PASS = 'e2e-ca-passphrase-4711'
let dir: string

function lwprov(args: string[], env: Record<string, string | undefined> = {}) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LWPROV_')))
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {
    cwd: dir,
    env: { ...base, LWPROV_CA_PASSPHRASE: PASS, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) as Record<string, any> }
}

const noStack = (s: string): void => expect(s).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m)

beforeAll(() => {
  expect(existsSync(join(ROOT, 'dist', 'commands', 'ca', 'create.js')), 'run `npm run build` first').toBe(true)
  dir = mkdtempSync(join(tmpdir(), 'lwprov-e2e-ca-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('lwprov ca', () => {
  it('creates a root and an intermediate with encrypted 0600 keys', () => {
    const root = lwprov(['ca', 'create', '--name', 'E2E Root CA', '--org', 'Acme', '--country', 'FI', '--out', join(dir, 'root'), '--json'])
    expect(root.code, root.stderr).toBe(0)
    const env = root.json()
    expect(env.status).toBe(0)
    expect(env.result).toMatchObject({ dir: join(dir, 'root'), subject: 'C=FI, O=Acme, CN=E2E Root CA', keyType: 'ec-p256' })
    expect(env.result.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    expect(new Date(env.result.notAfter).getUTCFullYear() - new Date().getUTCFullYear()).toBe(35)
    expect(env.result.files).toEqual({ cert: join(dir, 'root', 'ca.pem'), chain: join(dir, 'root', 'chain.pem'), key: join(dir, 'root', 'ca.key.pem') })

    const line = lwprov(['ca', 'create', '--name', 'E2E Line CA', '--parent', join(dir, 'root'), '--out', join(dir, 'line'), '--json'])
    expect(line.code, line.stderr).toBe(0)
    expect(line.json().result.subject).toBe('CN=E2E Line CA')
    for (const ca of ['root', 'line']) {
      const key = join(dir, ca, 'ca.key.pem')
      expect(statSync(key).mode & 0o777).toBe(0o600)
      expect(statSync(join(dir, ca)).mode & 0o777).toBe(0o700)
      expect(readFileSync(key, 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/)
    }
    for (const out of [root, line]) expect(out.stdout + out.stderr).not.toContain(PASS)
  })

  it('shows a CA with its chain', () => {
    const show = lwprov(['ca', 'show', '--ca', join(dir, 'line'), '--json'])
    expect(show.code, show.stderr).toBe(0)
    expect(show.json().result).toMatchObject({ subject: 'CN=E2E Line CA', issuer: 'C=FI, O=Acme, CN=E2E Root CA', keyType: 'ec-p256', pathLen: 0 })
    expect(show.json().result.chain.map((c: { subject: string }) => c.subject)).toEqual(['CN=E2E Line CA', 'C=FI, O=Acme, CN=E2E Root CA'])
    const human = lwprov(['ca', 'show', '--ca', join(dir, 'root')], { LWPROV_CA_PASSPHRASE: undefined })
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/subject\s+C=FI, O=Acme, CN=E2E Root CA/)
    expect(human.stdout).toMatch(/fingerprint\s+SHA-256 ([0-9A-F]{2}:){31}/)
    expect(human.stdout).toMatch(/path length\s+3/)
  })

  it('fails a wrong parent passphrase with exit 6, E_CA_PASSPHRASE and no stack trace, writing nothing', () => {
    const r = lwprov(['ca', 'create', '--name', 'X', '--parent', join(dir, 'root'), '--out', join(dir, 'x'), '--json'], { LWPROV_CA_PASSPHRASE: 'wrong-passphrase' })
    expect(r.code).toBe(6)
    expect(r.json()).toMatchObject({ status: 6, error: { code: 'E_CA_PASSPHRASE', hint: expect.any(String) } })
    noStack(r.stdout + r.stderr)
    expect(existsSync(join(dir, 'x'))).toBe(false)
    const human = lwprov(['ca', 'create', '--name', 'X', '--parent', join(dir, 'root'), '--out', join(dir, 'x')], { LWPROV_CA_PASSPHRASE: 'wrong-passphrase' })
    expect(human.code).toBe(6)
    expect(human.stderr).toMatch(/E_CA_PASSPHRASE/)
    expect(human.stdout).toBe('')
    noStack(human.stderr)
  })

  it('takes passphrases from files and the parent passphrase from its own variable', () => {
    writeFileSync(join(dir, 'new.pass'), 'file-passphrase\n', { mode: 0o600 })
    const r = lwprov(
      ['ca', 'create', '--name', 'File CA', '--parent', join(dir, 'root'), '--out', join(dir, 'filed'), '--passphrase-file', join(dir, 'new.pass'), '--json'],
      { LWPROV_CA_PASSPHRASE: undefined, LWPROV_PARENT_CA_PASSPHRASE: PASS },
    )
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const show = lwprov(['ca', 'show', '--ca', join(dir, 'filed'), '--json'])
    expect(show.json().result.issuer).toBe('C=FI, O=Acme, CN=E2E Root CA')
  })

  it('refuses to overwrite a CA and to run without a passphrase source', () => {
    const again = lwprov(['ca', 'create', '--name', 'E2E Root CA', '--out', join(dir, 'root'), '--json'])
    expect(again.code).toBe(3)
    expect(again.json().error.code).toBe('E_CA_EXISTS')
    const none = lwprov(['ca', 'create', '--name', 'N', '--out', join(dir, 'n'), '--json'], { LWPROV_CA_PASSPHRASE: undefined })
    expect(none.code).toBe(2)
    expect(none.json().error).toMatchObject({ code: 'E_CA_PASSPHRASE_MISSING', hint: expect.stringMatching(/LWPROV_CA_PASSPHRASE.*--passphrase-file/) })
    const missing = lwprov(['ca', 'show', '--ca', join(dir, 'nope'), '--json'])
    expect(missing.code).toBe(2)
    expect(missing.json().error.code).toBe('E_CA_UNREADABLE')
  })

  it('reports an --out below a file and a --ca that is a file as usage errors without a stack', () => {
    writeFileSync(join(dir, 'plain.txt'), 'x')
    const out = join(dir, 'plain.txt', 'ca')
    const c = lwprov(['ca', 'create', '--name', 'X', '--out', out, '--json'])
    expect(c.code, c.stderr).toBe(2)
    expect(c.json().error).toMatchObject({ code: 'E_CA_OUT_INVALID', message: `Cannot write the CA to ${out}: ENOTDIR.`, hint: 'Check --out and its permissions.' })
    noStack(c.stderr)
    const human = lwprov(['ca', 'create', '--name', 'X', '--out', out])
    expect(human.code).toBe(2)
    noStack(human.stderr)
    const show = lwprov(['ca', 'show', '--ca', join(dir, 'plain.txt'), '--json'])
    expect(show.code).toBe(2)
    expect(show.json().error.code).toBe('E_CA_UNREADABLE')
    expect(show.json().error.message).toContain('is a file, not a directory')
    expect(show.json().error.message).not.toContain('does not exist')
  })

  it('imports an existing CA and re-encrypts its key', () => {
    const r = lwprov(['ca', 'import', '--cert', join(dir, 'line', 'chain.pem'), '--key', join(dir, 'line', 'ca.key.pem'), '--out', join(dir, 'imported'), '--json'], {
      LWPROV_CA_PASSPHRASE: 'new-import-passphrase',
      LWPROV_CA_IMPORT_PASSPHRASE: PASS,
    })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.json().result.subject).toBe('CN=E2E Line CA')
    expect(statSync(join(dir, 'imported', 'ca.key.pem')).mode & 0o777).toBe(0o600)
    const wrong = lwprov(['ca', 'create', '--name', 'Y', '--parent', join(dir, 'imported'), '--out', join(dir, 'y'), '--json'])
    expect(wrong.json().error.code).toBe('E_CA_PASSPHRASE')
    const ok = lwprov(['ca', 'create', '--name', 'Y', '--parent', join(dir, 'root'), '--out', join(dir, 'y'), '--json'])
    expect(ok.code).toBe(0)
  })
})
