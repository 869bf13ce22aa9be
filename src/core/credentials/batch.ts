/**
 * One `credentials generate` run as a single unit: names are resolved, credentials generated and every row inserted
 * in one manifest transaction. Everything that can be checked is checked before the first write.
 */
import { usageError } from '../errors.js'
import { enforcePolicy, precheckTemplatePattern, profileRequest } from '../manifest/policy.js'
import { parseEndpointTemplate } from '../lwm2m/endpoint.js'
import type { ManifestStore } from '../manifest/types.js'
import type { CredentialProfile } from '../model.js'
import type { LoadedCa } from '../pki/index.js'
import { type EndpointRequest, resolveEndpoints } from './endpoints.js'
import { generateCredentialSets, toManifestRecord, validateProfile } from './generate.js'

export interface GenerateBatchOptions {
  batch: string
  ca?: LoadedCa
  masterKey?: Buffer
  now: Date
  developer?: boolean
  station?: string
}

export interface GenerateBatchResult {
  batch: string
  count: number
  endpoints: string[]
  fingerprints?: string[]
}

export async function generateBatch(
  store: ManifestStore,
  req: EndpointRequest,
  profile: CredentialProfile,
  o: GenerateBatchOptions,
): Promise<GenerateBatchResult> {
  validateProfile(profile, o.ca !== undefined)
  if (profile.security !== 'nosec' && !o.masterKey) {
    throw usageError(
      'E_MASTER_KEY_MISSING',
      `${profile.security === 'psk' ? 'PSK secrets' : 'Device private keys'} are stored encrypted, and no manifest master key is set.`,
      'Set LWPROV_MASTER_KEY to 64 hex characters (e.g. `openssl rand -hex 32`) or pass --key-file FILE.',
    )
  }
  // Policies first: a refused request must not even advance a {seq} counter.
  const policy = await store.getPolicy()
  enforcePolicy(policy, { via: 'credentials generate', jit: true, ...(req.names ? { endpoints: req.names } : {}), ...profileRequest(profile) })
  if (req.template !== undefined) precheckTemplatePattern(policy, 'credentials generate', parseEndpointTemplate(req.template), { count: req.count ?? 1, start: req.start, now: o.now })
  const resolved = await resolveEndpoints(req, store, o.now)
  enforcePolicy(policy, { via: 'credentials generate', endpoints: resolved.names })
  const sets = await generateCredentialSets(resolved.names, profile, { ...(o.ca ? { ca: o.ca } : {}), now: o.now })
  const rows = sets.map((cs, i) =>
    toManifestRecord(cs, {
      batch: o.batch,
      status: 'generated',
      ...(o.masterKey ? { masterKey: o.masterKey } : {}),
      developer: o.developer ?? false,
      ...(resolved.template ? { template: resolved.template, seq: resolved.seqs![i]! } : {}),
      ...(o.station ? { station: o.station } : {}),
    }),
  )
  await store.insertMany(rows)
  return {
    batch: o.batch,
    count: rows.length,
    endpoints: resolved.names,
    ...(profile.security === 'cert' ? { fingerprints: sets.map((s) => s.fingerprint!) } : {}),
  }
}

/** A default batch name for ad-hoc runs: `gen-YYYYMMDD-HHMMSS` (UTC). */
export function defaultBatchName(now: Date): string {
  const iso = now.toISOString().replace(/[-:]/g, '')
  return `gen-${iso.slice(0, 8)}-${iso.slice(9, 15)}`
}
