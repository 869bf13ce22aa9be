/**
 * The field-device protocols end to end through real PTYs and the serialport binding: the simulated Zephyr shell,
 * nRF91 modem and MCUmgr device take PSK and certificate credentials, bootstrap and direct, and are verified only
 * by a matching read-back; re-provisioning deletes first; a mismatching read-back and the simulator faults end
 * `failed`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

import { openSerialLink } from '../../../src/adapters/serial-link.js'
import type { SimProtocol } from '../../../src/adapters/sim-runner.js'
import { protocolByName } from '../../../src/core/inject/index.js'
import type { FaultSpec } from '../../../src/core/inject/faults.js'
import { injectOne, type InjectOptions } from '../../../src/core/inject/session.js'
import type { ManifestStore } from '../../../src/core/manifest/types.js'
import { cleanupSims, startSim, tempDir } from '../../helpers/pty.js'
import { MASTER_KEY, profile, testCa } from '../../unit/inject/fixtures.js'
import { openTestStore } from './store.js'

let store: ManifestStore
const T = { identify: 4000, frame: 3000, commit: 8000, total: 120_000 }

beforeAll(async () => {
  store = await openTestStore(tempDir('lwprov-field-'))
})
afterEach(async () => cleanupSims())
afterAll(async () => store.close())

type P = 'zephyr-shell' | 'nrf-at' | 'mcumgr'

async function device(protocol: P, serial: string, o: { fault?: FaultSpec; deviceOptions?: Record<string, unknown>; store?: (b: Buffer) => void } = {}) {
  const s = await startSim({ protocol: protocol as SimProtocol, serial, ...(o.fault ? { fault: o.fault } : {}), deviceOptions: { idleMs: 200, ...o.deviceOptions } })
  if (o.store) s.sim.on('stored', (e: { bytes: Buffer }) => o.store!(e.bytes))
  const opts = (endpoint: string, extra: Partial<InjectOptions> = {}): InjectOptions => ({
    connect: () => openSerialLink(s.link!),
    protocol: protocolByName(protocol),
    store,
    profile: profile({ mode: 'direct', security: 'psk', pskBytes: 16 }),
    masterKey: MASTER_KEY,
    endpoint,
    timeouts: T,
    retries: 0,
    ...extra,
  })
  return { s, opts }
}

const PROTOCOLS: P[] = ['zephyr-shell', 'nrf-at', 'mcumgr']

describe.each(PROTOCOLS)('%s over a PTY', (protocol) => {
  const tag = protocol.replace(/[^a-z]/g, '')
  it.each([
    ['direct', 'psk'],
    ['bootstrap', 'psk'],
    ['direct', 'cert'],
    ['bootstrap', 'cert'],
  ] as const)('%s %s: written, read back, verified, recorded', async (mode, security) => {
    const { ca } = await testCa()
    const serial = `FD-${tag}-${mode}-${security}`.toUpperCase()
    const { opts } = await device(protocol, serial)
    const ep = `fd-${tag}-${mode}-${security}`
    const serverCaDer = security === 'cert' ? ca.certDer : undefined
    const out = await injectOne(opts(ep, { profile: profile({ mode, security, pskBytes: 16, ...(serverCaDer ? { serverCaDer } : {}) }), ...(security === 'cert' ? { ca } : {}) }))
    expect(out).toMatchObject({ endpoint: ep, status: 'verified', protocol })
    expect(out.readbackDigest).toMatch(/^[0-9a-f]{64}$/)
    const row = (await store.get(ep))!
    expect(row.status).toBe('verified')
    expect(row.security).toBe(security)
    expect(row.mode).toBe(mode)
  })

  it('a mismatching read-back ends failed at verify, never verified', async () => {
    const { opts } = await device(protocol, `FD-${tag}-CORRUPT`.toUpperCase(), { fault: { kind: 'corrupt' } })
    const ep = `fd-${tag}-corrupt`
    await expect(injectOne(opts(ep))).rejects.toMatchObject({ code: expect.stringMatching(/E_READBACK_MISMATCH|E_SMP_PROVISION_FAILED/) })
    const row = (await store.get(ep))!
    expect(row.status).toBe('failed')
    expect(row.statusReason).toMatch(/^(verify|commit): /)
  })

  it('a device that refuses the credentials ends failed', async () => {
    const { opts } = await device(protocol, `FD-${tag}-REFUSE`.toUpperCase(), { fault: { kind: 'refuse' } })
    const ep = `fd-${tag}-refuse`
    await expect(injectOne(opts(ep))).rejects.toMatchObject({ exitCode: 4 })
    expect((await store.get(ep))!.status).toBe('failed')
  })

  it('a hang-up mid-write ends failed; the retry on a fresh connection completes', async () => {
    // past identify, inside the write
    const at = { 'zephyr-shell': 300, 'nrf-at': 120, mcumgr: 250 }[protocol]
    const { opts } = await device(protocol, `FD-${tag}-DROP`.toUpperCase(), { fault: { kind: 'drop', at, once: true } })
    const ep = `fd-${tag}-drop`
    await expect(injectOne(opts(ep))).rejects.toMatchObject({ exitCode: 5 })
    expect((await store.get(ep))!.status).toBe('failed')
    const out = await injectOne(opts(ep))
    expect(out.status).toBe('verified')
  })

  it('a device that goes silent mid-write ends failed (timeout); the retry completes', async () => {
    const at = { 'zephyr-shell': 300, 'nrf-at': 120, mcumgr: 250 }[protocol]
    const { opts } = await device(protocol, `FD-${tag}-DELAY`.toUpperCase(), { fault: { kind: 'delay', at, once: true, delayMs: 60_000 } })
    const ep = `fd-${tag}-delay`
    await expect(injectOne(opts(ep, { timeouts: { ...T, frame: 1000, commit: 2000 } }))).rejects.toMatchObject({ code: 'E_DEVICE_TIMEOUT', exitCode: 5 })
    expect((await store.get(ep))!.status).toBe('failed')
    expect((await injectOne(opts(ep))).status).toBe('verified')
  })

  it('a reboot mid-write never verifies what the device does not hold: it recovers, or fails and the retry completes', async () => {
    const at = { 'zephyr-shell': 300, 'nrf-at': 120, mcumgr: 250 }[protocol]
    const { opts } = await device(protocol, `FD-${tag}-RESET`.toUpperCase(), { fault: { kind: 'reset', at, once: true } })
    const ep = `fd-${tag}-reset`
    const first = await injectOne(opts(ep)).then(
      (o) => o.status,
      (e: { exitCode: number }) => e.exitCode,
    )
    if (first !== 'verified') {
      expect([4, 5]).toContain(first)
      expect((await store.get(ep))!.status).toBe('failed')
      expect((await injectOne(opts(ep))).status).toBe('verified')
    }
    expect((await store.get(ep))!.status).toBe('verified')
  })

  it('re-provisioning a verified device deletes the old credentials first', async () => {
    const seen: string[] = []
    const { opts } = await device(protocol, `FD-${tag}-REPROV`.toUpperCase(), { store: (b) => seen.push(b.toString('latin1')) })
    const ep = `fd-${tag}-reprov`
    const first = await injectOne(opts(ep))
    expect(first.status).toBe('verified')
    const again = await injectOne(opts(ep, { reprovision: { reason: 'test: new key' } }))
    expect(again.status).toBe('verified')
    expect(again.readbackDigest).not.toBe(first.readbackDigest)
  })
})

describe('zephyr-shell specifics', () => {
  it('waits out "no lwm2m context yet" while the application boots', async () => {
    const { opts } = await device('zephyr-shell', 'ZS-CTX', { deviceOptions: { contextDelayMs: 1500 } })
    expect((await injectOne(opts('zs-ctx'))).status).toBe('verified')
  })

  it('a small RX ring buffer drops characters: the echo check retypes the line in smaller chunks', async () => {
    const { ca } = await testCa()
    const { opts } = await device('zephyr-shell', 'ZS-RING', { deviceOptions: { rxRing: 40 } })
    const out = await injectOne(opts('zs-ring', { profile: profile({ mode: 'direct', security: 'cert', serverCaDer: ca.certDer }), ca }))
    expect(out.status).toBe('verified')
  })

  it('firmware without -crc32 is verified by hex dumps; a too small command buffer is reported', async () => {
    const { ca } = await testCa()
    const { opts } = await device('zephyr-shell', 'ZS-NOCRC', { deviceOptions: { crc32: false } })
    expect((await injectOne(opts('zs-nocrc', { profile: profile({ mode: 'bootstrap', security: 'cert' }), ca }))).status).toBe('verified')
    const small = await device('zephyr-shell', 'ZS-SMALL', { deviceOptions: { cmdBuffer: 256 } })
    await expect(injectOne(small.opts('zs-small', { profile: profile({ mode: 'direct', security: 'cert' }), ca }))).rejects.toMatchObject({ code: 'E_SHELL_ECHO', message: expect.stringContaining('step: write') })
  })

  it('--start registers after the verified write, waiting out an asynchronous stop (err -115)', async () => {
    const logs: string[] = []
    const s = await startSim({ protocol: 'zephyr-shell', serial: 'ZS-START', deviceOptions: { stopMs: 1200, autostart: true }, deviceLog: (l) => logs.push(l) })
    const o: InjectOptions = { connect: () => openSerialLink(s.link!), protocol: protocolByName('zephyr-shell', { start: true }), store, profile: profile({ mode: 'direct', security: 'psk', pskBytes: 16 }), masterKey: MASTER_KEY, endpoint: 'zs-start', timeouts: T, retries: 0 }
    expect((await injectOne(o)).status).toBe('verified')
    // the firmware starts its client at boot: lwprov stops it, writes, and its start first meets -115
    expect((await injectOne({ ...o, reprovision: { reason: 'test' } })).status).toBe('verified')
    expect(logs.filter((l) => l.startsWith('lwm2m start zs-start -b 0'))).toHaveLength(2)
    expect(logs.some((l) => l.includes('client stopping (-115)'))).toBe(true)
  })

  it('PSKs are generated without zero bytes; a recorded PSK with one is refused with a clear error', async () => {
    const stored: string[] = []
    const { opts } = await device('zephyr-shell', 'ZS-ZERO', { store: (b) => stored.push(b.toString()) })
    const zeros: InjectOptions['generate'] = async (eps, p) => eps.map((endpoint) => ({ endpoint, mode: p.mode, security: 'psk', serverUri: p.serverUri, pskIdentity: endpoint, psk: Buffer.alloc(16), shortServerId: 1, lifetime: 86400, binding: 'U', notificationStoring: false }))
    expect((await injectOne(opts('zs-zero', { generate: zeros }))).status).toBe('verified')
    const psk = /0\/0\/5=([0-9a-f]+)/.exec(stored.at(-1)!)![1]!
    expect(psk).toHaveLength(32)
    expect(Buffer.from(psk, 'hex').includes(0)).toBe(false)
    const p = protocolByName('zephyr-shell')
    expect(() => p.precheck!({ endpoint: 'x', now: new Date(), credentials: { endpoint: 'x', mode: 'direct', security: 'psk', serverUri: 'coaps://h:5684', psk: Buffer.from([1, 0, 2]), shortServerId: 1, lifetime: 60, binding: 'U', notificationStoring: false } })).toThrowError(
      expect.objectContaining({ code: 'E_SHELL_ZERO_BYTE', message: expect.stringContaining('0x00') }),
    )
  })
})

describe('nrf-at specifics', () => {
  it('through the NCS shell (at \'<cmd>\'), PSK and certificate, detected', async () => {
    const { ca } = await testCa()
    const { opts } = await device('nrf-at', 'NA-SHELL', { deviceOptions: { shell: true } })
    const out = await injectOne(opts('na-shell', { profile: profile({ mode: 'direct', security: 'cert', serverCaDer: ca.certDer }), ca }))
    expect(out.status).toBe('verified')
    const psk = await device('nrf-at', 'NA-SHELL-PSK', { deviceOptions: { shell: true } })
    expect((await injectOne(psk.opts('na-shell-psk'))).status).toBe('verified')
  })

  it('AT%KEYGEN: the device key stays on the modem, its CSR is signed and the certificate written back and recorded', async () => {
    const { ca } = await testCa()
    for (const shell of [false, true]) {
      const ep = `na-keygen-${shell ? 'shell' : 'raw'}`
      const { opts } = await device('nrf-at', ep.toUpperCase(), { deviceOptions: { shell } })
      const out = await injectOne(opts(ep, { profile: profile({ mode: 'bootstrap', security: 'cert' }), ca, deviceKeygen: true }))
      expect(out).toMatchObject({ status: 'verified', deviceKeygen: true })
      const row = (await store.get(ep))!
      expect(row.certificatePem).toContain('BEGIN CERTIFICATE')
      expect(row.fingerprint).toMatch(/^[0-9a-f]{64}$/)
    }
  })

  it('the IMEI from AT+CGSN fills {imei} and is the manifest device id', async () => {
    const { opts } = await device('nrf-at', 'NA-IMEI')
    const out = await injectOne(opts('nrf-{imei}'))
    expect(out.endpoint).toMatch(/^nrf-\d{15}$/)
    expect(out.deviceId).toBe(out.endpoint.slice(4))
  })

  it('modem firmware older than 1.3.2 is refused (no SHA-256 verification)', async () => {
    const { opts } = await device('nrf-at', 'NA-OLD', { deviceOptions: { firmware: 'mfw_nrf9160_1.2.3' } })
    await expect(injectOne(opts('na-old'))).rejects.toMatchObject({ code: 'E_MODEM_FIRMWARE_OLD', exitCode: 4 })
  })
})

describe('mcumgr specifics', () => {
  it('Anjay names itself in /factory/endpoint.txt: {serial} registers the row under the firmware\'s name', async () => {
    const { opts } = await device('mcumgr', 'MG-NAME')
    const out = await injectOne(opts('{serial}'))
    expect(out.endpoint).toBe('anjay-zephyr-demo-MG-NAME')
  })

  it('a littlefs target (--smp-path /lfs/…) is verified by the fs hash, or by downloading it back', async () => {
    for (const hash of [true, false]) {
      const ep = `mg-lfs-${hash ? 'hash' : 'download'}`
      const s = await startSim({ protocol: 'mcumgr', serial: ep.toUpperCase(), deviceOptions: { anjay: false, hash } })
      const out = await injectOne({ connect: () => openSerialLink(s.link!), protocol: protocolByName('mcumgr', { smpPath: '/lfs/provision.cbor' }), store, profile: profile({ mode: 'direct', security: 'psk', pskBytes: 16 }), masterKey: MASTER_KEY, endpoint: ep, timeouts: T, retries: 0 })
      expect(out.status).toBe('verified')
    }
  })

  it('an upload target on no mounted file system fails with the SMP error', async () => {
    const s = await startSim({ protocol: 'mcumgr', serial: 'MG-NOFS', deviceOptions: { anjay: false } })
    const o: InjectOptions = { connect: () => openSerialLink(s.link!), protocol: protocolByName('mcumgr', { smpPath: '/nofs/provision.cbor' }), store, profile: profile({ mode: 'direct', security: 'psk', pskBytes: 16 }), masterKey: MASTER_KEY, endpoint: 'mg-nofs', timeouts: T, retries: 0 }
    await expect(injectOne(o)).rejects.toMatchObject({ code: 'E_SMP_RC' })
  })
})

describe('--protocol auto and TCP', () => {
  it('auto picks the protocol that answers on each simulator, and the outcome names it', async () => {
    for (const p of [...PROTOCOLS, 'lwprov' as const]) {
      const s = await startSim({ protocol: p as SimProtocol, serial: `AU-${p}`.toUpperCase(), deviceOptions: { idleMs: 200 } })
      const out = await injectOne({ connect: () => openSerialLink(s.link!), protocol: protocolByName('auto'), store, profile: profile({ mode: 'direct', security: 'psk', pskBytes: 16 }), masterKey: MASTER_KEY, endpoint: `au-${p}`, timeouts: T, retries: 0 })
      expect(out).toMatchObject({ status: 'verified', protocol: p })
    }
  })

  it("auto runs the answering protocol's offline checks before anything is signed or recorded", async () => {
    const { ca } = await testCa()
    const s = await startSim({ protocol: 'zephyr-shell', serial: 'AU-KEYGEN' })
    const o: InjectOptions = { connect: () => openSerialLink(s.link!), protocol: protocolByName('auto'), store, profile: profile({ mode: 'direct', security: 'cert' }), ca, deviceKeygen: true, endpoint: 'au-keygen', timeouts: T, retries: 0 }
    await expect(injectOne(o)).rejects.toMatchObject({ code: 'E_SHELL_NO_KEYGEN', exitCode: 2 })
    expect(await store.get('au-keygen')).toBeUndefined()
  })

  it('a silent device: nothing answered is E_PROTOCOL_UNDETECTED, naming every probe; FCC only with a given identity', async () => {
    const s = await startSim({ protocol: 'lwprov', serial: 'AU-SILENT', fault: { kind: 'delay', at: 0, delayMs: 120_000 } })
    const link = await openSerialLink(s.link!)
    try {
      const { probeLink } = await import('../../../src/core/inject/auto.js')
      const t = { ...T, identify: 500, frame: 500 }
      const err = await probeLink(link, (n) => protocolByName(n), t, {}).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'E_PROTOCOL_UNDETECTED', exitCode: 4 })
      expect((err as Error).message).toMatch(/lwprov.*mcumgr.*nrf-at.*zephyr-shell/)
      const fcc = await probeLink(link, (n) => protocolByName(n), t, {}, { serial: 'SN-1' })
      expect(fcc.protocol).toBe('fcc')
    } finally {
      await link.close()
    }
  })

  it('each field protocol over TCP (lwprov sim --tcp)', async () => {
    const { openTcpLink } = await import('../../../src/adapters/tcp-link.js')
    for (const p of PROTOCOLS) {
      const s = await startSim({ protocol: p as SimProtocol, serial: `TCP-${p}`.toUpperCase(), tcp: true, deviceOptions: { idleMs: 200 } })
      const out = await injectOne({ connect: () => openTcpLink(`127.0.0.1:${s.port}`), protocol: protocolByName(p), store, profile: profile({ mode: 'bootstrap', security: 'psk', pskBytes: 16 }), masterKey: MASTER_KEY, endpoint: `tcp-${p}`, timeouts: T, retries: 0 })
      expect(out).toMatchObject({ status: 'verified', protocol: p })
    }
  })
})
