/**
 * The QR payload of a device label, version 1 (README "Labels" documents it for the claim service):
 *
 *     LW1;E:<endpoint>[;S:<serial>][;C:<claim code>]
 *
 * - `LW1` names the format and its version; a reader rejects other prefixes. Fields come in this order, each at most
 *   once; `E` is always present, `S` (the device serial reported at injection) and `C` (`XXXX-XXXX-XXXX`) only when
 *   known — a reprint has no claim code, because only its hash is stored.
 * - Values are percent-encoded (UTF-8) for every byte outside printable ASCII and for `%`, `;`, `^` and `~`, so the
 *   payload is plain ASCII that ZPL `^FD` can carry without escapes.
 * - With a URL template (e.g. `https://claim.example.com/?c={claim}`), the QR holds the URL instead: `{claim}`,
 *   `{endpoint}` and `{serial}` are replaced by their URI-encoded values. When the template names a value the label
 *   does not have (a reprint without claim code), the plain `LW1` payload is used.
 *
 * A typical payload (`LW1;E:urn:dev:os:320973-0973WO000001;C:7K3M-Q9XD-2HTB`, 52 bytes) is a version-4 QR (33×33
 * modules) at error-correction level M; anything longer than {@link MAX_PAYLOAD_BYTES} (version 9) is refused.
 */
import { usageError } from '../errors.js'

export const PAYLOAD_PREFIX = 'LW1'
/** Byte-mode capacity of a version-9 QR (53×53 modules) at level M. */
export const MAX_PAYLOAD_BYTES = 180

/** What a label says about one device. */
export interface LabelData {
  endpoint: string
  /** Device serial / id reported at injection, when known. */
  serial?: string | undefined
  /** Claim code, only in the run that generated it. */
  claim?: string | undefined
  /** Work order. */
  batch?: string | undefined
  /** `{seq}` number within the template. */
  seq?: number | undefined
}

export interface DecodedPayload {
  version: 1
  endpoint: string
  serial?: string
  claim?: string
}

function pct(value: string): string {
  let out = ''
  for (const b of Buffer.from(value, 'utf8')) {
    const keep = b > 0x20 && b < 0x7f && b !== 0x25 && b !== 0x3b && b !== 0x5e && b !== 0x7e
    out += keep ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** The `LW1` payload of a label. */
export function plainPayload(d: Pick<LabelData, 'endpoint' | 'serial' | 'claim'>): string {
  let s = `${PAYLOAD_PREFIX};E:${pct(d.endpoint)}`
  if (d.serial) s += `;S:${pct(d.serial)}`
  if (d.claim) s += `;C:${pct(d.claim)}`
  return s
}

const URL_FIELDS = ['claim', 'endpoint', 'serial'] as const

/** Checks a `--claim-url` template: http(s), at least one placeholder, nothing a ZPL field or a QR reader chokes on. */
export function checkUrlTemplate(template: string, flag = '--claim-url'): string {
  const bare = template.replace(/\{(claim|endpoint|serial)\}/g, '')
  if (!/^https?:\/\/[^/]/i.test(template) || !/[{](claim|endpoint|serial)[}]/.test(template) || /[\s^~{}\u0000-\u001f\u007f-\uffff]/.test(bare)) {
    throw usageError(
      'E_LABEL_URL_INVALID',
      `${flag} must be an http(s) URL with {claim}, {endpoint} or {serial} in it, and no spaces, braces, ^ or ~ elsewhere.`,
      'Example: https://claim.example.com/?c={claim}',
    )
  }
  return template
}

/** The QR content of a label: the URL template filled in, or the plain `LW1` payload. Throws when too long. */
export function labelPayload(d: LabelData, urlTemplate?: string): string {
  let text: string | undefined
  if (urlTemplate) {
    const values: Record<(typeof URL_FIELDS)[number], string | undefined> = { claim: d.claim, endpoint: d.endpoint, serial: d.serial }
    const missing = URL_FIELDS.some((f) => urlTemplate.includes(`{${f}}`) && !values[f])
    // encodeURIComponent keeps `~`, which ZPL treats as a command prefix
    if (!missing) text = urlTemplate.replace(/\{(claim|endpoint|serial)\}/g, (_, f: (typeof URL_FIELDS)[number]) => encodeURIComponent(values[f]!).replace(/~/g, '%7E'))
  }
  text ??= plainPayload(d)
  const n = Buffer.byteLength(text)
  if (n > MAX_PAYLOAD_BYTES) {
    throw usageError(
      'E_LABEL_PAYLOAD_TOO_LONG',
      `The label QR for ${d.endpoint} would hold ${n} bytes; at most ${MAX_PAYLOAD_BYTES} fit a small QR code.`,
      'Shorten the --claim-url template (or the endpoint names).',
      { endpoint: d.endpoint, bytes: n },
    )
  }
  return text
}

/** Parses an `LW1` payload (what a claim service or a test reads back from the QR); undefined when it is not one. */
export function decodePayload(text: string): DecodedPayload | undefined {
  const parts = text.split(';')
  if (parts[0] !== PAYLOAD_PREFIX) return undefined
  const out: Partial<DecodedPayload> = { version: 1 }
  const order = ['E', 'S', 'C']
  let last = -1
  for (const p of parts.slice(1)) {
    const m = /^([ESC]):(.*)$/s.exec(p)
    if (!m) return undefined
    const i = order.indexOf(m[1]!)
    if (i <= last) return undefined
    last = i
    let v: string
    try {
      v = decodeURIComponent(m[2]!)
    } catch {
      return undefined
    }
    if (m[1] === 'E') out.endpoint = v
    else if (m[1] === 'S') out.serial = v
    else out.claim = v
  }
  return out.endpoint ? (out as DecodedPayload) : undefined
}
