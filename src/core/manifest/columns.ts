/**
 * The one mapping between `ManifestRecord` fields and database columns, shared by the SQLite and PostgreSQL
 * backends so both store exactly the same row.
 */
import type { EndpointStatus, HistoryRecord, ManifestFilter, ManifestRecord, NewManifestRecord, StatusUpdate } from './types.js'

/** [record field, column] in table order. `endpoint` first. */
export const COLUMNS = [
  ['endpoint', 'endpoint'],
  ['batch', 'batch'],
  ['mode', 'mode'],
  ['security', 'security'],
  ['serverUri', 'server_uri'],
  ['status', 'status'],
  ['statusReason', 'status_reason'],
  ['pskIdentity', 'psk_identity'],
  ['certificatePem', 'certificate_pem'],
  ['serial', 'serial'],
  ['fingerprint', 'fingerprint'],
  ['notAfter', 'not_after'],
  ['secret', 'secret'],
  ['accountId', 'account_id'],
  ['shortServerId', 'short_server_id'],
  ['lifetime', 'lifetime'],
  ['binding', 'binding'],
  ['enrollmentId', 'enrollment_id'],
  ['deviceId', 'device_id'],
  ['station', 'station'],
  ['readbackDigest', 'readback_digest'],
  ['developer', 'developer'],
  ['template', 'template'],
  ['seq', 'seq'],
  ['claimHash', 'claim_hash'],
  ['createdAt', 'created_at'],
  ['updatedAt', 'updated_at'],
  ['provenance', 'provenance'],
  ['proof', 'proof'],
] as const satisfies ReadonlyArray<readonly [keyof ManifestRecord, string]>

export const COLUMN_NAMES = COLUMNS.map(([, c]) => c)

/** StatusUpdate fields → columns. */
export const UPDATE_COLUMNS: ReadonlyArray<readonly [keyof StatusUpdate, string]> = [
  ['status', 'status'],
  ['statusReason', 'status_reason'],
  ['deviceId', 'device_id'],
  ['station', 'station'],
  ['readbackDigest', 'readback_digest'],
  ['certificatePem', 'certificate_pem'],
  ['serial', 'serial'],
  ['fingerprint', 'fingerprint'],
  ['notAfter', 'not_after'],
  ['pskIdentity', 'psk_identity'],
  ['secret', 'secret'],
  ['enrollmentId', 'enrollment_id'],
  ['mode', 'mode'],
  ['security', 'security'],
  ['serverUri', 'server_uri'],
  ['accountId', 'account_id'],
  ['shortServerId', 'short_server_id'],
  ['lifetime', 'lifetime'],
  ['binding', 'binding'],
  ['proof', 'proof'],
]

/** A status update other than `verified` clears the proof: it describes the last verification, which no longer holds. */
export function withProofRule(u: StatusUpdate): StatusUpdate {
  return u.proof === undefined && u.status !== 'verified' ? { ...u, proof: null } : u
}

/** `endpoint_history` columns, in the order {@link historyCopySql} fills them. */
export const HISTORY_COLUMNS =
  'endpoint, superseded_at, reason, superseded_by, device_id, status, server_uri, psk_identity, certificate_pem, serial, fingerprint, not_after, secret, readback_digest, provenance'

/** Copies an endpoint's current credentials into `endpoint_history`; `p(i)` renders the i-th (1-based) placeholder. */
export function historyCopySql(p: (i: number) => string): string {
  return `INSERT INTO endpoint_history (${HISTORY_COLUMNS})
    SELECT endpoint, ${p(1)}, ${p(2)}, ${p(3)}, device_id, status, server_uri, psk_identity, certificate_pem, serial, fingerprint, not_after, secret, readback_digest, provenance
    FROM endpoints WHERE endpoint = ${p(4)}`
}

/** An `endpoint_history` row → `HistoryRecord`. */
export function rowToHistory(r: Record<string, unknown>): HistoryRecord {
  const s = (v: unknown) => (v === undefined || v === null ? null : String(v))
  return {
    endpoint: String(r.endpoint),
    supersededAt: String(r.superseded_at),
    reason: String(r.reason),
    supersededBy: s(r.superseded_by),
    deviceId: s(r.device_id),
    status: String(r.status) as EndpointStatus,
    serverUri: s(r.server_uri),
    pskIdentity: s(r.psk_identity),
    certificatePem: s(r.certificate_pem),
    serial: s(r.serial),
    fingerprint: s(r.fingerprint),
    notAfter: s(r.not_after),
    hasSecret: r.secret !== null && r.secret !== undefined,
    readbackDigest: s(r.readback_digest),
    provenance: s(r.provenance),
  }
}

/** Row values in `COLUMNS` order; `developer` as 0/1 for SQLite or boolean for PostgreSQL. */
export function recordValues(r: NewManifestRecord, now: string, boolAsInt: boolean): unknown[] {
  const full = r as Partial<ManifestRecord>
  return COLUMNS.map(([f]) => {
    if (f === 'createdAt') return r.createdAt ?? now
    if (f === 'updatedAt') return now
    if (f === 'developer') return boolAsInt ? (r.developer ? 1 : 0) : Boolean(r.developer)
    const v = full[f]
    return v === undefined ? null : v
  })
}

/** A database row (snake_case columns) → `ManifestRecord`. */
export function rowToRecord(row: Record<string, unknown>): ManifestRecord {
  const out: Record<string, unknown> = {}
  for (const [f, c] of COLUMNS) {
    let v = row[c]
    if (f === 'developer') v = v === true || v === 1 || v === '1' || v === 't'
    else if ((f === 'shortServerId' || f === 'lifetime' || f === 'seq') && v !== null && v !== undefined) v = Number(v)
    else if ((f === 'createdAt' || f === 'updatedAt' || f === 'notAfter') && v instanceof Date) v = v.toISOString()
    else if (f === 'secret' && v !== null && v !== undefined && !Buffer.isBuffer(v)) v = Buffer.from(v as Uint8Array)
    out[f] = v === undefined ? null : v
  }
  return out as unknown as ManifestRecord
}

/** A row selected as `SELECT <COLUMN_NAMES…>` in raw (array) mode → `ManifestRecord`; SQLite's value types. */
export function arrayToRecord(a: unknown[]): ManifestRecord {
  const out: Record<string, unknown> = {}
  for (let i = 0; i < COLUMNS.length; i++) {
    const f = COLUMNS[i]![0]
    const v = a[i]
    out[f] = f === 'developer' ? v === 1 || v === true : v === undefined ? null : v
  }
  return out as unknown as ManifestRecord
}

/** Normalised filter: status list or undefined. */
export function statusList(f: ManifestFilter | undefined): EndpointStatus[] | undefined {
  if (!f || f.status === undefined) return undefined
  return Array.isArray(f.status) ? f.status : [f.status]
}

/** Names the duplicates in an E_DUPLICATE_ENDPOINT message: the first ten, then a count. */
export function duplicateMessage(dups: string[]): string {
  const shown = dups.slice(0, 10)
  const more = dups.length > shown.length ? `, … (${dups.length - shown.length} more)` : ''
  return `${dups.length} endpoint(s) already issued: ${shown.join(', ')}${more}.`
}

export const DUPLICATE_HINT =
  'Endpoint names are unique for the life of the account. Nothing was written; remove these names (or let {seq} continue after the highest issued) and run again.'

/** Statuses a device that already holds a row may come back to (idempotent re-injection). */
export const HELD_STATUSES: readonly EndpointStatus[] = ['failed', 'reserved', 'generated', 'injected']
