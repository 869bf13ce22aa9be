/**
 * `lwprov station` as a technician sees it, on a real terminal (tmux): everything asked before "Start?" (the CA and
 * its passphrase included) and the run printed as one command; Ctrl-C at a prompt is an interrupt (130); a device
 * that fails at once shows on its row while the station runs; a finished work order asks nothing.
 */
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'

import type { ManifestStore } from '../../src/core/manifest/types.js'
import { BIN, ROOT, runCli, tempDir } from '../helpers/cli.js'
import { cleanupSims, startSim } from '../helpers/pty.js'

const dir = tempDir('lwprov-e2e-station-tty-')
const MASTER = randomBytes(32).toString('hex')
const PASS = `tty-pass-${randomBytes(4).toString('hex')}`
const env = { LWPROV_MASTER_KEY: MASTER }
const sock = `lwprov-tty-${process.pid}`
let session = 0
let live: string | undefined

const tmux = (...a: string[]) => execFileSync('tmux', ['-L', sock, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
const screen = () => tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', live!)
const keys = (...k: string[]) => tmux('send-keys', '-t', live!, ...k)

/** Starts `lwprov <args>` in a fresh tmux window (a TTY, CI unset); the shell prints EXIT=<code> when it ends. */
function start(args: string, extraEnv = ''): void {
  live = `s${++session}`
  const cmd = `cd ${ROOT} && env -u CI -u LWPROV_CA_PASSPHRASE NO_COLOR=1 LWPROV_MASTER_KEY=${MASTER} ${extraEnv} node bin/run.js ${args}; echo EXIT=$?; sleep 120`
  tmux('new-session', '-d', '-s', live, '-x', '200', '-y', '50', cmd)
}

async function waitScreen(re: RegExp, ms = 30_000): Promise<string> {
  const until = Date.now() + ms
  for (;;) {
    const s = screen()
    if (re.test(s)) return s
    if (Date.now() > until) throw new Error(`screen never showed ${re}:\n${s}`)
    await new Promise((r) => setTimeout(r, 150))
  }
}

afterEach(() => {
  if (live) {
    try {
      tmux('kill-session', '-t', live)
    } catch {
      // already gone
    }
    live = undefined
  }
})
afterAll(async () => {
  try {
    tmux('kill-server')
  } catch {
    // no server left
  }
  await cleanupSims()
})

describe('station on a terminal', () => {
  it('Ctrl-C at a prompt ends with exit 130, not as a bug', async () => {
    start(`station --manifest ${join(dir, 'ctrlc.db')}`)
    await waitScreen(/Station profile/)
    keys('C-c')
    const s = await waitScreen(/EXIT=\d+/)
    expect(s).toContain('EXIT=130')
    expect(s).toContain('E_INTERRUPTED')
    expect(s).not.toMatch(/E_INTERNAL|bug in lwprov/)
  }, 60_000)

  it('asks for the CA and its passphrase before "Start?", prints the run as one command without the passphrase, then a finished work order asks nothing', async () => {
    const db = join(dir, 'cert.db')
    const ca = join(dir, 'factory-ca')
    const c = await runCli(['ca', 'create', '--name', 'TTY Factory CA', '--org', 'Acme', '--country', 'FI', '--out', ca, '--json'], { env: { LWPROV_CA_PASSPHRASE: PASS } })
    expect(c.code, c.stderr).toBe(0)
    const b = await runCli(['batch', 'create', '--name', 'WO-CERT', '--count', '1', '--endpoint', 'urn:dev:os:320973-CERT{seq:03}', '--manifest', db], { env })
    expect(b.code, b.stderr).toBe(0)
    const dev = await startSim({ protocol: 'lwprov', serial: 'TTYCERT-0001', link: join(dir, 'cert-dev') })

    start(`station --manifest ${db} --protocol lwprov --mode bootstrap --server coaps://bs.example.com:5684 --ports ${dev.link}`)
    await waitScreen(/Station profile/)
    keys('Enter')
    await waitScreen(/Work order:[\s\S]*WO-CERT/)
    keys('Enter')
    await waitScreen(/Security:/)
    keys('Enter') // cert (X.509), the first choice
    await waitScreen(/Factory CA directory/)
    keys(ca, 'Enter')
    await waitScreen(/How many devices/)
    keys('Enter')
    await waitScreen(/passphrase/i)
    keys(PASS, 'Enter')
    // Everything is known before the confirmation: the one-line command is shown, the passphrase is not.
    const ready = await waitScreen(/Start\?/)
    const line = ready.split('\n').find((l) => l.includes('lwprov station --manifest'))
    expect(line, ready).toBeDefined()
    for (const part of ['--batch WO-CERT', '--security cert', `--ca ${ca}`, '--count 1', `--ports ${dev.link}`]) expect(line).toContain(part)
    expect(ready).not.toContain(PASS)
    keys('Enter')
    const done = await waitScreen(/EXIT=\d+/, 60_000)
    expect(done).toContain('EXIT=0')
    expect(done).toMatch(/1 verified, 0 failed/)
    expect(done).not.toContain(PASS)

    // The work order is now complete: nothing to ask, nothing to start.
    start(`station --manifest ${db} --batch WO-CERT --protocol lwprov --mode bootstrap --security cert --server coaps://bs.example.com:5684 --ca ${ca} --ports ${dev.link}`, `LWPROV_CA_PASSPHRASE=${PASS}`)
    const again = await waitScreen(/EXIT=\d+/)
    expect(again).toContain('EXIT=0')
    expect(again).toMatch(/Work order WO-CERT is complete/)
    expect(again).not.toMatch(/How many devices|Start\?/)
    expect(again).toContain('Work order WO-CERT: 1 verified, 0 remaining.')
  }, 120_000)

  it('a device that fails at once shows on its row while the station keeps running', async () => {
    const db = join(dir, 'fast.db')
    const dev = await startSim({ protocol: 'lwprov', serial: 'TTYFAST-0001', link: join(dir, 'fast-dev'), fault: { kind: 'refuse' } })
    start(`station --manifest ${db} --protocol lwprov --endpoint 'urn:dev:ops:32473-Fast-{serial}' --mode direct --security psk --server coaps://lwm2m.example.com:5684 --ports ${dev.link} --continuous --yes`)
    // Still running (no EXIT yet), the failure is on the port's row.
    const s = await waitScreen(/0 ✔ 1 ✖[\s\S]*✖ TTYFAST-0001 urn:dev:ops:32473-Fast-TTYFAST-0001 E_DEVICE_REFUSED/)
    expect(s).not.toMatch(/EXIT=/)
    keys('C-c')
    const done = await waitScreen(/EXIT=\d+/)
    expect(done).toContain('EXIT=130')
  }, 60_000)
})

describe('station summary after Ctrl-C', () => {
  it('says interrupted, counts the cut-off device apart from failures, names it once and prints the command that resumes', async () => {
    const db = join(dir, 'int.db')
    const ok = await startSim({ protocol: 'lwprov', serial: 'INT-OK-1', link: join(dir, 'int-ok') })
    // Goes silent 60 bytes into the write: it is mid-provisioning when Ctrl-C comes.
    const stuck = await startSim({ protocol: 'lwprov', serial: 'INT-STUCK-1', link: join(dir, 'int-stuck'), fault: { kind: 'delay', at: 60 } })
    const args = ['station', '--ports', `${ok.link},${stuck.link}`, '--protocol', 'lwprov', '--endpoint', 'urn:dev:ops:32473-Int-{serial}', '--count', '5', '--timeout', '20000',
      '--mode', 'direct', '--security', 'psk', '--server', 'coaps://lwm2m.example.com:5684', '--manifest', db]
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env, NO_COLOR: '1' } })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    let exitCode: number | null | undefined
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r((exitCode = c))))
    const { openManifest } = (await import('../../src/core/manifest/open.js')) as { openManifest: (l: string) => Promise<ManifestStore> }
    // Interrupt once one device is verified and the other holds a row (its credentials are being written).
    for (const until = Date.now() + 40_000; ; ) {
      if (exitCode !== undefined) throw new Error(`station exited (${exitCode}) early:\n${err}`)
      if (Date.now() > until) throw new Error(`never reached the interrupt point:\n${err}`)
      if (err.includes('✔ urn:dev:ops:32473-Int-INT-OK-1')) {
        const store = await openManifest(db)
        const row = await store.get('urn:dev:ops:32473-Int-INT-STUCK-1')
        await store.close()
        if (row) break
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    child.kill('SIGINT')
    expect(await exited, err).toBe(130)
    expect(out).toMatch(/^Interrupted: 1 verified, 0 failed, 1 interrupted on 2 port\(s\)/m)
    expect(out.split('urn:dev:ops:32473-Int-INT-STUCK-1')).toHaveLength(2)
    expect(out).not.toMatch(/✖/)
    const resume = /^Resume with: (.*)$/m.exec(out)?.[1]
    expect(resume, out).toBeDefined()
    expect(resume).toContain(`lwprov station --ports ${ok.link},${stuck.link}`)
    expect(resume).toContain('--count 4')
    expect(resume).toContain("--endpoint 'urn:dev:ops:32473-Int-{serial}'")
  }, 90_000)
})

describe('station when a device is unplugged mid-write', () => {
  it('says the device was lost during write, then that the port is waiting', async () => {
    const db = join(dir, 'unplug.db')
    const link = join(dir, 'unplug-dev')
    const dev = await startSim({ protocol: 'lwprov', serial: 'UNPLUG-1', link, fault: { kind: 'delay', at: 60 } })
    const args = ['station', '--ports', link, '--protocol', 'lwprov', '--endpoint', 'urn:dev:ops:32473-Unplug-{serial}', '--continuous', '--timeout', '20000',
      '--mode', 'direct', '--security', 'psk', '--server', 'coaps://lwm2m.example.com:5684', '--manifest', db]
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env, NO_COLOR: '1' } })
    let err = ''
    child.stderr.on('data', (d) => (err += d))
    child.stdout.resume()
    let exitCode: number | null | undefined
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r((exitCode = c))))
    const { openManifest } = (await import('../../src/core/manifest/open.js')) as { openManifest: (l: string) => Promise<ManifestStore> }
    const waitFor = async (what: () => Promise<boolean> | boolean, label: string) => {
      for (const until = Date.now() + 40_000; !(await what()); ) {
        if (exitCode !== undefined) throw new Error(`station exited (${exitCode}) before ${label}:\n${err}`)
        if (Date.now() > until) throw new Error(`never saw ${label}:\n${err}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    // The device has a row: its credentials are being written (it went silent 60 bytes in). Now pull the plug.
    await waitFor(async () => {
      const store = await openManifest(db)
      const row = await store.get('urn:dev:ops:32473-Unplug-UNPLUG-1')
      await store.close()
      return row !== undefined
    }, 'the write')
    await dev.stop()
    await waitFor(() => /waiting for a device to appear/.test(err.slice(err.search(/lost during write/))) && /lost during write/.test(err), 'the loss and the wait')
    expect(err).toMatch(/UNPLUG-1 urn:dev:ops:32473-Unplug-UNPLUG-1 E_DEVICE_DISCONNECTED: Device UNPLUG-1 was lost during write/)
    expect(err).not.toMatch(/E_PORT_NOT_FOUND/)
    child.kill('SIGINT')
    expect(await exited, err).toBe(130)
  }, 90_000)
})

describe('a port where nothing answers', () => {
  // The device is attached but stays silent from the first byte (the fault waits 30 s): to the host, nothing is there.
  const silentSim = (name: string) => startSim({ protocol: 'lwprov', serial: `SILENT-${name}`, link: join(dir, name), fault: { kind: 'delay', at: 0 } })

  it('inject fails in one round of HELLOs with "no device answered", without reconnecting', async () => {
    const dev = await silentSim('silent-inject')
    const r = await runCli(['inject', '--port', dev.link!, '--protocol', 'lwprov', '--endpoint', 'urn:dev:ops:32473-Silent-1', '--mode', 'direct', '--security', 'psk',
      '--server', 'coaps://lwm2m.example.com:5684', '--manifest', join(dir, 'silent.db'), '--json'], { env, timeoutMs: 60_000 })
    expect(r.code, r.stderr).toBe(5)
    expect(r.json.error.code).toBe('E_NO_DEVICE')
    expect(r.json.error.message).toMatch(/^No device answered on .*silent-inject \(nothing came back to 5 HELLOs in 5\.0 s\)/)
    expect(r.stderr).not.toMatch(/retrying/)
  }, 90_000)

  it('station keeps waiting for a device there, visibly, and counts no failure', async () => {
    const dev = await silentSim('silent-station')
    const args = ['station', '--ports', dev.link!, '--protocol', 'lwprov', '--endpoint', 'urn:dev:ops:32473-Silent-{serial}', '--continuous',
      '--mode', 'direct', '--security', 'psk', '--server', 'coaps://lwm2m.example.com:5684', '--manifest', join(dir, 'silent-st.db')]
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env, NO_COLOR: '1' } })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    let exitCode: number | null | undefined
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r((exitCode = c))))
    for (const until = Date.now() + 40_000; !/no device answered; waiting for one/.test(err); ) {
      if (exitCode !== undefined) throw new Error(`station exited (${exitCode}):\n${err}`)
      if (Date.now() > until) throw new Error(`never said it was waiting:\n${err}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    child.kill('SIGINT')
    expect(await exited, err).toBe(130)
    expect(out).toMatch(/^Interrupted: 0 verified, 0 failed, 0 interrupted on 1 port\(s\)/m)
    expect(err).not.toMatch(/E_NO_DEVICE|: ✖|1 ✖/)
  }, 90_000)
})

describe('inject uses the station view', () => {
  it('on a terminal: one live row for the port, then the verified line', async () => {
    const dev = await startSim({ protocol: 'lwprov', serial: 'INJ-TTY-1', link: join(dir, 'inj-tty'), baud: 9600 })
    start(`inject --port ${dev.link} --protocol lwprov --endpoint 'urn:dev:ops:32473-Inj-{serial}' --mode direct --security psk --server coaps://lwm2m.example.com:5684 --manifest ${join(dir, 'inj.db')}`)
    // Paced at 9600 baud, the write is seen on the row with its bytes as they go.
    const mid = await waitScreen(/INJ-TTY-1 → urn:dev:ops:32473-Inj-INJ-TTY-1 · write \d+\/\d+ B|EXIT=/)
    expect(mid).not.toMatch(/EXIT=/)
    const done = await waitScreen(/EXIT=\d+/)
    expect(done).toContain('EXIT=0')
    expect(done).toMatch(/✔ .*inj-tty · urn:dev:ops:32473-Inj-INJ-TTY-1/)
    expect(done).toMatch(/verified urn:dev:ops:32473-Inj-INJ-TTY-1 on .*inj-tty \(device INJ-TTY-1\)/)
  }, 60_000)

  it('in a log: one line per step, naming the port', async () => {
    const dev = await startSim({ protocol: 'lwprov', serial: 'INJ-LOG-1', link: join(dir, 'inj-log') })
    const r = await runCli(['inject', '--port', dev.link!, '--protocol', 'lwprov', '--endpoint', 'urn:dev:ops:32473-Inj-{serial}', '--mode', 'direct', '--security', 'psk',
      '--server', 'coaps://lwm2m.example.com:5684', '--manifest', join(dir, 'inj.db')], { env })
    expect(r.code, r.stderr).toBe(0)
    for (const line of ['identify', 'device INJ-LOG-1', 'endpoint urn:dev:ops:32473-Inj-INJ-LOG-1', 'write', 'commit', '✔ urn:dev:ops:32473-Inj-INJ-LOG-1 (INJ-LOG-1)']) {
      expect(r.stderr).toContain(`${dev.link}: ${line}`)
    }
  }, 60_000)
})
