/**
 * nRF91 modem AT commands as text (device-shells.md §3): `%CMNG` writes/lists/deletes, final result codes and CME
 * errors, IMEI and modem-firmware parsing, PEM in CRLF, the `at '<cmd>'` shell wrapping, and the normalisation of
 * the modem's ECDSA CSR encoding (NULL parameters) before a strict parser sees it. Pure functions.
 */
import { createHash } from 'node:crypto'

import { deviceError, usageError } from '../../errors.js'
import { children, readTlv, seq } from '../../pki/der.js'

/** `%CMNG` credential types (nrfcredstore CredType). */
export const CredType = { ROOT_CA_CERT: 0, CLIENT_CERT: 1, CLIENT_KEY: 2, PSK: 3, PSK_ID: 4 } as const

/**
 * The NCS LwM2M client's sec_tags (CONFIG_LWM2M_CLIENT_UTILS_BOOTSTRAP_TLS_TAG / …_SERVER_TLS_TAG, the defaults
 * device-shells.md reports); `--sec-tag` overrides them.
 */
export const NCS_BOOTSTRAP_TAG = 35724862
export const NCS_SERVER_TAG = 35724861
/** Tags the modem reserves (nrfcredstore `deleteall` skips them). */
export const RESERVED_TAGS = [4294967292, 4294967293, 4294967294]

/** CME error codes of `%CMNG`/`%KEYGEN` (nrfcredstore comms.py) and what they mean for the operator. */
export const CME: Record<number, string> = {
  513: 'not found',
  514: 'not allowed',
  515: 'memory full',
  518: 'not allowed in active state (the modem must be offline: AT+CFUN=4)',
  519: 'already exists',
  523: 'key generation failed',
}

export interface AtReply {
  ok: boolean
  /** `+CME ERROR: n`. */
  cme?: number
  /** Lines before the final result code (responses), trimmed, empty lines dropped. */
  lines: string[]
}

/** The reply of one command once its final result code has arrived; undefined while it is incomplete. */
export function parseAtReply(text: string): AtReply | undefined {
  const lines = text.split(/\r?\n|\r/).map((l) => l.trim())
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!
    const cme = /^\+CME ERROR: ?(\d+)$/.exec(l)
    if (l === 'OK' || l === 'ERROR' || cme) {
      const body = lines.slice(0, i).filter((x) => x !== '')
      return { ok: l === 'OK', ...(cme ? { cme: Number(cme[1]) } : {}), lines: body }
    }
  }
  return undefined
}

/** The IMEI from `AT+CGSN`: the first 15 characters of the last reply line, which must be digits. */
export function imeiOf(reply: AtReply): string | undefined {
  const last = [...reply.lines].reverse().find((l) => /\d{15}/.test(l))
  const m = last ? /(\d{15})/.exec(last) : null
  return m ? m[1] : undefined
}

/** `mfw_nrf9160_1.3.5` → [1, 3, 5]; strings with `ntn` are new enough (nrfcloud-utils). */
export function modemVersion(fw: string): { version?: [number, number, number]; ntn: boolean } {
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(fw)
  return { ...(m ? { version: [Number(m[1]), Number(m[2]), Number(m[3])] as [number, number, number] } : {}), ntn: /ntn/i.test(fw) }
}

/** True when `v` ≥ `min`. */
export function atLeast(v: [number, number, number], min: [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i]! > min[i]!
  return true
}

/** PEM with CRLF line ends (what nrfcloud-utils writes and hashes). */
export function crlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n')
}

/** Upper-case hex SHA-256 of the exact text written (the `%CMNG=1` digest). */
export function cmngDigest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').toUpperCase()
}

export function cmngWrite(tag: number, type: number, content: string): string {
  if (content.includes('"')) throw usageError('E_AT_VALUE_INVALID', `A %CMNG value cannot hold a double quote (type ${type}).`, 'Check the PSK identity and certificates.')
  return `AT%CMNG=0,${tag},${type},"${content}"`
}

/** `%CMNG: <tag>,<type>,"<SHA-256>"` lines → digests by type for one tag. */
export function parseCmngList(lines: string[], tag: number): Map<number, string> {
  const out = new Map<number, string>()
  for (const l of lines) {
    const m = /^%CMNG: ?(\d+), ?(\d+)(?:, ?"([0-9A-Fa-f]*)")?/.exec(l)
    if (m && Number(m[1]) === tag) out.set(Number(m[2]), (m[3] ?? '').toUpperCase())
  }
  return out
}

/** The `at_shell` form of a command: payload newlines as a literal `\n` (device-shells.md §3). */
export function shellWrap(cmd: string): string {
  return `at '${cmd.replace(/\r?\n/g, '\\n')}'`
}

/** `%KEYGEN: "<base64url DER CSR>.<base64url COSE_Sign1>"` → the CSR DER. */
export function parseKeygen(lines: string[]): Buffer | undefined {
  for (const l of lines) {
    const m = /^%KEYGEN: ?"([A-Za-z0-9_-]+)(?:\.([A-Za-z0-9_-]*))?"/.exec(l)
    if (m) return Buffer.from(m[1]!, 'base64url')
  }
  return undefined
}

const ECDSA_SHA256 = Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])

/**
 * Modem CSRs encode ecdsa-with-SHA256 with NULL parameters, which strict X.509 parsers reject; the signature covers
 * only the request info, so dropping the NULL (nrfcloud-utils `_normalize_ecdsa_csr_der`) keeps the CSR valid.
 */
export function normalizeEcdsaCsr(der: Uint8Array): Buffer {
  const buf = Buffer.from(der)
  const top = readTlv(buf)
  const parts = children(buf, top)
  if (parts.length !== 3) return buf
  const alg = parts[1]!
  const algParts = children(buf, alg)
  const oid = algParts[0]
  if (algParts.length === 2 && oid && buf.subarray(oid.start, oid.end).equals(ECDSA_SHA256) && buf[algParts[1]!.start] === 0x05 && algParts[1]!.end - algParts[1]!.start === 2) {
    return seq(buf.subarray(parts[0]!.start, parts[0]!.end), seq(ECDSA_SHA256), buf.subarray(parts[2]!.start, parts[2]!.end))
  }
  return buf
}

/** The same CSR with NULL parameters added (what the modem sends; used by the simulator). */
export function withNullParams(der: Uint8Array): Buffer {
  const buf = Buffer.from(der)
  const parts = children(buf, readTlv(buf))
  return seq(buf.subarray(parts[0]!.start, parts[0]!.end), seq(ECDSA_SHA256, Buffer.from([0x05, 0x00])), buf.subarray(parts[2]!.start, parts[2]!.end))
}

/** A CME error as a clear device error. */
export function cmeError(cmd: string, reply: AtReply, link: string) {
  const what = cmd.replace(/"[^"]*"/g, '"…"').slice(0, 60)
  if (reply.cme !== undefined) {
    return deviceError(
      'E_AT_CME',
      `${link}: ${what} failed: CME ${reply.cme} (${CME[reply.cme] ?? 'modem error'}).`,
      reply.cme === 518 ? 'The modem must be offline for credential writes; check that nothing turns it back on (AT+CFUN=4).' : reply.cme === 515 ? 'The modem credential store is full: delete unused sec_tags (AT%CMNG=3).' : reply.cme === 519 ? 'The credential exists: lwprov deletes before writing; re-run inject.' : 'See docs/nrf-at.md for the modem error codes.',
      { cme: reply.cme },
    )
  }
  return deviceError('E_AT_ERROR', `${link}: ${what} answered ERROR.`, 'Check the modem firmware (AT%CMNG needs modem firmware >= 1.3.0) and that the port is the AT port (docs/nrf-at.md).')
}
