/**
 * Signed exports: a detached JWS (RFC 7515 Appendix F, compact form with the payload left out) by the manifest
 * signing key (Ed25519, see audit.ts) over the exported file's bytes, written as FILE.jws. The header carries the
 * public key (JWK), the manifest's namespace, the file name and its SHA-256, so a reader can tell what was signed and
 * by whom; trust comes from comparing that key with one the reader already has (the manifest's, or the master key's).
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import { basename } from 'node:path'

import { cryptoError } from '../errors.js'
import { publicKeyB64 } from './audit.js'

const b64u = (b: Buffer): string => b.toString('base64url')

export interface JwsHeader {
  alg: 'EdDSA'
  typ: 'lwprov-export+jws'
  /** SHA-256 of the signer's SPKI DER, hex. */
  kid: string
  jwk: { kty: 'OKP'; crv: 'Ed25519'; x: string }
  lwprov: { manifest: string; file: string; sha256: string; signedAt: string }
}

/** The detached JWS for `payload`, signed with `key` (Ed25519). */
export function signDetached(payload: Buffer, file: string, key: KeyObject, manifestNamespace: string, now: Date = new Date()): string {
  const spki = Buffer.from(publicKeyB64(key), 'base64')
  const jwk = createPublicKey(key).export({ format: 'jwk' }) as { x: string }
  const header: JwsHeader = {
    alg: 'EdDSA',
    typ: 'lwprov-export+jws',
    kid: createHash('sha256').update(spki).digest('hex'),
    jwk: { kty: 'OKP', crv: 'Ed25519', x: jwk.x },
    lwprov: { manifest: manifestNamespace, file: basename(file), sha256: createHash('sha256').update(payload).digest('hex'), signedAt: now.toISOString() },
  }
  const h = b64u(Buffer.from(JSON.stringify(header)))
  const sig = sign(null, Buffer.from(`${h}.${b64u(payload)}`), key)
  return `${h}..${b64u(sig)}\n`
}

export interface DetachedVerification {
  header: JwsHeader
  /** base64 SPKI DER of the signer (compare with a trusted key). */
  publicKey: string
}

/**
 * Checks a detached JWS over `payload`. Errors (`E_EXPORT_SIGNATURE`, exit 6): malformed signature file, the file
 * altered since it was signed, a bad signature.
 */
export function verifyDetached(payload: Buffer, jws: string): DetachedVerification {
  const bad = (why: string) => cryptoError('E_EXPORT_SIGNATURE', `The export does not match its signature: ${why}.`, 'Do not trust this file: get it again from the manifest holder, or re-export it with --sign.')
  const parts = jws.trim().split('.')
  if (parts.length !== 3 || parts[1] !== '') throw bad('the signature file is not a detached JWS')
  let header: JwsHeader
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as JwsHeader
  } catch {
    throw bad('the signature header is not JSON')
  }
  if (header.alg !== 'EdDSA' || header.jwk?.crv !== 'Ed25519' || typeof header.jwk.x !== 'string') throw bad('unsupported signature algorithm')
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: header.jwk.x }, format: 'jwk' })
  const digest = createHash('sha256').update(payload).digest('hex')
  if (header.lwprov?.sha256 !== digest) throw bad(`the file was altered after signing (SHA-256 ${digest.slice(0, 16)}…, signed ${String(header.lwprov?.sha256).slice(0, 16)}…)`)
  let ok = false
  try {
    ok = verify(null, Buffer.from(`${parts[0]}.${b64u(payload)}`), key, Buffer.from(parts[2]!, 'base64url'))
  } catch {
    ok = false
  }
  if (!ok) throw bad('the signature is invalid')
  return { header, publicKey: publicKeyB64(key) }
}
