/**
 * Devices and files that lie, through the real CLI against `lwprov sim`: escape sequences in a device identity, a
 * second device with a verified device's serial, an import claiming `verified` without a read-back, and manifest
 * policies (require-work-order, work-order windows). Each refusal: its code, its exit family, nothing written.
 */
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { afterAll, afterEach, describe, expect, it } from 'vitest'

import { runCli, tempDir } from '../helpers/cli.js'
import { cleanupSims, spawnSim } from '../helpers/pty.js'

const dir = tempDir('lwprov-e2e-untrusted-')
const env = { LWPROV_MASTER_KEY: randomBytes(32).toString('hex') }
const psk = ['--mode', 'direct', '--security', 'psk', '--server', 'coaps://127.0.0.1:5684']
const digest = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex')

afterEach(async () => cleanupSims())
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function pskOf(m: string, endpoint: string): Promise<string> {
  const out = join(dir, `s-${randomBytes(4).toString('hex')}.json`)
  const r = await runCli(['manifest', 'export', '--format', 'json', '--include-secrets', '--manifest', m, '--out', out], { env })
  expect(r.code, r.stderr).toBe(0)
  const doc = JSON.parse(readFileSync(out, 'utf8'))
  const rows = Array.isArray(doc) ? doc : doc.result ?? doc.rows
  rmSync(out)
  return rows.find((x: { endpoint: string }) => x.endpoint === endpoint).pskKeyHex
}

describe('untrusted devices (e2e)', () => {
  it('a device identity with escape sequences is refused (exit 4), shown escaped, and records nothing', async () => {
    const m = join(dir, 'esc.db')
    const sim = await spawnSim(['--protocol', 'lwprov', '--link', join(dir, 'esc'), '--serial', 'EVIL\u001b[2J\u001b[1;1H'])
    const r = await runCli(['inject', '--port', sim.ready.link!, '--protocol', 'lwprov', '--endpoint', 'esc-{serial}', ...psk, '--manifest', m], { env })
    expect(r.code, r.stderr).toBe(4)
    expect(r.stderr).toContain('E_DEVICE_IDENTITY_INVALID')
    expect(r.stdout + r.stderr).not.toContain('\u001b[2J')
    expect(r.stderr).toContain('\\x1b[2J')
    const list = await runCli(['manifest', 'list', '--manifest', m, '--json'], { env })
    expect(list.json.result).toEqual([])
  }, 300_000)

  it('a second device reporting a verified serial is a serial collision; the recorded PSK stays; --reprovision keeps history', async () => {
    const m = join(dir, 'dup.db')
    const a = await spawnSim(['--protocol', 'lwprov', '--link', join(dir, 'dup1'), '--serial', 'DUP-0001'])
    const b = await spawnSim(['--protocol', 'lwprov', '--link', join(dir, 'dup2'), '--serial', 'DUP-0001'])
    const first = await runCli(['inject', '--port', a.ready.link!, '--protocol', 'lwprov', '--endpoint', 'dup-{serial}', ...psk, '--manifest', m, '--json'], { env })
    expect(first.code, first.stderr).toBe(0)
    const k1 = await pskOf(m, 'dup-DUP-0001')
    const before = digest(m)
    const second = await runCli(['inject', '--port', b.ready.link!, '--protocol', 'lwprov', '--endpoint', 'dup-{serial}', ...psk, '--manifest', m, '--json'], { env })
    expect(second.code).toBe(3)
    expect(second.json.error.code).toBe('E_SERIAL_COLLISION')
    expect(second.json.error.hint).toMatch(/--reprovision/)
    // the refused inject wrote nothing (checked before pskOf: an export with secrets is itself an audit entry)
    expect(digest(m)).toBe(before)
    expect(await pskOf(m, 'dup-DUP-0001')).toBe(k1)

    const noReason = await runCli(['inject', '--port', b.ready.link!, '--protocol', 'lwprov', '--endpoint', 'dup-{serial}', '--reprovision', ...psk, '--manifest', m, '--json'], { env })
    expect(noReason.code).toBe(2)
    const again = await runCli(
      ['inject', '--port', a.ready.link!, '--protocol', 'lwprov', '--endpoint', 'dup-{serial}', '--reprovision', '--reason', 'RMA 17: board swapped', '--station', 'bench-2', ...psk, '--manifest', m, '--json'],
      { env },
    )
    expect(again.code, again.stderr).toBe(0)
    expect(await pskOf(m, 'dup-DUP-0001')).not.toBe(k1)
    const show = await runCli(['manifest', 'show', 'dup-DUP-0001', '--manifest', m, '--json'], { env })
    expect(show.json.result.history).toHaveLength(1)
    expect(show.json.result.history[0]).toMatchObject({ reason: 'RMA 17: board swapped', supersededBy: 'bench-2', deviceId: 'DUP-0001', status: 'verified', hasSecret: true })
    const human = await runCli(['manifest', 'show', 'dup-DUP-0001', '--manifest', m], { env })
    expect(human.stdout).toMatch(/superseded.*1 earlier/)
  }, 300_000)
})

describe('untrusted files and manifest policies (e2e)', () => {
  it('an import cannot mint verified rows without a 64-hex read-back digest; imported rows keep provenance', async () => {
    const m = join(dir, 'imp.db')
    const seed = await runCli(['credentials', 'generate', '--count', '1', '--endpoint', 'seed-{seq}', ...psk, '--manifest', m], { env })
    expect(seed.code, seed.stderr).toBe(0)
    const before = digest(m)
    for (const [name, d] of [['none', ''], ['fake', 'deadbeef']] as const) {
      const f = join(dir, `imp-${name}.csv`)
      writeFileSync(f, `endpoint,status,mode,security,serverUri,readbackDigest\nimp-001,verified,direct,nosec,coap://127.0.0.1:5683,${d}\n`)
      const r = await runCli(['manifest', 'import', f, '--format', 'csv', '--manifest', m, '--json'], { env })
      expect(r.code).toBe(2)
      expect(r.json.error.code).toBe('E_IMPORT_INVALID')
      expect(digest(m)).toBe(before)
    }
    const ok = join(dir, 'imp-ok.csv')
    writeFileSync(ok, `endpoint,status,mode,security,serverUri,readbackDigest\nimp-002,verified,direct,nosec,coap://127.0.0.1:5683,${'ab'.repeat(32)}\n`)
    expect((await runCli(['manifest', 'import', ok, '--format', 'csv', '--manifest', m], { env })).code).toBe(0)
    const show = await runCli(['manifest', 'show', 'imp-002', '--manifest', m, '--json'], { env })
    expect(show.json.result).toMatchObject({ status: 'verified', provenance: 'imported' })
    const v = await runCli(['manifest', 'verify', '--manifest', m, '--json'], { env })
    expect(v.json.result).toMatchObject({ importedVerified: 1, importedVerifiedEndpoints: ['imp-002'] })
  }, 300_000)

  it('require-work-order refuses just-in-time names on every path, before anything is written', async () => {
    const m = join(dir, 'pol.db')
    const set = await runCli(['manifest', 'policy', 'set', '--require-work-order', '--min-psk-bytes', '32', '--manifest', m, '--json'], { env })
    expect(set.code, set.stderr).toBe(0)
    expect(set.json.result).toEqual({ requireWorkOrder: true, minPskBytes: 32 })
    const show = await runCli(['manifest', 'policy', 'show', '--manifest', m, '--json'], { env })
    expect(show.json.result).toEqual({ requireWorkOrder: true, minPskBytes: 32 })
    const before = digest(m)
    const gen = await runCli(['credentials', 'generate', '--count', '1', '--endpoint', 'jit-{seq}', ...psk, '--manifest', m, '--json'], { env })
    expect(gen.code).toBe(2)
    expect(gen.json.error.code).toBe('E_WORK_ORDER_REQUIRED')
    const short = await runCli(['credentials', 'generate', '--count', '1', '--endpoint', 'jit-{seq}', ...psk, '--psk-bytes', '16', '--manifest', m, '--json'], { env })
    expect(short.json.error.code).toBe('E_POLICY_VIOLATION')
    // inject refuses before opening the (nonexistent) port: exit 2, not 5.
    const inj = await runCli(['inject', '--port', join(dir, 'no-port'), '--protocol', 'lwprov', '--endpoint', 'x-{serial}', ...psk, '--manifest', m, '--json'], { env })
    expect(inj.code).toBe(2)
    expect(inj.json.error.code).toBe('E_WORK_ORDER_REQUIRED')
    const dev = await runCli(['devcert', '--endpoint', 'dev-1', '--template', 'c', '--security', 'psk', '--server', 'coaps://127.0.0.1:5684', '--out', join(dir, 'devcert-out.c'), '--manifest', m, '--json'], { env: { ...env, HOME: join(dir, 'dev-home') } })
    expect(dev.code, dev.stderr).toBe(2)
    expect(dev.json.error.code).toBe('E_WORK_ORDER_REQUIRED')
    // refused before the developer CA or its per-user manifest key is created, and before any output file
    expect(existsSync(join(dir, 'dev-home'))).toBe(false)
    expect(existsSync(join(dir, 'devcert-out.c'))).toBe(false)
    expect(digest(m)).toBe(before)
    const bad = await runCli(['manifest', 'policy', 'set', '--endpoint-pattern', '(', '--manifest', m, '--json'], { env })
    expect(bad.json.error.code).toBe('E_POLICY_INVALID')
    expect(digest(m)).toBe(before)
  }, 300_000)

  it('inject --endpoint of a reserved row waits for its work order to activate', async () => {
    const m = join(dir, 'win.db')
    const c = await runCli(['batch', 'create', '--name', 'WO-FUT', '--endpoint', 'fut-{seq:03}', '--count', '2', '--activates-on', '2099-01-01', '--manifest', m], { env })
    expect(c.code, c.stderr).toBe(0)
    const sim = await spawnSim(['--protocol', 'lwprov', '--link', join(dir, 'fut'), '--serial', 'FUT-0001'])
    const r = await runCli(['inject', '--port', sim.ready.link!, '--protocol', 'lwprov', '--endpoint', 'fut-001', ...psk, '--manifest', m, '--json'], { env })
    expect(r.code).toBe(3)
    expect(r.json.error.code).toBe('E_BATCH_NOT_ACTIVE')
    const row = await runCli(['manifest', 'show', 'fut-001', '--manifest', m, '--json'], { env })
    expect(row.json.result.status).toBe('reserved')
  }, 300_000)
})
