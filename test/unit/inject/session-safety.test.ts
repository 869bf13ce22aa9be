/**
 * What the manifest says when re-injection fails, when the operator makes a mistake, and who may take a row a device
 * already holds: the manifest never claims credentials a device did not confirm, and a mistake leaves no trace.
 */
import { X509Certificate } from 'node:crypto'

import { describe, expect, it } from 'vitest'

import { generateCredentialSets, toManifestRecord } from '../../../src/core/credentials/generate.js'
import { openSecrets } from '../../../src/core/manifest/secrets.js'
import { transportError } from '../../../src/core/errors.js'
import { FccProtocol } from '../../../src/core/inject/fcc/index.js'
import { FccSimDevice } from '../../../src/core/inject/fcc/sim.js'
import { LwprovProtocol, LwprovSimDevice } from '../../../src/core/inject/lwprov/index.js'
import { injectOne, type InjectOptions } from '../../../src/core/inject/session.js'
import type { ByteLink, DeviceIdentity, InjectionResult, ProvisioningProtocol } from '../../../src/core/inject/types.js'
import type { StatusUpdate } from '../../../src/core/manifest/types.js'
import { createCa } from '../../../src/core/pki/index.js'
import type { DeviceInfo } from '../../../src/core/model.js'
import { MASTER_KEY, profile, testCa } from './fixtures.js'
import { MemoryStore } from './memory-store.js'
import { simLinks } from './sim-link.js'
import { lwprovFailure } from '../../helpers/errors.js'

const FAST = { identify: 3000, frame: 3000, commit: 5000, total: 30_000 }

/** A store that remembers every status update, to check what was written and in how many steps. */
class SpyStore extends MemoryStore {
  readonly updates: Array<{ endpoint: string; update: StatusUpdate }> = []
  override async updateStatus(endpoint: string, u: StatusUpdate) {
    this.updates.push({ endpoint, update: u })
    return super.updateStatus(endpoint, u)
  }
}


const lwprovDevice = (serial: string, fault?: { kind: 'refuse' } | { kind: 'corrupt' }) =>
  simLinks((d) => new LwprovSimDevice(d), { serial, ...(fault ? { fault } : {}) })

function pskOpts(store: MemoryStore, connect: InjectOptions['connect'], extra: Partial<InjectOptions> = {}): InjectOptions {
  return {
    connect,
    protocol: new LwprovProtocol(),
    store,
    profile: profile({ mode: 'direct', security: 'psk' }),
    masterKey: MASTER_KEY,
    timeouts: FAST,
    retryDelayMs: 1,
    ...extra,
  }
}

/** A device that says who it is (or not) and accepts anything: for endpoint-ownership rules. */
class StubProtocol implements ProvisioningProtocol {
  readonly name = 'lwprov' as const
  provisioned = 0
  constructor(private readonly id: Partial<DeviceIdentity>) {}
  async identify(): Promise<DeviceIdentity> {
    return { ...this.id, capabilities: [] }
  }
  async provision(): Promise<InjectionResult> {
    this.provisioned++
    return { verified: true, readbackDigest: 'ab'.repeat(32) }
  }
}
const stubLink = async (): Promise<ByteLink> => ({
  description: 'stub://dev',
  write: async () => {},
  onData: () => () => {},
  onClose: () => () => {},
  close: async () => {},
})

describe('re-injecting a row the device already holds', () => {
  it('a failed re-injection keeps the verified credentials and records only failed + reason', async () => {
    const store = new SpyStore()
    await injectOne(pskOpts(store, lwprovDevice('RI-1').connect, { endpoint: 'ep-ri-1' }))
    const before = (await store.get('ep-ri-1'))!
    expect(before.status).toBe('verified')

    store.updates.length = 0
    const refusing = lwprovDevice('RI-1', { kind: 'refuse' })
    const err = await lwprovFailure(injectOne(pskOpts(store, refusing.connect, { endpoint: 'ep-ri-1', reprovision: { reason: 'test: again' } })))
    expect(err.code).toBe('E_DEVICE_REFUSED')
    const after = (await store.get('ep-ri-1'))!
    expect(after.status).toBe('failed')
    expect(after.statusReason).toMatch(/^commit: /)
    // The credentials the device was verified with are still the recorded ones.
    for (const k of ['secret', 'pskIdentity', 'certificatePem', 'fingerprint', 'serial', 'notAfter', 'deviceId', 'readbackDigest'] as const) {
      expect(after[k], k).toEqual(before[k])
    }
    // Never a `generated` with new secrets in between: one write, the failure.
    expect(store.updates.map((u) => u.update.status)).toEqual(['failed'])
    expect(Object.keys(store.updates[0]!.update).sort()).toEqual(['deviceId', 'status', 'statusReason'])
  })

  it('a read-back mismatch on re-injection does not record the new certificate either', async () => {
    const { ca } = await testCa()
    const store = new SpyStore()
    const certProfile = profile({ mode: 'bootstrap', security: 'cert' })
    await injectOne(pskOpts(store, lwprovDevice('RI-2').connect, { endpoint: 'ep-ri-2', profile: certProfile, ca, masterKey: undefined }))
    const before = (await store.get('ep-ri-2'))!
    const corrupt = lwprovDevice('RI-2', { kind: 'corrupt' })
    const err = await lwprovFailure(injectOne(pskOpts(store, corrupt.connect, { endpoint: 'ep-ri-2', profile: certProfile, ca, masterKey: undefined, reprovision: { reason: 'test: again' } })))
    expect(err.code).toBe('E_READBACK_MISMATCH')
    const after = (await store.get('ep-ri-2'))!
    expect(after.status).toBe('failed')
    expect(after.fingerprint).toBe(before.fingerprint)
    expect(after.certificatePem).toBe(before.certificatePem)
    expect(after.serial).toBe(before.serial)
    expect(after.notAfter).toBe(before.notAfter)
  })

  it('a successful re-injection writes the new credentials and verified in one update', async () => {
    const store = new SpyStore()
    const dev = lwprovDevice('RI-3')
    await injectOne(pskOpts(store, dev.connect, { endpoint: 'ep-ri-3' }))
    const before = (await store.get('ep-ri-3'))!
    store.updates.length = 0
    const out = await injectOne(pskOpts(store, dev.connect, { endpoint: 'ep-ri-3', reprovision: { reason: 'RMA 42' }, station: 'st-2' }))
    const after = (await store.get('ep-ri-3'))!
    expect(store.updates.map((u) => u.update.status)).toEqual(['verified'])
    expect(store.updates[0]!.update).toMatchObject({ status: 'verified', readbackDigest: out.readbackDigest, statusReason: null, supersede: { reason: 'RMA 42', station: 'st-2' } })
    // The replaced credentials are kept as history, sealed secret included.
    const history = await store.history('ep-ri-3')
    expect(history).toHaveLength(1)
    expect(history[0]).toMatchObject({ reason: 'RMA 42', supersededBy: 'st-2', deviceId: 'RI-3', status: 'verified', readbackDigest: before.readbackDigest, hasSecret: true })
    expect(Buffer.compare(after.secret!, before.secret!)).not.toBe(0)
    expect(after).toMatchObject({ status: 'verified', readbackDigest: out.readbackDigest, deviceId: 'RI-3' })
  })

  it('an injected row is treated the same way', async () => {
    const store = new SpyStore()
    await injectOne(pskOpts(store, lwprovDevice('RI-4').connect, { endpoint: 'ep-ri-4' }))
    await store.updateStatus('ep-ri-4', { status: 'injected' })
    const before = (await store.get('ep-ri-4'))!
    store.updates.length = 0
    await lwprovFailure(injectOne(pskOpts(store, lwprovDevice('RI-4', { kind: 'refuse' }).connect, { endpoint: 'ep-ri-4' })))
    const after = (await store.get('ep-ri-4'))!
    expect(after.status).toBe('failed')
    expect(after.secret).toEqual(before.secret)
    expect(store.updates.map((u) => u.update.status)).toEqual(['failed'])
  })

  it('a failed row keeps its recorded credentials: the retry writes the same PSK, recorded nothing new', async () => {
    const store = new SpyStore()
    await lwprovFailure(injectOne(pskOpts(store, lwprovDevice('RI-5', { kind: 'refuse' }).connect, { endpoint: 'ep-ri-5' })))
    const failed = (await store.get('ep-ri-5'))!
    expect(failed.status).toBe('failed')
    store.updates.length = 0
    await lwprovFailure(injectOne(pskOpts(store, lwprovDevice('RI-5', { kind: 'refuse' }).connect, { endpoint: 'ep-ri-5' })))
    expect(store.updates.map((u) => u.update.status)).toEqual(['failed'])
    expect(Buffer.compare((await store.get('ep-ri-5'))!.secret!, failed.secret!)).toBe(0)
  })

  it('a failed row with a corrected profile (another server) gets new credentials', async () => {
    const store = new SpyStore()
    await lwprovFailure(injectOne(pskOpts(store, lwprovDevice('RI-6', { kind: 'refuse' }).connect, { endpoint: 'ep-ri-6' })))
    const failed = (await store.get('ep-ri-6'))!
    const fixed = profile({ mode: 'direct', security: 'psk', serverUri: 'coaps://fixed.example.com:5684' })
    await injectOne(pskOpts(store, lwprovDevice('RI-6').connect, { endpoint: 'ep-ri-6', profile: fixed }))
    const after = (await store.get('ep-ri-6'))!
    expect(after.status).toBe('verified')
    expect(after.serverUri).toBe('coaps://fixed.example.com:5684')
    expect(Buffer.compare(after.secret!, failed.secret!)).not.toBe(0)
  })
})

describe('pre-generated credentials (credentials generate, then inject)', () => {
  async function pregenerated(store: MemoryStore, names: string[], batch: string) {
    const sets = await generateCredentialSets(names, profile({ mode: 'direct', security: 'psk', pskBytes: 16 }), { now: new Date() })
    await store.insertMany(sets.map((cs) => toManifestRecord(cs, { batch, status: 'generated', masterKey: MASTER_KEY })))
    return sets
  }

  it('--batch alone claims the first pre-generated row and writes exactly its PSK', async () => {
    const store = new SpyStore()
    const sets = await pregenerated(store, ['pg-001', 'pg-002'], 'gen-1')
    const dev = lwprovDevice('PG-1')
    const out = await injectOne(pskOpts(store, dev.connect, { batch: 'gen-1' }))
    expect(out.endpoint).toBe('pg-001')
    const row = (await store.get('pg-001'))!
    expect(row.status).toBe('verified')
    expect(openSecrets(MASTER_KEY, row.secret!, 'pg-001').psk).toEqual(Buffer.from(sets[0]!.psk!))
    expect(Buffer.concat(dev.stored).includes(Buffer.from(sets[0]!.psk!))).toBe(true)
    expect(store.updates.some((u) => u.update.secret !== undefined)).toBe(false)
  })

  it('--endpoint of a pre-generated row writes its recorded PSK too', async () => {
    const store = new SpyStore()
    const sets = await pregenerated(store, ['pg-101'], 'gen-2')
    const dev = lwprovDevice('PG-2')
    await injectOne(pskOpts(store, dev.connect, { endpoint: 'pg-101', profile: profile({ mode: 'direct', security: 'psk', pskBytes: 32 }) }))
    expect(Buffer.concat(dev.stored).includes(Buffer.from(sets[0]!.psk!))).toBe(true)
  })

  it('a profile that disagrees with the recorded one is refused, nothing replaced', async () => {
    const store = new SpyStore()
    await pregenerated(store, ['pg-201'], 'gen-3')
    const before = (await store.get('pg-201'))!
    const other = profile({ mode: 'direct', security: 'psk', serverUri: 'coaps://other.example.com:5684' })
    const err = await lwprovFailure(injectOne(pskOpts(store, lwprovDevice('PG-3').connect, { endpoint: 'pg-201', profile: other })))
    expect(err.code).toBe('E_PROFILE_MISMATCH')
    expect(err.exitCode).toBe(3)
    expect((await store.get('pg-201'))!.secret).toEqual(before.secret)
  })

  it('without the master key the sealed credentials are not replaced: usage error', async () => {
    const store = new SpyStore()
    await pregenerated(store, ['pg-301'], 'gen-4')
    const { masterKey: _k, ...noKey } = pskOpts(store, lwprovDevice('PG-4').connect, { batch: 'gen-4' })
    const err = await lwprovFailure(injectOne(noKey))
    expect(err.code).toBe('E_MASTER_KEY_MISSING')
  })
})

describe('verification is one manifest write', () => {
  it('a new row: inserted generated, then a single update to verified (never injected)', async () => {
    const store = new SpyStore()
    await injectOne(pskOpts(store, lwprovDevice('ONE-1').connect, { endpoint: 'ep-one-1' }))
    expect(store.updates.map((u) => u.update.status)).toEqual(['verified'])
  })

  it('on-device key generation: the issued certificate is part of that single verified write', async () => {
    const { ca } = await testCa()
    const store = new SpyStore()
    const out = await injectOne(
      pskOpts(store, lwprovDevice('ONE-2').connect, { endpoint: 'ep-one-2', profile: profile({ mode: 'direct', security: 'cert' }), ca, deviceKeygen: true, masterKey: undefined }),
    )
    expect(store.updates.map((u) => u.update.status)).toEqual(['verified'])
    const u = store.updates[0]!.update
    expect(u.fingerprint).toBe(out.fingerprint)
    expect(new X509Certificate(u.certificatePem!).subject).toContain('CN=ep-one-2')
    expect(u.readbackDigest).toBe(out.readbackDigest)
  })
})

describe('who may take a verified / injected row', () => {
  const row = (endpoint: string, status: 'verified' | 'injected' | 'generated', deviceId?: string) => ({
    endpoint,
    batch: 'b',
    mode: 'direct' as const,
    security: 'psk' as const,
    serverUri: 'coaps://lwm2m.example.com:5684',
    status,
    developer: false,
    ...(deviceId ? { deviceId } : {}),
  })
  const inject = (store: MemoryStore, protocol: StubProtocol, endpoint: string, extra: Partial<InjectOptions> = {}) =>
    injectOne({ connect: stubLink, protocol, store, profile: profile({ mode: 'direct', security: 'psk' }), masterKey: MASTER_KEY, endpoint, timeouts: FAST, ...extra })

  it.each(['verified', 'injected'] as const)('a device without an id cannot take a %s row of another device', async (status) => {
    const store = new MemoryStore()
    await store.insertMany([row('held-1', status, 'DEV-A')])
    const p = new StubProtocol({})
    const err = await lwprovFailure(inject(store, p, 'held-1'))
    expect(err.code).toBe('E_ENDPOINT_TAKEN')
    expect(err.exitCode).toBe(3)
    expect(err.message).toContain('DEV-A')
    expect(p.provisioned).toBe(0)
    expect((await store.get('held-1'))!).toMatchObject({ status, deviceId: 'DEV-A' })
  })

  it.each(['verified', 'injected'] as const)('a %s row that names no device cannot be taken by any device', async (status) => {
    const store = new MemoryStore()
    await store.insertMany([row('held-2', status)])
    const p = new StubProtocol({ serial: 'DEV-B' })
    const err = await lwprovFailure(inject(store, p, 'held-2'))
    expect(err.code).toBe('E_ENDPOINT_TAKEN')
    expect(err.exitCode).toBe(3)
    expect(p.provisioned).toBe(0)
    expect((await store.get('held-2'))!.status).toBe(status)
    expect((await store.get('held-2'))!.deviceId ?? null).toBeNull()
  })

  it('the device that holds it may re-inject it', async () => {
    const store = new MemoryStore()
    await store.insertMany([row('held-3', 'verified', 'DEV-C')])
    const p = new StubProtocol({ serial: 'DEV-C' })
    const refused = await lwprovFailure(inject(store, p, 'held-3'))
    expect(refused).toMatchObject({ code: 'E_SERIAL_COLLISION', exitCode: 3 })
    expect(p.provisioned).toBe(0)
    const out = await inject(store, p, 'held-3', { reprovision: { reason: 'bench rework' } })
    expect(out).toMatchObject({ endpoint: 'held-3', deviceId: 'DEV-C' })
  })

  it('a generated row without a device id is still free to take (credentials generate, then inject)', async () => {
    const store = new MemoryStore()
    await store.insertMany([row('free-1', 'generated')])
    const out = await inject(store, new StubProtocol({ serial: 'DEV-D' }), 'free-1')
    expect(out.deviceId).toBe('DEV-D')
    expect((await store.get('free-1'))!).toMatchObject({ status: 'verified', deviceId: 'DEV-D' })
  })
})

describe('FCC host pre-check runs before credentials are made or recorded', () => {
  const AID = '0123456789abcdef0123456789abcdef'
  const INFO: DeviceInfo = { manufacturer: 'Acme', modelNumber: 'M1', deviceType: 'sensor', hardwareVersion: '1.0', memoryTotalKb: 512, serialNumber: 'SN-PRE-1' }

  async function fccSetup() {
    const { ca } = await testCa()
    const sca = await createCa({ name: 'Precheck Server CA', keyType: 'ec-p256', days: 3650 })
    const serverCaDer = Buffer.from(new X509Certificate(sca.certPem).raw)
    const links = simLinks((d) => new FccSimDevice(d), { serial: 'SN-PRE-1' })
    const store = new SpyStore()
    let generated = 0
    const counting: typeof generateCredentialSets = async (...a) => {
      generated++
      return generateCredentialSets(...a)
    }
    const base = (extra: Partial<InjectOptions> = {}): InjectOptions => ({
      connect: links.connect,
      protocol: new FccProtocol(),
      store,
      ca,
      profile: profile({ mode: 'bootstrap', security: 'cert', serverUri: `coaps://bs.example.com:5684?aid=${AID}`, serverCaDer }),
      deviceInfo: INFO,
      identity: { serial: INFO.serialNumber! },
      timeouts: FAST,
      retryDelayMs: 1,
      generate: counting,
      ...extra,
    })
    return { store, links, base, generated: () => generated }
  }

  it('missing --serial-number: coded error, no certificate signed, no row, nothing sent', async () => {
    const { store, links, base, generated } = await fccSetup()
    const { serialNumber: _, ...noSerial } = INFO
    const err = await lwprovFailure(injectOne(base({ endpoint: 'fccpre0001', deviceInfo: noSerial, identity: {} })))
    expect(err.code).toBe('E_FCC_ITEM_NOT_EXIST')
    expect(err.exitCode).toBe(4)
    expect(err.message).toContain('mbed.SerialNumber')
    expect(err.details).toMatchObject({ detectedBy: 'host' })
    expect(generated()).toBe(0)
    expect(await store.count()).toBe(0)
    expect(links.stored).toHaveLength(0)
  })

  it('no device information at all, and a PSK profile: refused before anything is generated', async () => {
    const { store, base, generated } = await fccSetup()
    expect((await lwprovFailure(injectOne(base({ endpoint: 'fccpre0002', deviceInfo: undefined })))).code).toBe('E_FCC_ITEM_NOT_EXIST')
    const psk = await lwprovFailure(injectOne(base({ endpoint: 'fccpre0003', profile: profile({ mode: 'bootstrap', security: 'psk' }), masterKey: MASTER_KEY })))
    expect(psk.code).toBe('E_FCC_SECURITY_UNSUPPORTED')
    expect(psk.exitCode).toBe(2)
    expect(generated()).toBe(0)
    expect(await store.count()).toBe(0)
  })

  it('a bootstrap URI without aid: refused before generation', async () => {
    const { store, base, generated } = await fccSetup()
    const p = base().profile
    const err = await lwprovFailure(injectOne(base({ endpoint: 'fccpre0004', profile: { ...p, serverUri: 'coaps://bs.example.com:5684' } })))
    expect(err.code).toBe('E_FCC_URI_WRONG_FORMAT')
    expect(generated()).toBe(0)
    expect(await store.count()).toBe(0)
  })

  it('a certificate FCC would refuse (CN is not the endpoint) leaves no row', async () => {
    const { store, links, base } = await fccSetup()
    const wrongCn: typeof generateCredentialSets = async (eps, prof, o) =>
      (await generateCredentialSets(['someoneelse0001'], prof, o)).map((cs) => ({ ...cs, endpoint: eps[0]! }))
    const err = await lwprovFailure(injectOne(base({ endpoint: 'fccpre0005', generate: wrongCn })))
    expect(err.code).toBe('E_FCC_CN_MISMATCH')
    expect(await store.count()).toBe(0)
    expect(links.stored).toHaveLength(0)
  })

  it('a mistake on re-injection leaves the verified row as it was', async () => {
    const { store, base } = await fccSetup()
    await injectOne(base({ endpoint: 'fccpre0006' }))
    const before = (await store.get('fccpre0006'))!
    expect(before.status).toBe('verified')
    const p = base().profile
    const err = await lwprovFailure(injectOne(base({ endpoint: 'fccpre0006', profile: { ...p, serverUri: 'coaps://bs.example.com:5684' }, reprovision: { reason: 'test: again' } })))
    expect(err.code).toBe('E_FCC_URI_WRONG_FORMAT')
    expect(await store.get('fccpre0006')).toEqual(before)
  })

  it('a valid FCC plan passes the pre-check and verifies', async () => {
    const { store, base, generated } = await fccSetup()
    const out = await injectOne(base({ endpoint: 'fccpre0007' }))
    expect(out).toMatchObject({ status: 'verified', deviceId: 'SN-PRE-1' })
    expect(generated()).toBe(1)
    expect((await store.get('fccpre0007'))!.status).toBe('verified')
  })
})

describe('a device swapped between retries', () => {
  it('the failure stays on the first device’s row and id', async () => {
    const store = new MemoryStore()
    let n = 0
    // First attempt: device A, then a transport failure; the retry sees device B.
    const protocol: ProvisioningProtocol = {
      name: 'lwprov',
      identify: async () => ({ serial: n === 1 ? 'SWAP-A' : 'SWAP-B', capabilities: [] }),
      provision: async () => {
        throw transportError('E_LINK_CLOSED', 'stub://dev went away', 'retry')
      },
    }
    const connect = async () => {
      n++
      return stubLink()
    }
    const err = await lwprovFailure(injectOne({ connect, protocol, store, profile: profile({ mode: 'direct', security: 'psk' }), masterKey: MASTER_KEY, endpoint: 'swap-1', retries: 1, retryDelayMs: 1, timeouts: FAST }))
    expect(err.code).toBe('E_DEVICE_CHANGED')
    expect((await store.get('swap-1'))!).toMatchObject({ status: 'failed', deviceId: 'SWAP-A' })
  })
})
