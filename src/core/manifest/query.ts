/** Parsing of the manifest commands' filter flags into a `ManifestFilter`, shared by list / export / expiring. */
import { usageError } from '../errors.js'
import { parseDate, parseDuration as parseBoundedDuration } from '../validate/bounds.js'
import { ENDPOINT_STATUSES, type EndpointStatus, type ManifestFilter, type ManifestRecord } from './types.js'

/** `90d`, `12h`, `2w`, `1y` (or a bare number of days) → milliseconds, bounded (validate/bounds.ts). */
export function parseDuration(text: string, flag = '--within'): number {
  return parseBoundedDuration(text, flag)
}

/** `--since`: an ISO date/time, or a duration back from now (`7d`). Returns an ISO timestamp. */
export function parseSince(text: string, now = new Date()): string {
  if (/^\s*\d+(\.\d+)?\s*[smhdwy]\s*$/i.test(text)) return new Date(now.getTime() - parseDuration(text, '--since')).toISOString()
  return parseDate(text, '--since').toISOString()
}

export function parseStatuses(list: string[] | undefined): EndpointStatus[] | undefined {
  if (!list || list.length === 0) return undefined
  const out = list.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)
  for (const s of out) {
    if (!ENDPOINT_STATUSES.includes(s as EndpointStatus)) {
      throw usageError('E_STATUS_INVALID', `Unknown status '${s}'.`, `Use one of: ${ENDPOINT_STATUSES.join(', ')}.`)
    }
  }
  return out as EndpointStatus[]
}

export function buildFilter(f: { batch?: string | undefined; status?: string[] | undefined; since?: string | undefined; developer?: boolean | undefined; limit?: number | undefined }): ManifestFilter {
  const status = parseStatuses(f.status)
  return {
    ...(f.batch === undefined ? {} : { batch: f.batch }),
    ...(status ? { status } : {}),
    ...(f.since === undefined ? {} : { since: parseSince(f.since) }),
    ...(f.developer === undefined ? {} : { developer: f.developer }),
    ...(f.limit === undefined ? {} : { limit: f.limit }),
  }
}

const PROOF_MEANING: Record<string, string> = {
  'pop-hmac': 'proof of possession: HMAC-SHA256 with the stored PSK (lwprov v2)',
  'pop-signature': 'proof of possession: signature with the stored private key (lwprov v2)',
  digest: 'read-back digest only (weaker: lwprov v1 device or NoSec)',
  'fcc-status': 'FCC device status',
  none: 'none recorded here (imported: the read-back was done elsewhere)',
}

/** A row's proof with what it means, for the technician (the manifest column holds the short name). */
export function describeProof(proof: string): string {
  return `${proof} — ${PROOF_MEANING[proof] ?? 'unknown'}`
}

/** A record for display / `--json`: everything except the sealed secret blob, plus whether there is one. */
export function publicRecord(r: ManifestRecord): Omit<ManifestRecord, 'secret'> & { hasSecret: boolean } {
  const { secret, ...rest } = r
  // `proof` NULL (never verified here, imported, or a pre-v4 row not verified) reads as 'none'.
  return { ...rest, proof: r.proof ?? 'none', hasSecret: Boolean(secret && secret.length > 0) }
}
