/** Parsing of the manifest commands' filter flags into a `ManifestFilter`, shared by list / export / expiring. */
import { usageError } from '../errors.js'
import { ENDPOINT_STATUSES, type EndpointStatus, type ManifestFilter, type ManifestRecord } from './types.js'

const UNIT_MS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3, y: 365 * 86400e3 }

/** `90d`, `12h`, `2w`, `1y` (or a bare number of days) → milliseconds. */
export function parseDuration(text: string, flag = '--within'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdwy]?)\s*$/i.exec(text)
  if (!m) throw usageError('E_DURATION_INVALID', `${flag} ${text} is not a duration.`, 'Use a number and a unit: 90d, 12h, 2w, 1y.')
  return Number(m[1]) * UNIT_MS[(m[2] || 'd').toLowerCase()]!
}

/** `--since`: an ISO date/time, or a duration back from now (`7d`). Returns an ISO timestamp. */
export function parseSince(text: string, now = new Date()): string {
  if (/^\s*\d+(\.\d+)?\s*[smhdwy]\s*$/i.test(text)) return new Date(now.getTime() - parseDuration(text, '--since')).toISOString()
  const d = new Date(text)
  if (Number.isNaN(d.getTime())) throw usageError('E_DATE_INVALID', `--since ${text} is not a date.`, 'Use an ISO date such as 2026-01-31 or 2026-01-31T12:00:00Z, or a duration such as 7d.')
  return d.toISOString()
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

/** A record for display / `--json`: everything except the sealed secret blob, plus whether there is one. */
export function publicRecord(r: ManifestRecord): Omit<ManifestRecord, 'secret'> & { hasSecret: boolean } {
  const { secret, ...rest } = r
  return { ...rest, hasSecret: Boolean(secret && secret.length > 0) }
}
