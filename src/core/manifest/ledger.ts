/**
 * Backend-neutral pieces of the audit trail and the CA registry: row mapping, the audit entry of a status change,
 * and the quota / revocation errors.
 */
import { conflictError, type LwprovError } from '../errors.js'
import { shown } from '../validate/escape.js'
import type { AuditCheckpoint, AuditEntry, AuditInput } from './audit.js'
import type { CaRecord, RevocationRecord, StatusUpdate } from './types.js'

const str = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v))
const optStr = (v: unknown): string | null => (v === null || v === undefined ? null : str(v))

export function rowToAudit(r: Record<string, unknown>): AuditEntry {
  return {
    seq: Number(r.seq),
    at: str(r.at),
    station: str(r.station),
    operator: str(r.operator),
    action: str(r.action),
    subject: str(r.subject),
    details: str(r.details),
    prevHash: str(r.prev_hash),
    hash: str(r.hash),
  }
}

export function rowToCheckpoint(r: Record<string, unknown>): AuditCheckpoint {
  return { seq: Number(r.seq), hash: str(r.hash), at: str(r.at), publicKey: str(r.public_key), signature: str(r.signature) }
}

export function rowToCa(r: Record<string, unknown>): CaRecord {
  return {
    fingerprint: str(r.fingerprint),
    subject: str(r.subject),
    parentFingerprint: optStr(r.parent_fingerprint),
    keyId: str(r.key_id),
    certificatePem: str(r.certificate_pem),
    maxCertificates: r.max_certificates === null || r.max_certificates === undefined ? null : Number(r.max_certificates),
    issued: Number(r.issued),
    notAfter: str(r.not_after),
    revokedAt: optStr(r.revoked_at),
    revokeReason: optStr(r.revoke_reason),
    createdAt: str(r.created_at),
  }
}

export function rowToRevocation(r: Record<string, unknown>): RevocationRecord {
  return { serial: str(r.serial), issuerKeyId: str(r.issuer_key_id), subject: str(r.subject), revokedAt: str(r.revoked_at), reason: optStr(r.reason) }
}

/** The audit entry of a status change: injected, verified, failed, revoked …, or `reprovisioned` when it supersedes. */
export function auditForStatus(endpoint: string, u: StatusUpdate): AuditInput {
  const details: Record<string, unknown> = { status: u.status }
  if (u.deviceId) details.deviceId = u.deviceId
  if (u.statusReason) details.reason = u.statusReason
  if (u.fingerprint) details.fingerprint = u.fingerprint
  if (u.readbackDigest) details.readbackDigest = u.readbackDigest
  if (u.proof) details.proof = u.proof
  if (u.supersede) details.supersededReason = u.supersede.reason
  return { action: u.supersede ? 'reprovisioned' : u.status, subject: endpoint, details }
}

export function caQuotaError(ca: CaRecord, count: number): LwprovError {
  const left = Math.max(0, (ca.maxCertificates ?? 0) - ca.issued)
  return conflictError(
    'E_CA_QUOTA',
    `The line CA ${shown(ca.subject)} may issue ${ca.maxCertificates} certificates; ${ca.issued} are issued, so ${count} more would exceed its quota (${left} left).`,
    'Ask the holder of the parent CA to delegate a new line CA (`lwprov ca delegate`).',
    { issued: ca.issued, max: ca.maxCertificates, requested: count },
  )
}

export function caRevokedError(ca: CaRecord): LwprovError {
  return conflictError('E_CA_REVOKED', `The CA ${shown(ca.subject)} was revoked on ${ca.revokedAt}${ca.revokeReason ? ` (${ca.revokeReason})` : ''}: it may not issue.`, 'Use another line CA.')
}
