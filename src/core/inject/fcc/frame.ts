/**
 * FTCD framing of the Izuma factory protocol (docs: izuma-fcc.md §1–§3).
 *
 * Request  (host → device): `mbedprov` | u32 LE length N | N bytes CBOR | SHA-256(CBOR)
 * Response (device → host): `mbedprov` | u32 LE transport status | (status 0 only:) u32 LE length M | M bytes CBOR | SHA-256
 *
 * A non-zero transport status makes the response exactly 12 bytes. On a serial line the device prints log text on the
 * same UART, so readers must scan for the token and keep whatever else they see for diagnostics.
 */
import { createHash } from 'node:crypto'

/** The 8-byte header token of FCC frames (`FTCD_MSG_HEADER_TOKEN_FCC`). */
export const FTCD_TOKEN = Buffer.from('mbedprov', 'ascii')
/** Length of the SHA-256 trailer. */
export const FTCD_SIGNATURE_LENGTH = 32
/** Size of a response frame that carries only a non-zero transport status. */
export const FTCD_ERROR_FRAME_LENGTH = 12
/** Host-side cap on a response payload. The device's response buffer is 512 B (2560 B with CSRs). */
export const FTCD_MAX_RESPONSE_LENGTH = 64 * 1024
/** Cap on a request payload the simulated device accepts (the real one only has malloc as a limit). */
export const FTCD_MAX_REQUEST_LENGTH = 1024 * 1024

/** `ftcd_comm_status_e`: the transport-level status in response headers (not the FCC status). */
export const FtcdStatus = {
  SUCCESS: 0,
  ERROR: 1,
  INVALID_PARAMETER: 2,
  MEMORY_OUT: 3,
  FAILED_TO_READ_MESSAGE_SIZE: 4,
  FAILED_TO_READ_MESSAGE_BYTES: 5,
  FAILED_TO_READ_MESSAGE_SIGNATURE: 6,
  FAILED_TO_CALCULATE_MESSAGE_SIGNATURE: 7,
  INCONSISTENT_MESSAGE_SIGNATURE: 8,
  FAILED_TO_PROCESS_DATA: 9,
  FAILED_TO_PROCESS_MESSAGE: 10,
  FAILED_TO_SEND_VALID_RESPONSE: 11,
  NETWORK_TIMEOUT: 12,
  NETWORK_CONNECTION_ERROR: 13,
  NETWORK_CONNECTION_CLOSED: 14,
  INTERNAL_ERROR: 15,
} as const
export type FtcdStatusName = keyof typeof FtcdStatus
/** Highest defined transport status; larger values in a header mean the token was just text. */
export const FTCD_MAX_STATUS = 15

/** Human description of one transport status, for error messages. */
export interface FtcdStatusInfo {
  code: number
  /** `FTCD_COMM_…` name as in ftcd_comm_base.h. */
  name: string
  message: string
}

const FTCD_MESSAGES: Record<FtcdStatusName, string> = {
  SUCCESS: 'success',
  ERROR: 'general transport error on the device',
  INVALID_PARAMETER: 'the device transport got an invalid parameter',
  MEMORY_OUT: 'the device ran out of memory while receiving the frame',
  FAILED_TO_READ_MESSAGE_SIZE: 'the device could not read the frame length (zero or truncated)',
  FAILED_TO_READ_MESSAGE_BYTES: 'the device could not read the whole frame payload',
  FAILED_TO_READ_MESSAGE_SIGNATURE: 'the device could not read the SHA-256 trailer',
  FAILED_TO_CALCULATE_MESSAGE_SIGNATURE: 'the device could not compute the SHA-256 of the frame',
  INCONSISTENT_MESSAGE_SIGNATURE: 'the SHA-256 trailer did not match the payload the device received (corrupted on the line)',
  FAILED_TO_PROCESS_DATA: 'the device produced no response to the bundle (response error, or factory flow disabled)',
  FAILED_TO_PROCESS_MESSAGE: 'the device could not process the message',
  FAILED_TO_SEND_VALID_RESPONSE: 'the device could not send a valid response',
  NETWORK_TIMEOUT: 'network timeout on the device',
  NETWORK_CONNECTION_ERROR: 'network connection error on the device',
  NETWORK_CONNECTION_CLOSED: 'the network connection was closed',
  INTERNAL_ERROR: 'internal error in the device transport',
}

/** Looks up a transport status; unknown values get a generic description. */
export function ftcdStatusInfo(code: number): FtcdStatusInfo {
  const entry = (Object.entries(FtcdStatus) as Array<[FtcdStatusName, number]>).find(([, v]) => v === code)
  if (!entry) return { code, name: `FTCD_COMM_STATUS_${code}`, message: `unknown transport status ${code}` }
  const [name] = entry
  return { code, name: `FTCD_COMM_${name === 'SUCCESS' || name === 'ERROR' ? `STATUS_${name}` : name}`, message: FTCD_MESSAGES[name] }
}

/** Raw SHA-256 digest. */
export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest()
}

/** Frames one request message: token, u32 LE length, payload, SHA-256(payload). */
export function encodeRequest(msg: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(12 + msg.length + FTCD_SIGNATURE_LENGTH)
  FTCD_TOKEN.copy(out, 0)
  out.writeUInt32LE(msg.length, 8)
  out.set(msg, 12)
  sha256(msg).copy(out, 12 + msg.length)
  return out
}

/**
 * Frames one response. With `status` ≠ 0 the frame is the 12-byte error frame and `msg` is ignored, as on the device
 * (`FtcdCommBase::send_response`).
 */
export function encodeResponse(status: number, msg?: Uint8Array): Buffer {
  if (status !== 0) {
    const out = Buffer.allocUnsafe(FTCD_ERROR_FRAME_LENGTH)
    FTCD_TOKEN.copy(out, 0)
    out.writeUInt32LE(status >>> 0, 8)
    return out
  }
  const body = msg ?? new Uint8Array(0)
  const out = Buffer.allocUnsafe(16 + body.length + FTCD_SIGNATURE_LENGTH)
  FTCD_TOKEN.copy(out, 0)
  out.writeUInt32LE(0, 8)
  out.writeUInt32LE(body.length, 12)
  out.set(body, 16)
  sha256(body).copy(out, 16 + body.length)
  return out
}

/** One thing an `FtcdScanner` found in the byte stream. */
export type FtcdEvent =
  /** Non-frame text seen on the line (boot logs, traces), decoded as UTF-8. */
  | { type: 'log'; text: string }
  /** A complete frame with a payload. `signatureOk` is false when the SHA-256 trailer does not match. */
  | { type: 'frame'; status: 0; payload: Buffer; signature: Buffer; signatureOk: boolean }
  /** A 12-byte response frame with a non-zero transport status. */
  | { type: 'error-frame'; status: number }
  /** A token followed by an impossible length (0 or above the cap); the scanner resynchronises after the token. */
  | { type: 'bad-length'; length: number }

export interface FtcdScannerOptions {
  /** `response`: frames carry a transport status (host side). `request`: they do not (device side). */
  kind: 'request' | 'response'
  /** Largest payload accepted; longer lengths produce a `bad-length` event. */
  maxLength?: number
  /**
   * Reproduce the device's token scan (`FtcdCommBase::wait_for_message`): a mismatching byte resets the match without
   * being re-tested against the token's first byte, so `mmbedprov` hides a frame. Only the simulated device uses this;
   * the host does a proper substring search.
   */
  deviceTokenScan?: boolean
  /** Characters of log text kept in `log` (the most recent ones); default 64 KiB. */
  maxLog?: number
}

type State = 'token' | 'status' | 'length' | 'body'

/**
 * Incremental FTCD frame reader: feed arbitrary chunks, get frames, error frames and log text out, in stream order.
 * Log text is also accumulated in `log` for diagnostics.
 */
export class FtcdScanner {
  private readonly kind: 'request' | 'response'
  private readonly maxLength: number
  private readonly deviceTokenScan: boolean
  private buf: Buffer = Buffer.alloc(0)
  private state: State = 'token'
  private matched = 0
  private length = 0
  private readonly decoder = new TextDecoder('utf-8', { fatal: false })
  private logParts: string[] = []
  private logLength = 0
  private readonly maxLog: number

  constructor(opts: FtcdScannerOptions) {
    this.kind = opts.kind
    this.maxLength = opts.maxLength ?? (opts.kind === 'response' ? FTCD_MAX_RESPONSE_LENGTH : FTCD_MAX_REQUEST_LENGTH)
    this.deviceTokenScan = opts.deviceTokenScan ?? false
    this.maxLog = opts.maxLog ?? 64 * 1024
  }

  /** The log text seen so far (its last `maxLog` characters: the tail is what explains a failure). */
  get log(): string {
    const all = this.logParts.join('')
    return all.length > this.maxLog ? all.slice(-this.maxLog) : all
  }

  private keepLog(text: string): void {
    this.logParts.push(text)
    this.logLength += text.length
    if (this.logLength > 2 * this.maxLog) {
      const tail = this.logParts.join('').slice(-this.maxLog)
      this.logParts = [tail]
      this.logLength = tail.length
    }
  }

  /** True while part of a frame has been read but not all of it (a close now means a truncated frame). */
  get inFrame(): boolean {
    return this.state !== 'token' || this.matched > 0
  }

  /** Forgets any partial frame (e.g. after a device reset); the accumulated log is kept. */
  reset(): void {
    this.buf = Buffer.alloc(0)
    this.state = 'token'
    this.matched = 0
    this.length = 0
  }

  /** Feeds one chunk; returns the events it completed, in order. */
  push(chunk: Uint8Array): FtcdEvent[] {
    const events: FtcdEvent[] = []
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk])
    for (;;) {
      if (this.state === 'token') {
        if (!(this.deviceTokenScan ? this.scanDevice(events) : this.scanSubstring(events))) break
        this.state = this.kind === 'response' ? 'status' : 'length'
      }
      if (this.state === 'status') {
        if (this.buf.length < 4) break
        const status = this.buf.readUInt32LE(0)
        if (status > FTCD_MAX_STATUS) {
          // Not a status the device can send: the token was part of log text. Keep it as text and scan on.
          this.emitLog(events, FTCD_TOKEN)
          this.state = 'token'
          continue
        }
        this.buf = this.buf.subarray(4)
        if (status !== 0) {
          events.push({ type: 'error-frame', status })
          this.state = 'token'
          continue
        }
        this.state = 'length'
      }
      if (this.state === 'length') {
        if (this.buf.length < 4) break
        const length = this.buf.readUInt32LE(0)
        if (length === 0 || length > this.maxLength) {
          // Resynchronise: the "length" bytes may themselves hold the start of the next token.
          events.push({ type: 'bad-length', length })
          this.state = 'token'
          continue
        }
        this.length = length
        this.buf = this.buf.subarray(4)
        this.state = 'body'
      }
      if (this.state === 'body') {
        const need = this.length + FTCD_SIGNATURE_LENGTH
        if (this.buf.length < need) break
        const payload = Buffer.from(this.buf.subarray(0, this.length))
        const signature = Buffer.from(this.buf.subarray(this.length, need))
        this.buf = this.buf.subarray(need)
        events.push({ type: 'frame', status: 0, payload, signature, signatureOk: sha256(payload).equals(signature) })
        this.state = 'token'
      }
    }
    return events
  }

  /** Flushes undecoded log bytes (call on close, so a trailing partial token is reported as text). */
  end(): FtcdEvent[] {
    const events: FtcdEvent[] = []
    if (this.state === 'token' && this.buf.length > 0) {
      this.emitLog(events, this.buf)
      this.buf = Buffer.alloc(0)
    }
    const rest = this.decoder.decode()
    if (rest) {
      this.keepLog(rest)
      events.push({ type: 'log', text: rest })
    }
    return events
  }

  private emitLog(events: FtcdEvent[], bytes: Uint8Array): void {
    if (bytes.length === 0) return
    const text = this.decoder.decode(bytes, { stream: true })
    if (!text) return
    this.keepLog(text)
    const last = events[events.length - 1]
    if (last?.type === 'log') last.text += text
    else events.push({ type: 'log', text })
  }

  /** Substring search; returns true with the buffer positioned after the token. */
  private scanSubstring(events: FtcdEvent[]): boolean {
    const at = this.buf.indexOf(FTCD_TOKEN)
    if (at >= 0) {
      this.emitLog(events, this.buf.subarray(0, at))
      this.buf = this.buf.subarray(at + FTCD_TOKEN.length)
      return true
    }
    // Keep the longest suffix that could still grow into the token; the rest is log text.
    let keep = Math.min(FTCD_TOKEN.length - 1, this.buf.length)
    while (keep > 0 && !this.buf.subarray(this.buf.length - keep).equals(FTCD_TOKEN.subarray(0, keep))) keep--
    this.emitLog(events, this.buf.subarray(0, this.buf.length - keep))
    this.buf = this.buf.subarray(this.buf.length - keep)
    return false
  }

  /** The device's byte-by-byte scan (see `deviceTokenScan`). Skipped bytes count as log text. */
  private scanDevice(events: FtcdEvent[]): boolean {
    let i = 0
    while (i < this.buf.length) {
      const b = this.buf[i++]!
      if (b === FTCD_TOKEN[this.matched]) {
        this.matched++
        if (this.matched === FTCD_TOKEN.length) {
          this.emitLog(events, this.buf.subarray(0, Math.max(0, i - FTCD_TOKEN.length)))
          this.buf = this.buf.subarray(i)
          this.matched = 0
          return true
        }
      } else {
        this.matched = 0
      }
    }
    // Bytes of a partial token match are consumed (the device keeps only the match index); the rest is log text.
    this.emitLog(events, this.buf.subarray(0, Math.max(0, this.buf.length - this.matched)))
    this.buf = Buffer.alloc(0)
    return false
  }
}
