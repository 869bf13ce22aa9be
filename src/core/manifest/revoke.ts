/** What `ca revoke` records: revocation entries for a CA certificate or for device rows. */
import { X509Certificate } from 'node:crypto'

import { usageError } from '../errors.js'
import { certAuthorityKeyId, delegationRecord } from '../pki/delegate.js'
import { pemBlocks } from '../pki/util.js'
import { shown } from '../validate/escape.js'
import type { AuditInput } from './audit.js'
import { manyEndpoints } from './audit.js'
import type { ManifestStore, RevocationRecord } from './types.js'

export type RevokeTarget = { caPem: string } | { endpoints: string[] }

type Item = RevocationRecord & { endpoint?: string; caFingerprint?: string }

/** Builds the revocation items (and the audit entry) for a CA or for endpoints. Errors: `E_ENDPOINT_NOT_FOUND`, `E_REVOKE_TARGET`. */
export async function revocationsFor(store: ManifestStore, target: RevokeTarget, reason: string, now: Date = new Date()): Promise<{ items: Item[]; audit: AuditInput }> {
  const at = now.toISOString()
  if ('caPem' in target) {
    const der = pemBlocks(target.caPem).find((b) => b.label === 'CERTIFICATE')?.der
    if (!der) throw usageError('E_REVOKE_TARGET', 'The CA directory holds no certificate.', 'Pass --ca with a CA directory.')
    const rec = delegationRecord(target.caPem, null, null)
    const serial = new X509Certificate(der).serialNumber.toLowerCase()
    const item: Item = { serial, issuerKeyId: certAuthorityKeyId(der), subject: rec.subject, revokedAt: at, reason, caFingerprint: rec.fingerprint }
    return { items: [item], audit: { action: 'revoked', subject: rec.subject, details: { ca: rec.fingerprint, serial, reason } } }
  }
  const items: Item[] = []
  for (const ep of target.endpoints) {
    const row = await store.get(ep)
    if (!row) throw usageError('E_ENDPOINT_NOT_FOUND', `No endpoint ${shown(ep)} in the manifest.`, 'Check the name with `lwprov manifest list`.')
    if (!row.certificatePem || !row.serial) throw usageError('E_REVOKE_TARGET', `${shown(ep)} has no certificate to revoke.`, 'Only certificate (cert) endpoints can be revoked on a CRL.')
    const der = pemBlocks(row.certificatePem).find((b) => b.label === 'CERTIFICATE')!.der
    items.push({ serial: row.serial, issuerKeyId: certAuthorityKeyId(der), subject: ep, revokedAt: at, reason, endpoint: ep })
  }
  return { items, audit: manyEndpoints('revoked', items.length === 1 ? items[0]!.subject : `${items.length} endpoints`, target.endpoints, { reason }) }
}
