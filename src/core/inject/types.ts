/**
 * Injection contracts. A `ByteLink` is any byte stream to a device (serial port, TCP socket, in-memory pair); a
 * `ProvisioningProtocol` drives one device session over a link. The serialport/TCP adapters implement `ByteLink`
 * outside core; protocols and the device session live in core and never touch I/O libraries directly.
 */
import type { ProofName } from '../manifest/types.js'
import type { CredentialSet, DeviceInfo } from '../model.js'

/** A byte stream to one device. */
export interface ByteLink {
  /** e.g. `/dev/ttyUSB0` or `tcp://127.0.0.1:7777`, used in every error message. */
  readonly description: string
  write(data: Uint8Array): Promise<void>
  /** Subscribes to incoming bytes; returns the unsubscribe function. */
  onData(listener: (chunk: Buffer) => void): () => void
  /** Called once when the link closes (remote hang-up, device gone, or `close()`). */
  onClose(listener: (err?: Error) => void): () => void
  /** Discards any bytes buffered but not yet delivered (stale input before a request). */
  flushInput?(): Promise<void>
  close(): Promise<void>
}

/** What a device says about itself (lwprov HELLO; for FCC, what the host was told via flags). */
export interface DeviceIdentity {
  /** The protocol that answered (`--protocol auto` reports what it detected). */
  protocol?: ProtocolName
  serial?: string
  imei?: string
  mac?: string
  model?: string
  firmware?: string
  /** Protocol version the device speaks. */
  protocolVersion?: number
  /** Largest frame payload the device accepts, bytes. */
  maxFrame?: number
  capabilities: string[]
}

/** Progress and step reporting, mapped to listr2 titles by the CLI glue. */
export interface InjectionHooks {
  onStep?(step: InjectionStep, detail?: string): void
  onProgress?(written: number, total: number): void
  /** Device log text seen on the line between frames (kept for diagnostics). */
  onDeviceLog?(text: string): void
  signal?: AbortSignal
}

export type InjectionStep = 'connect' | 'identify' | 'generate' | 'keygen' | 'sign' | 'write' | 'commit' | 'verify' | 'done'

/** Host-side timeouts, milliseconds. Devices have none of their own (izuma-fcc.md §4). */
export interface Timeouts {
  /** Waiting for the device to answer HELLO / the first frame. */
  identify: number
  /** Waiting for an ack to one frame. */
  frame: number
  /** Waiting for a commit / FCC bundle response / read-back. */
  commit: number
  /** Whole session. */
  total: number
}

export const DEFAULT_TIMEOUTS: Timeouts = { identify: 5_000, frame: 5_000, commit: 15_000, total: 120_000 }

/** Everything a protocol needs to provision one device. */
export interface InjectionPlan {
  endpoint: string
  credentials: CredentialSet
  deviceInfo?: DeviceInfo
  /** Izuma first-to-claim: no `aid=` in the bootstrap URI, mbed.FirstToClaim = 1. */
  firstToClaim?: boolean
  /**
   * On-device key generation: the device makes the key pair and returns a CSR, which this callback signs with the
   * factory CA. The private key never leaves the device.
   */
  signCsr?: (csrDer: Uint8Array) => Promise<{ certificateDer: Uint8Array; chainDer: Uint8Array[] }>
  /** Current time for mbed.CurrentTime / device clocks. */
  now: Date
  /** The protocol the device answered (`--protocol auto`), so its offline checks run before anything is signed. */
  protocol?: ProtocolName
}

export interface InjectionResult {
  /** True only when the device's read-back matched what was sent. */
  verified: boolean
  /** Digest the device reported, hex. */
  readbackDigest?: string
  /** How the device proved what it stored (lwprov v2: possession of the stored key; v1: digest only; FCC: status). */
  proof?: ProofName
  /** Certificate issued during the session (on-device key generation). */
  certificateDer?: Uint8Array
  /** Izuma enrollment id for first-to-claim devices. */
  enrollmentId?: string
  /** Device log text seen during the session. */
  deviceLog?: string
}

/** Device protocols lwprov speaks (`--protocol`). */
export type ProtocolName = 'fcc' | 'lwprov' | 'zephyr-shell' | 'nrf-at' | 'mcumgr'

export interface ProvisioningProtocol {
  readonly name: ProtocolName | 'auto'
  /**
   * Optional: adapts just-in-time credentials to what the device can take before they are recorded (the Zephyr
   * shell cannot type a 0x00 byte, so its PSKs are drawn without one). `random` is the CSPRNG.
   */
  prepareCredentials?(cs: CredentialSet, random: (n: number) => Buffer): CredentialSet
  /** Learns who the device is. FCC devices do not announce themselves: the identity comes from `fallback`. */
  identify(link: ByteLink, timeouts: Timeouts, hooks: InjectionHooks, fallback?: Partial<DeviceIdentity>): Promise<DeviceIdentity>
  /**
   * Optional offline checks of a plan (no link, no device): throws the `LwprovError` the device would cause, so a user
   * mistake is refused before the CA signs anything or the manifest records anything. The session calls it twice: first
   * with credentials that carry no key or certificate yet (only what the profile says), then, for host-generated
   * credentials, with the full set before they are recorded.
   */
  precheck?(plan: InjectionPlan): void | Promise<void>
  /** Writes the credentials, commits them, reads them back and compares. Throws `LwprovError` on failure. */
  provision(link: ByteLink, plan: InjectionPlan, timeouts: Timeouts, hooks: InjectionHooks): Promise<InjectionResult>
}
