/**
 * Faults through the real serialport binding over PTYs (and TCP for FCC): every failure ends `failed` with a reason
 * that names the step, the manifest row stays with the device, nothing is verified without a read-back, and a
 * retry against a device whose fault struck once (`--fault-once`) completes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import { openSerialLink } from '../../../src/adapters/serial-link.js'
import { openPty, type PtyDevice } from '../../../src/adapters/pty.js'
import { openTcpLink } from '../../../src/adapters/tcp-link.js'
import { FccProtocol } from '../../../src/core/inject/fcc/index.js'
import type { FaultSpec } from '../../../src/core/inject/faults.js'
import { LwprovProtocol } from '../../../src/core/inject/lwprov/index.js'
import { injectOne, type InjectOptions } from '../../../src/core/inject/session.js'
import type { ByteLink } from '../../../src/core/inject/types.js'
import type { ManifestStore } from '../../../src/core/manifest/types.js'
import { cleanupSims, startSim, tempDir } from '../../helpers/pty.js'
import { createCa } from '../../../src/core/pki/index.js'
import { MASTER_KEY, profile, testCa } from '../../unit/inject/fixtures.js'
import { openTestStore } from './store.js'

let store: ManifestStore
// Generous enough for a loaded machine; the silent-device tests wait them out (a few seconds each).
const FAST = { identify: 3000, frame: 1000, commit: 3000, total: 60_000 }

beforeAll(async () => {
  store = await openTestStore(tempDir('lwprov-faults-'))
})
afterEach(async () => cleanupSims())
afterAll(async () => store.close())

/** Counts host→device bytes so the offsets below are spread over a real transfer. */
function counting(link: string, total: { n: number }): InjectOptions['connect'] {
  return async () => {
    const l = await openSerialLink(link)
    const wrapped: ByteLink = {
      description: l.description,
      write: (d) => {
        total.n += d.length
        return l.write(d)
      },
      onData: (f) => l.onData(f),
      onClose: (f) => l.onClose(f),
      flushInput: () => l.flushInput(),
      close: () => l.close(),
    }
    return wrapped
  }
}

async function device(serial: string, fault?: FaultSpec) {
  const s = await startSim({ protocol: 'lwprov', serial, ...(fault ? { fault } : {}) })
  const opts = (endpoint: string, extra: Partial<InjectOptions> = {}): InjectOptions => ({
    connect: () => openSerialLink(s.link!),
    protocol: new LwprovProtocol(),
    store,
    profile: profile({ mode: 'direct', security: 'psk' }),
    masterKey: MASTER_KEY,
    endpoint,
    timeouts: FAST,
    retries: 0,
    ...extra,
  })
  return { s, opts }
}

/** The injection fails; the row (if the device got as far as identifying) is failed, never verified. */
async function expectFailed(p: Promise<unknown>, endpoint: string, serial: string) {
  const err = (await p.then(
    () => {
      throw new Error('expected failure')
    },
    (e: unknown) => e,
  )) as { code: string; message: string; exitCode: number }
  expect(err.message).toMatch(/\/dev\/|\/tmp\/|lwprov-pty/) // names the port
  const row = await store.get(endpoint)
  if (row) {
    expect(row.status).toBe('failed')
    expect(row.deviceId).toBe(serial)
    expect(row.statusReason).toMatch(/^(connect|identify|generate|keygen|sign|write|commit|verify|done): /)
  }
  return err
}

describe('faults over a PTY (lwprov protocol)', () => {
  let transfer = 0

  it('measures a clean transfer', async () => {
    const { s, opts } = await device('F-CLEAN')
    const total = { n: 0 }
    const out = await injectOne(opts('f-clean', { connect: counting(s.link!, total) }))
    expect(out.status).toBe('verified')
    transfer = total.n
    expect(transfer).toBeGreaterThan(100)
  })

  // 12 offsets from the first byte to the last frame (COMMIT/READBACK): HELLO, BEGIN, every DATA frame, COMMIT.
  it.each(Array.from({ length: 12 }, (_, i) => i))('disconnect at offset #%i of 12: failed, then a retry completes', async (i) => {
    const at = Math.floor((transfer - 1) * (i / 11))
    const serial = `F-DROP-${i}`
    const endpoint = `f-drop-${i}`
    const { opts } = await device(serial, { kind: 'drop', at, once: true })
    const err = await expectFailed(injectOne(opts(endpoint)), endpoint, serial)
    expect(err.exitCode).toBe(5)
    const out = await injectOne(opts(endpoint))
    expect(out).toMatchObject({ endpoint, status: 'verified', deviceId: serial })
    expect((await store.get(endpoint))!.status).toBe('verified')
  })

  it('corrupted read-back digest: failed at verify, never verified; retry completes', async () => {
    const { opts } = await device('F-CORRUPT', { kind: 'corrupt', once: true })
    const err = await expectFailed(injectOne(opts('f-corrupt')), 'f-corrupt', 'F-CORRUPT')
    expect(err.code).toBe('E_READBACK_MISMATCH')
    expect((await store.get('f-corrupt'))!.statusReason).toMatch(/^verify: /)
    expect((await injectOne(opts('f-corrupt'))).status).toBe('verified')
  })

  it('a corrupted reply byte is detected (frame check), not taken for an answer', async () => {
    const { opts } = await device('F-GARBLE', { kind: 'corrupt', at: 20 })
    // The protocol resends on a broken frame; either it recovers or it fails — it never verifies garbage.
    const r = await injectOne(opts('f-garble', { retries: 1 })).then(
      (o) => o.status,
      () => 'failed',
    )
    const row = (await store.get('f-garble'))!
    expect(row.status).toBe(r)
  })

  it('timeout: a device that goes silent ends failed; retry completes', async () => {
    const { opts } = await device('F-DELAY', { kind: 'delay', at: 60, once: true })
    const err = await expectFailed(injectOne(opts('f-delay')), 'f-delay', 'F-DELAY')
    expect(err.exitCode).toBe(5)
    expect(err.message).toMatch(/time|answer|respond/i)
    expect((await injectOne(opts('f-delay'))).status).toBe('verified')
  })

  it('device reset mid-transfer: failed without retries; a retry completes', async () => {
    const { opts } = await device('F-RESET', { kind: 'reset', at: 80, once: true })
    const err = await expectFailed(injectOne(opts('f-reset')), 'f-reset', 'F-RESET')
    expect(err.code).toBe('E_DEVICE_RESET')
    expect((await injectOne(opts('f-reset'))).status).toBe('verified')
  })

  it('device reset with the built-in retry: recovers in one call', async () => {
    const { opts } = await device('F-RESET2', { kind: 'reset', at: 80, once: true })
    const out = await injectOne(opts('f-reset2', { retries: 3 }))
    expect(out.status).toBe('verified')
    expect(out.attempts).toBeGreaterThanOrEqual(2)
  })

  it('refusal: failed at commit, not retried; a retry after the fault completes', async () => {
    const { opts } = await device('F-REFUSE', { kind: 'refuse', once: true })
    const err = await expectFailed(injectOne(opts('f-refuse', { retries: 2 })), 'f-refuse', 'F-REFUSE')
    expect(err.code).toBe('E_DEVICE_REFUSED')
    expect(err.exitCode).toBe(4)
    expect((await injectOne(opts('f-refuse'))).status).toBe('verified')
  })

  it('a fault without --fault-once strikes on every attempt', async () => {
    const { opts } = await device('F-ALWAYS', { kind: 'drop', at: 50 })
    await expectFailed(injectOne(opts('f-always', { retries: 2 })), 'f-always', 'F-ALWAYS')
    await expectFailed(injectOne(opts('f-always')), 'f-always', 'F-ALWAYS')
    expect((await store.get('f-always'))!.status).toBe('failed')
  })
})

/** The python PTY helper serving `link` (a child of this process). */
function helperPid(link: string): number {
  const ps = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
  const line = ps.split('\n').find((l) => l.includes('python3') && l.trimEnd().endsWith(link))
  if (!line) throw new Error(`no PTY helper for ${link} among:\n${ps}`)
  return Number(line.trim().split(/\s+/)[0])
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10))
  if (!cond()) throw new Error(`timed out waiting for ${what}`)
}

describe('PTY session boundaries (python engine)', () => {
  let pty: PtyDevice | undefined
  afterEach(async () => pty?.close())

  // The flake behind the retries above: a host that closes and re-opens the port and writes its HELLO, all before the
  // helper wakes up, must see that HELLO reach the new session, never the old one. Stopping the helper makes the
  // "all before it wakes" deterministic.
  it('a close + re-open + write the helper sees in one wake-up: the bytes follow the new open', async () => {
    const link = path.join(tempDir('lwprov-order-'), 'dev')
    const p = (pty = await openPty(link, { engine: 'python' }))
    const events: string[] = []
    p.on('open', () => events.push('open'))
    p.on('close', () => events.push('close'))
    p.on('data', (b: Buffer) => events.push(`data:${b.toString('latin1')}`))
    const flags = fs.constants.O_RDWR | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK
    const fd1 = fs.openSync(link, flags)
    await until(() => events.includes('open'), 'the first open')
    const pid = helperPid(link)
    let fd2: number
    process.kill(pid, 'SIGSTOP')
    try {
      fs.writeSync(fd1, 'old')
      fs.closeSync(fd1)
      fd2 = fs.openSync(link, flags)
      fs.writeSync(fd2, 'HELLO')
    } finally {
      process.kill(pid, 'SIGCONT')
    }
    try {
      await until(() => events.join('|').includes('HELLO'), 'the HELLO bytes')
      const second = events.lastIndexOf('open')
      expect(events.filter((e) => e === 'open')).toHaveLength(2)
      expect(events.slice(0, second)).toContain('close')
      expect(events.slice(0, second).join('|')).not.toContain('HELLO')
      expect(events.slice(second).filter((e) => e.startsWith('data:')).join('')).toContain('HELLO')
      // The device's answer in the new session reaches the new host.
      p.write(Buffer.from('OK'))
      let got = ''
      await until(() => {
        const b = Buffer.alloc(64)
        try {
          got += b.subarray(0, fs.readSync(fd2, b)).toString('latin1')
        } catch {
          // EAGAIN: nothing yet
        }
        return got.includes('OK')
      }, 'the reply on the new host')
    } finally {
      fs.closeSync(fd2)
    }
  })
})

describe('faults over TCP (Izuma FCC)', () => {
  const AID = '0123456789abcdef0123456789abcdef'
  const info = { manufacturer: 'Acme', modelNumber: 'M1', deviceType: 'sensor', hardwareVersion: '1.0', memoryTotalKb: 512 }

  async function fcc(serial: string, fault: FaultSpec) {
    const { ca } = await testCa()
    const sca = await createCa({ name: 'Fault Server CA', keyType: 'ec-p256', days: 3650 })
    const serverCaDer = Buffer.from(new X509Certificate(sca.certPem).raw)
    const s = await startSim({ protocol: 'fcc', tcp: true, fault })
    return (endpoint: string, extra: Partial<InjectOptions> = {}): InjectOptions => ({
      connect: () => openTcpLink(`127.0.0.1:${s.port}`),
      protocol: new FccProtocol(),
      store,
      ca,
      profile: profile({ mode: 'bootstrap', security: 'cert', serverUri: `coaps://bootstrap.example.com:5684?aid=${AID}`, serverCaDer }),
      deviceInfo: { ...info, serialNumber: serial },
      identity: { serial },
      endpoint,
      timeouts: FAST,
      retries: 0,
      ...extra,
    })
  }

  it.each([0, 4, 200, 900])('connection dropped at byte %i: failed, then a retry completes', async (at) => {
    const opts = await fcc(`FT-DROP-${at}`, { kind: 'drop', at, once: true })
    const err = await p(injectOne(opts(`ftdrop${at}`)))
    expect(err.exitCode).toBeGreaterThanOrEqual(4)
    expect(err.message).toContain('tcp://127.0.0.1')
    expect((await store.get(`ftdrop${at}`))!.status).toBe('failed')
    expect((await injectOne(opts(`ftdrop${at}`))).status).toBe('verified')
  })

  it('corrupted response digest: failed, never verified; retry completes', async () => {
    const opts = await fcc('FT-CORRUPT', { kind: 'corrupt', once: true })
    await p(injectOne(opts('ftcorrupt')))
    const row = (await store.get('ftcorrupt'))!
    expect(row.status).toBe('failed')
    expect(row.readbackDigest ?? null).toBeNull()
    expect((await injectOne(opts('ftcorrupt'))).status).toBe('verified')
  })

  it('a silent device times out', async () => {
    const opts = await fcc('FT-DELAY', { kind: 'delay', at: 100 })
    const err = await p(injectOne(opts('ftdelay')))
    expect(err.exitCode).toBe(5)
    expect((await store.get('ftdelay'))!.status).toBe('failed')
  })
})

async function p(x: Promise<unknown>): Promise<{ code: string; message: string; exitCode: number }> {
  return x.then(
    () => {
      throw new Error('expected failure')
    },
    (e: unknown) => e as { code: string; message: string; exitCode: number },
  )
}
