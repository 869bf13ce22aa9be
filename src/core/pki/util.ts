import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'

import { LwprovError, usageError } from '../errors.js'

/** Lower-case hex SHA-256 of `der` (the manifest's fingerprint form). */
export function sha256Hex(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex')
}

/** Upper-case, colon-separated SHA-256 (the form `openssl x509 -fingerprint -sha256` prints). */
export function sha256Colon(der: Uint8Array): string {
  return (
    createHash('sha256')
      .update(der)
      .digest('hex')
      .toUpperCase()
      .match(/../g)
      ?.join(':') ?? ''
  )
}

/** PEM armour with 64-character lines. */
export function derToPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64')
  let body = ''
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`
}

/** Every PEM block in `text`, in order. */
export function pemBlocks(text: string): Array<{ label: string; der: Buffer; pem: string }> {
  const out: Array<{ label: string; der: Buffer; pem: string }> = []
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const der = Buffer.from(m[2]!.replace(/^[A-Za-z-]+:.*$/gm, '').replace(/\s+/g, ''), 'base64')
    out.push({ label: m[1]!, der, pem: m[0] })
  }
  return out
}

/** True when the bytes look like PEM text rather than DER. */
export function isPem(data: Uint8Array): boolean {
  return Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, 4096)).toString('latin1').includes('-----BEGIN ')
}

/**
 * Reads a certificate file in PEM or DER and returns the first certificate's DER.
 * Throws `E_CERT_UNREADABLE` (usage) when the file is missing or holds no certificate.
 */
export function readCertificateFile(path: string): Buffer {
  let data: Buffer
  try {
    data = readFileSync(path)
  } catch (error) {
    throw new LwprovError('E_CERT_UNREADABLE', `Cannot read certificate file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`, {
      hint: 'Check the path and its permissions.',
      cause: error,
    })
  }
  if (isPem(data)) {
    const block = pemBlocks(data.toString('latin1')).find((b) => b.label === 'CERTIFICATE' || b.label === 'X509 CERTIFICATE')
    if (!block) throw usageError('E_CERT_UNREADABLE', `${path} holds no PEM CERTIFICATE block.`, 'Pass a PEM or DER X.509 certificate.')
    return block.der
  }
  if (data.length < 2 || data[0] !== 0x30) {
    throw usageError('E_CERT_UNREADABLE', `${path} is neither a PEM nor a DER certificate.`, 'Pass a PEM or DER X.509 certificate.')
  }
  return data
}

/**
 * A random positive serial of exactly `bytes` bytes: top bit cleared (positive INTEGER without a pad byte) and a
 * nonzero first byte (so the DER stays minimal and the length is fixed).
 */
export function randomSerial(bytes = 16, source: Buffer = randomBytes(bytes), offset = 0): Buffer {
  const s = Buffer.from(source.subarray(offset, offset + bytes))
  s[0] = s[0]! & 0x7f
  if (s[0] === 0) s[0] = 0x01 + (s[1]! % 0x7f)
  return s
}
