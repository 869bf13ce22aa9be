/**
 * A minimal DER encoder and reader: just what building and picking apart X.509 certificates needs. Hand-rolled
 * (instead of an ASN.1 schema library) because device certificates are assembled from precomputed byte templates,
 * where every microsecond per certificate counts.
 */

/** Encodes a DER length. */
export function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  if (n < 0x100) return Buffer.from([0x81, n])
  if (n < 0x10000) return Buffer.from([0x82, n >> 8, n & 0xff])
  if (n < 0x1000000) return Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff])
  return Buffer.from([0x84, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff])
}

/** One TLV with the given tag byte around the concatenated contents. */
export function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = contents.length === 1 ? contents[0]! : Buffer.concat(contents)
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body])
}

export const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c)
export const set = (...c: Buffer[]): Buffer => tlv(0x31, ...c)
export const octetString = (b: Buffer): Buffer => tlv(0x04, b)
export const nullDer = (): Buffer => Buffer.from([0x05, 0x00])
export const boolDer = (v: boolean): Buffer => Buffer.from([0x01, 0x01, v ? 0xff : 0x00])
/** A context-specific constructed (EXPLICIT) tag `[n]`. */
export const explicit = (n: number, ...c: Buffer[]): Buffer => tlv(0xa0 | n, ...c)
/** BIT STRING with the given number of unused trailing bits. */
export const bitString = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.from([unused]), b)

/** INTEGER from a small non-negative number. */
export function intDer(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`intDer: ${n}`)
  const bytes: number[] = []
  let v = n
  do {
    bytes.unshift(v & 0xff)
    v = Math.floor(v / 256)
  } while (v > 0)
  if ((bytes[0]! & 0x80) !== 0) bytes.unshift(0)
  return tlv(0x02, Buffer.from(bytes))
}

/** INTEGER from big-endian unsigned magnitude bytes (adds a 0x00 pad if the top bit is set, strips redundant zeros). */
export function uintDer(mag: Buffer): Buffer {
  let i = 0
  while (i < mag.length - 1 && mag[i] === 0) i++
  const m = mag.subarray(i)
  return (m[0]! & 0x80) !== 0 ? tlv(0x02, Buffer.from([0]), m) : tlv(0x02, m)
}

/** OBJECT IDENTIFIER from dotted notation. */
export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number)
  const out: number[] = [parts[0]! * 40 + parts[1]!]
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f]
    let v = Math.floor(p / 128)
    while (v > 0) {
      chunk.unshift((v & 0x7f) | 0x80)
      v = Math.floor(v / 128)
    }
    out.push(...chunk)
  }
  return tlv(0x06, Buffer.from(out))
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/

/** A directory string: PrintableString when the text allows it (the most compatible), else UTF8String. */
export function dirString(s: string): Buffer {
  return PRINTABLE.test(s) ? tlv(0x13, Buffer.from(s, 'latin1')) : tlv(0x0c, Buffer.from(s, 'utf8'))
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n))

/** X.509 Time: UTCTime for 1950..2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5); whole seconds, Zulu. */
export function timeDer(d: Date): Buffer {
  const y = d.getUTCFullYear()
  const rest = `${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}${pad2(d.getUTCSeconds())}Z`
  if (y >= 1950 && y < 2050) return tlv(0x17, Buffer.from(pad2(y % 100) + rest, 'latin1'))
  return tlv(0x18, Buffer.from(String(y).padStart(4, '0') + rest, 'latin1'))
}

/** One parsed TLV: `start` is the tag offset, `body` the value offset, `end` one past the last byte. */
export interface DerNode {
  tag: number
  start: number
  body: number
  end: number
}

/** Reads the TLV at `offset`; throws on truncated or long-form tags (never needed for X.509). */
export function readTlv(buf: Uint8Array, offset = 0): DerNode {
  if (offset + 2 > buf.length) throw new Error('DER: truncated')
  const tag = buf[offset]!
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tags are not supported')
  let len = buf[offset + 1]!
  let body = offset + 2
  if (len & 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > 4 || body + n > buf.length) throw new Error('DER: bad length')
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + buf[body + i]!
    body += n
  }
  const end = body + len
  if (end > buf.length) throw new Error('DER: truncated')
  return { tag, start: offset, body, end }
}

/** The children of a constructed node. */
export function children(buf: Uint8Array, node: DerNode): DerNode[] {
  const out: DerNode[] = []
  let o = node.body
  while (o < node.end) {
    const c = readTlv(buf, o)
    out.push(c)
    o = c.end
  }
  return out
}

/** The bytes of a node, header included. */
export const raw = (buf: Buffer, n: DerNode): Buffer => buf.subarray(n.start, n.end)
/** The value bytes of a node. */
export const value = (buf: Buffer, n: DerNode): Buffer => buf.subarray(n.body, n.end)
