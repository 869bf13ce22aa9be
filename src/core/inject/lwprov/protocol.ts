/**
 * Host side of the lwprov device protocol (docs/protocol.md): HELLO → [KEYGEN → CSR_READ… → sign] → BEGIN →
 * DATA… → COMMIT → READBACK, every request acknowledged, resent with the same sequence number on NAK/timeout.
 */
import { createHash, randomBytes } from 'node:crypto'
import { LwprovError } from '../../errors.js'
import type { CredentialSet } from '../../model.js'
import type {
  ByteLink,
  DeviceIdentity,
  InjectionHooks,
  InjectionPlan,
  InjectionResult,
  InjectionStep,
  ProvisioningProtocol,
  Timeouts,
} from '../types.js'
import type { ProofName } from '../../manifest/types.js'
import {
  FRAME_VERSION,
  FrameScanner,
  FrameType,
  LogLineAssembler,
  MAX_PAYLOAD,
  MIN_PAYLOAD,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  encodeFrame,
  frameTypeName,
  type Frame,
} from './codec.js'
import {
  BeginFlag,
  Capability,
  DeviceErrorCode,
  KeyType,
  PayloadFormat,
  capabilityNames,
  decodeAck,
  decodeCsrData,
  decodeDeviceHello,
  decodeDigest,
  decodeError,
  deviceErrorName,
  encodeBegin,
  encodeCsrRead,
  encodeData,
  encodeHostHello,
  encodeKeygen,
  NONCE_SIZE,
  decodeProof,
  encodeChallenge,
  type DeviceHello,
} from './messages.js'
import { checkProof, expectedProof } from './proof.js'

/** Options of {@link LwprovProtocol}. */
export interface LwprovProtocolOptions {
  /** Resends of one frame after a NAK, a corrupted answer or a timeout; default 3. */
  retries?: number
  /** Turns credentials into the payload; default SenML-CBOR of `buildLwm2mConfig` (a local bootstrap write). */
  encodePayload?: (c: CredentialSet) => Buffer | Promise<Buffer>
  /** Caps the DATA chunk size below the device's max frame (e.g. to test many chunks); default none. */
  maxChunk?: number
  /** Highest protocol version offered in HELLO (tests: 1 behaves as an old host); default {@link PROTOCOL_VERSION}. */
  maxVersion?: number
  /** Nonce source for CHALLENGE (tests); default 32 random bytes. */
  nonce?: () => Buffer
}

const DEFAULT_RETRIES = 3
/** Device log kept in `InjectionResult.deviceLog`, characters. */
const MAX_LOG = 64 * 1024

/**
 * What the last session on a link learned. `fresh` is the device's answer to identify()'s HELLO, consumed by the
 * next provision() so identify → provision is one device session (one HELLO round trip, not two).
 */
const linkState = new WeakMap<ByteLink, { identity: DeviceIdentity; fresh?: DeviceHello }>()

/** How often HELLO is repeated while waiting for a device to answer. */
const HELLO_EVERY_MS = 1000

/** Bytes per write when progress is reported while a frame goes out (a few updates for a typical payload). */
const WRITE_PIECE = 64

/** The lwprov protocol (`--protocol lwprov`). */
export class LwprovProtocol implements ProvisioningProtocol {
  readonly name = 'lwprov' as const
  private readonly retries: number
  private readonly encodePayload: (c: CredentialSet) => Buffer | Promise<Buffer>
  private readonly maxChunk: number | undefined
  private readonly maxVersion: number
  private readonly nonce: () => Buffer

  constructor(opts: LwprovProtocolOptions = {}) {
    this.retries = opts.retries ?? DEFAULT_RETRIES
    this.encodePayload = opts.encodePayload ?? defaultPayload
    this.maxChunk = opts.maxChunk
    this.maxVersion = Math.max(MIN_PROTOCOL_VERSION, Math.min(opts.maxVersion ?? PROTOCOL_VERSION, PROTOCOL_VERSION))
    this.nonce = opts.nonce ?? (() => randomBytes(NONCE_SIZE))
  }

  async identify(link: ByteLink, timeouts: Timeouts, hooks: InjectionHooks, fallback?: Partial<DeviceIdentity>): Promise<DeviceIdentity> {
    const s = new Session(link, timeouts, hooks, this.retries, this.maxVersion)
    try {
      const hello = await s.hello()
      const id = toIdentity(hello, fallback)
      linkState.set(link, { identity: id, fresh: hello })
      return id
    } finally {
      s.dispose()
    }
  }

  async provision(link: ByteLink, plan: InjectionPlan, timeouts: Timeouts, hooks: InjectionHooks): Promise<InjectionResult> {
    const s = new Session(link, timeouts, hooks, this.retries, this.maxVersion)
    let begun = false
    try {
      // Right after identify() the device session is already open; otherwise HELLO opens one and proves the same
      // device is still attached. A device that rebooted in between answers BAD_STATE, reported as E_DEVICE_RESET.
      const state = linkState.get(link)
      const hello = state?.fresh ? s.adopt(state.fresh) : await s.hello()
      const known = state?.identity
      if (known?.serial !== undefined && hello.serial !== undefined && known.serial !== hello.serial) {
        throw new LwprovError(
          'E_DEVICE_CHANGED',
          `The device on ${link.description} now reports serial ${hello.serial}, but ${known.serial} was identified`,
          { exit: 'device', hint: 'A different device was attached mid-session; re-run inject for the device now attached.' },
        )
      }
      linkState.set(link, { identity: toIdentity(hello) })
      const maxFrame = Math.min(hello.maxFrame, MAX_PAYLOAD)
      if ((hello.capabilities & Capability.senmlCbor) === 0) {
        throw new LwprovError('E_DEVICE_FORMAT', `The device on ${link.description} does not accept SenML-CBOR payloads (capabilities: ${capabilityNames(hello.capabilities).join(', ') || 'none'})`, {
          exit: 'device',
          hint: 'Build the receiver with SenML-CBOR support (LwM2M 1.1, ANJAY_WITH_CBOR) and re-run inject.',
        })
      }

      let creds = plan.credentials
      let certificateDer: Uint8Array | undefined
      const keygen = plan.signCsr !== undefined && creds.security === 'cert' && creds.privateKeyDer === undefined
      if (keygen) {
        if ((hello.capabilities & Capability.keygen) === 0) {
          throw new LwprovError('E_DEVICE_NO_KEYGEN', `The device on ${link.description} cannot generate keys (no keygen capability in HELLO)`, {
            exit: 'device',
            hint: 'Generate the key on the host instead (drop the on-device key generation option), or flash a firmware with key generation.',
          })
        }
        const csr = await s.readCsr(plan.endpoint, maxFrame)
        s.step('sign', `${csr.length}-byte CSR`)
        const signed = await plan.signCsr!(csr)
        certificateDer = signed.certificateDer
        creds = { ...creds, certificateDer: signed.certificateDer, chainDer: signed.chainDer }
      }

      const payload = Buffer.from(await this.encodePayload(creds))
      const digest = createHash('sha256').update(payload).digest()
      if (hello.capacity > 0 && payload.length > hello.capacity) {
        throw new LwprovError('E_DEVICE_TOO_SMALL', `The ${payload.length}-byte payload does not fit the device on ${link.description} (${hello.capacity} bytes)`, {
          exit: 'device',
          hint: 'Enlarge the receiver buffer (LWPROV_MAX_PAYLOAD) in the firmware, or drop optional resources such as the server CA.',
        })
      }

      s.step('write', `${payload.length} bytes`)
      const flags = keygen ? BeginFlag.useGeneratedKey : 0
      begun = true
      await s.expectAck(FrameType.BEGIN, encodeBegin({ total: payload.length, sha256: digest, format: PayloadFormat.senmlCbor, flags }), timeouts.frame)
      const chunk = Math.max(1, Math.min(maxFrame - 4, this.maxChunk ?? Number.MAX_SAFE_INTEGER))
      hooks.onProgress?.(0, payload.length)
      for (let off = 0; off < payload.length; off += chunk) {
        const part = payload.subarray(off, off + chunk)
        // Progress follows the bytes as the link takes them, not one jump per (possibly whole-payload) frame.
        const ack = await s.expectAck(FrameType.DATA, encodeData(off, part), timeouts.frame, (sent, of) =>
          hooks.onProgress?.(off + Math.min(part.length, Math.floor((part.length * sent) / of)), payload.length),
        )
        if (ack.length !== 4 || ack.readUInt32BE(0) !== off + part.length) {
          throw s.garbage(`the DATA acknowledgement reports ${ack.length === 4 ? ack.readUInt32BE(0) : '?'} bytes staged, expected ${off + part.length}`)
        }
        hooks.onProgress?.(off + part.length, payload.length)
      }

      s.step('commit')
      await s.expectAck(FrameType.COMMIT, Buffer.alloc(0), timeouts.commit)
      begun = false

      s.step('verify')
      const rb = await s.request(FrameType.READBACK, Buffer.alloc(0), timeouts.commit, FrameType.DIGEST)
      let readback: { sha256: Buffer; storedLength: number }
      try {
        readback = decodeDigest(rb.payload)
      } catch (e) {
        throw s.garbage((e as Error).message)
      }
      if (!readback.sha256.equals(digest) || readback.storedLength !== payload.length) {
        throw new LwprovError(
          'E_READBACK_MISMATCH',
          `The device on ${link.description} stored something else: read-back SHA-256 ${readback.sha256.toString('hex')} (${readback.storedLength} bytes), sent ${digest.toString('hex')} (${payload.length} bytes)`,
          {
            exit: 'device',
            hint: 'The device is not verified. Re-run inject; if it repeats, the device storage or firmware is faulty.',
            details: { sent: digest.toString('hex'), readback: readback.sha256.toString('hex') },
          },
        )
      }
      const proof = hello.version >= 2 ? await this.challenge(s, plan.endpoint, creds, digest) : 'digest'
      s.step('done')
      return {
        verified: true,
        readbackDigest: readback.sha256.toString('hex'),
        proof,
        ...(certificateDer === undefined ? {} : { certificateDer }),
        deviceLog: s.deviceLog(),
      }
    } catch (e) {
      if (begun) s.abortQuietly()
      const log = s.deviceLog()
      if (e instanceof LwprovError && log !== '' && e.details?.['deviceLog'] === undefined) {
        // The tail of the device log usually says why; keep it for --json consumers and the manifest reason.
        ;(e as { details?: Record<string, unknown> }).details = { ...e.details, deviceLog: log.slice(-2000) }
      }
      throw e
    } finally {
      s.dispose()
    }
  }
  /**
   * Protocol v2 proof of possession (docs/protocol.md §11): a fresh nonce after the read-back; the device answers from
   * the credential it reloads from storage. NoSec has no secret to prove: the read-back digest is all there is.
   * Anything but a valid proof ends the session unverified.
   */
  private async challenge(s: Session, endpoint: string, creds: CredentialSet, sentSha256: Buffer): Promise<ProofName> {
    const want = expectedProof(creds)
    if (!want) return 'digest'
    const nonce = this.nonce()
    const f = await s.request(FrameType.CHALLENGE, encodeChallenge(nonce, endpoint), s.commitTimeout, FrameType.PROOF)
    let answer: { kind: number; proof: Buffer }
    try {
      answer = decodeProof(f.payload)
    } catch (e) {
      throw s.garbage((e as Error).message)
    }
    const why = checkProof(creds, { nonce, sentSha256, endpoint }, answer)
    if (why !== undefined) {
      throw new LwprovError('E_PROOF_MISMATCH', `The device on ${s.linkName} failed the proof of possession for ${endpoint}: ${why}`, {
        exit: 'device',
        hint: 'The device did not prove it holds the credentials it acknowledged (it may store nothing and echo what it was sent). It is not verified: check its firmware and storage, then re-run inject.',
        details: { proofKind: answer.kind, expected: want.name },
      })
    }
    return want.name
  }
}

/** SenML-CBOR of the /0 and /1 instances: a local bootstrap write (lwm2m.md §7). Loaded lazily: only provision needs it. */
async function defaultPayload(c: CredentialSet): Promise<Buffer> {
  const { buildLwm2mConfig, encodeSenmlCbor } = await import('../../lwm2m/index.js')
  return encodeSenmlCbor(buildLwm2mConfig(c))
}

function toIdentity(h: DeviceHello, fallback?: Partial<DeviceIdentity>): DeviceIdentity {
  const pick = <K extends 'serial' | 'imei' | 'mac' | 'model' | 'firmware'>(k: K) => h[k] ?? fallback?.[k]
  const id: DeviceIdentity = { protocolVersion: h.version, maxFrame: h.maxFrame, capabilities: capabilityNames(h.capabilities) }
  for (const k of ['serial', 'imei', 'mac', 'model', 'firmware'] as const) {
    const v = pick(k)
    if (v !== undefined) id[k] = v
  }
  return id
}

interface Waiter {
  seq: number
  resolve: (f: Frame) => void
  /** Resend now (NAK or a corrupted answer) instead of waiting out the timeout. */
  nudge: () => void
}

/** One host session over a link: frame I/O, device log capture, sequence numbers, retries, deadlines. */
class Session {
  private readonly scanner = new FrameScanner()
  private readonly lines = new LogLineAssembler()
  private readonly unsubs: (() => void)[] = []
  private readonly deadline: number
  private log = ''
  private seq: number
  private waiter: Waiter | undefined
  private fatal: LwprovError | undefined
  private failFatal: ((e: LwprovError) => void) | undefined
  private established = false
  private current: InjectionStep = 'connect'
  private garbageSeen = 0
  /** Bytes received on the link in this session (boot noise included): zero means nothing is there. */
  private bytesSeen = 0
  /** Rejects with the fatal error (link closed, reboot, abort); raced against anything else the session awaits. */
  private readonly dead: Promise<never>
  private rejectDead!: (e: LwprovError) => void

  constructor(
    private readonly link: ByteLink,
    private readonly timeouts: Timeouts,
    private readonly hooks: InjectionHooks,
    private readonly retries: number,
    private readonly maxVersion: number = PROTOCOL_VERSION,
  ) {
    this.deadline = Date.now() + timeouts.total
    this.dead = new Promise<never>((_, reject) => (this.rejectDead = reject))
    this.dead.catch(() => undefined)
    // A random start keeps a stale answer from an earlier session from matching this session's first request.
    this.seq = Math.floor(Math.random() * 256)
    this.unsubs.push(link.onData((chunk) => this.onChunk(chunk)))
    this.unsubs.push(
      link.onClose((err) =>
        this.setFatal(
          new LwprovError('E_DEVICE_DISCONNECTED', `The link ${link.description} closed during ${this.current}${err ? `: ${err.message}` : ''}`, {
            exit: 'transport',
            hint: 'Check the cable/USB connection and that the device did not power off, then re-run inject.',
            cause: err,
          }),
        ),
      ),
    )
    const signal = hooks.signal
    if (signal) {
      const onAbort = () =>
        this.setFatal(new LwprovError('E_INTERRUPTED', `Interrupted during ${this.current} on ${link.description}`, { exit: 'interrupted', hint: 'Re-run inject to provision this device.' }))
      if (signal.aborted) onAbort()
      else {
        signal.addEventListener('abort', onAbort, { once: true })
        this.unsubs.push(() => signal.removeEventListener('abort', onAbort))
      }
    }
  }

  dispose(): void {
    for (const u of this.unsubs.splice(0)) u()
    for (const l of this.lines.flush()) this.addLog(l)
  }

  step(step: InjectionStep, detail?: string): void {
    this.current = step
    this.hooks.onStep?.(step, detail)
  }

  deviceLog(): string {
    return this.log
  }

  get linkName(): string {
    return this.link.description
  }

  get commitTimeout(): number {
    return this.timeouts.commit
  }

  async hello(): Promise<DeviceHello> {
    this.step('identify')
    // Stale bytes from before this session (boot chatter, answers to an earlier host) are useless: drop them.
    // Only here, never mid-session, where they could be the answer in flight.
    await this.link.flushInput?.().catch(() => undefined)
    // HELLO is repeated every second (a device may still be booting after the port opened), for `identify` ms in all:
    // a port where nothing answers at all fails in seconds as "no device answered", not after minutes of retries.
    const every = Math.min(HELLO_EVERY_MS, this.timeouts.identify)
    const attempts = Math.max(this.retries + 1, Math.round(this.timeouts.identify / every))
    let f: Frame
    try {
      f = await this.request(FrameType.HELLO, encodeHostHello(MAX_PAYLOAD, this.maxVersion), every, FrameType.IDENTITY, undefined, attempts)
    } catch (e) {
      if (e instanceof LwprovError && e.code === 'E_DEVICE_TIMEOUT' && this.bytesSeen === 0) {
        throw new LwprovError('E_NO_DEVICE', `No device answered on ${this.link.description} (nothing came back to ${attempts} HELLOs in ${((attempts * every) / 1000).toFixed(1)} s).`, {
          exit: 'transport',
          hint: 'Check that a device is attached and powered, that it runs the lwprov receiver (factory image) and that the baud rate is right.',
        })
      }
      throw e
    }
    let h: DeviceHello
    try {
      h = decodeDeviceHello(f.payload)
    } catch (e) {
      throw this.garbage((e as Error).message)
    }
    // The device answers with the version it will use: at most what we offered, at least the oldest we still speak.
    if (h.version < MIN_PROTOCOL_VERSION || h.version > this.maxVersion) {
      throw new LwprovError('E_PROTOCOL_VERSION', `The device on ${this.link.description} speaks lwprov protocol version ${h.version}; this lwprov speaks ${MIN_PROTOCOL_VERSION}…${this.maxVersion}`, {
        exit: 'device',
        hint: 'Update lwprov or the device receiver so both speak the same protocol version.',
      })
    }
    if (h.maxFrame < MIN_PAYLOAD) throw this.garbage(`the device announces a ${h.maxFrame}-byte max frame, below the protocol minimum ${MIN_PAYLOAD}`)
    this.established = true
    return h
  }

  /** Continues the device session opened by an earlier HELLO on this link. */
  adopt(h: DeviceHello): DeviceHello {
    this.established = true
    return h
  }

  async readCsr(commonName: string, maxFrame: number): Promise<Buffer> {
    this.step('keygen', `EC P-256, CN=${commonName}`)
    const ack = await this.expectAck(FrameType.KEYGEN, encodeKeygen(KeyType.ecP256, commonName), this.timeouts.commit)
    if (ack.length !== 2 || ack.readUInt16BE(0) === 0) throw this.garbage('the KEYGEN acknowledgement lacks the CSR length')
    const total = ack.readUInt16BE(0)
    const parts: Buffer[] = []
    let got = 0
    while (got < total) {
      const f = await this.request(FrameType.CSR_READ, encodeCsrRead(got, Math.min(maxFrame - 2, total - got)), this.timeouts.frame, FrameType.CSR_DATA)
      let d: { offset: number; chunk: Buffer }
      try {
        d = decodeCsrData(f.payload)
      } catch (e) {
        throw this.garbage((e as Error).message)
      }
      if (d.offset !== got || d.chunk.length === 0) throw this.garbage(`CSR_DATA at offset ${d.offset} with ${d.chunk.length} bytes, expected offset ${got}`)
      parts.push(Buffer.from(d.chunk))
      got += d.chunk.length
    }
    return Buffer.concat(parts).subarray(0, total)
  }

  /** Sends a request that must be answered by ACK of the same type; returns the ACK's type-specific data. */
  async expectAck(type: number, payload: Buffer, timeoutMs: number, onWritten?: (sent: number, of: number) => void): Promise<Buffer> {
    const f = await this.request(type, payload, timeoutMs, FrameType.ACK, onWritten)
    let ack: { ackedType: number; data: Buffer }
    try {
      ack = decodeAck(f.payload)
    } catch (e) {
      throw this.garbage((e as Error).message)
    }
    if (ack.ackedType !== type) throw this.garbage(`an ACK for ${frameTypeName(ack.ackedType)} answered ${frameTypeName(type)}`)
    return ack.data
  }

  /** Sends one request and waits for its answer, resending the same frame (same seq) on NAK, corruption or timeout. */
  async request(type: number, payload: Buffer, timeoutMs: number, answer: number, onWritten?: (sent: number, of: number) => void, attempts = this.retries + 1): Promise<Frame> {
    const seq = this.seq
    this.seq = (this.seq + 1) & 0xff
    const bytes = encodeFrame({ type, seq, payload })
    this.garbageSeen = 0
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.fatal) throw this.fatal
      const remaining = this.deadline - Date.now()
      if (remaining <= 0) throw this.timeout(type, attempt - 1, timeoutMs, true)
      // Listen before writing: on a fast link the answer can arrive before the write (and drain) completes.
      const waiting = this.wait(seq, Math.min(timeoutMs, remaining))
      waiting.catch(() => undefined)
      try {
        if (onWritten) {
          // Written in pieces, each drained, so the caller can show the bytes as they go out.
          for (let at = 0; at < bytes.length; at += WRITE_PIECE) {
            const piece = bytes.subarray(at, at + WRITE_PIECE)
            await this.write(piece)
            onWritten(at + piece.length, bytes.length)
          }
        } else await this.write(bytes)
      } catch (e) {
        this.waiter?.nudge()
        throw e
      }
      const got = await waiting
      if (got === 'retry') continue
      if (got.type === FrameType.ERROR) throw this.deviceRefused(type, got)
      if (got.type !== answer) throw this.garbage(`${frameTypeName(got.type)} answered ${frameTypeName(type)}`)
      return got
    }
    if (this.garbageSeen > 0) {
      throw this.garbage(`no intact answer to ${frameTypeName(type)} after ${attempts} attempts (${this.garbageSeen} corrupted or rejected frames)`)
    }
    throw this.timeout(type, attempts, timeoutMs, false)
  }

  /** Best effort: tell the device to drop staged data. Not awaited for an answer. */
  abortQuietly(): void {
    if (this.fatal && this.fatal.code !== 'E_INTERRUPTED') return
    const bytes = encodeFrame({ type: FrameType.ABORT, seq: this.seq, payload: Buffer.alloc(0) })
    this.seq = (this.seq + 1) & 0xff
    this.link.write(bytes).catch(() => undefined)
  }

  garbage(what: string): LwprovError {
    return new LwprovError('E_DEVICE_GARBAGE', `The device on ${this.link.description} answered garbage during ${this.current}: ${what}`, {
      exit: 'device',
      hint: 'Check that the device runs an lwprov receiver of a matching version and that the baud rate is right, then re-run inject.',
    })
  }

  private timeout(type: number, attempts: number, ms: number, total: boolean): LwprovError {
    const what = total
      ? `the whole session exceeded ${this.timeouts.total} ms`
      : `no answer to ${frameTypeName(type)} after ${attempts} attempts of ${ms} ms`
    return new LwprovError('E_DEVICE_TIMEOUT', `The device on ${this.link.description} did not answer during ${this.current}: ${what}`, {
      exit: 'transport',
      hint:
        this.current === 'identify'
          ? 'Check the port and baud rate, that the device runs the lwprov receiver (factory image) and nothing else holds the port; then re-run inject.'
          : 'The device stopped answering mid-session; check power and cable, then re-run inject.',
    })
  }

  private deviceRefused(type: number, f: Frame): LwprovError {
    let code = 0
    let text = ''
    try {
      ;({ code, text } = decodeError(f.payload))
    } catch {
      return this.garbage('a malformed ERROR frame')
    }
    const what = `${deviceErrorName(code)} (${code})${text ? `: ${text}` : ''}`
    if (code === DeviceErrorCode.BAD_STATE && this.established) {
      return new LwprovError('E_DEVICE_RESET', `The device on ${this.link.description} lost its session during ${this.current} (${frameTypeName(type)} → ${what})`, {
        exit: 'transport',
        hint: 'The device probably rebooted; check its power supply and re-run inject.',
        details: { deviceCode: code, deviceText: text },
      })
    }
    return new LwprovError('E_DEVICE_REFUSED', `The device on ${this.link.description} refused ${frameTypeName(type)} during ${this.current}: ${what}`, {
      exit: 'device',
      hint:
        code === DeviceErrorCode.REFUSED
          ? "The device's LwM2M client rejected the configuration; check the profile (security mode, server URI, resources) against the firmware."
          : code === DeviceErrorCode.TOO_LARGE
            ? 'The payload is larger than the device can store; enlarge its receive buffer or shrink the payload.'
            : 'See the device log for the reason, fix it and re-run inject.',
      details: { deviceCode: code, deviceText: text },
    })
  }

  private async write(bytes: Buffer): Promise<void> {
    try {
      // Raced against the close: a link may never settle a write that overlaps a hang-up, and the answer's timer is
      // cleared by then, so nothing else would end the wait.
      await Promise.race([this.link.write(bytes), this.dead])
    } catch (e) {
      if (this.fatal) throw this.fatal
      throw new LwprovError('E_LINK_WRITE', `Writing to ${this.link.description} failed during ${this.current}: ${(e as Error).message}`, {
        exit: 'transport',
        hint: 'Check that the device is still attached and the port is not used by another program, then re-run inject.',
        cause: e,
      })
    }
  }

  private wait(seq: number, ms: number): Promise<Frame | 'retry'> {
    return new Promise<Frame | 'retry'>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const done = () => {
        clearTimeout(timer)
        this.waiter = undefined
        this.failFatal = undefined
      }
      timer = setTimeout(() => {
        done()
        resolve('retry')
      }, ms)
      this.waiter = {
        seq,
        resolve: (f) => {
          done()
          resolve(f)
        },
        nudge: () => {
          done()
          resolve('retry')
        },
      }
      this.failFatal = (e) => {
        done()
        reject(e)
      }
    })
  }

  private setFatal(e: LwprovError): void {
    if (this.fatal) return
    this.fatal = e
    this.failFatal?.(e)
    this.rejectDead(e)
  }

  private addLog(line: string): void {
    this.hooks.onDeviceLog?.(line)
    if (this.log.length < MAX_LOG) this.log += `${line}\n`
  }

  private onChunk(chunk: Buffer): void {
    this.bytesSeen += chunk.length
    for (const ev of this.scanner.push(chunk)) {
      if (ev.kind === 'noise') {
        for (const l of this.lines.push(ev.bytes)) this.addLog(l)
      } else if (ev.kind === 'corrupt') {
        this.garbageSeen++
        // A corrupted answer to the pending request: resend now; the device answers repeats from its cache.
        if (this.waiter && ev.reason === 'crc' && ev.seq === this.waiter.seq) this.waiter.nudge()
      } else {
        this.onFrame(ev.frame)
      }
    }
  }

  private onFrame(f: Frame): void {
    if (f.version !== FRAME_VERSION) {
      this.garbageSeen++
      return
    }
    if (f.type === FrameType.BOOT) {
      if (this.established) {
        this.setFatal(
          new LwprovError('E_DEVICE_RESET', `The device on ${this.link.description} rebooted during ${this.current} (it sent a boot announcement)`, {
            exit: 'transport',
            hint: 'Nothing was committed by this session. Check the power supply and watchdog of the device, then re-run inject.',
          }),
        )
      } else {
        // The device just came up; our HELLO may have been lost while it booted.
        this.waiter?.nudge()
      }
      return
    }
    const w = this.waiter
    if (!w) return
    if (f.type === FrameType.NAK) {
      this.garbageSeen++
      w.nudge()
      return
    }
    // Answers to earlier requests (late, after a resend) carry other sequence numbers: ignore them.
    if (f.seq === w.seq) w.resolve(f)
  }
}

