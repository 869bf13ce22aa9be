/**
 * Export formats: each turns manifest rows into what one server or tool imports (docs: server-formats.md).
 * A format is pure text generation; `index.ts` does the streaming, chunking into files and digests.
 */
import { safeFileName } from '../../fs/safe-write.js'
import { sha256Colon } from '../../pki/util.js'
import { usageError } from '../../errors.js'
import type { ManifestRecord } from '../types.js'
import { certificateDer, csvField, ROW_FIELDS, type RowSecrets, SECRET_FIELDS, toExportRow } from './rows.js'

export interface FormatContext {
  /** 0-based index of the row within the current output file. */
  index: number
  /** 0-based index of the row over the whole export. */
  total: number
  includeSecrets: boolean
  /** The row's opened secrets (only with --include-secrets; undefined otherwise or when the row has none). */
  secrets: RowSecrets | undefined
  options: ExportOptionsBase
}

export interface ExportOptionsBase {
  /** The exporting manifest's identity: carried in every format that has room for it (rows, comments, headers). */
  manifest?: { namespace: string; name: string }
  /** Coiote DM domain (default `/`). */
  domain?: string
  /** nRF Cloud fwTypes column (default `APP|MODEM`). */
  fwTypes?: string
}

export interface ExportFormat {
  name: string
  summary: string
  /** File extension for --out naming. */
  ext: string
  /** 'single': one stream; 'chunked': at most `chunk` rows a file; 'dir': one file per row in a directory. */
  layout: 'single' | 'chunked' | 'dir'
  chunk?: number
  /** A server's import format: without a --status filter only rows holding credentials (generated, injected, verified). */
  server?: boolean
  /** Whether this format needs PSK secrets for PSK rows (refused without --include-secrets). */
  pskSecretsRequired?: boolean
  head?(o: ExportOptionsBase): string
  /** Text for one row, or undefined to leave the row out (e.g. no certificate). */
  row(r: ManifestRecord, ctx: FormatContext): string | undefined
  tail?(o: ExportOptionsBase): string
  /** dir layout: file name of a row. */
  fileName?(r: ManifestRecord): string
}

/** The Izuma enrollment id of a certificate: "A-" + colon-separated upper-case SHA-256 of its DER. */
export function izumaEnrollmentId(der: Uint8Array): string {
  return `A-${sha256Colon(der)}`
}

/** JSON byte array the way Leshan's ByteArraySerializer writes it: signed ints. */
export function signedBytes(b: Uint8Array | undefined | null): number[] {
  return b ? Array.from(b, (x) => (x > 127 ? x - 256 : x)) : []
}

const LESHAN_MODE = { psk: 'PSK', rpk: 'RPK', cert: 'X509', nosec: 'NO_SEC' } as const
const WAKAAMA_MODE = { psk: 'PSK', rpk: 'RPK', cert: 'Certificate', nosec: 'NoSec' } as const

function needPsk(r: ManifestRecord, ctx: FormatContext): Buffer {
  if (!ctx.secrets?.psk) {
    throw usageError(
      ctx.includeSecrets ? 'E_SECRET_MISSING' : 'E_SECRETS_REQUIRED',
      ctx.includeSecrets ? `${r.endpoint} is a PSK device but the manifest holds no PSK for it.` : `This export format carries PSK secrets (${r.endpoint} is a PSK device).`,
      ctx.includeSecrets ? 'Leave the row out with --batch/--status filters.' : 'Pass --include-secrets (with LWPROV_MASTER_KEY or --key-file) and protect the output file.',
    )
  }
  return ctx.secrets.psk
}

function rowJson(r: ManifestRecord, ctx: FormatContext): string {
  return JSON.stringify(toExportRow(r, ctx.includeSecrets ? ctx.secrets : undefined, ctx.options.manifest?.namespace))
}

const csv: ExportFormat = {
  name: 'csv',
  summary: 'Every field, one row per endpoint, header line (RFC 4180; certificates as quoted multi-line PEM).',
  ext: 'csv',
  layout: 'single',
  head: () => '', // written by the row of index 0 so the secret columns are known
  row(r, ctx) {
    const fields = ctx.includeSecrets ? [...ROW_FIELDS, ...SECRET_FIELDS] : ROW_FIELDS
    const row = toExportRow(r, ctx.includeSecrets ? ctx.secrets : undefined, ctx.options.manifest?.namespace) as unknown as Record<string, unknown>
    const line = `${fields.map((f) => csvField(row[f])).join(',')}\r\n`
    return ctx.total === 0 ? `${fields.join(',')}\r\n${line}` : line
  },
}

const json: ExportFormat = {
  name: 'json',
  summary: 'A JSON array of rows (endpoint, status, security, mode, server, pskIdentity, certificate, fingerprint, …).',
  ext: 'json',
  layout: 'single',
  head: () => '[',
  row: (r, ctx) => `${ctx.index === 0 ? '\n' : ',\n'}${rowJson(r, ctx)}`,
  tail: () => '\n]\n',
}

const ndjson: ExportFormat = {
  name: 'ndjson',
  summary: 'One JSON row a line.',
  ext: 'ndjson',
  layout: 'single',
  row: (r, ctx) => `${rowJson(r, ctx)}\n`,
}

const pem: ExportFormat = {
  name: 'pem',
  summary: 'A directory of device certificates, <endpoint>.pem (to stdout: one concatenated bundle).',
  ext: 'pem',
  layout: 'dir',
  row: (r) => r.certificatePem ?? undefined,
  // injective: a/b, a_b, a:b and a@b are four files (see safeFileName)
  fileName: (r) => safeFileName(r.endpoint, '.pem'),
}

const izuma: ExportFormat = {
  name: 'izuma-enrollment',
  summary: 'Izuma bulk enrollment CSV: a header, then one "A-" + SHA-256(certificate DER) id a line.',
  ext: 'csv',
  layout: 'single',
  head: () => '"enrollment_identity"\n',
  row(r) {
    const der = certificateDer(r)
    return der ? `${izumaEnrollmentId(der)}\n` : undefined
  },
}

const leshanSecurity: ExportFormat = {
  name: 'leshan-security',
  server: true,
  summary: 'Leshan security store: a JSON array of SecurityInfo objects (PUT /api/security/clients/ each).',
  ext: 'json',
  layout: 'single',
  pskSecretsRequired: true,
  head: () => '[',
  row(r, ctx) {
    let o: unknown
    if (r.security === 'psk') o = { endpoint: r.endpoint, tls: { mode: 'psk', details: { identity: r.pskIdentity ?? r.endpoint, key: needPsk(r, ctx).toString('hex') } } }
    else if (r.security === 'cert') o = { endpoint: r.endpoint, tls: { mode: 'x509' } }
    else return undefined // NoSec needs no security info; RPK keys are not held by the manifest
    return `${ctx.index === 0 ? '\n' : ',\n'}${JSON.stringify(o)}`
  },
  tail: () => '\n]\n',
}

function leshanBootstrapConfig(r: ManifestRecord, ctx: FormatContext): unknown {
  const bootstrap = r.mode === 'bootstrap'
  const ssid = r.shortServerId ?? 1
  const cert = certificateDer(r)
  let publicKeyOrId: number[] = []
  let secretKey: number[] = []
  if (r.security === 'psk') {
    publicKeyOrId = signedBytes(Buffer.from(r.pskIdentity ?? r.endpoint, 'utf8'))
    secretKey = signedBytes(needPsk(r, ctx))
  } else if (r.security === 'cert') {
    publicKeyOrId = signedBytes(cert)
    secretKey = signedBytes(ctx.secrets?.privateKeyDer)
  }
  const security = {
    uri: r.serverUri,
    bootstrapServer: bootstrap,
    securityMode: LESHAN_MODE[r.security],
    publicKeyOrId,
    serverPublicKey: [],
    secretKey,
    smsSecurityMode: 'NO_SEC',
    ...(bootstrap ? {} : { serverId: ssid }),
    clientOldOffTime: 1,
    bootstrapServerAccountTimeout: 0,
  }
  const binding = [...(r.binding ?? 'U')].filter((c) => 'UTSN'.includes(c))
  return {
    toDelete: ['/0', '/1'],
    servers: bootstrap ? {} : { '0': { shortId: ssid, lifetime: r.lifetime ?? 86400, defaultMinPeriod: 1, notifIfDisabled: true, binding: binding.length ? binding : ['U'] } },
    security: { [bootstrap ? '0' : '1']: security },
    acls: {},
  }
}

const leshanBootstrap: ExportFormat = {
  name: 'leshan-bootstrap',
  server: true,
  summary: 'Leshan bootstrap store (bootstrapStore.json): { "<endpoint>": BootstrapConfig, … }, byte arrays as signed ints.',
  ext: 'json',
  layout: 'single',
  pskSecretsRequired: true,
  head: () => '{',
  row: (r, ctx) => `${ctx.index === 0 ? '\n' : ',\n'}${JSON.stringify(r.endpoint)}:${JSON.stringify(leshanBootstrapConfig(r, ctx))}`,
  tail: () => '\n}\n',
}

const WAKAAMA_MAX = 65534
/** A manifest name inside a comment line: no line breaks or control characters. */
const oneLine = (s: string) => s.replace(/[\x00-\x1f\x7f]/g, ' ')

const wakaama: ExportFormat = {
  name: 'wakaama-bootstrap-ini',
  server: true,
  summary: 'Wakaama bootstrap_server.ini: one [Server] (unique id) + one [Endpoint] section per device; hex values.',
  ext: 'ini',
  layout: 'single',
  pskSecretsRequired: true,
  head: (o) =>
    `# lwprov export: one [Server] per device (per-device credentials). This file holds secrets: keep it 0600.\n${o.manifest ? `# manifest ${o.manifest.namespace} (${oneLine(o.manifest.name)})\n` : ''}`,
  row(r, ctx) {
    const id = ctx.total + 1
    if (id > WAKAAMA_MAX) {
      throw usageError('E_EXPORT_TOO_MANY', `A Wakaama bootstrap ini holds at most ${WAKAAMA_MAX} devices (server ids 1..${WAKAAMA_MAX}).`, 'Export in smaller parts with --batch or --status.')
    }
    const lines = ['', '[Server]', `id=${id}`, `uri=${r.serverUri}`, `bootstrap=${r.mode === 'bootstrap' ? 'yes' : 'no'}`]
    if (r.mode !== 'bootstrap') lines.push(`lifetime=${r.lifetime ?? 86400}`)
    lines.push(`security=${WAKAAMA_MODE[r.security]}`)
    if (r.security === 'psk') {
      lines.push(`public=${Buffer.from(r.pskIdentity ?? r.endpoint, 'utf8').toString('hex')}`, `secret=${needPsk(r, ctx).toString('hex')}`)
    } else if (r.security === 'cert') {
      const der = certificateDer(r)
      if (der) lines.push(`public=${der.toString('hex')}`)
      if (ctx.secrets?.privateKeyDer) lines.push(`secret=${ctx.secrets.privateKeyDer.toString('hex')}`)
    }
    lines.push('', '[Endpoint]', `Name=${r.endpoint}`, 'Delete=/0', ...(r.mode === 'bootstrap' ? [] : ['Delete=/1']), `Server=${id}`)
    return `${lines.join('\n')}\n`
  },
  // Wakaama's reader (bootstrap_info.c) treats end-of-file inside a section as an error and drops that section: a
  // closing header it ignores ends the last [Endpoint] so the real server keeps it.
  tail: () => '\n# end of the lwprov export (Wakaama keeps the last section only when a header follows it)\n[End]\n',
}

const COIOTE_MODE = { psk: 'psk', rpk: 'rpk', cert: 'cert', nosec: 'nosec' } as const

const coiote: ExportFormat = {
  name: 'coiote',
  server: true,
  summary: 'Coiote DM device JSON for POST /devices/batch: arrays of at most 100 devices (one file each, or one array a line on stdout).',
  ext: 'json',
  layout: 'chunked',
  chunk: 100,
  pskSecretsRequired: true,
  head: () => '[',
  row(r, ctx) {
    const o: Record<string, unknown> = {
      properties: { endpointName: r.endpoint },
      connectorType: r.mode === 'bootstrap' ? 'bootstrap' : 'management',
      domain: ctx.options.domain ?? '/',
      securityMode: COIOTE_MODE[r.security],
    }
    if (r.security === 'psk') {
      o.dtlsIdentity = r.pskIdentity ?? r.endpoint
      o.dtlsPsk = { HexadecimalPsk: needPsk(r, ctx).toString('hex') }
    }
    return `${ctx.index === 0 ? '' : ','}${JSON.stringify(o)}`
  },
  tail: () => ']\n',
}

const awsBulk: ExportFormat = {
  name: 'aws-bulk',
  server: true,
  summary: 'AWS IoT bulk registration input: NDJSON, ThingName + SerialNumber + CertificatePem per line.',
  ext: 'ndjson',
  layout: 'single',
  row: (r) =>
    `${JSON.stringify({ ThingName: r.endpoint, ...(r.serial ? { SerialNumber: r.serial } : {}), ...(r.certificatePem ? { CertificatePem: r.certificatePem } : {}) })}\n`,
}

const nrfcloud: ExportFormat = {
  name: 'nrfcloud-onboard',
  server: true,
  summary: 'nRF Cloud onboarding CSV: no header, deviceId,subType,tags,fwTypes,"PEM"; at most 1,000 rows a file.',
  ext: 'csv',
  layout: 'chunked',
  chunk: 1000,
  row(r, ctx) {
    if (!r.certificatePem) return undefined
    if (r.endpoint.length > 64) {
      throw usageError('E_EXPORT_ID_TOO_LONG', `nRF Cloud device ids are at most 64 characters; ${r.endpoint} has ${r.endpoint.length}.`, 'Use shorter endpoint names for nRF Cloud devices.')
    }
    const tags = r.batch.replace(/[|,"\r\n]/g, '_')
    return `${csvField(r.endpoint)},,${csvField(tags)},${ctx.options.fwTypes ?? 'APP|MODEM'},${csvField(r.certificatePem)}\n`
  },
}

export const FORMATS: Readonly<Record<string, ExportFormat>> = Object.fromEntries(
  [csv, json, ndjson, pem, izuma, leshanSecurity, leshanBootstrap, wakaama, coiote, awsBulk, nrfcloud].map((f) => [f.name, f]),
)
export const FORMAT_NAMES = Object.keys(FORMATS)

export function getFormat(name: string): ExportFormat {
  const f = FORMATS[name]
  if (!f) throw usageError('E_FORMAT_UNKNOWN', `Unknown export format '${name}'.`, `Use one of: ${FORMAT_NAMES.join(', ')}.`)
  return f
}
