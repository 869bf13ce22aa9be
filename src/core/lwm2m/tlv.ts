/**
 * OMA-TLV (LwM2M content-format 11542; OMA-TS-LightweightM2M-Core 1.1 §7.4.3 "TLV").
 *
 * Each entry: a type byte, an 8- or 16-bit identifier, an optional 8/16/24-bit length, then the value.
 *   type bits 7-6  00 Object Instance (value = nested TLVs)      01 Resource Instance (value)
 *                  10 Multiple Resource (value = resource instance TLVs)   11 Resource with value
 *   bit 5          identifier length: 0 = 8 bits, 1 = 16 bits
 *   bits 4-3       length field: 00 none (length is bits 2-0), 01 = 8 bits, 10 = 16 bits, 11 = 24 bits
 *   bits 2-0       the value length when bits 4-3 are 00 (0..7)
 * The encoder always uses the shortest identifier and length forms; the decoder accepts any valid form.
 *
 * Values (§7.4.3 + Appendix C): String UTF-8; Integer/Time 1, 2, 4 or 8 bytes two's complement, big-endian;
 * Unsigned 1, 2, 4 or 8 bytes unsigned; Boolean 1 byte 0/1; Opaque raw bytes; Objlnk 2+2 bytes.
 *
 * A TLV payload carries no object ID, so a configuration travels as two payloads: one for a Write to /0 and
 * one for a Write to /1 (`encodeConfigTlv`).
 */
import { LwprovError } from '../errors.js'
import {
  type Lwm2mConfig,
  type ResourceValue,
  type SecurityInstance,
  type ServerInstance,
  instanceFromResources,
  instanceResources,
} from './model.js'
import { OBJECT, type ResourceType, resourceDef } from './objects.js'

/** LwM2M content-format number of OMA-TLV. */
export const TLV_CONTENT_FORMAT = 11542

/** One TLV entry. Object instances and multiple resources nest; resources and resource instances hold bytes. */
export type TlvEntry =
  | { type: 'objectInstance'; id: number; children: TlvEntry[] }
  | { type: 'multipleResource'; id: number; children: TlvEntry[] }
  | { type: 'resource'; id: number; value: Uint8Array }
  | { type: 'resourceInstance'; id: number; value: Uint8Array }

const TYPE_BITS = { objectInstance: 0b00, resourceInstance: 0b01, multipleResource: 0b10, resource: 0b11 } as const
const TYPE_NAMES = ['objectInstance', 'resourceInstance', 'multipleResource', 'resource'] as const
const MAX_LEN = 0xffffff

const tlvError = (where: string, reason: string) =>
  new LwprovError('E_TLV_INVALID', `OMA-TLV ${where ? `at ${where}: ` : ''}${reason}`, {
    hint: 'The bytes are not the OMA-TLV (content-format 11542) expected; check the sender.',
    exit: 'device',
    details: { where, reason },
  })

function entryLength(e: TlvEntry): number {
  const n = 'value' in e ? e.value.length : e.children.reduce((s, c) => s + entryLength(c), 0)
  return headerLength(e.id, n) + n
}

const headerLength = (id: number, n: number) => 1 + (id > 0xff ? 2 : 1) + (n < 8 ? 0 : n <= 0xff ? 1 : n <= 0xffff ? 2 : 3)

function writeEntry(out: Buffer, pos: number, e: TlvEntry): number {
  if (!Number.isInteger(e.id) || e.id < 0 || e.id > 0xffff) throw tlvError('', `identifier ${e.id} is not 0..65535`)
  const n = 'value' in e ? e.value.length : e.children.reduce((s, c) => s + entryLength(c), 0)
  if (n > MAX_LEN) throw tlvError(`id ${e.id}`, `value of ${n} bytes exceeds the 24-bit length field`)
  const wide = e.id > 0xff
  const lenType = n < 8 ? 0 : n <= 0xff ? 1 : n <= 0xffff ? 2 : 3
  out[pos++] = (TYPE_BITS[e.type] << 6) | ((wide ? 1 : 0) << 5) | (lenType << 3) | (lenType === 0 ? n : 0)
  if (wide) out[pos++] = e.id >> 8
  out[pos++] = e.id & 0xff
  if (lenType === 3) out[pos++] = n >> 16
  if (lenType >= 2) out[pos++] = (n >> 8) & 0xff
  if (lenType >= 1) out[pos++] = n & 0xff
  if ('value' in e) {
    out.set(e.value, pos)
    pos += n
  } else {
    for (const c of e.children) pos = writeEntry(out, pos, c)
  }
  return pos
}

/** Encodes a sequence of TLV entries (shortest identifier and length forms). */
export function encodeTlv(entries: readonly TlvEntry[]): Buffer {
  const total = entries.reduce((s, e) => s + entryLength(e), 0)
  const out = Buffer.alloc(total)
  let pos = 0
  for (const e of entries) pos = writeEntry(out, pos, e)
  return out
}

/**
 * Decodes a TLV payload. Structure is checked: object instances hold resources / multiple resources, multiple
 * resources hold resource instances, lengths fit the input. Throws `E_TLV_INVALID`.
 */
export function decodeTlv(bytes: Uint8Array): TlvEntry[] {
  return decodeLevel(bytes, 0, bytes.length, 'top')
}

function decodeLevel(b: Uint8Array, start: number, end: number, level: 'top' | 'objectInstance' | 'multipleResource'): TlvEntry[] {
  const out: TlvEntry[] = []
  let pos = start
  while (pos < end) {
    const at = `offset ${pos}`
    const t = b[pos++]!
    const type = TYPE_NAMES[t >> 6]!
    const idLen = t & 0x20 ? 2 : 1
    const lenType = (t >> 3) & 0b11
    if (pos + idLen + lenType > end) throw tlvError(at, 'truncated header')
    let id = b[pos++]!
    if (idLen === 2) id = (id << 8) | b[pos++]!
    let n = t & 0b111
    if (lenType !== 0) {
      n = 0
      for (let i = 0; i < lenType; i++) n = (n << 8) | b[pos++]!
    }
    if (pos + n > end) throw tlvError(at, `${type} ${id} claims ${n} bytes but only ${end - pos} remain`)
    if (level === 'objectInstance' && type !== 'resource' && type !== 'multipleResource')
      throw tlvError(at, `an object instance may hold resources only, found ${type} ${id}`)
    if (level === 'multipleResource' && type !== 'resourceInstance')
      throw tlvError(at, `a multiple resource may hold resource instances only, found ${type} ${id}`)
    if (type === 'objectInstance' || type === 'multipleResource') {
      out.push({ type, id, children: decodeLevel(b, pos, pos + n, type) })
    } else {
      out.push({ type, id, value: Buffer.from(b.subarray(pos, pos + n)) })
    }
    pos += n
  }
  return out
}

// ---- typed values -------------------------------------------------------------------------------------------

/** Encodes one resource value per its LwM2M type (shortest integer width). */
export function encodeTlvValue(type: ResourceType, v: ResourceValue): Uint8Array {
  switch (type) {
    case 'string':
      if (typeof v !== 'string') break
      return Buffer.from(v, 'utf8')
    case 'boolean':
      if (typeof v !== 'boolean') break
      return Buffer.from([v ? 1 : 0])
    case 'opaque':
      if (!(v instanceof Uint8Array)) break
      return v
    case 'integer':
    case 'time':
    case 'unsigned': {
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) break
      const signed = type !== 'unsigned'
      if (!signed && v < 0) throw tlvError('', `unsigned value ${v} is negative`)
      for (const w of [1, 2, 4] as const) {
        const lim = 2 ** (8 * w - (signed ? 1 : 0))
        if (signed ? v >= -lim && v < lim : v < lim) {
          const b = Buffer.alloc(w)
          if (signed) b.writeIntBE(v, 0, w)
          else b.writeUIntBE(v, 0, w)
          return b
        }
      }
      const b = Buffer.alloc(8)
      if (signed) b.writeBigInt64BE(BigInt(v))
      else b.writeBigUInt64BE(BigInt(v))
      return b
    }
    default:
      break
  }
  throw tlvError('', `cannot encode ${typeof v} as ${type}`)
}

/** Decodes one resource value per its LwM2M type. Integers wider than 2^53 are refused. */
export function decodeTlvValue(type: ResourceType, b: Uint8Array, where = ''): ResourceValue {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  switch (type) {
    case 'string':
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(b)
      } catch {
        throw tlvError(where, 'string is not valid UTF-8')
      }
    case 'boolean':
      if (b.length !== 1 || b[0]! > 1) throw tlvError(where, 'boolean must be one byte 0 or 1')
      return b[0] === 1
    case 'opaque':
      return Buffer.from(b)
    case 'integer':
    case 'time':
    case 'unsigned': {
      const signed = type !== 'unsigned'
      if (b.length === 1 || b.length === 2 || b.length === 4) return signed ? buf.readIntBE(0, b.length) : buf.readUIntBE(0, b.length)
      if (b.length === 8) {
        const big = signed ? buf.readBigInt64BE(0) : buf.readBigUInt64BE(0)
        if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) throw tlvError(where, `integer ${big} is too large`)
        return Number(big)
      }
      throw tlvError(where, `integer of ${b.length} bytes (must be 1, 2, 4 or 8)`)
    }
    default:
      throw tlvError(where, `resource type ${type} is not supported`)
  }
}

// ---- configurations -----------------------------------------------------------------------------------------

function instanceEntry(oid: 0 | 1, inst: SecurityInstance | ServerInstance): TlvEntry {
  return {
    type: 'objectInstance',
    id: inst.iid,
    children: instanceResources(oid, inst).map(([rid, v]) => ({ type: 'resource', id: rid, value: encodeTlvValue(resourceDef(oid, rid)!.type, v) })),
  }
}

/** TLV of all instances of one object (the payload of a Write to /0 or /1), instances by ascending IID. */
export function encodeObjectTlv(cfg: Lwm2mConfig, oid: 0 | 1): Buffer {
  const list: (SecurityInstance | ServerInstance)[] = oid === OBJECT.security ? [...cfg.security] : [...cfg.server]
  list.sort((a, b) => a.iid - b.iid)
  return encodeTlv(list.map((i) => instanceEntry(oid, i)))
}

/** A configuration as two TLV payloads: a Write to /0 and a Write to /1. */
export function encodeConfigTlv(cfg: Lwm2mConfig): { security: Buffer; server: Buffer } {
  return { security: encodeObjectTlv(cfg, 0), server: encodeObjectTlv(cfg, 1) }
}

/** Decodes the TLV payload of a Write to /0 or /1 into typed instances (same rules as the SenML decoder). */
export function decodeObjectTlv(oid: 0, bytes: Uint8Array): SecurityInstance[]
export function decodeObjectTlv(oid: 1, bytes: Uint8Array): ServerInstance[]
export function decodeObjectTlv(oid: 0 | 1, bytes: Uint8Array): (SecurityInstance | ServerInstance)[] {
  const fail = (path: string, reason: string): never => {
    throw tlvError(path, reason)
  }
  const seen = new Set<number>()
  const out: (SecurityInstance | ServerInstance)[] = []
  for (const e of decodeTlv(bytes)) {
    if (e.type !== 'objectInstance') throw tlvError(`/${oid}`, `a Write to an object carries object instances, found ${e.type} ${e.id}`)
    if (seen.has(e.id)) throw tlvError(`/${oid}/${e.id}`, 'instance appears twice')
    seen.add(e.id)
    const res = new Map<number, ResourceValue>()
    for (const r of e.children) {
      const path = `/${oid}/${e.id}/${r.id}`
      const d = resourceDef(oid, r.id)
      if (!d) throw tlvError(path, `unknown resource ${r.id} of object ${oid}`)
      if (!d.supported) throw tlvError(path, `${d.name} is not supported by the client`)
      if (r.type !== 'resource') throw tlvError(path, `${d.name} is a single-instance resource, found a multiple resource`)
      if (res.has(r.id)) throw tlvError(path, 'resource appears twice in one instance')
      res.set(r.id, decodeTlvValue(d.type, r.value, path))
    }
    out.push(oid === OBJECT.security ? instanceFromResources(0, e.id, res, fail) : instanceFromResources(1, e.id, res, fail))
  }
  return out.sort((a, b) => a.iid - b.iid)
}

/** Inverse of `encodeConfigTlv`. */
export function decodeConfigTlv(p: { security: Uint8Array; server: Uint8Array }): Lwm2mConfig {
  return { security: decodeObjectTlv(0, p.security), server: decodeObjectTlv(1, p.server) }
}
