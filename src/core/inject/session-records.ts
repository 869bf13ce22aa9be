/** What the inject session writes to the manifest: rows for just-in-time credentials, and certificate fields. */
import { X509Certificate } from 'node:crypto'

import { toManifestRecord } from '../credentials/generate.js'
import { LwprovError } from '../errors.js'
import type { ManifestRecord, StatusUpdate } from '../manifest/types.js'
import type { CredentialSet } from '../model.js'
import { derToPem } from '../pki/index.js'
import type { Resolved } from './session-endpoint.js'
import type { InjectOptions } from './session.js'

/** Batch of rows created without --batch. */
const DEFAULT_BATCH = 'inject'

/** Certificate fields for the manifest from a device certificate issued during the session. */
export function certFields(der: Uint8Array): Pick<StatusUpdate, 'certificatePem' | 'serial' | 'fingerprint' | 'notAfter'> {
  const x = new X509Certificate(Buffer.from(der))
  return {
    certificatePem: derToPem(der, 'CERTIFICATE'),
    serial: x.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
    fingerprint: x.fingerprint256.replace(/:/g, '').toLowerCase(),
    notAfter: new Date(x.validTo).toISOString(),
  }
}

/** Statuses whose row describes credentials a device holds: re-injecting them records new ones only once verified. */
export const HELD_BY_DEVICE = new Set(['verified', 'injected'])

/** The manifest record of just-in-time credentials. The private key of host-generated certificates is never stored. */
export function manifestRecordOf(opts: InjectOptions, resolved: Resolved, row: ManifestRecord | undefined, cs: CredentialSet, deviceId: string | undefined) {
  const { privateKeyDer: _dropped, ...kept } = cs
  return toManifestRecord(kept, {
    batch: row?.batch ?? opts.batch ?? DEFAULT_BATCH,
    status: 'generated',
    ...(opts.masterKey ? { masterKey: opts.masterKey } : {}),
    ...(deviceId ? { deviceId } : {}),
    ...(opts.station ? { station: opts.station } : {}),
    ...(resolved.template ? { template: resolved.template } : {}),
    ...(resolved.seq === undefined ? {} : { seq: resolved.seq }),
  })
}

/**
 * Records the just-in-time credentials: a new `generated` row, or the device's existing row updated. The private key
 * of host-generated certificates is never stored (it exists only on the device from now on); the PSK is sealed.
 */
export async function recordGenerated(
  opts: InjectOptions,
  resolved: Resolved,
  row: ManifestRecord | undefined,
  cs: CredentialSet,
  deviceId: string | undefined,
): Promise<ManifestRecord> {
  const endpoint = resolved.endpoint
  if (row === undefined) {
    await opts.store.insertMany([manifestRecordOf(opts, resolved, row, cs, deviceId)])
    const got = await opts.store.get(endpoint)
    if (!got) throw new LwprovError('E_INTERNAL', `manifest row for ${endpoint} vanished after insert`, { exit: 'bug' })
    return got
  }
  return opts.store.updateStatus(endpoint, { ...credentialFields(opts, resolved, row, cs, deviceId), status: 'generated' })
}

/** The fields of an existing row that new credentials replace (sealing the PSK); the status is the caller's. */
export function credentialFields(opts: InjectOptions, resolved: Resolved, row: ManifestRecord, cs: CredentialSet, deviceId: string | undefined): StatusUpdate {
  const rec = manifestRecordOf(opts, resolved, row, cs, deviceId)
  return {
    status: 'generated',
    statusReason: null,
    deviceId: deviceId ?? null,
    ...(opts.station ? { station: opts.station } : {}),
    certificatePem: rec.certificatePem ?? null,
    serial: rec.serial ?? null,
    fingerprint: rec.fingerprint ?? null,
    notAfter: rec.notAfter ?? null,
    pskIdentity: rec.pskIdentity ?? null,
    secret: rec.secret ?? null,
    readbackDigest: null,
    enrollmentId: null,
    // A reserved work-order row knows only its name: record the profile actually injected.
    mode: rec.mode,
    security: rec.security,
    serverUri: rec.serverUri,
    accountId: rec.accountId ?? null,
    shortServerId: rec.shortServerId ?? null,
    lifetime: rec.lifetime ?? null,
    binding: rec.binding ?? null,
  }
}
