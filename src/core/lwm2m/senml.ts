/**
 * LwM2M SenML-CBOR (content-format 112, RFC 8428 §6) for the factory "local bootstrap write" of /0 and /1.
 *
 * Encoder: the canonical byte form of vectors/senml README — a definite-length array of definite-length maps
 * `{0: "/O/I/R", label: value}`, `n` first, no `bn`, /0 instances before /1, instances by ascending IID,
 * resources by ascending RID, the value label chosen by the resource type (vs / vb / v / vd).
 *
 * Decoder: accepts what Anjay 3.x's factory provisioning accepts (bn carried forward, any record or key order,
 * a repeated path = the last write wins, indefinite lengths) and rejects what it rejects (unknown labels including
 * bt/t, a value label that does not match the resource type, relative/object/instance paths, resources the client
 * does not implement, missing mandatory resources, trailing bytes), with `E_SENML_INVALID` naming path and reason.
 */
import { type CborMap, type CborValue, decodeCbor, encodeCbor } from '../cbor.js'
import { LwprovError } from '../errors.js'
import {
  type Lwm2mConfig,
  type ResourceValue,
  type SecurityInstance,
  type ServerInstance,
  clientRejections,
  instanceFromResources,
  instanceResources,
} from './model.js'
import { OBJECT, type ResourceType, resourceDef } from './objects.js'

/** SenML labels (RFC 8428 Table 4) that LwM2M uses, plus the LwM2M object-link label. */
export const SENML_LABEL = { bn: -2, n: 0, v: 2, vs: 3, vb: 4, vd: 8, vlo: 'vlo' } as const
type ValueLabel = 2 | 3 | 4 | 8 | 'vlo'

const LABEL_NAME: Record<string, string> = {
  '-1': 'bver',
  '-2': 'bn',
  '-3': 'bt',
  '-4': 'bu',
  '-5': 'bv',
  '-6': 'bs',
  '0': 'n',
  '1': 'u',
  '2': 'v',
  '3': 'vs',
  '4': 'vb',
  '5': 's',
  '6': 't',
  '7': 'ut',
  '8': 'vd',
  vlo: 'vlo',
}
const labelName = (k: string | number) => LABEL_NAME[String(k)] ?? JSON.stringify(k)

/** The value label a resource of this type must use. */
export function senmlLabelFor(type: ResourceType): ValueLabel | undefined {
  switch (type) {
    case 'string':
      return 3
    case 'boolean':
      return 4
    case 'integer':
    case 'unsigned':
    case 'time':
      return 2
    case 'opaque':
      return 8
    case 'objlnk':
      return 'vlo'
    default:
      return undefined
  }
}

const byIid = <T extends { iid: number }>(list: readonly T[]): readonly T[] => {
  for (let i = 1; i < list.length; i++) if (list[i - 1]!.iid > list[i]!.iid) return [...list].sort((a, b) => a.iid - b.iid)
  return list
}

// Paths are few and repeat across a batch; caching them avoids building 10 strings per device.
const pathCache = new Map<number, string>()
function pathOf(oid: number, iid: number, rid: number): string {
  const key = (oid * 65536 + iid) * 65536 + rid
  let p = pathCache.get(key)
  if (p === undefined) {
    p = `/${oid}/${iid}/${rid}`
    if (pathCache.size < 4096) pathCache.set(key, p)
  }
  return p
}

/** The canonical record list (as CBOR maps) of a configuration. */
export function senmlRecords(cfg: Lwm2mConfig): CborMap[] {
  const out: CborMap[] = []
  const push = (oid: 0 | 1, inst: SecurityInstance | ServerInstance) => {
    for (const [rid, value] of instanceResources(oid, inst)) {
      const label = senmlLabelFor(resourceDef(oid, rid)!.type)!
      out.push(
        new Map<string | number, CborValue>([
          [0, pathOf(oid, inst.iid, rid)],
          [label, value],
        ]),
      )
    }
  }
  for (const s of byIid(cfg.security)) push(OBJECT.security, s)
  for (const s of byIid(cfg.server)) push(OBJECT.server, s)
  return out
}

/**
 * Reference encoder: `encodeCbor(senmlRecords(cfg))`. `encodeSenmlCbor` produces the same bytes faster; the unit
 * tests hold the two equal.
 */
export function encodeSenmlCborReference(cfg: Lwm2mConfig): Buffer {
  return encodeCbor(senmlRecords(cfg))
}

// Fast path. A batch encodes the same ten paths for every device, so each record's fixed head
// (map(2), key 0, text path, value label) is cached as bytes; only the values are encoded per device.
// The layout is exactly what encodeCbor emits for {0: path, label: value}: definite lengths, shortest heads.
const headCache = new Map<number, Buffer>()
function recordHead(oid: number, iid: number, rid: number, label: ValueLabel): Buffer {
  const key = ((oid * 65536 + iid) * 65536 + rid) * 16 + (label === 'vlo' ? 15 : label)
  let h = headCache.get(key)
  if (h === undefined) {
    const full = encodeCbor(new Map<string | number, CborValue>([[0, pathOf(oid, iid, rid)], [label, 0]]))
    h = full.subarray(0, full.length - 1) // drop the placeholder value 0x00
    if (headCache.size < 4096) headCache.set(key, h)
  }
  return h
}

const headLen = (n: number) => (n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9)

function writeHead(b: Buffer, pos: number, major: number, n: number): number {
  const m = major << 5
  if (n < 24) b[pos++] = m | n
  else if (n < 0x100) {
    b[pos++] = m | 24
    b[pos++] = n
  } else if (n < 0x10000) {
    b[pos++] = m | 25
    b.writeUInt16BE(n, pos)
    pos += 2
  } else if (n < 0x100000000) {
    b[pos++] = m | 26
    b.writeUInt32BE(n, pos)
    pos += 4
  } else {
    b[pos++] = m | 27
    b.writeBigUInt64BE(BigInt(n), pos)
    pos += 8
  }
  return pos
}

/** Encodes a configuration as canonical LwM2M SenML-CBOR (byte-identical to the vectors/senml payloads). */
export function encodeSenmlCbor(cfg: Lwm2mConfig): Buffer {
  const heads: Buffer[] = []
  const values: ResourceValue[] = []
  const lens: number[] = []
  let size = 0
  const collect = (oid: 0 | 1, inst: SecurityInstance | ServerInstance) => {
    for (const [rid, value] of instanceResources(oid, inst)) {
      const d = resourceDef(oid, rid)!
      const label = senmlLabelFor(d.type)!
      if (label === 'vlo' || (typeof value === 'number' && !Number.isSafeInteger(value))) return false
      const h = recordHead(oid, inst.iid, rid, label)
      let n: number
      if (typeof value === 'string') {
        const bl = Buffer.byteLength(value, 'utf8')
        lens.push(bl)
        n = headLen(bl) + bl
      } else if (typeof value === 'boolean') {
        lens.push(0)
        n = 1
      } else if (typeof value === 'number') {
        lens.push(0)
        n = headLen(value < 0 ? -1 - value : value)
      } else {
        lens.push(value.length)
        n = headLen(value.length) + value.length
      }
      heads.push(h)
      values.push(value)
      size += h.length + n
    }
    return true
  }
  for (const s of byIid(cfg.security)) if (!collect(OBJECT.security, s)) return encodeSenmlCborReference(cfg)
  for (const s of byIid(cfg.server)) if (!collect(OBJECT.server, s)) return encodeSenmlCborReference(cfg)
  const out = Buffer.allocUnsafe(headLen(heads.length) + size)
  let pos = writeHead(out, 0, 4, heads.length)
  for (let i = 0; i < heads.length; i++) {
    const h = heads[i]!
    h.copy(out, pos)
    pos += h.length
    const v = values[i]!
    if (typeof v === 'string') {
      pos = writeHead(out, pos, 3, lens[i]!)
      pos += out.write(v, pos, 'utf8')
    } else if (typeof v === 'boolean') {
      out[pos++] = v ? 0xf5 : 0xf4
    } else if (typeof v === 'number') {
      pos = v >= 0 ? writeHead(out, pos, 0, v) : writeHead(out, pos, 1, -1 - v)
    } else {
      pos = writeHead(out, pos, 2, v.length)
      out.set(v, pos)
      pos += v.length
    }
  }
  return out
}

const senmlError = (path: string, reason: string, cause?: unknown) =>
  new LwprovError('E_SENML_INVALID', `SenML-CBOR payload rejected${path ? ` at ${path}` : ''}: ${reason}`, {
    hint: 'Use one array of maps {0: "/O/I/R", v|vs|vb|vd: value} with the value label of the resource type, absolute resource paths, and only resources the client implements.',
    exit: 'device',
    cause,
    details: { path, reason },
  })

const PATH_RE = /^\/(\d{1,5})\/(\d{1,5})\/(\d{1,5})(?:\/(\d{1,5}))?$/

function parsePath(path: string, where: string): { oid: number; iid: number; rid: number; riid?: number } {
  const m = PATH_RE.exec(path)
  if (!m) {
    if (path === '') throw senmlError(where, 'record has no name (n) and no base name (bn)')
    if (!path.startsWith('/')) throw senmlError(path, 'relative path; names must be absolute ("/0/1/0"), directly or through bn')
    if (/^\/\d+(?:\/\d+)?\/?$/.test(path)) throw senmlError(path, 'object or instance path; every record must address a resource /O/I/R')
    throw senmlError(path, 'not a resource path /O/I/R or /O/I/R/RI of decimal IDs')
  }
  const ids = [m[1], m[2], m[3], m[4]].map((x) => (x === undefined ? undefined : Number(x)))
  if (ids.some((x) => x !== undefined && x >= 65535)) throw senmlError(path, 'IDs must be below 65535')
  return { oid: ids[0]!, iid: ids[1]!, rid: ids[2]!, ...(ids[3] === undefined ? {} : { riid: ids[3] }) }
}

function checkValue(path: string, name: string, type: ResourceType, label: ValueLabel, value: CborValue): ResourceValue {
  const expected = senmlLabelFor(type)
  if (label !== expected) {
    const got = value instanceof Uint8Array ? 'a byte string' : typeof value === 'boolean' ? 'a boolean' : typeof value === 'string' ? 'text' : 'a number'
    throw senmlError(path, `${name} is ${type}: its value goes under ${labelName(expected!)}, not ${labelName(label)} (${got})`)
  }
  switch (label) {
    case 2:
      if (typeof value === 'bigint') throw senmlError(path, `${name} ${value} is out of range`)
      if (typeof value !== 'number' || !Number.isInteger(value)) throw senmlError(path, `${name} (v) must be a CBOR integer`)
      return value
    case 3:
      if (typeof value !== 'string') throw senmlError(path, `${name} (vs) must be a CBOR text string`)
      return value
    case 4:
      if (typeof value !== 'boolean') throw senmlError(path, `${name} (vb) must be CBOR true or false`)
      return value
    case 8:
      if (!(value instanceof Uint8Array)) throw senmlError(path, `${name} (vd) must be a CBOR byte string`)
      return value
    default:
      throw senmlError(path, `${name}: object links are not supported`)
  }
}

/**
 * Decodes a LwM2M SenML-CBOR payload into a configuration, accepting and rejecting what an Anjay-class factory
 * provisioning client does. Throws `E_SENML_INVALID` naming the path and the reason.
 * The result passes `clientRejections`; pairing problems (e.g. a direct account without /1, vector 08) are left to
 * `validateLwm2mConfig`, because the client accepts them.
 */
export function decodeSenmlCbor(buf: Uint8Array): Lwm2mConfig {
  let top: CborValue
  try {
    top = decodeCbor(buf)
  } catch (e) {
    throw senmlError('', `not a single CBOR item: ${e instanceof Error ? e.message : String(e)}`, e)
  }
  if (!Array.isArray(top)) throw senmlError('', 'the payload must be a CBOR array of records')

  type Inst = { oid: 0 | 1; iid: number; res: Map<number, ResourceValue> }
  const instances = new Map<number, Inst>()
  let bn = ''
  top.forEach((rec, i) => {
    const where = `record ${i}`
    if (!(rec instanceof Map)) throw senmlError(where, 'each record must be a CBOR map')
    let name: string | undefined
    let label: ValueLabel | undefined
    let value: CborValue = undefined
    for (const [k, v] of rec) {
      if (k === -2) {
        if (typeof v !== 'string') throw senmlError(where, 'bn must be a text string')
        bn = v // in force for this and every later record (RFC 8428 §4.5.1)
      } else if (k === 0) {
        if (typeof v !== 'string') throw senmlError(where, 'n must be a text string')
        name = v
      } else if (k === 2 || k === 3 || k === 4 || k === 8 || k === 'vlo') {
        if (label !== undefined) throw senmlError(where, `two values (${labelName(label)} and ${labelName(k)}) in one record`)
        label = k
        value = v
      } else {
        throw senmlError(where, `unsupported SenML label ${labelName(k)}; only bn, n, v, vs, vb, vd and vlo are accepted`)
      }
    }
    const path = bn + (name ?? '')
    const { oid, iid, rid, riid } = parsePath(path, where)
    if (oid !== OBJECT.security && oid !== OBJECT.server)
      throw senmlError(path, `object ${oid} is not part of a factory configuration (only /0 Security and /1 Server)`)
    const d = resourceDef(oid, rid)
    if (!d) throw senmlError(path, `unknown resource ${rid} of object ${oid}`)
    if (!d.supported) throw senmlError(path, `${d.name} is not supported by the client; a write of it fails the whole payload`)
    if (riid !== undefined && !d.multiple) throw senmlError(path, `${d.name} is a single-instance resource; no resource instance allowed`)
    if (label === undefined) throw senmlError(path, 'record has no value (v, vs, vb or vd)')
    const val = checkValue(path, d.name, d.type, label, value)
    const key = oid * 65536 + iid
    let inst = instances.get(key)
    if (!inst) instances.set(key, (inst = { oid, iid, res: new Map() }))
    inst.res.set(rid, val)
  })

  const fail = (path: string, reason: string): never => {
    throw senmlError(path, reason)
  }
  const cfg: Lwm2mConfig = { security: [], server: [] }
  for (const inst of instances.values()) {
    if (inst.oid === OBJECT.security) cfg.security.push(instanceFromResources(0, inst.iid, inst.res, fail))
    else cfg.server.push(instanceFromResources(1, inst.iid, inst.res, fail))
  }
  cfg.security.sort((a, b) => a.iid - b.iid)
  cfg.server.sort((a, b) => a.iid - b.iid)
  const rejected = clientRejections(cfg)[0]
  if (rejected) throw senmlError(rejected.path, rejected.reason)
  return cfg
}
