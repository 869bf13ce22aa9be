/**
 * The README's paths as a new user walks them: generate offline then inject by --batch alone (exactly the recorded
 * PSK reaches the device), verify through an intermediate with the root, server exports of provisioned rows only,
 * and the start-up flags.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'

import { afterAll, afterEach, describe, expect, it } from 'vitest'

import { runCli, tempDir } from '../helpers/cli.js'
import { cleanupSims, spawnSim } from '../helpers/pty.js'

const dir = tempDir('lwprov-e2e-newcomer-')
const env = { LWPROV_CA_PASSPHRASE: 'e2e-newcomer-passphrase', LWPROV_MASTER_KEY: randomBytes(32).toString('hex') }
const server = ['--mode', 'direct', '--server', 'coaps://127.0.0.1:5684']

afterEach(async () => cleanupSims())
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function ok(args: string[]): Promise<any> {
  const r = await runCli([...args, '--json'], { env })
  expect(r.code, r.stderr + r.stdout).toBe(0)
  return r.json.result
}

describe('newcomer paths (e2e)', () => {
  it('credentials generate → inject --batch writes the pre-generated PSK, unchanged', async () => {
    const m = join(dir, 'pre.db')
    const gen = await ok(['credentials', 'generate', '--count', '2', '--endpoint', 'pre-{seq:03}', '--security', 'psk', '--psk-bytes', '16', ...server, '--manifest', m])
    const before = JSON.parse(readFileSync((await ok(['manifest', 'export', '--format', 'json', '--include-secrets', '--manifest', m, '--out', join(dir, 'before.json')])).files[0], 'utf8'))
    const store = join(dir, 'dev.store')
    const sim = await spawnSim(['--protocol', 'lwprov', '--link', join(dir, 'dev'), '--store', store])
    const inj = await ok(['inject', '--port', sim.ready.link!, '--protocol', 'lwprov', '--batch', gen.batch, '--manifest', m])
    expect(inj.endpoint).toBe('pre-001')
    const row = await ok(['manifest', 'show', 'pre-001', '--manifest', m])
    expect(row.status).toBe('verified')
    const after = JSON.parse(readFileSync((await ok(['manifest', 'export', '--format', 'json', '--include-secrets', '--manifest', m, '--out', join(dir, 'after.json')])).files[0], 'utf8'))
    const psk = (rows: any[]) => rows.find((r) => r.endpoint === 'pre-001').pskKeyHex
    expect(psk(after)).toBe(psk(before))
    expect(readFileSync(store).includes(Buffer.from(psk(before), 'hex'))).toBe(true)
  })

  it('manifest verify --ca ROOT accepts certificates issued under an intermediate', async () => {
    await ok(['ca', 'create', '--name', 'NC Root', '--out', join(dir, 'root')])
    await ok(['ca', 'create', '--name', 'NC Line', '--parent', join(dir, 'root'), '--out', join(dir, 'line')])
    const m = join(dir, 'cert.db')
    await ok(['credentials', 'generate', '--count', '2', '--endpoint', 'c-{seq:03}', '--security', 'cert', ...server, '--ca', join(dir, 'line'), '--manifest', m])
    const v = await ok(['manifest', 'verify', '--ca', join(dir, 'root'), '--manifest', m])
    expect(v.ok).toBe(true)
    // a foreign root still fails
    await ok(['ca', 'create', '--name', 'Other Root', '--out', join(dir, 'other')])
    const bad = await runCli(['manifest', 'verify', '--ca', join(dir, 'other'), '--manifest', m, '--json'], { env })
    expect(bad.code).not.toBe(0)
    expect(JSON.stringify(bad.json)).toContain('CERT_FOREIGN')
  })

  it('server exports carry provisioned rows only unless --status says otherwise', async () => {
    const m = join(dir, 'srv.db')
    await ok(['batch', 'create', '--name', 'WO', '--count', '2', '--endpoint', 'res-{seq:03}', '--security', 'psk', ...server, '--manifest', m])
    await ok(['credentials', 'generate', '--count', '1', '--endpoint', 'gen-{seq:03}', '--security', 'psk', ...server, '--manifest', m])
    const out = join(dir, 'leshan.json')
    await ok(['manifest', 'export', '--format', 'leshan-security', '--include-secrets', '--manifest', m, '--out', out])
    const text = readFileSync(out, 'utf8')
    expect(text).toContain('gen-001')
    expect(text).not.toContain('res-001')
  })

  it('-v, -h and version', async () => {
    for (const a of [['-v'], ['--version'], ['version']]) {
      const r = await runCli(a, { env })
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(/^lwprov\/\d+\.\d+\.\d+ /)
    }
    const h = await runCli(['-h'], { env })
    expect(h.code).toBe(0)
    expect(h.stdout).toContain('COMMANDS')
  })
})
