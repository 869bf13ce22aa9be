import { createHash, webcrypto } from 'node:crypto'
import { EventEmitter } from 'node:events'
import * as x509 from '@peculiar/x509'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DEFAULT_TIMEOUTS } from '../../../src/core/inject/types.js'
import { FrameScanner, FrameType, encodeFrame } from '../../../src/core/inject/lwprov/codec.js'
import { LwprovProtocol, LwprovSimDevice, type LwprovSimOptions } from '../../../src/core/inject/lwprov/index.js'
import { encodeError } from '../../../src/core/inject/lwprov/messages.js'
import type { ByteLink, InjectionPlan, InjectionStep, Timeouts } from '../../../src/core/inject/types.js'
import type { CredentialSet } from '../../../src/core/model.js'
import { buildLwm2mConfig, decodeSenmlCbor, encodeSenmlCbor } from '../../../src/core/lwm2m/index.js'
import { lwprovFailure } from '../../helpers/errors.js'
import { selfSigned } from '../../helpers/self-signed.js'

/** Short enough to keep lost-frame tests quick, long enough that a loaded CI machine causes no spurious resends. */
const FAST: Timeouts = { identify: 1000, frame: 1000, commit: 3000, total: 20_000 }

/**
 * Test payload encoder: the real SenML-CBOR configuration (the v2 proof needs a device that can find its PSK or key
 * in what it stored) with a 2500-byte server key, big enough to need several DATA frames.
 */
function fakeSenml(c: CredentialSet): Buffer {
  const cfg = buildLwm2mConfig(c)
  cfg.security[0]!.serverPublicKey = Buffer.alloc(2500, 0x5a)
  return encodeSenmlCbor(cfg)
}

function creds(over: Partial<CredentialSet> = {}): CredentialSet {
  return {
    endpoint: 'urn:dev:os:0001',
    mode: 'direct',
    security: 'psk',
    serverUri: 'coaps://127.0.0.1:5684',
    pskIdentity: 'urn:dev:os:0001',
    psk: Buffer.alloc(16, 1),
    shortServerId: 1,
    lifetime: 86400,
    binding: 'U',
    notificationStoring: false,
    ...over,
  }
}

function plan(over: Partial<InjectionPlan> = {}): InjectionPlan {
  return { endpoint: 'urn:dev:os:0001', credentials: creds(), now: new Date(Date.UTC(2026, 0, 1)), ...over }
}

interface Wire {
  link: ByteLink
  sim: LwprovSimDevice
  stored: Buffer[]
  /** Every host→device write, as sent. */
  written: Buffer[]
  hangUp(): void
}

/**
 * An in-memory link between the host protocol and a simulated device, built from EventEmitters. `toDevice` /
 * `toHost` may rewrite or drop (return null) each write in flight.
 */
function wire(
  simOpts: Partial<LwprovSimOptions> = {},
  taps: { toDevice?: (b: Buffer, n: number, sim: LwprovSimDevice) => Buffer | null; toHost?: (b: Buffer, n: number) => Buffer | null } = {},
): Wire {
  const host = new EventEmitter()
  const stored: Buffer[] = []
  const written: Buffer[] = []
  const sim = new LwprovSimDevice({ serial: 'SIM-0001', store: (b) => stored.push(b), ...simOpts })
  let toDeviceN = 0
  let toHostN = 0
  let closed = false
  sim.onSend((bytes) => {
    const b = taps.toHost ? taps.toHost(bytes, toHostN++) : bytes
    if (b && !closed) setImmediate(() => host.emit('data', b))
  })
  const link: ByteLink = {
    description: 'mem://sim',
    async write(data) {
      if (closed) throw new Error('link closed')
      const bytes = Buffer.from(data)
      written.push(bytes)
      const b = taps.toDevice ? taps.toDevice(bytes, toDeviceN++, sim) : bytes
      if (b) setImmediate(() => sim.receive(b))
    },
    onData(l) {
      host.on('data', l)
      return () => host.off('data', l)
    },
    onClose(l) {
      host.on('close', l)
      return () => host.off('close', l)
    },
    async close() {
      closed = true
      host.emit('close')
    },
  }
  return { link, sim, stored, written, hangUp: () => void link.close() }
}


function framesIn(bytes: Buffer[]): { type: number; seq: number }[] {
  const s = new FrameScanner()
  return bytes.flatMap((b) => s.push(b)).flatMap((e) => (e.kind === 'frame' ? [{ type: e.frame.type, seq: e.frame.seq }] : []))
}

const proto = () => new LwprovProtocol({ encodePayload: fakeSenml })

describe('LwprovProtocol ↔ LwprovSimDevice', () => {
  it('identifies the device', async () => {
    const w = wire({ imei: '490154203237518', mac: '02:00:00:00:00:01', maxFrame: 512 })
    const id = await proto().identify(w.link, FAST, {})
    expect(id).toMatchObject({ serial: 'SIM-0001', imei: '490154203237518', mac: '02:00:00:00:00:01', protocolVersion: 2, maxFrame: 512 })
    expect(id.capabilities).toEqual(['senml-cbor', 'tlv', 'keygen'])
  })

  it('fallback fills what the device does not say', async () => {
    const w = wire()
    const id = await proto().identify(w.link, FAST, {}, { imei: '1234', serial: 'ignored' })
    expect(id.serial).toBe('SIM-0001')
    expect(id.imei).toBe('1234')
  })

  it('a full session writes in chunks, commits, and verifies the read-back', async () => {
    const w = wire({ maxFrame: 256 })
    const steps: InjectionStep[] = []
    const progress: [number, number][] = []
    const logs: string[] = []
    const p = proto()
    await p.identify(w.link, FAST, {})
    const r = await p.provision(w.link, plan(), FAST, {
      onStep: (s) => steps.push(s),
      onProgress: (a, b) => progress.push([a, b]),
      onDeviceLog: (l) => logs.push(l),
    })
    const payload = fakeSenml(creds())
    expect(r.verified).toBe(true)
    expect(r.readbackDigest).toBe(createHash('sha256').update(payload).digest('hex'))
    expect(w.stored).toEqual([payload])
    // identify() opened the device session; provision() continues it without a second HELLO.
    expect(steps).toEqual(['write', 'commit', 'verify', 'done'])
    expect(framesIn(w.written).filter((f) => f.type === FrameType.HELLO)).toHaveLength(1)
    expect(progress.at(-1)).toEqual([payload.length, payload.length])
    expect(progress.length).toBeGreaterThan(10) // 252-byte chunks
    // bytes as they go out (drained 64-byte pieces): never backwards; a frame boundary may report the same count twice
    for (let i = 1; i < progress.length; i++) expect(progress[i]![0]).toBeGreaterThanOrEqual(progress[i - 1]![0])
    expect(logs.some((l) => l.includes('committed'))).toBe(true)
    expect(r.deviceLog).toContain('committed')
    // Every DATA frame fits the device's max frame.
    for (const b of w.written) expect(b.length).toBeLessThanOrEqual(256 + 16)
  })

  it('by default the payload is the SenML-CBOR local bootstrap write of the credentials', async () => {
    const w = wire()
    const c = creds()
    const r = await new LwprovProtocol().provision(w.link, plan({ credentials: c }), FAST, {})
    expect(r.verified).toBe(true)
    expect(w.stored).toEqual([encodeSenmlCbor(buildLwm2mConfig(c))])
    expect(decodeSenmlCbor(w.stored[0]!).server[0]?.shortServerId).toBe(1)
  })

  it('a refusing device ends with E_DEVICE_REFUSED (exit 4) and stores nothing', async () => {
    const w = wire({ refuse: true })
    const e = await lwprovFailure(proto().provision(w.link, plan(), FAST, {}))
    expect(e.code).toBe('E_DEVICE_REFUSED')
    expect(e.exitCode).toBe(4)
    expect(e.message).toContain('mem://sim')
    expect(e.message).toContain('commit')
    expect(e.details).toMatchObject({ deviceCode: 7 })
    expect(e.details?.['deviceLog']).toContain('simulated refusal')
    expect(w.stored).toEqual([])
  })

  it('a wrong read-back digest ends with E_READBACK_MISMATCH (exit 4), never verified', async () => {
    const w = wire({ corruptDigest: true })
    const e = await lwprovFailure(proto().provision(w.link, plan(), FAST, {}))
    expect(e.code).toBe('E_READBACK_MISMATCH')
    expect(e.exitCode).toBe(4)
    expect(e.hint).toBeTruthy()
  })

  it('a device reset mid-transfer ends with E_DEVICE_RESET (exit 5); a new session then succeeds', async () => {
    let sent = 0
    let fired = false
    const w = wire({ maxFrame: 256 }, {
      toDevice: (b, _n, sim) => {
        sent += b.length
        if (!fired && sent > 700) {
          fired = true
          sim.reset()
          return null
        }
        return b
      },
    })
    const p = proto()
    const e = await lwprovFailure(p.provision(w.link, plan(), FAST, {}))
    expect(e.code).toBe('E_DEVICE_RESET')
    expect(e.exitCode).toBe(5)
    expect(e.message).toContain('write')
    expect(w.stored).toEqual([])
    const r = await p.provision(w.link, plan(), FAST, {})
    expect(r.verified).toBe(true)
    expect(w.stored).toHaveLength(1)
  })

  it('a device that lost its session silently (BAD_STATE) is reported as a reset', async () => {
    let n = 0
    const w = wire({}, {
      toDevice: (b, _i, sim) => {
        // Second request onwards: the device "forgot" the session without a boot announcement.
        if (n++ === 1) (sim as unknown as { inSession: boolean }).inSession = false
        return b
      },
    })
    const e = await lwprovFailure(proto().provision(w.link, plan(), FAST, {}))
    expect(e.code).toBe('E_DEVICE_RESET')
  })

  it('a silent port is E_NO_DEVICE (exit 5) after HELLOs for the identify time, all of one seq', async () => {
    const w = wire({}, { toDevice: () => null })
    const e = await lwprovFailure(new LwprovProtocol({ encodePayload: fakeSenml, retries: 2 }).identify(w.link, { ...FAST, identify: 100 }, {}))
    expect(e.code).toBe('E_NO_DEVICE')
    expect(e.exitCode).toBe(5)
    expect(e.message).toContain('mem://sim')
    const sent = framesIn(w.written)
    expect(sent.length).toBeGreaterThanOrEqual(1)
    expect(sent.every((f) => f.type === FrameType.HELLO)).toBe(true)
    expect(new Set(sent.map((f) => f.seq)).size).toBe(1)
  })

  it('a corrupted host frame is NAKed and resent; the session still verifies', async () => {
    let flipped = 0
    const w = wire({ maxFrame: 512 }, {
      toDevice: (b) => {
        if (b[5] === FrameType.DATA && flipped < 2) {
          flipped++
          const c = Buffer.from(b)
          c[40] = c[40]! ^ 0x10
          return c
        }
        return b
      },
    })
    const r = await proto().provision(w.link, plan(), FAST, {})
    expect(r.verified).toBe(true)
    expect(flipped).toBe(2)
    expect(w.stored).toEqual([fakeSenml(creds())])
  })

  it('a corrupted or lost device answer makes the host resend; the device answers from its cache without re-executing', async () => {
    let acks = 0
    const w = wire({ maxFrame: 512 }, {
      toHost: (b) => {
        if (b.length >= 12 && b[5] === FrameType.ACK) {
          acks++
          if (acks === 2) {
            const c = Buffer.from(b)
            c[c.length - 1] = c[c.length - 1]! ^ 1
            return c
          }
          if (acks === 4) return null
        }
        return b
      },
    })
    const r = await proto().provision(w.link, plan(), FAST, {})
    expect(r.verified).toBe(true)
    expect(w.stored).toEqual([fakeSenml(creds())])
    const data = framesIn(w.written).filter((f) => f.type === FrameType.DATA)
    expect(data.length).toBeGreaterThan(new Set(data.map((f) => f.seq)).size)
  })

  it('a device that answers the wrong frame type ends with E_DEVICE_GARBAGE (exit 4)', async () => {
    const w = wire({}, {
      toHost: (b) => (b.length >= 12 && b[5] === FrameType.IDENTITY ? encodeFrame({ type: FrameType.DIGEST, seq: b[6]!, payload: Buffer.alloc(36) }) : b),
    })
    const e = await lwprovFailure(proto().identify(w.link, FAST, {}))
    expect(e.code).toBe('E_DEVICE_GARBAGE')
    expect(e.exitCode).toBe(4)
  })

  it('a line full of corrupted frames ends with E_DEVICE_GARBAGE', async () => {
    const w = wire({}, {
      toHost: (b) => {
        if (b.length < 12 || b[0] !== 0xaa) return b
        const c = Buffer.from(b)
        c[c.length - 2] = c[c.length - 2]! ^ 0xff
        return c
      },
    })
    const e = await lwprovFailure(new LwprovProtocol({ retries: 1 }).identify(w.link, FAST, {}))
    expect(e.code).toBe('E_DEVICE_GARBAGE')
  })

  it('an ERROR frame with an unknown code is still a clear refusal', async () => {
    const w = wire({}, {
      // The device's ACK of BEGIN is replaced by an ERROR with a code this host does not know.
      toHost: (b) =>
        b[0] === 0xaa && b[5] === FrameType.ACK && b[12] === FrameType.BEGIN
          ? encodeFrame({ type: FrameType.ERROR, seq: b[6]!, payload: encodeError(99, 'flash busy') })
          : b,
    })
    const e = await lwprovFailure(proto().provision(w.link, plan(), FAST, {}))
    expect(e.code).toBe('E_DEVICE_REFUSED')
    expect(e.message).toContain('flash busy')
  })

  it('a hang-up mid-transfer ends with E_DEVICE_DISCONNECTED (exit 5)', async () => {
    let n = 0
    // eslint-disable-next-line prefer-const
    let w: Wire
    w = wire({ maxFrame: 256 }, {
      toDevice: (b) => {
        if (++n === 5) setImmediate(() => w.hangUp())
        return b
      },
    })
    const e = await lwprovFailure(proto().provision(w.link, plan(), FAST, {}))
    expect(e.code).toBe('E_DEVICE_DISCONNECTED')
    expect(e.exitCode).toBe(5)
  })

  it('an abort signal ends with E_INTERRUPTED (exit 130) and tells the device to drop staged data', async () => {
    const ac = new AbortController()
    let n = 0
    const w = wire({ maxFrame: 256 }, {
      toDevice: (b) => {
        if (++n === 4) ac.abort()
        return b
      },
    })
    const e = await lwprovFailure(proto().provision(w.link, plan(), FAST, { signal: ac.signal }))
    expect(e.code).toBe('E_INTERRUPTED')
    expect(e.exitCode).toBe(130)
    expect(framesIn(w.written).at(-1)?.type).toBe(FrameType.ABORT)
    expect(w.stored).toEqual([])
  })

  it('provision() alone opens its own session with HELLO', async () => {
    const w = wire()
    const steps: string[] = []
    await proto().provision(w.link, plan(), FAST, { onStep: (s) => steps.push(s) })
    expect(steps[0]).toBe('identify')
    expect(framesIn(w.written)[0]?.type).toBe(FrameType.HELLO)
  })

  it('a device that rebooted silently between identify and provision is reported as a reset', async () => {
    const w = wire()
    const p = proto()
    // Generous timeouts: a resent HELLO arriving late would reopen the session this test wants lost.
    await p.identify(w.link, { ...FAST, identify: 5000 }, {})
    ;(w.sim as unknown as { inSession: boolean }).inSession = false
    const e = await lwprovFailure(p.provision(w.link, plan(), FAST, {}))
    expect(e.code).toBe('E_DEVICE_RESET')
    // The next attempt opens a new session and succeeds.
    expect((await p.provision(w.link, plan(), FAST, {})).verified).toBe(true)
  })

  it('a different device attached to the link since the last session is refused', async () => {
    const w1 = wire()
    const p = proto()
    await p.provision(w1.link, plan(), FAST, {})
    const w2 = wire({ serial: 'OTHER' })
    const link = { ...w2.link, description: w1.link.description }
    // Same link object identity matters: swap the device behind w1's link.
    Object.assign(w1.link, { write: link.write, onData: link.onData, onClose: link.onClose })
    const e = await lwprovFailure(p.provision(w1.link, plan(), FAST, {}))
    expect(e.code).toBe('E_DEVICE_CHANGED')
  })
})

describe('host timeouts (fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('with the default timeouts a silent port fails after one HELLO a second for the identify time, not before', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const w = wire({}, { toDevice: () => null })
    const settled = vi.fn()
    const p = proto().identify(w.link, DEFAULT_TIMEOUTS, {})
    p.then(settled, settled)
    await vi.advanceTimersByTimeAsync(DEFAULT_TIMEOUTS.identify - 100)
    expect(settled).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(1200)
    const e = await lwprovFailure(p)
    expect(e.code).toBe('E_NO_DEVICE')
    expect(e.message).toMatch(/No device answered/)
    expect(framesIn(w.written).length).toBe(Math.round(DEFAULT_TIMEOUTS.identify / 1000))
  })

  it('the whole-session budget ends a session that keeps being answered too late', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    // The device goes silent after HELLO; per-frame retries would take 4 × 5 s, the session budget is 7 s.
    const w = wire({}, { toDevice: (b) => (b[5] === FrameType.HELLO ? b : null) })
    const p = proto().provision(w.link, plan(), { ...DEFAULT_TIMEOUTS, total: 7000 }, {})
    p.catch(() => undefined)
    await vi.advanceTimersByTimeAsync(8000)
    const e = await lwprovFailure(p)
    expect(e.code).toBe('E_DEVICE_TIMEOUT')
    expect(e.message).toContain('whole session exceeded 7000 ms')
  })
})

describe('link timing', () => {
  it('an answer that arrives before write() resolves is not lost (fast serial links drain late)', async () => {
    const host = new EventEmitter()
    const sim = new LwprovSimDevice({ serial: 'SYNC-1' })
    sim.onSend((b) => host.emit('data', b))
    const link: ByteLink = {
      description: 'mem://sync',
      async write(data) {
        sim.receive(Buffer.from(data)) // the device answers synchronously, inside write()
        await new Promise((r) => setTimeout(r, 5))
      },
      onData: (l) => (host.on('data', l), () => host.off('data', l)),
      onClose: (l) => (host.on('close', l), () => host.off('close', l)),
      close: async () => undefined,
    }
    const started = Date.now()
    const r = await proto().provision(link, plan(), { ...FAST, frame: 5000, identify: 5000 }, {})
    expect(r.verified).toBe(true)
    expect(Date.now() - started).toBeLessThan(4000) // no resend after a timeout was needed
  })
})

describe('on-device key generation', () => {
  async function throwawayCa() {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=throwaway test CA',
      notBefore: new Date(Date.UTC(2026, 0, 1)),
      notAfter: new Date(Date.UTC(2027, 0, 1)),
      keys,
      signingAlgorithm: alg,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
    })
    const signCsr = async (csrDer: Uint8Array) => {
      const csr = new x509.Pkcs10CertificateRequest(csrDer)
      expect(await csr.verify()).toBe(true)
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: '02',
        subject: csr.subject,
        issuer: cert.subject,
        notBefore: new Date(Date.UTC(2026, 0, 1)),
        notAfter: new Date(Date.UTC(2027, 0, 1)),
        publicKey: csr.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: alg,
      })
      return { certificateDer: new Uint8Array(leaf.rawData), chainDer: [new Uint8Array(cert.rawData)] }
    }
    return { cert, signCsr }
  }

  it('KEYGEN → CSR → host signs → certificate in the committed payload; the key never leaves the device', async () => {
    const { cert, signCsr } = await throwawayCa()
    const w = wire({ maxFrame: 256 })
    const steps: string[] = []
    const certCreds = creds({ security: 'cert', psk: undefined, pskIdentity: undefined })
    const r = await proto().provision(w.link, plan({ credentials: certCreds, signCsr }), FAST, { onStep: (s) => steps.push(s) })
    expect(r.verified).toBe(true)
    expect(steps).toEqual(['identify', 'keygen', 'sign', 'write', 'commit', 'verify', 'done'])
    const leaf = new x509.X509Certificate(r.certificateDer!)
    expect(leaf.subject).toBe('CN=urn:dev:os:0001')
    expect(await leaf.verify({ publicKey: cert.publicKey, signatureOnly: true })).toBe(true)
    expect(w.stored[0]!.includes(Buffer.from(r.certificateDer!))).toBe(true)
    // CSR longer than one 254-byte CSR_DATA frame is fine too; and the BEGIN flag says "use the generated key".
    const begin = framesIn(w.written).find((f) => f.type === FrameType.BEGIN)
    expect(begin).toBeDefined()
  })

  it('a device without the keygen capability is refused before anything is written', async () => {
    const { signCsr } = await throwawayCa()
    const w = wire({ keygen: false })
    const e = await lwprovFailure(proto().provision(w.link, plan({ credentials: creds({ security: 'cert', psk: undefined }), signCsr }), FAST, {}))
    expect(e.code).toBe('E_DEVICE_NO_KEYGEN')
    expect(framesIn(w.written).map((f) => f.type)).toEqual([FrameType.HELLO])
  })
})

describe('protocol v2: proof of possession (docs/protocol.md §11)', () => {
  const sent = (w: Wire) => framesIn(w.written).map((f) => f.type)

  it('PSK: CHALLENGE after the read-back, verified with pop-hmac', async () => {
    const w = wire()
    const r = await proto().provision(w.link, plan(), FAST, {})
    expect(r).toMatchObject({ verified: true, proof: 'pop-hmac' })
    const types = sent(w)
    expect(types.indexOf(FrameType.CHALLENGE)).toBeGreaterThan(types.indexOf(FrameType.READBACK))
  })

  it('a liar (stores nothing, echoes the BEGIN digest, fakes the proof) ends E_PROOF_MISMATCH, never verified', async () => {
    for (const liar of [true, 'garbage'] as const) {
      const w = wire({ liar })
      const e = await lwprovFailure(proto().provision(w.link, plan(), FAST, {}))
      expect(e.code).toBe('E_PROOF_MISMATCH')
      expect(e.exitCode).toBe(4)
      expect(e.message).toContain('mem://sim')
      expect(w.stored).toEqual([])
      expect(w.sim.storedPayload).toBeUndefined()
    }
  })

  it('the same liar speaking version 1 is indistinguishable: verified with the weaker digest proof', async () => {
    const w = wire({ liar: true, protocolVersion: 1 })
    const r = await proto().provision(w.link, plan(), FAST, {})
    expect(r).toMatchObject({ verified: true, proof: 'digest' })
    expect(sent(w)).not.toContain(FrameType.CHALLENGE)
  })

  it('an old host (offering version 1) gets a v1 session from a v2 device: no CHALLENGE, digest', async () => {
    const w = wire()
    const p = new LwprovProtocol({ encodePayload: fakeSenml, maxVersion: 1 })
    expect((await p.identify(w.link, FAST, {})).protocolVersion).toBe(1)
    const r = await p.provision(w.link, plan(), FAST, {})
    expect(r).toMatchObject({ verified: true, proof: 'digest' })
    expect(sent(w)).not.toContain(FrameType.CHALLENGE)
  })

  it('NoSec has nothing to prove: no CHALLENGE, recorded with the digest proof', async () => {
    const w = wire()
    const c = creds({ security: 'nosec', psk: undefined, pskIdentity: undefined, serverUri: 'coap://127.0.0.1:5683' })
    const r = await proto().provision(w.link, plan({ credentials: c }), FAST, {})
    expect(r).toMatchObject({ verified: true, proof: 'digest' })
    expect(sent(w)).not.toContain(FrameType.CHALLENGE)
  })

  it('certificate with a host-generated key (EC and RSA): the stored key signs, verified with pop-signature', async () => {
    for (const kind of ['ec', 'rsa'] as const) {
      const { certificateDer, privateKeyDer } = await selfSigned('urn:dev:os:0001', kind)
      const w = wire()
      const c = creds({ security: 'cert', psk: undefined, pskIdentity: undefined, certificateDer, privateKeyDer })
      const r = await proto().provision(w.link, plan({ credentials: c }), FAST, {})
      expect(r).toMatchObject({ verified: true, proof: 'pop-signature' })
    }
  })

  it('a device holding another PSK than the one sent fails the proof', async () => {
    const w = wire()
    // The device stores PSK 02×16 (what a device with stale storage would prove with); the host sent 01×16.
    const p = new LwprovProtocol({ encodePayload: (c) => fakeSenml({ ...c, psk: Buffer.alloc(16, 2) }) })
    const e = await lwprovFailure(p.provision(w.link, plan(), FAST, {}))
    expect(e.code).toBe('E_PROOF_MISMATCH')
    expect(e.message).toMatch(/HMAC does not match/)
  })

  it('a proof of the wrong kind, a malformed PROOF and an ERROR answer are never verified', async () => {
    const rewrite = (payload: Buffer) => (b: Buffer) => {
      const f = new FrameScanner().push(b).find((e) => e.kind === 'frame')
      return f?.kind === 'frame' && f.frame.type === FrameType.PROOF ? encodeFrame({ type: f.frame.type, seq: f.frame.seq, payload }) : b
    }
    const wrongKind = wire({}, { toHost: rewrite(Buffer.concat([Buffer.from([2]), Buffer.alloc(32, 7)])) })
    expect((await lwprovFailure(proto().provision(wrongKind.link, plan(), FAST, {}))).code).toBe('E_PROOF_MISMATCH')
    const malformed = wire({}, { toHost: rewrite(Buffer.from([1])) })
    expect((await lwprovFailure(proto().provision(malformed.link, plan(), FAST, {}))).code).toBe('E_DEVICE_GARBAGE')
    const refused = wire({}, {
      toHost: (b) => {
        const f = new FrameScanner().push(b).find((e) => e.kind === 'frame')
        return f?.kind === 'frame' && f.frame.type === FrameType.PROOF ? encodeFrame({ type: FrameType.ERROR, seq: f.frame.seq, payload: encodeError(12, 'no credential') }) : b
      },
    })
    expect((await lwprovFailure(proto().provision(refused.link, plan(), FAST, {}))).code).toBe('E_DEVICE_REFUSED')
  })

  it('a lost PROOF is recovered by resending the same CHALLENGE; the device answers from its cache', async () => {
    let dropped = false
    const w = wire({}, {
      toHost: (b) => {
        const f = new FrameScanner().push(b).find((e) => e.kind === 'frame')
        if (!dropped && f?.kind === 'frame' && f.frame.type === FrameType.PROOF) {
          dropped = true
          return null
        }
        return b
      },
    })
    const r = await proto().provision(w.link, plan(), { ...FAST, commit: 300 }, {})
    expect(r.proof).toBe('pop-hmac')
    const challenges = framesIn(w.written).filter((f) => f.type === FrameType.CHALLENGE)
    expect(challenges).toHaveLength(2)
    expect(challenges[0]!.seq).toBe(challenges[1]!.seq)
  })

  it('every session challenges with a fresh nonce', async () => {
    const nonces: Buffer[] = []
    for (let i = 0; i < 2; i++) {
      const w = wire()
      await proto().provision(w.link, plan(), FAST, {})
      const s = new FrameScanner()
      for (const ev of w.written.flatMap((b) => s.push(b))) if (ev.kind === 'frame' && ev.frame.type === FrameType.CHALLENGE) nonces.push(ev.frame.payload.subarray(0, 32))
    }
    expect(nonces).toHaveLength(2)
    expect(nonces[0]!.equals(nonces[1]!)).toBe(false)
  })

  it('a device answering with a version above the offer is refused (E_PROTOCOL_VERSION)', async () => {
    const w = wire({}, {
      toHost: (b) => {
        const f = new FrameScanner().push(b).find((e) => e.kind === 'frame')
        if (f?.kind !== 'frame' || f.frame.type !== FrameType.IDENTITY) return b
        const p = Buffer.from(f.frame.payload)
        p[2] = 3 // tag 01 len 01 value: the version
        return encodeFrame({ type: FrameType.IDENTITY, seq: f.frame.seq, payload: p })
      },
    })
    expect((await lwprovFailure(proto().identify(w.link, FAST, {}))).code).toBe('E_PROTOCOL_VERSION')
  })
})

