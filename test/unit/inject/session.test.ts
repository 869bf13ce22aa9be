import { X509Certificate } from 'node:crypto'

import { describe, expect, it } from 'vitest'

import type { FaultSpec } from '../../../src/core/inject/faults.js'
import { LwprovProtocol, LwprovSimDevice } from '../../../src/core/inject/lwprov/index.js'
import { injectOne, type InjectOptions } from '../../../src/core/inject/session.js'
import { openSecrets } from '../../../src/core/manifest/secrets.js'
import { MASTER_KEY, profile, testCa } from './fixtures.js'
import { MemoryStore } from './memory-store.js'
import { simLinks } from './sim-link.js'
import { lwprovFailure } from '../../helpers/errors.js'

// Generous for healthy devices (a loaded CI machine must not fail them); tight only where timing out is the point.
const FAST = { identify: 3000, frame: 3000, commit: 5000, total: 30_000 }
const TIGHT = { identify: 300, frame: 300, commit: 600, total: 20_000 }

function setup(o: { serial?: string; fault?: FaultSpec; keygen?: boolean } = {}) {
  const links = simLinks((d) => new LwprovSimDevice({ ...d, ...(o.keygen === false ? { keygen: false } : {}) }), o)
  const store = new MemoryStore()
  const base = (extra: Partial<InjectOptions> = {}): InjectOptions => ({
    connect: links.connect,
    protocol: new LwprovProtocol(),
    store,
    profile: profile({ mode: 'direct', security: 'psk' }),
    masterKey: MASTER_KEY,
    timeouts: FAST,
    retryDelayMs: 1,
    ...extra,
  })
  return { links, store, base }
}


describe('injectOne (lwprov protocol, simulated device)', () => {
  it('PSK direct: verified, read-back digest and device id recorded, PSK sealed', async () => {
    const { store, base, links } = setup({ serial: 'SN-100' })
    const steps: string[] = []
    const out = await injectOne(base({ endpoint: 'urn:dev:ops:32473-Widget-100', hooks: { onStep: (s) => steps.push(s) } }))
    expect(out).toMatchObject({ endpoint: 'urn:dev:ops:32473-Widget-100', status: 'verified', deviceId: 'SN-100', protocol: 'lwprov', attempts: 1 })
    expect(out.readbackDigest).toMatch(/^[0-9a-f]{64}$/)
    const row = (await store.get('urn:dev:ops:32473-Widget-100'))!
    expect(row).toMatchObject({ status: 'verified', deviceId: 'SN-100', readbackDigest: out.readbackDigest, pskIdentity: 'urn:dev:ops:32473-Widget-100' })
    const secrets = openSecrets(MASTER_KEY, row.secret!, row.endpoint)
    expect(secrets.psk).toHaveLength(32)
    expect(steps).toEqual(expect.arrayContaining(['connect', 'identify', 'generate', 'write', 'commit', 'verify', 'done']))
    expect(steps.filter((s) => s === 'done')).toHaveLength(1)
    expect(links.stored).toHaveLength(1)
  })

  it('certificate bootstrap with a host key: the private key is never stored', async () => {
    const { ca } = await testCa()
    const { store, base } = setup({ serial: 'SN-101' })
    const out = await injectOne(base({ endpoint: 'ep-cert-101', profile: profile({ mode: 'bootstrap', security: 'cert' }), ca, masterKey: undefined }))
    const row = (await store.get('ep-cert-101'))!
    expect(row.status).toBe('verified')
    expect(row.secret ?? null).toBeNull()
    expect(row.fingerprint).toBe(out.fingerprint)
    expect(new X509Certificate(row.certificatePem!).subject).toContain('CN=ep-cert-101')
  })

  it('on-device key generation: the CSR is signed by the factory CA and the certificate recorded', async () => {
    const { ca } = await testCa()
    const { store, base } = setup({ serial: 'SN-102' })
    const steps: string[] = []
    const out = await injectOne(
      base({ endpoint: 'ep-csr-102', profile: profile({ mode: 'direct', security: 'cert' }), ca, deviceKeygen: true, hooks: { onStep: (s) => steps.push(s) } }),
    )
    expect(out.deviceKeygen).toBe(true)
    expect(steps).toContain('sign')
    const row = (await store.get('ep-csr-102'))!
    expect(row.status).toBe('verified')
    expect(row.secret ?? null).toBeNull()
    const cert = new X509Certificate(row.certificatePem!)
    expect(cert.subject).toContain('CN=ep-csr-102')
    expect(cert.verify(new X509Certificate(ca.certDer).publicKey)).toBe(true)
    expect(row.fingerprint).toBe(out.fingerprint)
  })

  it('refuses on-device keygen for a device without the capability, before writing anything', async () => {
    const { ca } = await testCa()
    const { base, links } = setup({ serial: 'SN-103', keygen: false })
    const err = await lwprovFailure(injectOne(base({ endpoint: 'ep-103', profile: profile({ mode: 'direct', security: 'cert' }), ca, deviceKeygen: true })))
    expect(err.code).toBe('E_DEVICE_NO_KEYGEN')
    expect(links.stored).toHaveLength(0)
  })

  it('a {serial} template is filled by the device, and the same device gets the same endpoint again', async () => {
    const { store, base } = setup({ serial: 'ABC123' })
    const a = await injectOne(base({ endpoint: 'urn:dev:ops:32473-Widget-{serial}' }))
    expect(a.endpoint).toBe('urn:dev:ops:32473-Widget-ABC123')
    // A verified device is re-provisioned only on request (else it is reported as a serial collision).
    const collision = await lwprovFailure(injectOne(base({ endpoint: 'urn:dev:ops:32473-Widget-{serial}' })))
    expect(collision).toMatchObject({ code: 'E_SERIAL_COLLISION', exitCode: 3 })
    const b = await injectOne(base({ endpoint: 'urn:dev:ops:32473-Widget-{serial}', reprovision: { reason: 'test: again' } }))
    expect(b.endpoint).toBe(a.endpoint)
    expect(await store.count()).toBe(1)
  })

  it('a {seq} template reuses the name this device already got', async () => {
    const { store, base } = setup({ serial: 'SEQ-1' })
    const a = await injectOne(base({ endpoint: 'dev-{seq:04}' }))
    const b = await injectOne(base({ endpoint: 'dev-{seq:04}', reprovision: { reason: 'test: again' } }))
    expect(a.endpoint).toBe('dev-0001')
    expect(b.endpoint).toBe('dev-0001')
    expect(await store.count()).toBe(1)
  })

  it('an endpoint held by another device is a conflict and changes nothing', async () => {
    const first = setup({ serial: 'DEV-A' })
    await injectOne(first.base({ endpoint: 'shared-ep' }))
    const other = simLinks((d) => new LwprovSimDevice(d), { serial: 'DEV-B' })
    const err = await lwprovFailure(injectOne(first.base({ endpoint: 'shared-ep', connect: other.connect })))
    expect(err.code).toBe('E_ENDPOINT_TAKEN')
    expect(err.exitCode).toBe(3)
    expect((await first.store.get('shared-ep'))!.deviceId).toBe('DEV-A')
    expect(other.stored).toHaveLength(0)
  })

  it('a device that holds a verified endpoint is not given a second one', async () => {
    const { store, base, links } = setup({ serial: 'TWICE-1' })
    await injectOne(base({ endpoint: 'first-ep' }))
    const err = await lwprovFailure(injectOne(base({ endpoint: 'second-ep' })))
    expect(err.code).toBe('E_DEVICE_HAS_ENDPOINT')
    expect(err.hint).toContain('first-ep')
    expect(await store.get('second-ep')).toBeUndefined()
    expect(links.stored).toHaveLength(1)
    // Re-provisioning the endpoint it holds is fine when asked for.
    expect((await injectOne(base({ endpoint: 'first-ep', reprovision: { reason: 'test: again' } }))).endpoint).toBe('first-ep')
  })

  it('--batch claims the next reserved name; the same device keeps it', async () => {
    const { store, base } = setup({ serial: 'B-1' })
    await store.createBatch({ name: 'WO-1' })
    const row = (endpoint: string) => ({ endpoint, batch: 'WO-1', mode: 'direct' as const, security: 'psk' as const, serverUri: 'coaps://lwm2m.example.com:5684', status: 'reserved' as const, developer: false })
    await store.insertMany([row('wo-0001'), row('wo-0002')])
    const a = await injectOne(base({ batch: 'WO-1' }))
    const b = await injectOne(base({ batch: 'WO-1', reprovision: { reason: 'test: again' } }))
    expect(a.endpoint).toBe('wo-0001')
    expect(b.endpoint).toBe('wo-0001')
    expect((await store.get('wo-0002'))!.status).toBe('reserved')
    const other = simLinks((d) => new LwprovSimDevice(d), { serial: 'B-2' })
    expect((await injectOne(base({ batch: 'WO-1', connect: other.connect }))).endpoint).toBe('wo-0002')
    const third = simLinks((d) => new LwprovSimDevice(d), { serial: 'B-3' })
    expect((await lwprovFailure(injectOne(base({ batch: 'WO-1', connect: third.connect })))).code).toBe('E_BATCH_EXHAUSTED')
  })
})

describe('injectOne failures', () => {
  it('refusal: failed with the reason, no retry, endpoint kept for the device', async () => {
    const { store, base, links } = setup({ serial: 'R-1', fault: { kind: 'refuse' } })
    const err = await lwprovFailure(injectOne(base({ endpoint: 'ep-refuse' })))
    expect(err.code).toBe('E_DEVICE_REFUSED')
    expect(err.exitCode).toBe(4)
    expect(links.sessions).toBe(1)
    const row = (await store.get('ep-refuse'))!
    expect(row.status).toBe('failed')
    expect(row.deviceId).toBe('R-1')
    expect(row.statusReason).toMatch(/^commit: /)
  })

  it('corrupted read-back digest: never verified', async () => {
    const { store, base } = setup({ serial: 'C-1', fault: { kind: 'corrupt' } })
    const err = await lwprovFailure(injectOne(base({ endpoint: 'ep-corrupt' })))
    expect(err.code).toBe('E_READBACK_MISMATCH')
    const row = (await store.get('ep-corrupt'))!
    expect(row.status).toBe('failed')
    expect(row.readbackDigest ?? null).toBeNull()
  })

  // Offsets spread over HELLO, BEGIN, the DATA frames and COMMIT of a ~200-byte PSK payload.
  const OFFSETS = [0, 5, 17, 40, 64, 90, 120, 160, 200, 240, 280]
  it.each(OFFSETS)('hang-up at byte %i: failed without retries, verified on retry with --fault-once', async (at) => {
    const hard = setup({ serial: `D-${at}`, fault: { kind: 'drop', at } })
    const err = await lwprovFailure(injectOne(hard.base({ endpoint: `ep-drop-${at}`, retries: 0 })))
    expect(err.exitCode).toBe(5)
    expect(err.message).toContain('mem://')
    const row = await hard.store.get(`ep-drop-${at}`)
    // Before identify completes nothing is known about the device, so nothing is recorded.
    if (row) expect(row).toMatchObject({ status: 'failed', deviceId: `D-${at}` })
    expect(hard.links.stored).toHaveLength(0)

    const soft = setup({ serial: `D-${at}`, fault: { kind: 'drop', at, once: true } })
    const out = await injectOne(soft.base({ endpoint: `ep-drop-${at}` }))
    expect(out.attempts).toBe(2)
    expect((await soft.store.get(`ep-drop-${at}`))!.status).toBe('verified')
  })

  it('a device reset mid-transfer is retried on a fresh session', async () => {
    const { store, base, links } = setup({ serial: 'RS-1', fault: { kind: 'reset', at: 60, once: true } })
    const out = await injectOne(base({ endpoint: 'ep-reset' }))
    expect(out.attempts).toBe(2)
    expect(links.struck[0]).toBe(true)
    expect((await store.get('ep-reset'))!.status).toBe('verified')
  })

  it('a silent device times out on every attempt and ends failed', async () => {
    const { store, base, links } = setup({ serial: 'T-1', fault: { kind: 'delay', at: 30 } })
    const err = await lwprovFailure(injectOne(base({ endpoint: 'ep-delay', retries: 1, timeouts: TIGHT })))
    expect(err.exitCode).toBe(5)
    expect(links.sessions).toBe(2)
    const row = (await store.get('ep-delay'))!
    expect(row.status).toBe('failed')
    expect(row.statusReason).toMatch(/time|respond|answer/i)
  })

  it('abort (Ctrl-C) marks the row failed "interrupted" and exits 130', async () => {
    const { store, base } = setup({ serial: 'I-1', fault: { kind: 'delay', at: 40 } })
    const ctl = new AbortController()
    const p = injectOne(
      base({
        endpoint: 'ep-int',
        timeouts: { ...FAST, frame: 5000, commit: 5000 },
        hooks: { signal: ctl.signal, onStep: (s) => s === 'write' && setTimeout(() => ctl.abort(), 50) },
      }),
    )
    const err = await lwprovFailure(p)
    expect(err.code).toBe('E_INTERRUPTED')
    expect(err.exitCode).toBe(130)
    expect((await store.get('ep-int'))!).toMatchObject({ status: 'failed' })
    expect((await store.get('ep-int'))!.statusReason).toMatch(/^interrupted/)
  })

  it('a retry after a failure reuses the failed row for the same device', async () => {
    const bad = setup({ serial: 'RR-1', fault: { kind: 'refuse' } })
    await lwprovFailure(injectOne(bad.base({ endpoint: 'ep-rr' })))
    const good = simLinks((d) => new LwprovSimDevice(d), { serial: 'RR-1' })
    const out = await injectOne(bad.base({ endpoint: 'ep-rr', connect: good.connect }))
    expect(out.endpoint).toBe('ep-rr')
    expect((await bad.store.get('ep-rr'))!).toMatchObject({ status: 'verified', statusReason: null })
  })
})
