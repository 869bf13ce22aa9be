/**
 * Pre-generated credentials (`credentials generate` offline, `inject` later): the row already records what the device
 * must get, so injection writes exactly that — never a fresh set that would silently disagree with an export made
 * after `generate`.
 */
import { conflictError, usageError } from '../errors.js'
import { openSecrets } from '../manifest/secrets.js'
import type { ManifestRecord, ManifestStore } from '../manifest/types.js'
import type { CredentialProfile, CredentialSet } from '../model.js'
import { pemBlocks } from '../pki/util.js'

/** Statuses whose recorded credentials no device has confirmed yet: they are injected as recorded. */
const NOT_YET_HELD = new Set(['generated', 'failed'])

/** The profile fields a batch's rows record, for `inject --batch NAME` without --mode/--security/--server. */
export type RecordedProfile = Pick<CredentialProfile, 'mode' | 'security' | 'serverUri'> &
  Partial<Pick<CredentialProfile, 'accountId' | 'shortServerId' | 'lifetime' | 'binding'>>

/** The profile recorded on the first row of `batch`, or undefined when the batch has no row. */
export async function recordedBatchProfile(store: ManifestStore, batch: string): Promise<RecordedProfile | undefined> {
  for await (const r of store.list({ batch, limit: 1 })) return recordedProfile(r)
  return undefined
}

export function recordedProfile(r: ManifestRecord): RecordedProfile {
  return {
    mode: r.mode,
    security: r.security,
    serverUri: r.serverUri,
    ...(r.accountId ? { accountId: r.accountId } : {}),
    ...(r.shortServerId == null ? {} : { shortServerId: r.shortServerId }),
    ...(r.lifetime == null ? {} : { lifetime: r.lifetime }),
    ...(r.binding ? { binding: r.binding } : {}),
  }
}

/**
 * The complete credential set a not-yet-verified row records, or undefined when it records none the host can write
 * (a reserved row; a just-in-time certificate whose private key was never stored). Throws when the row's profile and
 * the requested one disagree, or the sealed secret cannot be opened: replacing them silently is what must not happen.
 */
export function recordedCredentials(
  row: ManifestRecord,
  profile: CredentialProfile,
  o: { masterKey?: Buffer; chainDer?: Uint8Array[] },
): CredentialSet | undefined {
  if (!NOT_YET_HELD.has(row.status)) return undefined
  const cert = row.certificatePem ? pemBlocks(row.certificatePem).find((b) => b.label === 'CERTIFICATE')?.der : undefined
  const complete = row.security === 'nosec' ? row.status === 'generated' : Boolean(row.secret) && (row.security === 'psk' ? Boolean(row.pskIdentity) : Boolean(cert))
  if (!complete) return undefined
  const differs = (['mode', 'security', 'serverUri'] as const).filter((k) => row[k] !== profile[k])
  if (differs.length > 0) {
    // A failed attempt's credentials never reached a device: a corrected profile (say, a fixed --server) replaces them.
    if (row.status === 'failed') return undefined
    throw conflictError(
      'E_PROFILE_MISMATCH',
      `Endpoint ${row.endpoint} holds pre-generated ${row.security} ${row.mode} credentials for ${row.serverUri}; the requested ${differs.join(', ')} differ.`,
      'Drop --mode/--security/--server to inject the recorded credentials, or pick another endpoint.',
      { endpoint: row.endpoint, differs },
    )
  }
  let secrets: { psk?: Buffer; privateKeyDer?: Buffer } = {}
  if (row.secret) {
    if (!o.masterKey) {
      throw usageError(
        'E_MASTER_KEY_MISSING',
        `Endpoint ${row.endpoint} holds pre-generated credentials sealed with the manifest master key, and no key is set.`,
        'Set LWPROV_MASTER_KEY (or pass --key-file) to the key the credentials were generated with.',
      )
    }
    secrets = openSecrets(o.masterKey, row.secret, row.endpoint)
    if (row.security === 'psk' ? !secrets.psk : row.security === 'cert' && !secrets.privateKeyDer) return undefined
  }
  const certificateUsage = row.security === 'cert' && profile.serverCaDer ? (profile.certificateUsage ?? 2) : profile.certificateUsage
  return {
    endpoint: row.endpoint,
    mode: row.mode,
    security: row.security,
    serverUri: row.serverUri,
    ...(row.pskIdentity ? { pskIdentity: row.pskIdentity } : {}),
    ...(secrets.psk ? { psk: secrets.psk } : {}),
    ...(cert ? { certificateDer: cert } : {}),
    ...(secrets.privateKeyDer ? { privateKeyDer: secrets.privateKeyDer } : {}),
    ...(cert && o.chainDer ? { chainDer: o.chainDer } : {}),
    ...(row.security === 'cert' && profile.serverCaDer ? { serverCaDer: profile.serverCaDer } : {}),
    ...(certificateUsage === undefined ? {} : { certificateUsage }),
    ...(row.serial ? { serialHex: row.serial } : {}),
    ...(row.fingerprint ? { fingerprint: row.fingerprint } : {}),
    ...(row.notAfter ? { notAfter: new Date(row.notAfter) } : {}),
    ...(row.accountId ? { accountId: row.accountId } : {}),
    shortServerId: row.shortServerId ?? profile.shortServerId,
    lifetime: row.lifetime ?? profile.lifetime,
    binding: row.binding ?? profile.binding,
    notificationStoring: profile.notificationStoring,
  }
}
