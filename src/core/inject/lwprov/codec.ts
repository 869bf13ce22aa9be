/**
 * lwprov frame codec (docs/protocol.md §2): frame encoding and an incremental scanner that picks frames out of a
 * byte stream shared with device log text, tolerating arbitrary chunk splits, noise and corrupted frames.
 *
 * Wire layout (all integers big-endian):
 *
 * | off | size | field                                                    |
 * |-----|------|----------------------------------------------------------|
 * | 0   | 4    | sync `AA 4C 57 50` (0xAA then "LWP")                     |
 * | 4   | 1    | frame version (1; the session version is negotiated in HELLO)|
 * | 5   | 1    | type                                                     |
 * | 6   | 1    | seq                                                      |
 * | 7   | 1    | flags (0)                                                |
 * | 8   | 2    | payload length N                                         |
 * | 10  | 2    | header check: CRC-16/CCITT-FALSE of bytes 0..9           |
 * | 12  | N    | payload                                                  |
 * | 12+N| 4    | CRC-32 (IEEE 802.3) of bytes 4..11+N                     |
 */

/** Sync bytes. 0xAA is a UTF-8 continuation byte, so it never starts a character in ASCII/UTF-8 log text. */
export const SYNC = Buffer.from([0xaa, 0x4c, 0x57, 0x50])
export const HEADER_SIZE = 12
export const TRAILER_SIZE = 4
export const FRAME_OVERHEAD = HEADER_SIZE + TRAILER_SIZE
/**
 * Version of the frame encoding (header byte 4). Unchanged by protocol v2: the frame layout is the same, so a v1
 * receiver still understands the HELLO in which a v2 host offers v2, and answers with the version it speaks.
 */
export const FRAME_VERSION = 1
/** Highest session protocol version this implementation speaks (negotiated in HELLO tag 0x01, docs/protocol.md §10). */
export const PROTOCOL_VERSION = 2
/** Lowest session protocol version this host still accepts (old receivers: read-back digest only). */
export const MIN_PROTOCOL_VERSION = 1
/** Largest payload any lwprov peer may send; longer length fields are treated as corruption. */
export const MAX_PAYLOAD = 4096
/** Every device accepts at least this payload size, so HELLO needs no negotiation. */
export const MIN_PAYLOAD = 256

/** Frame types (docs/protocol.md §3). Host requests are < 0x80, device frames have the top bit set. */
export const FrameType = {
  HELLO: 0x01,
  BEGIN: 0x02,
  DATA: 0x03,
  COMMIT: 0x04,
  READBACK: 0x05,
  KEYGEN: 0x06,
  CSR_READ: 0x07,
  ABORT: 0x08,
  /** v2: proof-of-possession challenge after COMMIT (docs/protocol.md §11). */
  CHALLENGE: 0x09,
  BOOT: 0x80,
  IDENTITY: 0x81,
  ACK: 0x82,
  NAK: 0x83,
  DIGEST: 0x84,
  CSR_DATA: 0x85,
  /** v2: answer to CHALLENGE. */
  PROOF: 0x86,
  ERROR: 0x8f,
} as const
export type FrameTypeName = keyof typeof FrameType

/** Human name of a frame type, for messages. */
export function frameTypeName(type: number): string {
  for (const [k, v] of Object.entries(FrameType)) if (v === type) return k
  return `0x${type.toString(16).padStart(2, '0')}`
}

export interface Frame {
  version: number
  type: number
  seq: number
  flags: number
  payload: Buffer
}

const CRC32_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

/** CRC-32/ISO-HDLC (zlib's crc32): reflected 0x04C11DB7, init and xorout 0xFFFFFFFF. */
export function crc32(data: Uint8Array, start = 0, end = data.length): number {
  let c = 0xffffffff
  for (let i = start; i < end; i++) c = CRC32_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

/** CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, not reflected, no xorout. */
export function crc16(data: Uint8Array, start = 0, end = data.length): number {
  let c = 0xffff
  for (let i = start; i < end; i++) {
    c ^= data[i]! << 8
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff
  }
  return c
}

/** Encodes one frame. Throws `RangeError` on an out-of-range field (a programming error, not a device problem). */
export function encodeFrame(f: { type: number; seq: number; payload?: Uint8Array; flags?: number; version?: number }): Buffer {
  const payload = f.payload ?? Buffer.alloc(0)
  if (payload.length > MAX_PAYLOAD) throw new RangeError(`lwprov frame payload ${payload.length} > ${MAX_PAYLOAD}`)
  const out = Buffer.alloc(FRAME_OVERHEAD + payload.length)
  SYNC.copy(out, 0)
  out[4] = f.version ?? FRAME_VERSION
  out[5] = f.type & 0xff
  out[6] = f.seq & 0xff
  out[7] = (f.flags ?? 0) & 0xff
  out.writeUInt16BE(payload.length, 8)
  out.writeUInt16BE(crc16(out, 0, 10), 10)
  out.set(payload, HEADER_SIZE)
  out.writeUInt32BE(crc32(out, 4, HEADER_SIZE + payload.length), HEADER_SIZE + payload.length)
  return out
}

/** What the scanner found in the stream, in stream order. */
export type ScanEvent =
  | { kind: 'frame'; frame: Frame }
  /** Bytes that belong to no frame: device log text. */
  | { kind: 'noise'; bytes: Buffer }
  /**
   * A frame start whose header or body check failed. `type`/`seq` are set when the header was intact (body CRC
   * failure), so a receiver may NAK that sequence number.
   */
  | { kind: 'corrupt'; reason: 'header' | 'length' | 'crc'; type?: number; seq?: number }

export interface FrameScannerOptions {
  /** Largest accepted payload length; longer length fields count as corruption. Default `MAX_PAYLOAD`. */
  maxPayload?: number
}

/**
 * Incremental frame scanner. Feed it chunks as they arrive; it returns frames, log text and corruption reports.
 * On any check failure it resumes the search one byte after the failed sync, so a frame hidden inside a corrupted
 * or truncated one is still found. Body bytes of a corrupted frame are dropped rather than reported as log text.
 */
export class FrameScanner {
  private buf: Buffer = Buffer.alloc(0)
  /** Bytes at the start of `buf` that belonged to a corrupted frame: dropped, not reported as noise. */
  private silent = 0
  private readonly maxPayload: number

  constructor(opts: FrameScannerOptions = {}) {
    this.maxPayload = Math.min(opts.maxPayload ?? MAX_PAYLOAD, 0xffff)
  }

  /** Bytes held back waiting for the rest of a frame. */
  get pending(): number {
    return this.buf.length
  }

  /** Drops any partial frame (e.g. after the link was re-opened). */
  reset(): void {
    this.buf = Buffer.alloc(0)
    this.silent = 0
  }

  push(chunk: Uint8Array): ScanEvent[] {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk])
    const events: ScanEvent[] = []
    for (;;) {
      const at = this.buf.indexOf(SYNC)
      if (at < 0) {
        // Keep a tail that could be the start of a sync split across chunks.
        const keep = syncPrefixTail(this.buf)
        this.emitNoise(events, this.buf.length - keep)
        return events
      }
      this.emitNoise(events, at)
      if (this.buf.length < HEADER_SIZE) return events
      if (crc16(this.buf, 0, 10) !== this.buf.readUInt16BE(10)) {
        events.push({ kind: 'corrupt', reason: 'header' })
        this.drop(1)
        continue
      }
      const len = this.buf.readUInt16BE(8)
      const type = this.buf[5]!
      const seq = this.buf[6]!
      if (len > this.maxPayload) {
        events.push({ kind: 'corrupt', reason: 'length', type, seq })
        this.drop(1)
        continue
      }
      const total = FRAME_OVERHEAD + len
      if (this.buf.length < total) return events
      if (crc32(this.buf, 4, HEADER_SIZE + len) !== this.buf.readUInt32BE(HEADER_SIZE + len)) {
        events.push({ kind: 'corrupt', reason: 'crc', type, seq })
        this.silent = Math.max(this.silent, total)
        this.drop(1)
        continue
      }
      const frame: Frame = {
        version: this.buf[4]!,
        type,
        seq,
        flags: this.buf[7]!,
        payload: Buffer.from(this.buf.subarray(HEADER_SIZE, HEADER_SIZE + len)),
      }
      this.silent = 0
      this.drop(total)
      events.push({ kind: 'frame', frame })
    }
  }

  private emitNoise(events: ScanEvent[], n: number): void {
    if (n <= 0) return
    const quiet = Math.min(this.silent, n)
    const loud = this.buf.subarray(quiet, n)
    if (loud.length > 0) events.push({ kind: 'noise', bytes: Buffer.from(loud) })
    this.drop(n)
  }

  private drop(n: number): void {
    this.silent = Math.max(0, this.silent - n)
    this.buf = this.buf.subarray(n)
  }
}

function syncPrefixTail(buf: Buffer): number {
  for (let k = Math.min(SYNC.length - 1, buf.length); k > 0; k--) {
    if (buf.subarray(buf.length - k).equals(SYNC.subarray(0, k))) return k
  }
  return 0
}

/**
 * Splits device log text into lines. Control characters other than tab are removed and ANSI colour sequences
 * stripped, so diagnostics stay printable.
 */
export class LogLineAssembler {
  private partial = ''

  /** Returns the complete lines in `bytes`; an unterminated tail is kept for the next call. */
  push(bytes: Uint8Array): string[] {
    const text = this.partial + Buffer.from(bytes).toString('latin1')
    const parts = text.split(/\r\n|\n|\r/)
    this.partial = parts.pop() ?? ''
    if (this.partial.length > 1024) {
      parts.push(this.partial)
      this.partial = ''
    }
    return parts.map(clean).filter((l) => l.length > 0)
  }

  /** Returns the unterminated tail, if any, and forgets it. */
  flush(): string[] {
    const rest = clean(this.partial)
    this.partial = ''
    return rest.length > 0 ? [rest] : []
  }
}

function clean(line: string): string {
  // eslint-disable-next-line no-control-regex
  return line.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/[^\t\x20-\x7e]/g, '').trimEnd()
}
