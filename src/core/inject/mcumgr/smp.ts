/**
 * MCUmgr SMP over a serial console (device-shells.md §5): a packet is an 8-byte header (op, flags, length BE16,
 * group BE16, sequence, command id) and a CBOR body; on the line it travels as frames `06 09` (first) / `04 14`
 * (continuation), each the base64 of a slice of (length BE16 + packet + CRC16-XMODEM), then `\n`, at most 127
 * bytes a line (124 base64 characters = 93 bytes a slice). Pure functions, shared by the host and the simulator.
 */
import { LwprovError } from '../../errors.js'
import { decodeCbor, encodeCbor, type CborMap, type CborValue } from '../../cbor.js'

export const Op = { READ: 0, READ_RSP: 1, WRITE: 2, WRITE_RSP: 3 } as const
export const Group = { OS: 0, FS: 8 } as const
/** OS: echo (0), mcumgr parameters (6). FS: file upload/download (0), hash/checksum (2). */
export const Cmd = { ECHO: 0, PARAMS: 6, FILE: 0, HASH: 2 } as const
/** MGMT_ERR_* codes (`rc`). */
export const Rc = { OK: 0, EUNKNOWN: 1, ENOMEM: 2, EINVAL: 3, ENOENT: 5, EBADSTATE: 6, EMSGSIZE: 7, ENOTSUP: 8, ECORRUPT: 9 } as const
export const RC_TEXT: Record<number, string> = { 1: 'unknown error', 2: 'out of memory', 3: 'invalid argument', 4: 'timeout', 5: 'no such file', 6: 'bad state', 7: 'message too large', 8: 'not supported', 9: 'corrupt', 10: 'busy', 11: 'access denied' }

/** Largest line (marker + base64 + newline) and the raw bytes one line carries. */
export const MAX_LINE = 127
const SLICE = 93

/** CRC16-XMODEM (poly 0x1021, init 0). */
export function crc16(data: Uint8Array): number {
  let crc = 0
  for (const b of data) {
    crc ^= b << 8
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

export interface SmpPacket {
  op: number
  flags?: number
  group: number
  seq: number
  id: number
  body: CborMap
}

export function encodePacket(p: SmpPacket): Buffer {
  const body = encodeCbor(p.body)
  const h = Buffer.alloc(8)
  h[0] = p.op & 0x07
  h[1] = p.flags ?? 0
  h.writeUInt16BE(body.length, 2)
  h.writeUInt16BE(p.group, 4)
  h[6] = p.seq & 0xff
  h[7] = p.id
  return Buffer.concat([h, body])
}

const garbage = (why: string) => new LwprovError('E_SMP_FRAME', `SMP: ${why}`, { exit: 'device', hint: 'Check the baud rate and that the firmware runs the MCUmgr shell transport (docs/mcumgr.md).' })

export function decodePacket(buf: Uint8Array): SmpPacket {
  const b = Buffer.from(buf)
  if (b.length < 8) throw garbage('packet shorter than its header')
  const len = b.readUInt16BE(2)
  if (b.length !== 8 + len) throw garbage(`header says ${len} body bytes, ${b.length - 8} arrived`)
  const body = len === 0 ? new Map() : decodeCbor(b.subarray(8))
  if (!(body instanceof Map)) throw garbage('the body is not a CBOR map')
  return { op: b[0]! & 0x07, flags: b[1]!, group: b.readUInt16BE(4), seq: b[6]!, id: b[7]!, body }
}

/** The console lines of one packet (each ends with `\n`). */
export function encodeFrames(packet: Uint8Array): Buffer {
  const crc = Buffer.alloc(2)
  crc.writeUInt16BE(crc16(packet))
  const len = Buffer.alloc(2)
  len.writeUInt16BE(packet.length + 2)
  const all = Buffer.concat([len, packet, crc])
  const lines: Buffer[] = []
  for (let off = 0; off < all.length; off += SLICE) {
    const marker = off === 0 ? [0x06, 0x09] : [0x04, 0x14]
    lines.push(Buffer.from(marker), Buffer.from(all.subarray(off, off + SLICE).toString('base64'), 'latin1'), Buffer.from('\n'))
  }
  return Buffer.concat(lines)
}

/**
 * Reassembles packets from console bytes. Text that is not an SMP frame (shell output, logs) is returned through
 * `onText`; a frame with a bad CRC or length is dropped (the sender times out and retries).
 */
export class FrameReader {
  private line: number[] = []
  private acc: Buffer | undefined
  private want = 0

  constructor(
    private readonly onPacket: (p: Buffer) => void,
    private readonly onText?: (t: Buffer) => void,
    private readonly onBad?: (why: string) => void,
  ) {}

  push(chunk: Uint8Array): void {
    for (const b of chunk) {
      if (b === 0x0a) {
        this.line.push(b)
        this.takeLine(Buffer.from(this.line))
        this.line = []
      } else {
        this.line.push(b)
        // text that is clearly not a frame goes through at once (prompts have no newline)
        if (this.line.length === 2 && !isMarker(this.line)) {
          this.onText?.(Buffer.from(this.line))
          this.line = []
        } else if (this.line.length === 1 && b !== 0x06 && b !== 0x04) {
          this.onText?.(Buffer.from(this.line))
          this.line = []
        }
      }
      if (this.line.length > 4 * MAX_LINE) this.line = []
    }
  }

  private takeLine(line: Buffer): void {
    if (line.length < 3 || !isMarker([line[0]!, line[1]!])) {
      this.onText?.(line)
      return
    }
    const first = line[0] === 0x06
    const text = line.subarray(2).toString('latin1').trim()
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return this.onBad?.('a frame line is not base64')
    const data = Buffer.from(text, 'base64')
    if (first) {
      if (data.length < 2) return this.onBad?.('a first frame without its length')
      this.want = data.readUInt16BE(0)
      this.acc = data.subarray(2)
    } else if (this.acc) {
      this.acc = Buffer.concat([this.acc, data])
    } else return
    if (this.acc.length < this.want) return
    const all = this.acc
    this.acc = undefined
    if (all.length !== this.want || this.want < 2) return this.onBad?.('frame length mismatch')
    const packet = all.subarray(0, all.length - 2)
    if (crc16(packet) !== all.readUInt16BE(all.length - 2)) return this.onBad?.('CRC mismatch')
    this.onPacket(Buffer.from(packet))
  }
}

function isMarker(b: number[]): boolean {
  return (b[0] === 0x06 && b[1] === 0x09) || (b[0] === 0x04 && b[1] === 0x14)
}

/** A body map from plain entries. */
export function body(entries: Record<string, CborValue>): CborMap {
  return new Map(Object.entries(entries))
}

/** The numeric `rc` of a response (0 when absent); SMP v2 `err: {group, rc}` too. */
export function rcOf(m: CborMap): number {
  const rc = m.get('rc')
  if (typeof rc === 'number') return rc
  const err = m.get('err')
  if (err instanceof Map && typeof err.get('rc') === 'number') return err.get('rc') as number
  return 0
}
