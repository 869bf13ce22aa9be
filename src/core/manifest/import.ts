/**
 * `manifest import`: a spreadsheet (CSV with the export's header) or another factory's ledger (JSON / NDJSON rows as
 * `manifest export` writes them) into this manifest, all-or-nothing. Plaintext secrets in the input (`pskKeyHex`,
 * `privateKeyPem`) are sealed with the master key on the way in and never stored bare.
 */
import { createHash } from 'node:crypto'

import { usageError } from '../errors.js'
import { validateEndpointName } from '../lwm2m/endpoint.js'
import { validateServerUri } from '../lwm2m/uri.js'
import { validateBatchName } from '../station/batch.js'
import type { AccountMode, SecurityKind } from '../model.js'
import { pemBlocks } from '../pki/util.js'
import { csvUnguard, parseCsv } from './export/rows.js'
import { sealSecrets } from './secrets.js'
import { identityProblem, shown } from '../validate/index.js'
import { enforcePolicy } from './policy.js'
import { ENDPOINT_STATUSES, type EndpointStatus, type ManifestStore, type NewManifestRecord } from './types.js'

export type ImportFormat = 'csv' | 'json'

/** PSK length (bytes) of each imported row, for the manifest's minimum-PSK policy (the record keeps it sealed). */
const pskBytesOf = new WeakMap<NewManifestRecord, number>()

/** Parses the file content into raw objects (one per row). */
export function parseImportRows(text: string, format: ImportFormat): Record<string, unknown>[] {
  if (format === 'csv') {
    const t = parseCsv(text.replace(/^\uFEFF/, ''))
    const head = t[0]
    if (!head || !head.includes('endpoint')) {
      throw usageError('E_IMPORT_FORMAT', 'The CSV has no header line with an "endpoint" column.', 'Use the header `manifest export --format csv` writes (endpoint,status,security,mode,server,…).')
    }
    return t.slice(1).map((r) => Object.fromEntries(head.map((h, i) => [h.trim(), r[i] === '' || r[i] === undefined ? null : csvUnguard(r[i]!)])))
  }
  const s = text.trim()
  if (!s) return []
  let doc: unknown
  try {
    doc = JSON.parse(s)
  } catch {
    try {
      doc = s.split(/\r?\n/).filter((l) => l.trim()).map((l) => JSON.parse(l))
    } catch {
      throw usageError('E_IMPORT_FORMAT', 'The file is neither a JSON document nor NDJSON.', 'Use the output of `manifest export --format json` or `--format ndjson`.')
    }
  }
  const d = doc as { result?: unknown; rows?: unknown }
  // a one-line NDJSON file parses as a single row object
  const single = doc !== null && typeof doc === 'object' && !Array.isArray(doc) && ('endpoint' in doc || 'endpointName' in doc)
  const rows = single ? [doc] : Array.isArray(doc) ? doc : Array.isArray(d?.result) ? d.result : Array.isArray(d?.rows) ? d.rows : undefined
  if (!rows) throw usageError('E_IMPORT_FORMAT', 'The JSON holds no array of rows.', 'Use the output of `manifest export --format json`.')
  return rows as Record<string, unknown>[]
}

const str = (v: unknown): string | null => (v === null || v === undefined || v === '' ? null : String(v))
const int = (v: unknown): number | null => (v === null || v === undefined || v === '' ? null : Number(v))

/** Turns raw rows into manifest records; every problem of every row is collected and reported at once. */
export function toImportRecords(raw: Record<string, unknown>[], opts: { masterKey?: Buffer; batch?: string; now?: Date }): NewManifestRecord[] {
  const errors: string[] = []
  const out: NewManifestRecord[] = []
  const now = (opts.now ?? new Date()).toISOString()
  if (opts.batch !== undefined) validateBatchName(opts.batch)
  const seen = new Set<string>()
  const dups = new Set<string>()
  raw.forEach((r, i) => {
    const where = `row ${i + 1}`
    const endpoint = str(r.endpoint ?? r.endpointName)
    if (!endpoint) {
      errors.push(`${where}: no endpoint`)
      return
    }
    try {
      validateEndpointName(endpoint)
    } catch (e) {
      errors.push(`${where} (${shown(endpoint)}): ${(e as Error).message}`)
      return
    }
    if (seen.has(endpoint)) dups.add(endpoint)
    seen.add(endpoint)
    const security = (str(r.security) ?? 'psk') as SecurityKind
    const mode = (str(r.mode) ?? 'direct') as AccountMode
    const status = (str(r.status) ?? 'generated') as EndpointStatus
    if (!['psk', 'cert', 'rpk', 'nosec'].includes(security)) errors.push(`${where} (${endpoint}): unknown security '${security}'`)
    if (!['bootstrap', 'direct'].includes(mode)) errors.push(`${where} (${endpoint}): unknown mode '${mode}'`)
    if (!ENDPOINT_STATUSES.includes(status)) errors.push(`${where} (${endpoint}): unknown status '${status}'`)
    // A verified row claims a read-back; without a well-formed SHA-256 digest that claim is unfounded, so the import
    // refuses it (all-or-nothing) rather than mint `verified` rows or silently downgrade them.
    const digest = str(r.readbackDigest)
    if (status === 'verified' && (digest === null || !/^[0-9a-f]{64}$/i.test(digest))) {
      errors.push(`${where} (${endpoint}): status verified needs a read-back digest of 64 hex digits (${digest === null ? 'none given' : `got "${shown(digest)}"`}); import it as injected or generated instead`)
    }
    for (const [field, v] of [['deviceId', str(r.deviceId)], ['station', str(r.station)], ['accountId', str(r.accountId)]] as const) {
      const problem = v === null ? undefined : identityProblem(v)
      if (problem) errors.push(`${where} (${endpoint}): ${field} "${shown(v!)}" is refused: ${problem}`)
    }
    const serverUri = str(r.server ?? r.serverUri)
    if (!serverUri) errors.push(`${where} (${endpoint}): no server URI`)
    else if (['psk', 'cert', 'rpk', 'nosec'].includes(security)) {
      try {
        validateServerUri(serverUri, security)
      } catch (e) {
        errors.push(`${where} (${endpoint}): ${(e as Error).message}`)
      }
    }
    const rowBatch = str(r.batch)
    if (opts.batch === undefined && rowBatch !== null) {
      try {
        validateBatchName(rowBatch)
      } catch (e) {
        errors.push(`${where} (${endpoint}): ${(e as Error).message}`)
      }
    }
    const certificatePem = str(r.certificate ?? r.certificatePem)
    let fingerprint = str(r.fingerprint)
    if (certificatePem) {
      const der = pemBlocks(certificatePem).find((b) => b.label === 'CERTIFICATE')?.der
      if (!der) errors.push(`${where} (${endpoint}): certificate is not PEM`)
      else fingerprint ??= createHash('sha256').update(der).digest('hex')
    }
    const pskHex = str(r.pskKeyHex ?? r.pskHex ?? r.pskKey)
    const privateKeyPem = str(r.privateKeyPem)
    let secret: Buffer | null = null
    if (pskHex || privateKeyPem) {
      if (pskHex && !/^([0-9a-fA-F]{2})+$/.test(pskHex)) errors.push(`${where} (${endpoint}): pskKeyHex is not hex`)
      const pk = privateKeyPem ? pemBlocks(privateKeyPem).find((b) => /PRIVATE KEY/.test(b.label))?.der : undefined
      if (privateKeyPem && !pk) errors.push(`${where} (${endpoint}): privateKeyPem is not PEM`)
      if (!opts.masterKey) {
        throw usageError('E_MASTER_KEY_MISSING', 'The import holds secrets (pskKeyHex / privateKeyPem); they are stored sealed with the manifest master key.', 'Set LWPROV_MASTER_KEY or pass --key-file.')
      }
      secret = sealSecrets(opts.masterKey, { ...(pskHex ? { psk: Buffer.from(pskHex, 'hex') } : {}), ...(pk ? { privateKeyDer: pk } : {}) }, endpoint)
    }
    const record: NewManifestRecord = {
      endpoint,
      batch: opts.batch ?? str(r.batch) ?? 'import',
      mode,
      security,
      serverUri: serverUri ?? '',
      status,
      statusReason: str(r.statusReason),
      pskIdentity: str(r.pskIdentity) ?? (security === 'psk' ? endpoint : null),
      certificatePem,
      serial: str(r.serial),
      fingerprint,
      notAfter: str(r.notAfter),
      secret,
      accountId: str(r.accountId),
      shortServerId: int(r.shortServerId),
      lifetime: int(r.lifetime),
      binding: str(r.binding),
      enrollmentId: str(r.enrollmentId),
      deviceId: str(r.deviceId),
      station: str(r.station),
      readbackDigest: digest === null ? null : digest.toLowerCase(),
      provenance: 'imported',
      developer: r.developer === true || r.developer === 'true' || r.developer === '1',
      template: str(r.template),
      seq: int(r.seq),
      createdAt: str(r.createdAt) ?? now,
    }
    if (pskHex) pskBytesOf.set(record, pskHex.length / 2)
    out.push(record)
  })
  if (dups.size > 0) {
    const list = [...dups].slice(0, 10).map(shown)
    throw usageError('E_DUPLICATE_IN_INPUT', `The import holds the same endpoint more than once: ${list.join(', ')}${dups.size > list.length ? ', …' : ''}.`, 'Each endpoint name must be unique; fix the file and import again. Nothing was written.', { duplicates: [...dups] })
  }
  if (errors.length > 0) {
    throw usageError('E_IMPORT_INVALID', `${errors.length} problem(s) in the import; nothing was written: ${errors.slice(0, 5).join('; ')}${errors.length > 5 ? '; …' : ''}.`, 'Fix the rows named and import again.', { problems: errors })
  }
  return out
}

/**
 * Inserts imported rows (all-or-nothing) after the manifest's policies accept every one: endpoint pattern, servers,
 * minimum PSK length, and require-work-order (imported names were not reserved by a work order of this manifest).
 */
export async function importRecords(store: ManifestStore, rows: NewManifestRecord[]): Promise<void> {
  const policy = await store.getPolicy()
  for (const r of rows) {
    const pskBytes = pskBytesOf.get(r)
    enforcePolicy(policy, { via: 'manifest import', endpoints: [r.endpoint], jit: true, serverUri: r.serverUri, security: r.security, ...(pskBytes === undefined ? {} : { pskBytes }) })
  }
  await store.insertMany(rows)
}
