import { randomBytes, randomFillSync } from 'node:crypto'

import { usageError } from '../errors.js'

/** Shortest PSK lwprov issues (128 bits). */
export const MIN_PSK_BYTES = 16

/** A PSK secret of `bytes` CSPRNG bytes. Throws `E_PSK_TOO_SHORT` (usage) below 16 bytes. */
export function generatePsk(bytes: number): Buffer {
  if (!Number.isInteger(bytes) || bytes < MIN_PSK_BYTES) {
    throw usageError('E_PSK_TOO_SHORT', `A PSK must be at least ${MIN_PSK_BYTES} bytes (got ${bytes}).`, `Pass --psk-bytes ${MIN_PSK_BYTES} or more (default 32).`)
  }
  if (bytes > 1024) throw usageError('E_PSK_TOO_LONG', `A PSK of ${bytes} bytes is longer than any DTLS stack accepts.`, 'Pass --psk-bytes 16..64.')
  return randomBytes(bytes)
}

/**
 * `count` PSKs of `bytes` each from one CSPRNG fill: per-key `randomBytes` calls dominate large batches. Each key is
 * its own copy and the shared fill is zeroed afterwards.
 */
export function generatePsks(count: number, bytes: number): Buffer[] {
  generatePsk(bytes) // validates the length
  const all = Buffer.alloc(count * bytes)
  randomFillSync(all)
  const out = Array.from({ length: count }, (_, i) => Buffer.from(all.subarray(i * bytes, (i + 1) * bytes)))
  all.fill(0)
  return out
}

/** `count` random PSK identities (base64url of 16 CSPRNG bytes) from one fill. */
export function randomPskIdentities(count: number): string[] {
  const all = randomBytes(count * 16)
  return Array.from({ length: count }, (_, i) => all.subarray(i * 16, (i + 1) * 16).toString('base64url'))
}

/** A random PSK identity: 16 CSPRNG bytes as base64url (22 characters, no padding). */
export function randomPskIdentity(): string {
  return randomBytes(16).toString('base64url')
}
