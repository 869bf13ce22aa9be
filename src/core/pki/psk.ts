import { randomBytes } from 'node:crypto'

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

/** A random PSK identity: 16 CSPRNG bytes as base64url (22 characters, no padding). */
export function randomPskIdentity(): string {
  return randomBytes(16).toString('base64url')
}
