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
