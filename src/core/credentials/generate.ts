/**
 * Credential generation: endpoint names + a credential profile → `CredentialSet`s (keys, certificates, PSKs), and
 * the manifest rows that record them with every secret sealed.
 */
import { usageError } from '../errors.js'
import { validateServerUri } from '../lwm2m/uri.js'
import { sealSecrets } from '../manifest/secrets.js'
import type { EndpointStatus, NewManifestRecord } from '../manifest/types.js'
import type { CredentialProfile, CredentialSet } from '../model.js'
import type { LoadedCa } from '../pki/index.js'
import { derToPem, generatePsks, issueDeviceCertificates, randomPskIdentities } from '../pki/index.js'

export interface GenerateOptions {
  /** Required for certificate mode. */
  ca?: LoadedCa
  now: Date
  /** Worker threads for certificate issuing (default: the issuer decides). */
  workers?: number
}

/** Checks a profile before anything is generated or written, so bad input changes nothing. */
export function validateProfile(profile: CredentialProfile, hasCa: boolean): void {
  if (!['psk', 'cert', 'nosec'].includes(profile.security)) {
    throw usageError(
      'E_SECURITY_UNSUPPORTED',
      `Unknown security mode '${profile.security}'.`,
      'Use --security psk, cert, or nosec (development only).',
    )
  }
  if (!['bootstrap', 'direct'].includes(profile.mode)) {
    throw usageError('E_MODE_INVALID', `Unknown account mode '${profile.mode}'.`, 'Use --mode bootstrap or --mode direct.')
  }
  validateServerUri(profile.serverUri, profile.security)
  if (profile.security === 'cert' && !hasCa) {
    throw usageError('E_CA_REQUIRED', 'Certificate credentials need a factory CA to sign them.', 'Pass --ca DIR (create one with `lwprov ca create`).')
  }
  if (profile.security === 'psk' && (!Number.isInteger(profile.pskBytes) || profile.pskBytes < 16 || profile.pskBytes > 64)) {
    throw usageError(profile.pskBytes > 64 ? 'E_PSK_TOO_LONG' : 'E_PSK_TOO_SHORT', `--psk-bytes ${profile.pskBytes} is outside 16..64.`, 'Use --psk-bytes 16 (tinydtls clients) or 32.')
  }
  if (!Number.isInteger(profile.shortServerId) || profile.shortServerId < 1 || profile.shortServerId > 65534) {
    throw usageError('E_SSID_INVALID', `Short Server ID ${profile.shortServerId} is outside 1..65534.`, 'Pass --short-server-id between 1 and 65534.')
  }
  if (!/^(U|T|S|N|UQ|UQS|US|TQ|SQ|UT|UTS|TS)$/.test(profile.binding)) {
    throw usageError('E_BINDING_INVALID', `Binding '${profile.binding}' is not a LwM2M binding.`, 'Use U (UDP), T (TCP), S (SMS), N (non-IP), or a 1.0 queue form such as UQ.')
  }
  if (profile.certificateUsage !== undefined && (profile.certificateUsage < 0 || profile.certificateUsage > 3)) {
    throw usageError('E_CERT_USAGE_INVALID', `Certificate usage ${profile.certificateUsage} is outside 0..3.`, 'Use 2 for a CA trust anchor, 3 for the server certificate itself.')
  }
}

/** Generates credentials for each endpoint, in order. Private keys and PSKs are only in memory here. */
export async function generateCredentialSets(
  endpoints: string[],
  profile: CredentialProfile,
  opts: GenerateOptions,
): Promise<CredentialSet[]> {
  validateProfile(profile, opts.ca !== undefined)
  const base = {
    mode: profile.mode,
    security: profile.security,
    serverUri: profile.serverUri,
    accountId: profile.accountId,
    shortServerId: profile.shortServerId,
    lifetime: profile.lifetime,
    binding: profile.binding,
    notificationStoring: profile.notificationStoring,
  }
  if (profile.security === 'psk') {
    const psks = generatePsks(endpoints.length, profile.pskBytes)
    const ids = profile.pskIdentity === 'random' ? randomPskIdentities(endpoints.length) : endpoints
    return endpoints.map((endpoint, i) => ({ ...base, endpoint, pskIdentity: ids[i]!, psk: psks[i]! }))
  }
  if (profile.security === 'nosec') {
    return endpoints.map((endpoint) => ({ ...base, endpoint }))
  }
  const ca = opts.ca!
  const issued = await issueDeviceCertificates(
    ca,
    endpoints.map((endpoint) => ({ endpoint, ...(profile.accountId ? { accountId: profile.accountId } : {}) })),
    { days: profile.days, now: opts.now, ...(opts.workers === undefined ? {} : { workers: opts.workers }) },
  )
  const certificateUsage = profile.serverCaDer ? (profile.certificateUsage ?? 2) : profile.certificateUsage
  return issued.map((c) => ({
    ...base,
    endpoint: c.endpoint,
    certificateDer: c.certificateDer,
    privateKeyDer: c.privateKeyDer,
    chainDer: ca.chainDer,
    ...(profile.serverCaDer ? { serverCaDer: profile.serverCaDer } : {}),
    ...(certificateUsage === undefined ? {} : { certificateUsage }),
    serialHex: c.serialHex,
    fingerprint: c.fingerprint,
    notAfter: c.notAfter,
  }))
}

export interface RecordOptions {
  batch: string
  status: EndpointStatus
  /** Manifest master key; required when the set holds a secret. */
  masterKey?: Buffer
  developer?: boolean
  template?: string
  seq?: number
  deviceId?: string
  station?: string
}

/** Whether a credential set carries something that must be sealed before it is stored. */
export function hasSecrets(cs: CredentialSet): boolean {
  return cs.psk !== undefined || cs.privateKeyDer !== undefined
}

/** The manifest row for a credential set; PSKs and private keys are sealed with the master key, never stored bare. */
export function toManifestRecord(cs: CredentialSet, o: RecordOptions): NewManifestRecord {
  let secret: Buffer | null = null
  if (hasSecrets(cs)) {
    if (!o.masterKey) {
      throw usageError(
        'E_MASTER_KEY_MISSING',
        'The manifest master key is needed to store PSKs and private keys encrypted.',
        'Set LWPROV_MASTER_KEY to 64 hex characters (e.g. `openssl rand -hex 32`) or pass --key-file FILE. Keep it safe: without it the secrets cannot be read back.',
      )
    }
    secret = sealSecrets(
      o.masterKey,
      { ...(cs.psk ? { psk: cs.psk } : {}), ...(cs.privateKeyDer ? { privateKeyDer: cs.privateKeyDer } : {}) },
      cs.endpoint,
    )
  }
  return {
    endpoint: cs.endpoint,
    batch: o.batch,
    mode: cs.mode,
    security: cs.security,
    serverUri: cs.serverUri,
    status: o.status,
    pskIdentity: cs.pskIdentity ?? null,
    certificatePem: cs.certificateDer ? derToPem(cs.certificateDer, 'CERTIFICATE') : null,
    serial: cs.serialHex ?? null,
    fingerprint: cs.fingerprint ?? null,
    notAfter: cs.notAfter ? cs.notAfter.toISOString() : null,
    secret,
    accountId: cs.accountId ?? null,
    shortServerId: cs.mode === 'direct' ? cs.shortServerId : null,
    lifetime: cs.mode === 'direct' ? cs.lifetime : null,
    binding: cs.mode === 'direct' ? cs.binding : null,
    developer: o.developer ?? false,
    template: o.template ?? null,
    seq: o.seq ?? null,
    deviceId: o.deviceId ?? null,
    station: o.station ?? null,
  }
}
