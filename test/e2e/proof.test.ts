/**
 * Proof of possession end to end (issue 10): the built CLI against `lwprov sim` spawned as the real CLI. A device that
 * acknowledges everything, stores nothing and echoes digests (`--fault liar`) is never recorded verified by protocol
 * v2; old devices (`--protocol-version 1`) still work with the weaker `digest` proof; the manifest says which proof
 * each row has (show, list --json, exports, verify).
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { afterEach, describe, expect, it } from 'vitest'

import { runCli, tempDir } from '../helpers/cli.js'
import { cleanupSims, spawnSim } from '../helpers/pty.js'

const dir = tempDir('lwprov-e2e-proof-')
const db = join(dir, 'm.db')
const env = { LWPROV_MASTER_KEY: randomBytes(32).toString('hex') }
const psk = ['--mode', 'direct', '--security', 'psk', '--server', 'coaps://lwm2m.example.com:5684', '--manifest', db]

afterEach(async () => cleanupSims())

async function inject(link: string, endpoint: string, json = true) {
  return runCli(['inject', '--port', link, '--protocol', 'lwprov', '--endpoint', endpoint, '--retries', '0', ...psk, ...(json ? ['--json'] : [])], { env })
}

async function listed(): Promise<Record<string, { status: string; proof: string }>> {
  const r = await runCli(['manifest', 'list', '--manifest', db, '--json'], { env })
  expect(r.code, r.stderr).toBe(0)
  return Object.fromEntries((r.json.result as { endpoint: string; status: string; proof: string }[]).map((x) => [x.endpoint, x]))
}

describe('proof of possession (e2e)', () => {
  it('a liar device is not verified with protocol v2: exit 4 E_PROOF_MISMATCH, row failed, proof none', async () => {
    const sim = await spawnSim(['--protocol', 'lwprov', '--link', join(dir, 'liar'), '--serial', 'LIAR-0001', '--fault', 'liar'])
    const r = await inject(sim.ready.link!, 'e2e-liar-0001')
    expect(r.code, r.stderr).toBe(4)
    expect(r.json.error).toMatchObject({ code: 'E_PROOF_MISMATCH' })
    expect(r.json.error.hint).toMatch(/not verified/)
    const rows = await listed()
    expect(rows['e2e-liar-0001']).toMatchObject({ status: 'failed', proof: 'none' })
    const show = await runCli(['manifest', 'show', 'e2e-liar-0001', '--manifest', db], { env })
    expect(show.code, show.stderr).toBe(0)
    expect(show.stdout).toMatch(/^status\s+failed/m)
    expect(show.stdout).not.toMatch(/^proof/m)
  })

  it('an honest v2 device is verified with pop-hmac; inject, show, list --json, exports and verify say so', async () => {
    const sim = await spawnSim(['--protocol', 'lwprov', '--link', join(dir, 'ok'), '--serial', 'POP-0001'])
    const human = await inject(sim.ready.link!, 'e2e-pop-0001', false)
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toMatch(/verified e2e-pop-0001 .*proof pop-hmac/)
    const show = await runCli(['manifest', 'show', 'e2e-pop-0001', '--manifest', db], { env })
    expect(show.stdout).toMatch(/^proof\s+pop-hmac — proof of possession: HMAC-SHA256 with the stored PSK/m)
    const showJson = await runCli(['manifest', 'show', 'e2e-pop-0001', '--manifest', db, '--json'], { env })
    expect(showJson.json.result).toMatchObject({ status: 'verified', proof: 'pop-hmac' })
    expect((await listed())['e2e-pop-0001']).toMatchObject({ status: 'verified', proof: 'pop-hmac' })

    const csv = join(dir, 'rows.csv')
    const ex = await runCli(['manifest', 'export', '--format', 'csv', '--out', csv, '--manifest', db], { env })
    expect(ex.code, ex.stderr).toBe(0)
    const [header, ...lines] = readFileSync(csv, 'utf8').trim().split(/\r?\n/)
    const col = header!.split(',').indexOf('proof')
    expect(col).toBeGreaterThan(-1)
    const byEndpoint = Object.fromEntries(lines.map((l) => l.split(',')).map((c) => [c[0], c[col]]))
    expect(byEndpoint['e2e-pop-0001']).toBe('pop-hmac')
    expect(byEndpoint['e2e-liar-0001']).toBe('none')
    const js = await runCli(['manifest', 'export', '--format', 'json', '--manifest', db], { env })
    expect(js.code, js.stderr).toBe(0)
    expect(js.stdout).toContain('"proof":"pop-hmac"')

    const v = await runCli(['manifest', 'verify', '--manifest', db, '--json'], { env })
    expect(v.code, v.stderr).toBe(0)
    expect(v.json.result.verifiedByProof).toMatchObject({ 'pop-hmac': 1 })
  })

  it('an old (v1) device still works and is recorded with the weaker digest proof; a v1 liar cannot be told apart', async () => {
    const old = await spawnSim(['--protocol', 'lwprov', '--link', join(dir, 'v1'), '--serial', 'OLD-0001', '--protocol-version', '1'])
    const a = await inject(old.ready.link!, 'e2e-v1-0001')
    expect(a.code, a.stderr).toBe(0)
    expect(a.json.result).toMatchObject({ status: 'verified', proof: 'digest' })
    const liar = await spawnSim(['--protocol', 'lwprov', '--link', join(dir, 'v1liar'), '--serial', 'OLD-LIAR', '--protocol-version', '1', '--fault', 'liar'])
    const b = await inject(liar.ready.link!, 'e2e-v1-liar')
    expect(b.code, b.stderr).toBe(0)
    expect(b.json.result).toMatchObject({ status: 'verified', proof: 'digest' })
    const show = await runCli(['manifest', 'show', 'e2e-v1-liar', '--manifest', db], { env })
    expect(show.stdout).toMatch(/^proof\s+digest — read-back digest only \(weaker/m)
    const v = await runCli(['manifest', 'verify', '--manifest', db], { env })
    expect(v.code, v.stderr).toBe(0)
    expect(v.stdout).toMatch(/proof: .*2 digest/)
  })

  it('sim: --fault liar and --protocol-version are lwprov-only usage errors for fcc', async () => {
    const r = await runCli(['sim', '--protocol', 'fcc', '--tcp', '0', '--fault', 'liar', '--json'], { env })
    expect(r.code).toBe(2)
    expect(r.json.error.code).toBe('E_FAULT_INVALID')
  })
})
