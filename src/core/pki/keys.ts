import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'

import { usageError } from '../errors.js'
import { children, nullDer, oid, readTlv, seq } from './der.js'

/** CA key algorithms lwprov can create. `ec-p256` is what Izuma requires (izuma-fcc.md §11). */
export const KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072'] as const
export type KeyType = (typeof KEY_TYPES)[number]

export function isKeyType(s: string): s is KeyType {
  return (KEY_TYPES as readonly string[]).includes(s)
}

/** A fresh key pair of the given type. */
export function generateKey(type: KeyType): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (type) {
    case 'ec-p256':
      return generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    case 'ec-p384':
      return generateKeyPairSync('ec', { namedCurve: 'secp384r1' })
    case 'rsa-2048':
      return generateKeyPairSync('rsa', { modulusLength: 2048 })
    case 'rsa-3072':
      return generateKeyPairSync('rsa', { modulusLength: 3072 })
  }
}

/** The lwprov name of a key's algorithm, or a descriptive string for others (e.g. `ec-secp521r1`, `rsa-4096`, `ed25519`). */
export function keyTypeOf(key: KeyObject): string {
  const d = key.asymmetricKeyDetails ?? {}
  if (key.asymmetricKeyType === 'ec') {
    if (d.namedCurve === 'prime256v1') return 'ec-p256'
    if (d.namedCurve === 'secp384r1') return 'ec-p384'
    return `ec-${d.namedCurve ?? 'unknown'}`
  }
  if (key.asymmetricKeyType === 'rsa') return `rsa-${d.modulusLength ?? 0}`
  return key.asymmetricKeyType ?? 'unknown'
}

/** How a key signs certificates: the digest for node:crypto `sign` and the DER AlgorithmIdentifier. */
export interface SignatureScheme {
  hash: 'sha256' | 'sha384' | 'sha512'
  algorithmDer: Buffer
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'))
const ECDSA_SHA384 = seq(oid('1.2.840.10045.4.3.3'))
const ECDSA_SHA512 = seq(oid('1.2.840.10045.4.3.4'))
const RSA_SHA256 = seq(oid('1.2.840.113549.1.1.11'), nullDer())

/** The signature scheme for an EC key type held elsewhere (a token key). */
export function schemeForKeyType(t: string): SignatureScheme {
  if (t === 'ec-p256') return { hash: 'sha256', algorithmDer: ECDSA_SHA256 }
  if (t === 'ec-p384') return { hash: 'sha384', algorithmDer: ECDSA_SHA384 }
  throw usageError('E_CA_KEY_UNSUPPORTED', `Token CA keys of type ${t} are not supported.`, 'Use an EC P-256 or P-384 key in the token.')
}

/** The signature scheme for an issuing key: ECDSA with the curve's matching digest, RSA PKCS#1 v1.5 with SHA-256. */
export function signatureSchemeFor(key: KeyObject): SignatureScheme {
  const t = keyTypeOf(key)
  if (t === 'ec-p256') return { hash: 'sha256', algorithmDer: ECDSA_SHA256 }
  if (t === 'ec-p384') return { hash: 'sha384', algorithmDer: ECDSA_SHA384 }
  if (t === 'ec-secp521r1') return { hash: 'sha512', algorithmDer: ECDSA_SHA512 }
  if (key.asymmetricKeyType === 'rsa') return { hash: 'sha256', algorithmDer: RSA_SHA256 }
  throw usageError('E_CA_KEY_UNSUPPORTED', `CA keys of type ${t} are not supported.`, 'Use an EC P-256/P-384 or RSA CA key.')
}

/** The subjectPublicKey BIT STRING contents (without the unused-bits byte) of an SPKI DER. */
export function publicKeyBits(spkiDer: Buffer): Buffer {
  const top = readTlv(spkiDer)
  const bits = children(spkiDer, top)[1]
  if (!bits || bits.tag !== 0x03) throw new Error('SPKI: no subjectPublicKey')
  return spkiDer.subarray(bits.body + 1, bits.end)
}

/** Subject Key Identifier, RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function subjectKeyId(spkiDer: Buffer): Buffer {
  return createHash('sha1').update(publicKeyBits(spkiDer)).digest()
}

/** True when the private key belongs to the public key (compares their SPKI encodings). */
export function keysMatch(privateKey: KeyObject, publicKey: KeyObject): boolean {
  const a = publicKey.export({ type: 'spki', format: 'der' })
  const b = createPublicKey(privateKey).export({ type: 'spki', format: 'der' })
  return a.equals(b)
}
