/**
 * Proof of possession (lwprov protocol v2, docs/protocol.md §11): what the host expects in a PROOF, and how a device
 * (the simulator, tests) computes one. A read-back digest alone can be echoed by a device that stores nothing; a
 * proof needs the stored secret: HMAC-SHA256 keyed with the PSK, or a signature by the stored private key, over
 * {@link proofMessage}, which binds a fresh host nonce, the SHA-256 of the stored payload and the endpoint name.
 */
import { X509Certificate, createHmac, createPrivateKey, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto'
import type { CredentialSet } from '../../model.js'
import type { ProofName } from '../../manifest/types.js'
import { ProofKind, proofMessage } from './messages.js'

/** What a PROOF must be for these credentials: its kind and the manifest name; undefined = no proof possible (NoSec). */
export function expectedProof(c: Pick<CredentialSet, 'security'>): { kind: number; name: ProofName } | undefined {
  if (c.security === 'psk') return { kind: ProofKind.hmacSha256, name: 'pop-hmac' }
  if (c.security === 'cert') return { kind: ProofKind.signature, name: 'pop-signature' }
  return undefined
}

/** Why a proof was rejected, for the error message; undefined when it is valid. */
export function checkProof(
  c: Pick<CredentialSet, 'security' | 'psk' | 'certificateDer'>,
  challenge: { nonce: Uint8Array; sentSha256: Uint8Array; endpoint: string },
  answer: { kind: number; proof: Uint8Array },
): string | undefined {
  const want = expectedProof(c)
  if (!want) return 'no proof is possible for this security mode'
  if (answer.kind !== want.kind) return `proof kind ${answer.kind}, expected ${want.kind} (${want.name})`
  const msg = proofMessage(challenge.nonce, challenge.sentSha256, Buffer.from(challenge.endpoint, 'utf8'))
  if (want.kind === ProofKind.hmacSha256) {
    if (!c.psk || c.psk.length === 0) return 'no PSK to check the proof against'
    const mac = createHmac('sha256', c.psk).update(msg).digest()
    const got = Buffer.from(answer.proof)
    return got.length === mac.length && timingSafeEqual(got, mac) ? undefined : 'the HMAC does not match the PSK sent'
  }
  if (!c.certificateDer) return 'no certificate to check the signature against'
  let key: KeyObject
  try {
    key = new X509Certificate(Buffer.from(c.certificateDer)).publicKey
  } catch {
    return 'the issued certificate cannot be parsed'
  }
  let ok = false
  try {
    // ECDSA signatures are DER (as OpenSSL and mbed TLS produce them); RSA keys verify PKCS#1 v1.5.
    ok = verify('sha256', msg, key, Buffer.from(answer.proof))
  } catch {
    ok = false
  }
  return ok ? undefined : "the signature does not verify with the certificate's public key"
}

/**
 * Device side: computes the PROOF for what is stored. `secret` is the stored PSK (`psk`) or the stored private key
 * (`cert`: PKCS#8/SEC1 DER, or a KeyObject for a key generated on the device).
 */
export function computeProof(
  security: 'psk' | 'cert',
  secret: Uint8Array | KeyObject,
  challenge: { nonce: Uint8Array; storedSha256: Uint8Array; endpoint: Uint8Array },
): { kind: number; proof: Buffer } {
  const msg = proofMessage(challenge.nonce, challenge.storedSha256, challenge.endpoint)
  if (security === 'psk') {
    if (!(secret instanceof Uint8Array)) throw new TypeError('a PSK proof needs the PSK bytes')
    return { kind: ProofKind.hmacSha256, proof: createHmac('sha256', secret).update(msg).digest() }
  }
  const key = secret instanceof Uint8Array ? privateKeyFromDer(secret) : secret
  return { kind: ProofKind.signature, proof: sign('sha256', msg, key) }
}

function privateKeyFromDer(der: Uint8Array): KeyObject {
  const key = Buffer.from(der)
  try {
    return createPrivateKey({ key, format: 'der', type: 'pkcs8' })
  } catch {
    return createPrivateKey({ key, format: 'der', type: 'sec1' })
  }
}
