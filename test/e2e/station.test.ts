/**
 * `lwprov station` end to end: 8 simulated devices on PTYs that come back as new devices after each provisioning,
 * 200 verified devices with 200 distinct endpoints, a non-TTY run without flags failing fast, and kill -9 at 10
 * random moments with restarts: no name twice, exact final count.
 */
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import type { ManifestRecord, ManifestStore } from '../../src/core/manifest/types.js'
import { BIN, ROOT, runCli, tempDir } from '../helpers/cli.js'
import { cleanupSims, startSim } from '../helpers/pty.js'

const dir = tempDir('lwprov-e2e-station-')
const env = { LWPROV_MASTER_KEY: randomBytes(32).toString('hex'), LWPROV_CA_PASSPHRASE: 'e2e-station-pass' }
const creds = ['--mode', 'direct', '--security', 'psk', '--server', 'coaps://lwm2m.example.com:5684']

async function openStore(db: string): Promise<ManifestStore> {
  const { openManifest } = (await import('../../src/core/manifest/open.js')) as { openManifest: (l: string) => Promise<ManifestStore> }
  return openManifest(db)
}

async function rows(db: string, batch: string): Promise<ManifestRecord[]> {
  const store = await openStore(db)
  const out: ManifestRecord[] = []
  for await (const r of store.list({ batch })) out.push(r)
  await store.close()
  return out
}

/** n renewing simulated devices; `stored` counts credential stores per device serial. */
async function devices(n: number, tag: string, baud?: number) {
  const stored = new Map<string, number>()
  const ports: string[] = []
  for (let i = 0; i < n; i++) {
    const s = await startSim({ protocol: 'lwprov', serial: `${tag}${i}-00000`, renew: true, link: join(dir, `${tag}-p${i}`), ...(baud ? { baud } : {}) })
    s.sim.on('stored', ({ serial }: { serial: string }) => stored.set(serial, (stored.get(serial) ?? 0) + 1))
    ports.push(s.link!)
  }
  return { ports, stored }
}

afterAll(async () => cleanupSims())

describe('station (e2e)', () => {
  it('without a TTY and without flags fails fast naming the missing flags', async () => {
    const r = await runCli(['station', '--manifest', join(dir, 'none.db')], { env, timeoutMs: 20_000 })
    expect(r.code).toBe(2)
    for (const f of ['--ports', '--protocol', '--batch', '--server']) expect(r.stderr).toContain(f)
    expect(r.stdout).toBe('')
    const j = await runCli(['station', '--manifest', join(dir, 'none.db'), '--ports', '/dev/null', '--json'], { env, timeoutMs: 20_000 })
    expect(j.code).toBe(2)
    expect(j.json.error.code).toBe('E_FLAGS_MISSING')
    expect(j.json.error.details.missing).toEqual(['--protocol', '--batch', '--mode', '--security', '--server'])
  })

  it('verifies 200 devices with 200 distinct endpoints on 8 ports', async () => {
    const db = join(dir, 'm200.db')
    const { ports, stored } = await devices(8, 'E')
    const b = await runCli(['batch', 'create', '--name', 'WO-200', '--count', '210', '--endpoint', 'urn:dev:os:320973-E2E{seq:05}', '--manifest', db, '--json'], { env })
    expect(b.code, b.stderr).toBe(0)
    const t0 = Date.now()
    const r = await runCli(['station', '--ports', ports.join(','), '--protocol', 'lwprov', '--batch', 'WO-200', '--count', '200', ...creds, '--manifest', db, '--json'], {
      env,
      timeoutMs: 90_000,
    })
    expect(r.code, r.stderr + r.stdout).toBe(0)
    const res = r.json.result
    expect(res.verified).toBe(200)
    expect(res.endpoints).toHaveLength(200)
    expect(new Set(res.endpoints).size).toBe(200)
    expect(res.failed).toBe(0)
    expect(res.devicesPerMinute).toBeGreaterThan(0)
    expect(res.batch).toMatchObject({ name: 'WO-200', verified: 200, remaining: 10 })
    const all = await rows(db, 'WO-200')
    const verified = all.filter((x) => x.status === 'verified')
    expect(verified).toHaveLength(200)
    expect(new Set(verified.map((x) => x.deviceId)).size).toBe(200)
    for (const v of verified) expect(stored.get(v.deviceId!)).toBe(1)
    // Progress went to stderr; stdout is exactly one JSON document.
    expect(r.json?.status).toBe(0)
    console.log(`station e2e: 200 devices on 8 PTYs in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${res.devicesPerMinute} devices/min`)
  }, 120_000)

  it('reports a failing device red with its port, endpoint and reason, while the other ports carry on', async () => {
    const db = join(dir, 'mfail.db')
    const { ports } = await devices(2, 'F')
    const bad = await startSim({ protocol: 'lwprov', serial: 'BAD-0001', link: join(dir, 'F-bad'), fault: { kind: 'corrupt' } })
    const b = await runCli(['batch', 'create', '--name', 'WO-FAIL', '--count', '10', '--endpoint', 'urn:dev:os:320973-FAIL{seq:03}', '--manifest', db], { env })
    expect(b.code, b.stderr).toBe(0)
    const r = await runCli(['station', '--ports', [...ports, bad.link!].join(','), '--protocol', 'lwprov', '--batch', 'WO-FAIL', ...creds, '--manifest', db, '--json'], {
      env,
      timeoutMs: 60_000,
    })
    expect(r.code, r.stderr + r.stdout).toBe(0)
    const res = r.json.result
    expect(res.verified).toBe(2)
    expect(res.failed).toBe(1)
    expect(res.failures[0]).toMatchObject({ port: bad.link, code: 'E_READBACK_MISMATCH' })
    expect(res.failures[0].endpoint).toMatch(/^urn:dev:os:320973-FAIL00\d$/)
    expect(res.failures[0].reason).toContain(bad.link)
    const row = (await rows(db, 'WO-FAIL')).find((x) => x.endpoint === res.failures[0].endpoint)!
    // The name stays with the failed device, so a retry of the same device gets the same endpoint.
    expect(row).toMatchObject({ status: 'failed', deviceId: 'BAD-0001' })
    // Without --json on a non-TTY stderr the simple renderer names port and reason on one line.
    const human = await runCli(['station', '--ports', bad.link!, '--protocol', 'lwprov', '--batch', 'WO-FAIL', ...creds, '--manifest', db], { env, timeoutMs: 60_000 })
    expect(human.code).toBe(4)
    expect(human.stderr).toContain(`${bad.link}: ✖ BAD-0001 ${res.failures[0].endpoint} E_READBACK_MISMATCH`)
    expect(human.stderr).toContain('E_STATION_FAILED')
  }, 90_000)

  it('provisions Izuma FCC devices, numbering their serials from --serial-number SN-{seq:06}', async () => {
    const db = join(dir, 'mfcc.db')
    const ports = []
    for (let i = 0; i < 2; i++) ports.push((await startSim({ protocol: 'fcc', link: join(dir, `fcc-p${i}`) })).link!)
    for (const [name, out] of [['E2E Factory CA', 'fca'], ['E2E Server CA', 'sca']]) {
      const c = await runCli(['ca', 'create', '--name', name!, '--out', join(dir, out!), '--json'], { env })
      expect(c.code, c.stderr).toBe(0)
    }
    const b = await runCli(['batch', 'create', '--name', 'WO-FCC', '--count', '2', '--endpoint', 'e2efcc{seq:04}', '--manifest', db], { env })
    expect(b.code, b.stderr).toBe(0)
    const r = await runCli(
      [
        'station', '--ports', ports.join(','), '--protocol', 'fcc', '--batch', 'WO-FCC', '--mode', 'bootstrap', '--security', 'cert',
        '--server', 'coaps://bs.example.com:5684?aid=0123456789abcdef0123456789abcdef', '--server-ca', join(dir, 'sca', 'ca.pem'), '--ca', join(dir, 'fca'),
        '--manufacturer', 'Acme', '--model-number', 'M1', '--device-type', 'sensor', '--hardware-version', '1.0', '--memory-total-kb', '512',
        '--serial-number', 'SN-{seq:06}', '--manifest', db, '--json',
      ],
      { env, timeoutMs: 60_000 },
    )
    expect(r.code, r.stderr + r.stdout).toBe(0)
    expect(r.json.result.verified).toBe(2)
    const verified = (await rows(db, 'WO-FCC')).filter((x) => x.status === 'verified')
    expect(verified.map((x) => x.deviceId).sort()).toEqual(['SN-000001', 'SN-000002'])
  }, 60_000)

  it('stops cleanly on Ctrl-C (SIGINT) with exit 130 and a result', async () => {
    const db = join(dir, 'mint.db')
    const { ports } = await devices(2, 'I')
    const b = await runCli(['batch', 'create', '--name', 'WO-INT', '--count', '500', '--endpoint', 'urn:dev:os:320973-INT{seq:04}', '--manifest', db], { env })
    expect(b.code, b.stderr).toBe(0)
    const child = spawn(process.execPath, [BIN, 'station', '--ports', ports.join(','), '--protocol', 'lwprov', '--batch', 'WO-INT', '--continuous', ...creds, '--manifest', db, '--json'], {
      cwd: ROOT,
      env: { ...process.env, ...env, NO_COLOR: '1' },
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    // Listen before anything can happen: an exit before the interrupt must fail the test, not hang it.
    let exitCode: number | null | undefined
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r((exitCode = c))))
    // Interrupt once the station is really provisioning (a verified row exists, so its Ctrl-C handler is installed),
    // not after a fixed delay: under load Node may still be starting, and Node's default SIGINT kill is no 130.
    const store = await openStore(db)
    try {
      const until = Date.now() + 40_000
      while ((await store.count({ batch: 'WO-INT', status: 'verified' })) === 0) {
        if (exitCode !== undefined) throw new Error(`station exited (${exitCode}) before any device was verified:\n${err}`)
        if (Date.now() > until) throw new Error(`no device verified within 40 s:\n${err}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    } finally {
      await store.close()
    }
    child.kill('SIGINT')
    const code = await exited
    expect(code, err).toBe(130)
    const res = JSON.parse(out).result
    expect(res.stopReason).toBe('interrupted')
    const all = await rows(db, 'WO-INT')
    expect(all.filter((x) => x.status === 'verified')).toHaveLength(res.verified)
    // Nothing is left half-done without a reason: cut-off devices are failed (interrupted) and keep their names.
    for (const x of all.filter((r) => r.deviceId && r.status !== 'verified')) expect(x.statusReason ?? '').toMatch(/interrupted/)
  }, 60_000)

  it('survives kill -9 at 10 random moments: no name twice, exact final count', async () => {
    const db = join(dir, 'mkill.db')
    const N = 80
    // Paced at 9600 baud so a run lasts long enough to be killed mid-transfer.
    const { ports, stored } = await devices(4, 'K', 9600)
    const b = await runCli(['batch', 'create', '--name', 'WO-KILL', '--count', String(N), '--endpoint', 'urn:dev:os:320973-KILL{seq:04}', '--manifest', db], { env })
    expect(b.code, b.stderr).toBe(0)
    const args = [BIN, 'station', '--ports', ports.join(','), '--protocol', 'lwprov', '--batch', 'WO-KILL', '--continuous', ...creds, '--manifest', db, '--json']
    for (let k = 0; k < 10; k++) {
      const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: 'ignore' })
      const exited = new Promise((r) => child.once('exit', r))
      const at = 600 + Math.floor(Math.random() * 1000)
      await new Promise((r) => setTimeout(r, at))
      child.kill('SIGKILL')
      await exited
    }
    const mid = await rows(db, 'WO-KILL')
    const before = mid.filter((x) => x.status === 'verified').length
    const last = await runCli(args.slice(1), { env, timeoutMs: 90_000 })
    expect(last.code, last.stderr + last.stdout).toBe(0)
    expect(last.json.result.stopReason).toBe('exhausted')

    const all = await rows(db, 'WO-KILL')
    expect(all).toHaveLength(N)
    const verified = all.filter((x) => x.status === 'verified')
    const claimed = all.filter((x) => x.deviceId)
    // Every name went to at most one device and every device got at most one name.
    expect(new Set(claimed.map((x) => x.deviceId)).size).toBe(claimed.length)
    expect(all.filter((x) => x.status === 'reserved')).toHaveLength(0)
    // A verified row is a device that really stored credentials exactly once.
    for (const v of verified) expect(stored.get(v.deviceId!), v.deviceId!).toBe(1)
    // Exact count: rows not verified were killed after the device stored and before the manifest said so; they stay
    // with their device (reported as unfinished) and no other device took their names.
    const unfinished = claimed.filter((x) => x.status !== 'verified')
    for (const u of unfinished) expect(['generated', 'injected', 'failed']).toContain(u.status)
    expect(verified.length + unfinished.length).toBe(N)
    const status = await runCli(['batch', 'status', 'WO-KILL', '--manifest', db, '--json'], { env })
    expect(status.json.result.counts.verified).toBe(verified.length)
    // Devices stored credentials no more often than names were claimed: nothing was issued twice.
    expect([...stored.values()].reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(claimed.length)
    expect(last.json.result.verified).toBe(verified.length - before)
    console.log(`station kill -9: ${before} verified over 10 killed runs, ${verified.length} after the last run, ${unfinished.length} unfinished`)
  }, 240_000)
})

describe('station on a terminal (tmux)', () => {
  const sock = `lwprov-test-${process.pid}`
  const tmux = (...a: string[]) => execFileSync('tmux', ['-L', sock, ...a], { encoding: 'utf8' })
  const screen = () => tmux('capture-pane', '-p', '-t', 'st')
  async function waitScreen(re: RegExp, ms = 20_000): Promise<string> {
    const until = Date.now() + ms
    for (;;) {
      const s = screen()
      if (re.test(s)) return s
      if (Date.now() > until) throw new Error(`screen never showed ${re}:\n${s}`)
      await new Promise((r) => setTimeout(r, 150))
    }
  }
  let sessionStarted = false
  afterAll(() => {
    if (sessionStarted) {
      try {
        tmux('kill-server')
      } catch {
        // already gone
      }
    }
  })

  it('asks a technician for the profile, work order, ports and count, then shows green devices', async () => {
    const db = join(dir, 'mtty.db')
    const { ports } = await devices(2, 'T')
    const b = await runCli(['batch', 'create', '--name', 'WO-TTY', '--count', '2', '--endpoint', 'urn:dev:os:320973-TTY{seq:03}', '--manifest', db], { env })
    expect(b.code, b.stderr).toBe(0)
    const profile = join(dir, 'line3.yaml')
    writeFileSync(profile, 'protocol: lwprov\ncredentials:\n  mode: direct\n  security: psk\n  server: coaps://lwm2m.example.com:5684\n')
    const cmd = `cd ${ROOT} && env -u CI LWPROV_MASTER_KEY=${env.LWPROV_MASTER_KEY} node bin/run.js station --manifest ${db}; echo EXIT=$?; sleep 60`
    tmux('new-session', '-d', '-s', 'st', '-x', '120', '-y', '40', cmd)
    sessionStarted = true

    await waitScreen(/Station profile/)
    tmux('send-keys', '-t', 'st', profile, 'Enter')
    await waitScreen(/Work order:[\s\S]*WO-TTY/)
    tmux('send-keys', '-t', 'st', 'Enter')
    await waitScreen(/Ports to provision on|Port paths/)
    if (/Ports to provision on/.test(screen())) {
      // Detected ports first, then "Other ports…": go to the last entry, tick it, confirm.
      tmux('send-keys', '-t', 'st', 'Up', 'Space', 'Enter')
      await waitScreen(/Port paths/)
    }
    tmux('send-keys', '-t', 'st', ports.join(','), 'Enter')
    await waitScreen(/How many devices/)
    tmux('send-keys', '-t', 'st', 'Enter')
    await waitScreen(/Provision 2 device\(s\) of WO-TTY \(2 to do\) on 2 port\(s\)\. Start\?/)
    tmux('send-keys', '-t', 'st', 'Enter')
    const done = await waitScreen(/EXIT=\d+/, 60_000)
    expect(done).toContain('EXIT=0')
    expect(done).toMatch(/2 verified, 0 failed on 2 port\(s\)/)
    for (const p of ports) expect(done).toContain(p)
    expect(done).toMatch(/1 ✔ 0 ✖ · last: verified urn:dev:os:320973-TTY00[12]/)
    expect(done).toContain('Work order WO-TTY: 2 verified, 0 remaining.')
  }, 120_000)
})
