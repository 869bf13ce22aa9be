/**
 * lwprov message payloads (docs/protocol.md §4): encoders and decoders for the payload of each frame type.
 * Decoders throw `MessageError` on a malformed payload; the protocol layer turns that into `E_DEVICE_GARBAGE`.
 */
import { PROTOCOL_VERSION } from './codec.js'

export class MessageError extends Error {
  override name = 'MessageError'
}

/** Capability bits in HELLO tag 0x03. */
export const Capability = {
  senmlCbor: 1 << 0,
  tlv: 1 << 1,
  keygen: 1 << 2,
} as const
const CAPABILITY_NAMES: [number, string][] = [
  [Capability.senmlCbor, 'senml-cbor'],
  [Capability.tlv, 'tlv'],
  [Capability.keygen, 'keygen'],
]

export function capabilityNames(bits: number): string[] {
  return CAPABILITY_NAMES.filter(([b]) => (bits & b) !== 0).map(([, n]) => n)
}

export function capabilityBits(names: readonly string[]): number {
  return CAPABILITY_NAMES.filter(([, n]) => names.includes(n)).reduce((a, [b]) => a | b, 0)
}

/** Payload formats named in BEGIN. */
export const PayloadFormat = { senmlCbor: 1, tlv: 2 } as const

/** BEGIN flag bits. */
export const BeginFlag = {
  /** The security instance's private key is the one made by KEYGEN in this session (/0/x/5 is absent or empty). */
  useGeneratedKey: 1 << 0,
} as const

/** Device error codes carried in ERROR frames. */
export const DeviceErrorCode = {
  BAD_STATE: 1,
  BAD_MESSAGE: 2,
  TOO_LARGE: 3,
  BAD_OFFSET: 4,
  DIGEST_MISMATCH: 5,
  STORE_FAILED: 6,
  REFUSED: 7,
  UNSUPPORTED: 8,
  KEYGEN_FAILED: 9,
  VERSION: 10,
  NOTHING_STORED: 11,
  /** v2: the device cannot compute a proof (no credential stored, or a NoSec configuration). */
  NO_CREDENTIAL: 12,
} as const

export function deviceErrorName(code: number): string {
  for (const [k, v] of Object.entries(DeviceErrorCode)) if (v === code) return k
  return `code ${code}`
}

/** HELLO / IDENTITY / BOOT TLV tags. */
export const HelloTag = {
  version: 0x01,
  maxFrame: 0x02,
  capabilities: 0x03,
  capacity: 0x04,
  serial: 0x10,
  imei: 0x11,
  mac: 0x12,
  model: 0x13,
  firmware: 0x14,
} as const

/** What a device's IDENTITY (answer to HELLO) or BOOT frame says. */
export interface DeviceHello {
  version: number
  maxFrame: number
  capabilities: number
  /** Largest payload (BEGIN total) the device can store, bytes; 0 = not stated. */
  capacity: number
  serial?: string
  imei?: string
  mac?: string
  model?: string
  firmware?: string
}

function tlv(tag: number, value: Uint8Array): Buffer {
  if (value.length > 255) throw new RangeError(`lwprov TLV value for tag ${tag} longer than 255 bytes`)
  return Buffer.concat([Buffer.from([tag, value.length]), value])
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return b
}

export function parseTlv(p: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>()
  let i = 0
  while (i < p.length) {
    if (i + 2 > p.length) throw new MessageError('truncated TLV header')
    const tag = p[i]!
    const len = p[i + 1]!
    if (i + 2 + len > p.length) throw new MessageError(`TLV tag 0x${tag.toString(16)} overruns the payload`)
    out.set(tag, p.subarray(i + 2, i + 2 + len))
    i += 2 + len
  }
  return out
}

/** Host HELLO: the highest protocol version the host speaks and the largest frame payload it accepts. */
export function encodeHostHello(maxFrame: number, version: number = PROTOCOL_VERSION): Buffer {
  return Buffer.concat([tlv(HelloTag.version, Buffer.from([version])), tlv(HelloTag.maxFrame, u16(maxFrame))])
}

/** The version a host offers in its HELLO (tag 0x01); hosts that omit it speak version 1. */
export function decodeHostHelloVersion(p: Buffer): number {
  const v = parseTlv(p).get(HelloTag.version)
  if (v === undefined || v.length !== 1) return 1
  return v[0]!
}

export function encodeDeviceHello(h: DeviceHello): Buffer {
  const parts = [
    tlv(HelloTag.version, Buffer.from([h.version])),
    tlv(HelloTag.maxFrame, u16(h.maxFrame)),
    tlv(HelloTag.capabilities, u32(h.capabilities)),
    tlv(HelloTag.capacity, u32(h.capacity)),
  ]
  const text: [number, string | undefined][] = [
    [HelloTag.serial, h.serial],
    [HelloTag.imei, h.imei],
    [HelloTag.mac, h.mac],
    [HelloTag.model, h.model],
    [HelloTag.firmware, h.firmware],
  ]
  for (const [tag, v] of text) if (v !== undefined && v !== '') parts.push(tlv(tag, Buffer.from(v, 'utf8')))
  return Buffer.concat(parts)
}

export function decodeDeviceHello(p: Buffer): DeviceHello {
  const t = parseTlv(p)
  const num = (tag: number, size: 1 | 2 | 4, required: boolean): number => {
    const v = t.get(tag)
    if (v === undefined) {
      if (required) throw new MessageError(`HELLO lacks tag 0x${tag.toString(16)}`)
      return 0
    }
    if (v.length !== size) throw new MessageError(`HELLO tag 0x${tag.toString(16)} has ${v.length} bytes, expected ${size}`)
    return size === 1 ? v[0]! : size === 2 ? v.readUInt16BE(0) : v.readUInt32BE(0)
  }
  const str = (tag: number): string | undefined => {
    const v = t.get(tag)
    return v === undefined || v.length === 0 ? undefined : v.toString('utf8')
  }
  const h: DeviceHello = {
    version: num(HelloTag.version, 1, true),
    maxFrame: num(HelloTag.maxFrame, 2, true),
    capabilities: num(HelloTag.capabilities, 4, false),
    capacity: num(HelloTag.capacity, 4, false),
  }
  const serial = str(HelloTag.serial)
  const imei = str(HelloTag.imei)
  const mac = str(HelloTag.mac)
  const model = str(HelloTag.model)
  const firmware = str(HelloTag.firmware)
  return {
    ...h,
    ...(serial === undefined ? {} : { serial }),
    ...(imei === undefined ? {} : { imei }),
    ...(mac === undefined ? {} : { mac }),
    ...(model === undefined ? {} : { model }),
    ...(firmware === undefined ? {} : { firmware }),
  }
}

export interface Begin {
  total: number
  sha256: Buffer
  format: number
  flags: number
}

export function encodeBegin(b: Begin): Buffer {
  if (b.sha256.length !== 32) throw new RangeError('BEGIN digest must be 32 bytes')
  return Buffer.concat([u32(b.total), b.sha256, Buffer.from([b.format, b.flags])])
}

export function decodeBegin(p: Buffer): Begin {
  if (p.length !== 38) throw new MessageError(`BEGIN payload is ${p.length} bytes, expected 38`)
  return { total: p.readUInt32BE(0), sha256: Buffer.from(p.subarray(4, 36)), format: p[36]!, flags: p[37]! }
}

export function encodeData(offset: number, chunk: Uint8Array): Buffer {
  return Buffer.concat([u32(offset), chunk])
}

export function decodeData(p: Buffer): { offset: number; chunk: Buffer } {
  if (p.length < 4) throw new MessageError('DATA payload shorter than its offset')
  return { offset: p.readUInt32BE(0), chunk: p.subarray(4) }
}

/** ACK payload: the acknowledged frame type, then type-specific data (DATA: u32 bytes staged; KEYGEN: u16 CSR length). */
export function encodeAck(ackedType: number, data: Uint8Array = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([ackedType]), data])
}

export function decodeAck(p: Buffer): { ackedType: number; data: Buffer } {
  if (p.length < 1) throw new MessageError('empty ACK payload')
  return { ackedType: p[0]!, data: p.subarray(1) }
}

/** NAK payload: reason (1 = bad CRC, 2 = bad header, 3 = too long). */
export const NakReason = { crc: 1, header: 2, length: 3 } as const

export function encodeError(code: number, text: string): Buffer {
  return Buffer.concat([u16(code), Buffer.from(text.slice(0, 200), 'utf8')])
}

export function decodeError(p: Buffer): { code: number; text: string } {
  if (p.length < 2) throw new MessageError('ERROR payload shorter than its code')
  return { code: p.readUInt16BE(0), text: p.subarray(2).toString('utf8') }
}

export function encodeDigest(sha256: Uint8Array, storedLength: number): Buffer {
  return Buffer.concat([sha256, u32(storedLength)])
}

export function decodeDigest(p: Buffer): { sha256: Buffer; storedLength: number } {
  if (p.length !== 36) throw new MessageError(`DIGEST payload is ${p.length} bytes, expected 36`)
  return { sha256: Buffer.from(p.subarray(0, 32)), storedLength: p.readUInt32BE(32) }
}

/** KEYGEN key types. */
export const KeyType = { ecP256: 1 } as const

export function encodeKeygen(keyType: number, commonName: string): Buffer {
  return Buffer.concat([Buffer.from([keyType]), Buffer.from(commonName, 'utf8')])
}

export function decodeKeygen(p: Buffer): { keyType: number; commonName: string } {
  if (p.length < 2) throw new MessageError('KEYGEN payload lacks a common name')
  return { keyType: p[0]!, commonName: p.subarray(1).toString('utf8') }
}

export function encodeCsrRead(offset: number, length: number): Buffer {
  return Buffer.concat([u16(offset), u16(length)])
}

export function decodeCsrRead(p: Buffer): { offset: number; length: number } {
  if (p.length !== 4) throw new MessageError(`CSR_READ payload is ${p.length} bytes, expected 4`)
  return { offset: p.readUInt16BE(0), length: p.readUInt16BE(2) }
}

export function encodeCsrData(offset: number, chunk: Uint8Array): Buffer {
  return Buffer.concat([u16(offset), chunk])
}

export function decodeCsrData(p: Buffer): { offset: number; chunk: Buffer } {
  if (p.length < 2) throw new MessageError('CSR_DATA payload shorter than its offset')
  return { offset: p.readUInt16BE(0), chunk: p.subarray(2) }
}

export { u16 as encodeU16, u32 as encodeU32 }

/* ---- protocol v2: proof of possession (docs/protocol.md §11) ----------------------------------------------- */

/** Nonce bytes in a CHALLENGE. */
export const NONCE_SIZE = 32
/** Longest endpoint name in a CHALLENGE (the endpoint is the certificate CN: RFC 5280 caps it at 64). */
export const CHALLENGE_MAX_ENDPOINT = 64
/** Domain separation of the proof message: no other lwprov (or DTLS) computation MACs or signs bytes starting so. */
export const POP_CONTEXT = Buffer.from('lwprov-pop-v2\0', 'latin1')

/** PROOF kinds: how the device proved it holds the credential it stored. */
export const ProofKind = {
  /** HMAC-SHA256 keyed with the stored PSK (/0/x/5). */
  hmacSha256: 1,
  /** A signature with the stored private key: ECDSA (DER) or RSA PKCS#1 v1.5, both over SHA-256. */
  signature: 2,
} as const

export function encodeChallenge(nonce: Uint8Array, endpoint: string): Buffer {
  const ep = Buffer.from(endpoint, 'utf8')
  if (nonce.length !== NONCE_SIZE) throw new RangeError(`CHALLENGE nonce must be ${NONCE_SIZE} bytes`)
  if (ep.length < 1 || ep.length > CHALLENGE_MAX_ENDPOINT) throw new RangeError(`CHALLENGE endpoint must be 1..${CHALLENGE_MAX_ENDPOINT} bytes`)
  return Buffer.concat([nonce, ep])
}

export function decodeChallenge(p: Buffer): { nonce: Buffer; endpoint: Buffer } {
  if (p.length < NONCE_SIZE + 1 || p.length > NONCE_SIZE + CHALLENGE_MAX_ENDPOINT) {
    throw new MessageError(`CHALLENGE payload is ${p.length} bytes, expected ${NONCE_SIZE + 1}..${NONCE_SIZE + CHALLENGE_MAX_ENDPOINT}`)
  }
  return { nonce: Buffer.from(p.subarray(0, NONCE_SIZE)), endpoint: Buffer.from(p.subarray(NONCE_SIZE)) }
}

/**
 * The bytes a device MACs or signs to answer a CHALLENGE:
 * `"lwprov-pop-v2" 00 | nonce (32) | SHA-256 of the stored payload (32) | u8 endpoint length | endpoint`.
 * The host fills in the digest of what it sent; a device fills in the digest of what it reloads from storage, so
 * a proof only verifies when the device holds the credential AND stored exactly the payload.
 */
export function proofMessage(nonce: Uint8Array, storedSha256: Uint8Array, endpoint: Uint8Array): Buffer {
  if (storedSha256.length !== 32) throw new RangeError('proof message digest must be 32 bytes')
  return Buffer.concat([POP_CONTEXT, nonce, storedSha256, Buffer.from([endpoint.length]), endpoint])
}

export function encodeProof(kind: number, proof: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([kind]), proof])
}

export function decodeProof(p: Buffer): { kind: number; proof: Buffer } {
  if (p.length < 2) throw new MessageError('PROOF payload lacks the proof')
  return { kind: p[0]!, proof: Buffer.from(p.subarray(1)) }
}
