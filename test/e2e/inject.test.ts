/**
 * `lwprov inject` end to end: the built CLI against `lwprov sim` (spawned as the real CLI too), checking the --json
 * envelope, exit codes and the manifest row as `manifest show` reports it.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { BIN, ROOT, runCli, tempDir } from '../helpers/cli.js'
import { cleanupSims, spawnSim } from '../helpers/pty.js'

const dir = tempDir('lwprov-e2e-inject-')
const db = join(dir, 'm.db')
const env = { LWPROV_CA_PASSPHRASE: 'e2e-inject-passphrase', LWPROV_MASTER_KEY: randomBytes(32).toString('hex') }
const psk = ['--mode', 'direct', '--security', 'psk', '--server', 'coaps://lwm2m.example.com:5684', '--manifest', db]

async function show(endpoint: string): Promise<any> {
  const r = await runCli(['manifest', 'show', endpoint, '--manifest', db, '--json'], { env })
  expect(r.code, r.stderr).toBe(0)
  return r.json.result
}

afterEach(async () => cleanupSims())

describe('inject (e2e)', () => {
  beforeAll(async () => {
    const r = await runCli(['ca', 'create', '--name', 'E2E Inject CA', '--out', join(dir, 'ca'), '--json'], { env })
    expect(r.code, r.stderr).toBe(0)
  })

  it('lwprov over a PTY: envelope, exit 0, manifest row verified with the device serial', async () => {
    const sim = await spawnSim(['--protocol', 'lwprov', '--link', join(dir, 'dev-ok'), '--serial', 'E2E-0001'])
    expect(sim.ready).toMatchObject({ protocol: 'lwprov', link: join(dir, 'dev-ok'), serial: 'E2E-0001' })
    const r = await runCli(['inject', '--port', sim.ready.link!, '--protocol', 'lwprov', '--endpoint', 'urn:dev:ops:32473-E2e-{serial}', ...psk, '--json'], { env })
    expect(r.code, r.stderr).toBe(0)
    expect(r.json).toMatchObject({
      status: 0,
      result: { endpoint: 'urn:dev:ops:32473-E2e-E2E-0001', status: 'verified', deviceId: 'E2E-0001', protocol: 'lwprov', port: sim.ready.link },
    })
    expect(r.json.result.readbackDigest).toMatch(/^[0-9a-f]{64}$/)
    // Like station, the progress view is silent under --json (stdout carries the envelope, stderr stays quiet).
    expect(r.stderr).not.toMatch(/identify/)
    const row = await show('urn:dev:ops:32473-E2e-E2E-0001')
    expect(row).toMatchObject({ status: 'verified', deviceId: 'E2E-0001', readbackDigest: r.json.result.readbackDigest })
    // The PSK is sealed in the manifest, never printed.
    expect(r.stdout + r.stderr).not.toMatch(/"psk"/)
  })

  it('FCC over TCP with a certificate: fingerprint in the result', async () => {
    const sim = await spawnSim(['--protocol', 'fcc', '--tcp', '0'])
    expect(sim.ready.port).toBeGreaterThan(0)
    const sca = await runCli(['ca', 'create', '--name', 'E2E Server CA', '--out', join(dir, 'server-ca'), '--json'], { env })
    expect(sca.code, sca.stderr).toBe(0)
    const r = await runCli(
      [
        'inject', '--tcp', `127.0.0.1:${sim.ready.port}`, '--protocol', 'fcc', '--endpoint', 'e2efcc0001',
        '--mode', 'bootstrap', '--security', 'cert', '--server', 'coaps://bs.example.com:5684?aid=0123456789abcdef0123456789abcdef',
        '--server-ca', join(dir, 'server-ca', 'ca.pem'), '--ca', join(dir, 'ca'), '--manifest', db,
        '--manufacturer', 'Acme', '--model-number', 'M1', '--device-type', 'sensor', '--hardware-version', '1.0',
        '--memory-total-kb', '512', '--serial-number', 'SN-E2E-1', '--json',
      ],
      { env },
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.result).toMatchObject({ endpoint: 'e2efcc0001', status: 'verified', protocol: 'fcc', deviceId: 'SN-E2E-1' })
    expect(r.json.result.fingerprint).toMatch(/^[0-9a-f]{64}$/)
    expect(await show('e2efcc0001')).toMatchObject({ status: 'verified', fingerprint: r.json.result.fingerprint })
  })

  it('FCC without --serial-number: the host pre-check refuses it (exit 4), no certificate, no manifest row', async () => {
    const sim = await spawnSim(['--protocol', 'fcc', '--tcp', '0'])
    const r = await runCli(
      [
        'inject', '--tcp', `127.0.0.1:${sim.ready.port}`, '--protocol', 'fcc', '--endpoint', 'e2efccnosn',
        '--mode', 'bootstrap', '--security', 'cert', '--server', 'coaps://bs.example.com:5684?aid=0123456789abcdef0123456789abcdef',
        '--server-ca', join(dir, 'ca', 'ca.pem'), '--ca', join(dir, 'ca'), '--manifest', db,
        '--manufacturer', 'Acme', '--model-number', 'M1', '--device-type', 'sensor', '--hardware-version', '1.0',
        '--memory-total-kb', '512', '--json',
      ],
      { env },
    )
    expect(r.code, r.stderr).toBe(4)
    expect(r.json).toMatchObject({ status: 4, error: { code: 'E_FCC_ITEM_NOT_EXIST' } })
    expect(r.json.error.message).toContain('mbed.SerialNumber')
    expect(r.json.error.hint).toMatch(/--serial-number/)
    const s = await runCli(['manifest', 'show', 'e2efccnosn', '--manifest', db, '--json'], { env })
    expect(s.json.error.code).toBe('E_ENDPOINT_NOT_FOUND')
  })

  it('a refusing device: exit 4, coded error naming the port and step, row failed', async () => {
    const sim = await spawnSim(['--protocol', 'lwprov', '--link', join(dir, 'dev-refuse'), '--serial', 'E2E-0002', '--fault', 'refuse'])
    const r = await runCli(['inject', '--port', sim.ready.link!, '--protocol', 'lwprov', '--endpoint', 'e2e-refuse', ...psk, '--json'], { env })
    expect(r.code).toBe(4)
    expect(r.json).toMatchObject({ status: 4, error: { code: 'E_DEVICE_REFUSED' } })
    expect(r.json.error.message).toContain(sim.ready.link)
    expect(r.json.error.hint).toBeTruthy()
    expect(await show('e2e-refuse')).toMatchObject({ status: 'failed', deviceId: 'E2E-0002' })
  })

  it('a device that hangs up mid-transfer: exit 5, row failed; with --fault-once the rerun verifies', async () => {
    const sim = await spawnSim(['--protocol', 'lwprov', '--link', join(dir, 'dev-drop'), '--serial', 'E2E-0003', '--fault', 'drop', '--fault-at', '70', '--fault-once'])
    const a = await runCli(['inject', '--port', sim.ready.link!, '--protocol', 'lwprov', '--endpoint', 'e2e-drop', '--retries', '0', ...psk, '--json'], { env })
    // 13 would be Node's "unsettled top-level await": the session awaited something the hang-up never settled.
    expect(a.code, a.stderr).toBe(5)
    expect(a.json).toMatchObject({ status: 5 })
    expect(await show('e2e-drop')).toMatchObject({ status: 'failed' })
    const b = await runCli(['inject', '--port', sim.ready.link!, '--protocol', 'lwprov', '--endpoint', 'e2e-drop', ...psk, '--json'], { env })
    expect(b.code, b.stderr).toBe(0)
    expect(await show('e2e-drop')).toMatchObject({ status: 'verified', deviceId: 'E2E-0003' })
  })

  it('Ctrl-C during the transfer: exit 130, row failed "interrupted"', async () => {
    const sim = await spawnSim(['--protocol', 'lwprov', '--link', join(dir, 'dev-int'), '--serial', 'E2E-0004', '--fault', 'delay', '--fault-at', '60'])
    const child = spawn(process.execPath, [BIN, 'inject', '--port', sim.ready.link!, '--protocol', 'lwprov', '--endpoint', 'e2e-int', '--timeout', '20000', ...psk], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', ...env },
    })
    let err = ''
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d) => {
        err += d
        if (/: write/.test(err) && !child.killed) setTimeout(() => child.kill('SIGINT'), 200)
      })
      child.on('exit', (c) => resolve(c))
    })
    expect(code, err).toBe(130)
    const row = await show('e2e-int')
    expect(row.status).toBe('failed')
    expect(row.statusReason).toMatch(/^interrupted/)
  })

  it('a work order outside its activation window: exit 3, no name claimed', async () => {
    const b = await runCli(['batch', 'create', '--name', 'WO-LATER', '--count', '2', '--endpoint', 'later-{seq:03}', '--activates-on', '2099-01-01', '--manifest', db, '--json'], { env })
    expect(b.code, b.stderr).toBe(0)
    const sim = await spawnSim(['--protocol', 'lwprov', '--link', join(dir, 'dev-later'), '--serial', 'E2E-0005'])
    const r = await runCli(['inject', '--port', sim.ready.link!, '--protocol', 'lwprov', '--batch', 'WO-LATER', ...psk, '--json'], { env })
    expect(r.code).toBe(3)
    expect(r.json.error.code).toBe('E_BATCH_NOT_ACTIVE')
    for (const name of ['later-001', 'later-002']) expect((await show(name)).status).toBe('reserved')
  })

  it('missing flags without a TTY: exit 2 naming them', async () => {
    const r = await runCli(['inject', '--port', join(dir, 'nowhere'), '--protocol', 'lwprov', '--endpoint', 'x-1', '--manifest', db, '--json'], { env })
    expect(r.code).toBe(2)
    expect(r.json.error.code).toBe('E_FLAGS_MISSING')
  })

  it('a port that does not exist: exit 5, E_PORT_NOT_FOUND with the ports hint', async () => {
    const r = await runCli(['inject', '--port', join(dir, 'nowhere'), '--protocol', 'lwprov', '--endpoint', 'x-2', ...psk, '--json'], { env })
    expect(r.code).toBe(5)
    expect(r.json.error).toMatchObject({ code: 'E_PORT_NOT_FOUND' })
    expect(r.json.error.hint).toMatch(/lwprov ports/)
  })

  it('a --port that is a directory or a regular file: exit 2 at once, E_PORT_NOT_SERIAL with the ports hint', async () => {
    const file = join(dir, 'not-a-port.txt')
    writeFileSync(file, 'x')
    for (const port of [dir, file]) {
      const r = await runCli(['inject', '--port', port, '--protocol', 'lwprov', '--endpoint', 'x-3', ...psk, '--json'], { env })
      expect(r.code, r.stderr).toBe(2)
      expect(r.json.error).toMatchObject({ code: 'E_PORT_NOT_SERIAL' })
      expect(r.json.error.message).toContain(port)
      expect(r.json.error.hint).toMatch(/lwprov ports/)
      expect(r.stderr).not.toMatch(/retrying/)
    }
  })

  it('ports lists without udevadm and never crashes', async () => {
    const r = await runCli(['ports', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(Array.isArray(r.json.result)).toBe(true)
  })
})
