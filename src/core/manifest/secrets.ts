/**
 * Sealed secrets: PSKs and host-generated private keys are stored only as AES-256-GCM ciphertext under the manifest
 * master key. The endpoint name is the additional authenticated data, so a blob copied onto another row fails to
 * open instead of silently giving one device another device's key.
 *
 * Blob format (version 1):
 *   0x01 | IV (12 random bytes) | tag (16 bytes) | ciphertext
 * Plaintext: a sequence of items `type (1 byte) | length (uint32 BE) | bytes`; type 1 = PSK, 2 = PKCS#8 private key.
 * Unknown item types are skipped so later versions can add items without a format bump.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto'

import { cryptoError, usageError } from '../errors.js'

const VERSION = 0x01
const IV_LEN = 12
const TAG_LEN = 16
const ITEM_PSK = 1
const ITEM_PRIVATE_KEY = 2

export interface Secrets {
  psk?: Buffer
  privateKeyDer?: Buffer
}

/** Parses a 64-hex-character master key (surrounding whitespace allowed). Throws `E_MASTER_KEY_INVALID`. */
export function parseMasterKey(hex: string): Buffer {
  const t = hex.trim()
  if (!/^[0-9a-fA-F]{64}$/.test(t)) {
    throw usageError(
      'E_MASTER_KEY_INVALID',
      `The manifest master key must be 64 hex characters (32 bytes); got ${t.length} characters.`,
      'Generate one with `openssl rand -hex 32` and put it in LWPROV_MASTER_KEY or a --key-file.',
    )
  }
  return Buffer.from(t, 'hex')
}

function checkKey(key: Buffer): void {
  if (key.length !== 32) {
    throw usageError('E_MASTER_KEY_INVALID', `The manifest master key must be 32 bytes; got ${key.length}.`, 'Use parseMasterKey() on 64 hex characters.')
  }
}

// IVs come from a pooled CSPRNG buffer: one randomFill per 4096 IVs instead of one syscall-sized call per row keeps
// sealing 100,000 PSKs well under a second. IVs are public; the pool holds nothing secret.
const ivPool = Buffer.alloc(IV_LEN * 4096)
let ivPos = ivPool.length
function nextIv(): Buffer {
  if (ivPos + IV_LEN > ivPool.length) {
    randomFillSync(ivPool)
    ivPos = 0
  }
  const iv = Buffer.allocUnsafe(IV_LEN)
  ivPool.copy(iv, 0, ivPos, ivPos + IV_LEN)
  ivPos += IV_LEN
  return iv
}

/** Seals a device's secrets into one blob bound to `endpoint`. */
export function sealSecrets(key: Buffer, s: { psk?: Uint8Array; privateKeyDer?: Uint8Array }, endpoint: string): Buffer {
  checkKey(key)
  const plainLen = (s.psk ? 5 + s.psk.length : 0) + (s.privateKeyDer ? 5 + s.privateKeyDer.length : 0)
  const plain = Buffer.alloc(plainLen)
  let off = 0
  const add = (type: number, bytes: Uint8Array) => {
    plain.writeUInt8(type, off)
    plain.writeUInt32BE(bytes.length, off + 1)
    plain.set(bytes, off + 5)
    off += 5 + bytes.length
  }
  if (s.psk) add(ITEM_PSK, s.psk)
  if (s.privateKeyDer) add(ITEM_PRIVATE_KEY, s.privateKeyDer)
  const iv = nextIv()
  const c = createCipheriv('aes-256-gcm', key, iv)
  c.setAAD(Buffer.from(endpoint, 'utf8'))
  const ct = c.update(plain)
  c.final()
  plain.fill(0)
  const out = Buffer.allocUnsafe(1 + IV_LEN + TAG_LEN + ct.length)
  out[0] = VERSION
  iv.copy(out, 1)
  c.getAuthTag().copy(out, 1 + IV_LEN)
  ct.copy(out, 1 + IV_LEN + TAG_LEN)
  return out
}

/**
 * Opens a blob sealed for `endpoint`. A wrong key, a blob of another endpoint or a tampered blob all fail the GCM
 * check: `E_SECRET_UNSEALABLE` (crypto, exit 6).
 */
export function openSecrets(key: Buffer, blob: Uint8Array, endpoint: string): Secrets {
  checkKey(key)
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength)
  if (b.length < 1 + IV_LEN + TAG_LEN || b[0] !== VERSION) {
    throw cryptoError(
      'E_SECRET_FORMAT',
      `The sealed secret of ${endpoint} is not in a format this lwprov knows (version byte ${b[0] ?? 'missing'}).`,
      'Upgrade lwprov, or check that the manifest was not edited by hand.',
    )
  }
  const iv = b.subarray(1, 1 + IV_LEN)
  const tag = b.subarray(1 + IV_LEN, 1 + IV_LEN + TAG_LEN)
  let plain: Buffer
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv)
    d.setAAD(Buffer.from(endpoint, 'utf8'))
    d.setAuthTag(tag)
    plain = Buffer.concat([d.update(b.subarray(1 + IV_LEN + TAG_LEN)), d.final()])
  } catch (e) {
    throw cryptoError(
      'E_SECRET_UNSEALABLE',
      `Cannot open the sealed secret of ${endpoint}: wrong master key, or the row was tampered with.`,
      'Use the master key the credentials were generated with (LWPROV_MASTER_KEY or --key-file).',
      e,
    )
  }
  const out: Secrets = {}
  let off = 0
  while (off + 5 <= plain.length) {
    const type = plain.readUInt8(off)
    const len = plain.readUInt32BE(off + 1)
    const val = Buffer.from(plain.subarray(off + 5, off + 5 + len))
    off += 5 + len
    if (type === ITEM_PSK) out.psk = val
    else if (type === ITEM_PRIVATE_KEY) out.privateKeyDer = val
  }
  plain.fill(0)
  return out
}
