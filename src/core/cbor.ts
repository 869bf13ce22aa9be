/**
 * A small, strict CBOR (RFC 8949) codec shared by the SenML-CBOR encoder and the Izuma FCC bundle.
 *
 * We own this instead of using a general library because both consumers need byte-exact control: definite lengths,
 * shortest-form heads, map keys in the order given (SenML wants `n` first; FCC is order-insensitive but its golden
 * vectors are not), and a decoder that rejects what the device parsers reject (trailing bytes, bad heads).
 */
import { LwprovError } from './errors.js'

/** A CBOR map: keys are kept in insertion order, which is the order they are encoded in. */
export type CborMap = Map<CborKey, CborValue>
export type CborKey = string | number
export type CborValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | undefined
  | Uint8Array
  | CborValue[]
  | CborMap
  | CborTagged
  | { readonly [key: string]: CborValue }

/** A tagged item (major type 6), e.g. tag 24 for embedded CBOR. */
export class CborTagged {
  constructor(
    readonly tag: number,
    readonly value: CborValue,
  ) {}
}

const cborError = (message: string) =>
  new LwprovError('E_CBOR', message, { hint: 'The bytes are not the CBOR item expected; check the sender.', exit: 'device' })

class Writer {
  private chunks: Buffer[] = []
  private buf = Buffer.allocUnsafe(256)
  private pos = 0

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    this.chunks.push(this.buf.subarray(0, this.pos))
    this.buf = Buffer.allocUnsafe(Math.max(256, n))
    this.pos = 0
  }

  head(major: number, arg: number | bigint): void {
    const m = major << 5
    if (typeof arg === 'bigint') {
      if (arg <= 0xffffffffn) return this.head(major, Number(arg))
      this.ensure(9)
      this.buf[this.pos++] = m | 27
      this.buf.writeBigUInt64BE(arg, this.pos)
      this.pos += 8
      return
    }
    if (arg < 24) {
      this.ensure(1)
      this.buf[this.pos++] = m | arg
    } else if (arg < 0x100) {
      this.ensure(2)
      this.buf[this.pos++] = m | 24
      this.buf[this.pos++] = arg
    } else if (arg < 0x10000) {
      this.ensure(3)
      this.buf[this.pos++] = m | 25
      this.buf.writeUInt16BE(arg, this.pos)
      this.pos += 2
    } else if (arg < 0x100000000) {
      this.ensure(5)
      this.buf[this.pos++] = m | 26
      this.buf.writeUInt32BE(arg, this.pos)
      this.pos += 4
    } else {
      this.head(major, BigInt(arg))
    }
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  byte(b: number): void {
    this.ensure(1)
    this.buf[this.pos++] = b
  }

  float64(v: number): void {
    this.ensure(9)
    this.buf[this.pos++] = 0xfb
    this.buf.writeDoubleBE(v, this.pos)
    this.pos += 8
  }

  finish(): Buffer {
    this.chunks.push(this.buf.subarray(0, this.pos))
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)
  }
}

function encodeInto(w: Writer, v: CborValue): void {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && Number.isSafeInteger(v)) {
      if (v >= 0) w.head(0, v)
      else w.head(1, -1 - v)
    } else {
      w.float64(v)
    }
  } else if (typeof v === 'bigint') {
    if (v >= 0n) w.head(0, v)
    else w.head(1, -1n - v)
  } else if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8')
    w.head(3, b.length)
    w.bytes(b)
  } else if (typeof v === 'boolean') {
    w.byte(v ? 0xf5 : 0xf4)
  } else if (v === null) {
    w.byte(0xf6)
  } else if (v === undefined) {
    w.byte(0xf7)
  } else if (v instanceof Uint8Array) {
    w.head(2, v.length)
    w.bytes(v)
  } else if (Array.isArray(v)) {
    w.head(4, v.length)
    for (const item of v) encodeInto(w, item)
  } else if (v instanceof Map) {
    w.head(5, v.size)
    for (const [k, item] of v) {
      encodeInto(w, k)
      encodeInto(w, item)
    }
  } else if (v instanceof CborTagged) {
    w.head(6, v.tag)
    encodeInto(w, v.value)
  } else {
    const entries = Object.entries(v).filter(([, item]) => item !== undefined)
    w.head(5, entries.length)
    for (const [k, item] of entries) {
      encodeInto(w, k)
      encodeInto(w, item)
    }
  }
}

/** Encodes one CBOR item with definite lengths and shortest-form heads. Plain-object keys keep their order. */
export function encodeCbor(value: CborValue): Buffer {
  const w = new Writer()
  encodeInto(w, value)
  return w.finish()
}

const BREAK = Symbol('break')

class Reader {
  pos = 0
  constructor(
    private readonly b: Uint8Array,
    private readonly depthLimit = 64,
  ) {}

  private need(n: number): void {
    if (this.pos + n > this.b.length) throw cborError(`truncated CBOR: needed ${n} more byte(s) at offset ${this.pos}`)
  }

  private u8(): number {
    this.need(1)
    return this.b[this.pos++]!
  }

  private arg(info: number): number | bigint | null {
    const dv = new DataView(this.b.buffer, this.b.byteOffset, this.b.byteLength)
    if (info < 24) return info
    if (info === 24) return this.u8()
    if (info === 25) {
      this.need(2)
      const v = dv.getUint16(this.pos)
      this.pos += 2
      return v
    }
    if (info === 26) {
      this.need(4)
      const v = dv.getUint32(this.pos)
      this.pos += 4
      return v
    }
    if (info === 27) {
      this.need(8)
      const v = dv.getBigUint64(this.pos)
      this.pos += 8
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v
    }
    if (info === 31) return null
    throw cborError(`reserved additional information ${info} at offset ${this.pos - 1}`)
  }

  private len(info: number, what: string): number | null {
    const a = this.arg(info)
    if (a === null) return null
    if (typeof a === 'bigint' || a > this.b.length) throw cborError(`${what} length ${a} exceeds the input`)
    return a
  }

  item(depth = 0): CborValue | typeof BREAK {
    if (depth > this.depthLimit) throw cborError('CBOR nesting too deep')
    const start = this.pos
    const ib = this.u8()
    const major = ib >> 5
    const info = ib & 0x1f
    switch (major) {
      case 0: {
        const a = this.arg(info)
        if (a === null) throw cborError(`indefinite integer at offset ${start}`)
        return a
      }
      case 1: {
        const a = this.arg(info)
        if (a === null) throw cborError(`indefinite integer at offset ${start}`)
        if (typeof a === 'bigint') return -1n - a
        const n = -1 - a
        return Number.isSafeInteger(n) ? n : -1n - BigInt(a)
      }
      case 2:
      case 3: {
        const n = this.len(info, major === 2 ? 'byte string' : 'text string')
        let bytes: Uint8Array
        if (n === null) {
          const parts: Uint8Array[] = []
          for (;;) {
            const part = this.item(depth + 1)
            if (part === BREAK) break
            if (major === 2 && !(part instanceof Uint8Array)) throw cborError('bad chunk in indefinite byte string')
            if (major === 3 && typeof part !== 'string') throw cborError('bad chunk in indefinite text string')
            parts.push(typeof part === 'string' ? Buffer.from(part, 'utf8') : (part as Uint8Array))
          }
          bytes = Buffer.concat(parts)
        } else {
          this.need(n)
          bytes = this.b.subarray(this.pos, this.pos + n)
          this.pos += n
        }
        if (major === 2) return Buffer.from(bytes)
        const text = new TextDecoder('utf-8', { fatal: true })
        try {
          return text.decode(bytes)
        } catch {
          throw cborError(`invalid UTF-8 in text string at offset ${start}`)
        }
      }
      case 4: {
        const n = this.len(info, 'array')
        const out: CborValue[] = []
        if (n === null) {
          for (;;) {
            const it = this.item(depth + 1)
            if (it === BREAK) break
            out.push(it)
          }
        } else {
          for (let i = 0; i < n; i++) out.push(this.itemNoBreak(depth + 1))
        }
        return out
      }
      case 5: {
        const n = this.len(info, 'map')
        const out: CborMap = new Map()
        const readPair = (k: CborValue) => {
          if (typeof k !== 'string' && typeof k !== 'number') throw cborError(`unsupported map key type at offset ${start}`)
          out.set(k, this.itemNoBreak(depth + 1))
        }
        if (n === null) {
          for (;;) {
            const k = this.item(depth + 1)
            if (k === BREAK) break
            readPair(k)
          }
        } else {
          for (let i = 0; i < n; i++) readPair(this.itemNoBreak(depth + 1))
        }
        return out
      }
      case 6: {
        const tag = this.arg(info)
        if (tag === null || typeof tag === 'bigint') throw cborError(`bad tag at offset ${start}`)
        return new CborTagged(tag, this.itemNoBreak(depth + 1))
      }
      default: {
        if (info === 20) return false
        if (info === 21) return true
        if (info === 22) return null
        if (info === 23) return undefined
        if (info === 31) return BREAK
        const dv = new DataView(this.b.buffer, this.b.byteOffset, this.b.byteLength)
        if (info === 25) {
          this.need(2)
          const h = dv.getUint16(this.pos)
          this.pos += 2
          return halfToNumber(h)
        }
        if (info === 26) {
          this.need(4)
          const v = dv.getFloat32(this.pos)
          this.pos += 4
          return v
        }
        if (info === 27) {
          this.need(8)
          const v = dv.getFloat64(this.pos)
          this.pos += 8
          return v
        }
        if (info === 24) {
          this.u8()
          return undefined
        }
        return undefined
      }
    }
  }

  itemNoBreak(depth: number): CborValue {
    const it = this.item(depth)
    if (it === BREAK) throw cborError(`unexpected break at offset ${this.pos - 1}`)
    return it
  }
}

function halfToNumber(h: number): number {
  const exp = (h >> 10) & 0x1f
  const mant = h & 0x3ff
  const sign = h & 0x8000 ? -1 : 1
  if (exp === 0) return sign * mant * 2 ** -24
  if (exp === 31) return mant ? NaN : sign * Infinity
  return sign * (mant + 1024) * 2 ** (exp - 25)
}

/** Decodes exactly one CBOR item; trailing bytes are an error (as in Anjay and FCC). Maps decode as `Map`. */
export function decodeCbor(bytes: Uint8Array): CborValue {
  const r = new Reader(bytes)
  const v = r.itemNoBreak(0)
  if (r.pos !== bytes.length) throw cborError(`${bytes.length - r.pos} trailing byte(s) after the CBOR item`)
  return v
}

/** Decodes one CBOR item from the start of `bytes` and reports how many bytes it used. */
export function decodeCborPrefix(bytes: Uint8Array): { value: CborValue; length: number } {
  const r = new Reader(bytes)
  const value = r.itemNoBreak(0)
  return { value, length: r.pos }
}

/** Converts decoded maps (recursively) to plain objects with string keys, for JSON-ish consumers. */
export function cborToPlain(v: CborValue): unknown {
  if (v instanceof Map) {
    const o: Record<string, unknown> = {}
    for (const [k, item] of v) o[String(k)] = cborToPlain(item)
    return o
  }
  if (Array.isArray(v)) return v.map(cborToPlain)
  if (v instanceof CborTagged) return { tag: v.tag, value: cborToPlain(v.value) }
  return v
}
