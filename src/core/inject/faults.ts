/**
 * Byte-offset fault injection around a simulated device (`lwprov sim --fault …`). Pure logic: the simulator runner
 * feeds host bytes in and supplies the side effects (send to host, hang up the PTY/TCP connection).
 *
 * Offsets count host→device bytes within one session (one TCP connection, one open of the PTY): with `at: N` the
 * device receives bytes 0..N-1 normally and the fault strikes before byte N.
 */
import { usageError } from '../errors.js'

/**
 * `liar` (lwprov only): a device that acknowledges everything, stores nothing, echoes the digest it was sent and
 * answers the v2 proof-of-possession challenge without a stored key. Protocol v2 ends it failed (E_PROOF_MISMATCH);
 * with `--protocol-version 1` nothing can tell it apart, so it is recorded verified with the weaker `digest` proof.
 */
export type FaultKind = 'drop' | 'corrupt' | 'delay' | 'reset' | 'refuse' | 'liar'
export const FAULT_KINDS: readonly FaultKind[] = ['drop', 'corrupt', 'delay', 'reset', 'refuse', 'liar']

export interface FaultSpec {
  kind: FaultKind
  /**
   * Host→device byte offset where drop/delay/reset strike (default 0). For `corrupt`, the device→host byte whose
   * low bit is flipped; without it `corrupt` makes the device report a wrong read-back digest.
   */
  at?: number
  /** Strike in the first session only (`--fault-once`); default: every session. */
  once?: boolean
  /** `delay`: how long the device stays silent, ms; default 30000 (longer than any host step timeout). */
  delayMs?: number
}

/** The simulated-device contract every protocol's simulator implements (brief: "XxxSimDevice"). */
export interface SimDevice {
  receive(chunk: Buffer): void
  onSend(cb: (bytes: Buffer) => void): void
  reset(): void
  /** Devices that hang up by themselves (FCC over TCP) call this back. */
  onDisconnect?(cb: () => void): void
}

export interface SimDeviceOptions {
  serial: string
  refuse?: boolean
  corruptDigest?: boolean
  /** lwprov: store nothing, echo digests, fake the proof (see `liar` above). */
  liar?: boolean
  /** lwprov: highest protocol version the device speaks (default: the newest). */
  protocolVersion?: number
  store?: (bytes: Buffer) => void
  log?: (line: string) => void
}

/** `--fault liar` and `--protocol-version` describe lwprov devices only. */
export function checkLwprovOnly(protocol: string, fault: FaultSpec | undefined, protocolVersion: number | undefined): void {
  if (protocol === 'lwprov') return
  if (fault?.kind === 'liar' || (protocolVersion !== undefined && protocolVersion !== 2)) {
    throw usageError('E_FAULT_INVALID', `${fault?.kind === 'liar' ? '--fault liar' : '--protocol-version'} applies to --protocol lwprov only.`, 'Drop it, or use --protocol lwprov.')
  }
}

/** Checks a fault spec from the command line. */
export function parseFault(kind: string | undefined, at: number | undefined, once: boolean): FaultSpec | undefined {
  if (kind === undefined) {
    if (at !== undefined || once) throw usageError('E_FAULT_MISSING', '--fault-at and --fault-once need --fault.', 'Add --fault drop|corrupt|delay|reset|refuse|liar.')
    return undefined
  }
  if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
    throw usageError('E_FAULT_INVALID', `Unknown fault '${kind}'.`, `Use one of: ${FAULT_KINDS.join(', ')}.`)
  }
  if (at !== undefined && (!Number.isInteger(at) || at < 0)) {
    throw usageError('E_FAULT_AT_INVALID', `--fault-at ${at} is not a byte offset.`, 'Pass a whole number of bytes, 0 or more.')
  }
  return { kind: kind as FaultKind, ...(at === undefined ? {} : { at }), once }
}

/**
 * A fault across sessions: whether it still strikes (`--fault-once` disarms it after the first session it struck).
 */
export class FaultPlan {
  private fired = false

  constructor(readonly spec: FaultSpec | undefined) {}

  /** True when the next session gets the fault. */
  get armed(): boolean {
    return this.spec !== undefined && !(this.spec.once === true && this.fired)
  }

  /** Device construction flags for a session (refuse / wrong digest are device behaviours, not byte events). */
  deviceFlags(): Pick<SimDeviceOptions, 'refuse' | 'corruptDigest' | 'liar'> {
    if (!this.armed) return {}
    if (this.spec!.kind === 'refuse') return { refuse: true }
    if (this.spec!.kind === 'liar') return { liar: true }
    if (this.spec!.kind === 'corrupt' && this.spec!.at === undefined) return { corruptDigest: true }
    return {}
  }

  markFired(): void {
    this.fired = true
  }
}

export interface FaultSessionActions {
  /** Bytes to the host. */
  send(bytes: Buffer): void
  /** The device vanishes: close the PTY / TCP connection. */
  hangup(): void
  /** Status line for the simulator's log (what struck, where). */
  note?(line: string): void
  now?(): number
}

/** One session of a device with the plan's fault applied. Feed host bytes to `receive`. */
export class FaultSession {
  /** Host→device bytes seen this session. */
  received = 0
  /** Device→host bytes sent this session. */
  sent = 0
  struck = false
  private dead = false
  private silentUntil = 0
  private readonly spec: FaultSpec | undefined

  constructor(
    private readonly device: SimDevice,
    private readonly plan: FaultPlan,
    private readonly actions: FaultSessionActions,
  ) {
    this.spec = plan.armed ? plan.spec : undefined
    // refuse / digest corruption are decided when the device is built; they count as struck once data flows.
    device.onSend((bytes) => this.fromDevice(bytes))
  }

  private now(): number {
    return this.actions.now?.() ?? Date.now()
  }

  private strike(what: string): void {
    this.struck = true
    this.plan.markFired()
    this.actions.note?.(what)
  }

  receive(chunk: Buffer): void {
    if (this.dead || chunk.length === 0) return
    const start = this.received
    this.received += chunk.length
    if (this.silentUntil > 0) {
      if (this.now() < this.silentUntil) return
      this.silentUntil = 0
    }
    const s = this.spec
    if (s !== undefined && !this.struck && s.kind === 'refuse') this.strike('refusing the credentials')
    if (s !== undefined && !this.struck && s.kind === 'liar') this.strike('acknowledging everything, storing nothing')
    if (s !== undefined && !this.struck && s.kind === 'corrupt' && s.at === undefined) this.strike('reporting a corrupted read-back digest')
    const at = s?.at ?? 0
    const timed = s !== undefined && !this.struck && (s.kind === 'drop' || s.kind === 'delay' || s.kind === 'reset')
    if (!timed || start + chunk.length <= at) {
      this.device.receive(chunk)
      return
    }
    const cut = Math.max(0, at - start)
    if (cut > 0) this.device.receive(chunk.subarray(0, cut))
    if (s.kind === 'drop') {
      this.strike(`hanging up at byte ${at}`)
      this.dead = true
      this.actions.hangup()
      return
    }
    if (s.kind === 'delay') {
      this.strike(`going silent at byte ${at}`)
      this.silentUntil = this.now() + (s.delayMs ?? 30_000)
      return
    }
    this.strike(`rebooting at byte ${at}`)
    this.device.reset()
    if (cut < chunk.length) this.device.receive(chunk.subarray(cut))
  }

  private fromDevice(bytes: Buffer): void {
    if (this.dead) return
    if (this.silentUntil > 0 && this.now() < this.silentUntil) return
    const s = this.spec
    let out = bytes
    if (s?.kind === 'corrupt' && s.at !== undefined && !this.struck && this.sent + bytes.length > s.at) {
      out = Buffer.from(bytes)
      const i = s.at - this.sent
      out[i] = out[i]! ^ 0x01
      this.strike(`flipping a bit of reply byte ${s.at}`)
    }
    this.sent += out.length
    this.actions.send(out)
  }

  /** The session is over (host closed, or we hung up). */
  end(): void {
    this.dead = true
  }
}
