/**
 * A simulated FCC factory device behaving like the reference FCCE example (izuma-fcc.md §3–§4, vectors/fcc): it scans
 * for the token the way `FtcdCommBase::wait_for_message` does, wipes its storage on the first good message of a
 * session, runs the bundle handler and verification of device.ts (same ReturnStatus codes and texts as the captured
 * responses), keeps the session open after `KpAlvSess: 1` (on-device key generation: it creates a P-256 key and a CSR
 * and keeps the key), and answers with the FTCD response frame.
 *
 * Pure logic, no I/O: the `sim` command wires `receive`/`onSend`/`onDisconnect` to a PTY or a TCP socket.
 * - `transport: 'serial'` (default): trace text goes on the same line before frames (`[FCC] …\r\n`, as on a UART),
 *   receive errors are answered with the 12-byte error frame.
 * - `transport: 'tcp'`: frames only; on a receive error the device closes without sending a byte, and it hangs up after
 *   the last message of a session (no keep-alive), as FCCE does.
 */
import { encodeCbor, type CborValue } from '../../cbor.js'
import { encodeFccResponse, FccDevice, type FccHandlerResult } from './device.js'
import { encodeResponse, FtcdScanner, FtcdStatus, ftcdStatusInfo } from './frame.js'
import { FccStatus, fccStatusInfo } from './status.js'

export interface FccSimOptions {
  /** Serial number the device reports in its boot banner. */
  serial: string
  /** Reject every bundle with a realistic FCC error (KCM storage failure). */
  refuse?: boolean
  /** Corrupt the SHA-256 trailer of every response. */
  corruptDigest?: boolean
  /**
   * Receives a CBOR snapshot of the stored items (config values, certificates, public keys) each time a message
   * completes a verified configuration (ReturnStatus 0 after Verify = 1): what the device now holds.
   */
  store?: (bytes: Buffer) => void
  /** Receives every trace line the device prints (without line ending). */
  log?: (line: string) => void
  /** Line behaviour, see the module comment. Default `serial`. */
  transport?: 'serial' | 'tcp'
  /** Device clock before mbed.CurrentTime sets it. */
  clock?: () => Date
}

/** Response buffer sizes of `encode_response_params` (512 B, 2560 B with CSRs); larger answers → transport status 9. */
const RESPONSE_LIMIT = 512
const RESPONSE_LIMIT_CSR = 2560

export class FccSimDevice {
  private readonly opts: FccSimOptions
  private readonly transport: 'serial' | 'tcp'
  private scanner!: FtcdScanner
  private device!: FccDevice
  private inSession = false
  private generation = 0
  private queue: Promise<void> = Promise.resolve()
  private readonly sendListeners: Array<(bytes: Buffer) => void> = []
  private readonly disconnectListeners: Array<() => void> = []
  /** Messages processed since construction (for tests and the sim command's summary). */
  messages = 0

  constructor(opts: FccSimOptions) {
    this.opts = opts
    this.transport = opts.transport ?? 'serial'
    this.device = new FccDevice({ clock: opts.clock })
    this.scanner = new FtcdScanner({ kind: 'request', deviceTokenScan: true })
  }

  /** Registers a listener for bytes the device sends. */
  onSend(cb: (bytes: Buffer) => void): void {
    this.sendListeners.push(cb)
  }

  /** Registers a listener for the device hanging up (TCP transport only). */
  onDisconnect(cb: () => void): void {
    this.disconnectListeners.push(cb)
  }

  /** Bytes from the host. */
  receive(chunk: Buffer): void {
    for (const e of this.scanner.push(chunk)) {
      if (e.type === 'log') continue // noise before the token is skipped by the device
      const gen = this.generation
      if (e.type === 'bad-length') {
        this.enqueue(gen, async () => this.receiveError(FtcdStatus.FAILED_TO_READ_MESSAGE_SIZE, `bad message length ${e.length}`))
      } else if (e.type === 'frame') {
        if (!e.signatureOk) this.enqueue(gen, async () => this.receiveError(FtcdStatus.INCONSISTENT_MESSAGE_SIGNATURE, 'inconsistent message signature'))
        else this.enqueue(gen, () => this.message(e.payload))
      }
    }
  }

  /** Reboot: drop a partial frame, pending work and the session (stored items survive, as in flash). */
  reset(): void {
    this.generation++
    this.queue = Promise.resolve()
    this.scanner = new FtcdScanner({ kind: 'request', deviceTokenScan: true })
    const store = this.device.store
    this.device = new FccDevice({ clock: this.opts.clock })
    for (const [k, v] of store.config) this.device.store.config.set(k, v)
    for (const [k, v] of store.certificates) this.device.store.certificates.set(k, v)
    for (const [k, v] of store.chains) this.device.store.chains.set(k, v)
    for (const [k, v] of store.keys) this.device.store.keys.set(k, v)
    this.inSession = false
    this.trace(`[BOOT] FCC factory configurator client example (lwprov sim), serial ${this.opts.serial}`)
    this.trace('[FCC] factory flow: waiting for a message')
  }

  /** Resolves once every received frame has been answered (tests). */
  async idle(): Promise<void> {
    let q: Promise<void>
    do {
      q = this.queue
      await q
    } while (q !== this.queue)
  }

  private enqueue(gen: number, work: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (gen === this.generation) await work()
    })
  }

  private send(bytes: Buffer): void {
    for (const cb of this.sendListeners) cb(bytes)
  }

  /** A trace line: to the operator log, and on a serial line also onto the wire, like printf on the UART. */
  private trace(line: string): void {
    this.opts.log?.(line)
    if (this.transport === 'serial') this.send(Buffer.from(`${line}\r\n`, 'utf8'))
  }

  private endSession(): void {
    this.inSession = false
    this.device.keepAlive = false
    if (this.transport === 'tcp') {
      for (const cb of this.disconnectListeners) cb()
    } else {
      this.trace('[FCC] factory flow finished; waiting for a new session')
    }
  }

  private async receiveError(status: number, why: string): Promise<void> {
    const info = ftcdStatusInfo(status)
    this.trace(`[FCC] ftcd: ${why} (${info.name})`)
    // FCCE's TCP transport marks the socket closed before send_response: the host sees a close with no byte.
    if (this.transport === 'serial') this.send(encodeResponse(status))
    this.endSession()
  }

  private async message(payload: Buffer): Promise<void> {
    this.messages++
    if (!this.inSession) {
      // fcc_storage_delete() on the first good message of a session only (the CSR key survives into message 2).
      this.device.wipe()
      this.inSession = true
      this.trace('[FCC] storage wiped for a new factory session')
    }
    this.trace(`[FCC] message received: ${payload.length} bytes`)
    const gen = this.generation
    const r = await this.device.handle(payload)
    if (gen !== this.generation) return // rebooted while working
    if (this.opts.refuse && r.status === 0) this.refuse(r)
    const name = fccStatusInfo(r.status).name
    this.trace(`[FCC] bundle processed: ${name} (${r.status})${r.item ? ` ${r.item}` : ''}`)
    for (const w of r.warnings) this.trace(`[FCC] warning: ${w.prefix}:${w.item}`)
    if (r.status === 0 && r.verified) this.snapshot()

    const map = encodeFccResponse(r)
    let frame: Buffer
    if (map.length > (r.csrs ? RESPONSE_LIMIT_CSR : RESPONSE_LIMIT)) {
      this.trace('[FCC] response does not fit the response buffer')
      frame = encodeResponse(FtcdStatus.FAILED_TO_PROCESS_DATA)
    } else {
      frame = encodeResponse(0, map)
      if (this.opts.corruptDigest) frame[frame.length - 32]! ^= 0x01
    }
    this.send(frame)
    if (!r.keepAlive) this.endSession()
  }

  /** Turns a success into a flash failure while storing the device certificate, as a failing part would. */
  private refuse(r: FccHandlerResult): void {
    r.status = FccStatus.KCM_STORAGE_ERROR
    r.item = [...this.device.store.certificates.keys()][0] ?? ''
    r.detail = 'simulated storage failure'
    r.warnings = []
    r.verified = false
    r.csrs = undefined
    this.device.store.clear()
  }

  private snapshot(): void {
    if (!this.opts.store) return
    const s = this.device.store
    const config: Record<string, CborValue> = {}
    for (const [k, v] of s.config) config[k] = v.type === 'text' ? v.value : v.type === 'bytes' ? v.value : v.value
    const certs: Record<string, CborValue> = {}
    for (const [k, v] of s.certificates) certs[k] = v
    const keys: Record<string, CborValue> = {}
    // Only the public half leaves the simulated device, as with a real secure element.
    for (const [k, v] of s.keys) keys[k] = v.publicKey.export({ type: 'spki', format: 'der' }) as Buffer
    this.opts.store(encodeCbor({ ConfigParams: config, Certificates: certs, PublicKeys: keys }))
  }
}
