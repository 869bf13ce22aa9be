/**
 * The plain row view shared by csv / json / ndjson exports and by `manifest import` (which reads the same shape
 * back). Secrets appear only when the caller opened them (`--include-secrets`).
 */
import { derToPem, pemBlocks } from '../../pki/util.js'
import { csvSafe } from '../../validate/escape.js'
import type { ManifestRecord } from '../types.js'

export interface RowSecrets {
  psk?: Buffer
  privateKeyDer?: Buffer
}

/** Export row: the documented field names (json rows carry `server`, `certificate`). */
export interface ExportRow {
  endpoint: string
  status: string
  security: string
  mode: string
  server: string
  pskIdentity: string | null
  certificate: string | null
  fingerprint: string | null
  serial: string | null
  notAfter: string | null
  batch: string
  deviceId: string | null
  station: string | null
  accountId: string | null
  shortServerId: number | null
  lifetime: number | null
  binding: string | null
  enrollmentId: string | null
  readbackDigest: string | null
  /** How the verification was proven: pop-hmac | pop-signature | digest | fcc-status | none. */
  proof: string
  statusReason: string | null
  developer: boolean
  template: string | null
  seq: number | null
  createdAt: string
  updatedAt: string
  /** Namespace id of the manifest the row was exported from (`manifest info`): rows from two ledgers never pass for one. */
  manifest?: string
  /** Hex of the raw PSK (only with --include-secrets). */
  pskKeyHex?: string
  privateKeyPem?: string
}

/** Column order of the CSV export (and accepted by CSV import). */
export const ROW_FIELDS: ReadonlyArray<keyof ExportRow> = [
  'endpoint',
  'status',
  'security',
  'mode',
  'server',
  'pskIdentity',
  'fingerprint',
  'serial',
  'notAfter',
  'batch',
  'deviceId',
  'station',
  'accountId',
  'shortServerId',
  'lifetime',
  'binding',
  'enrollmentId',
  'readbackDigest',
  'proof',
  'statusReason',
  'developer',
  'template',
  'seq',
  'createdAt',
  'updatedAt',
  'manifest',
  'certificate',
]
export const SECRET_FIELDS: ReadonlyArray<keyof ExportRow> = ['pskKeyHex', 'privateKeyPem']

export function toExportRow(r: ManifestRecord, secrets?: RowSecrets, manifest?: string): ExportRow {
  const row: ExportRow = {
    endpoint: r.endpoint,
    status: r.status,
    security: r.security,
    mode: r.mode,
    server: r.serverUri,
    pskIdentity: r.pskIdentity ?? null,
    certificate: r.certificatePem ?? null,
    fingerprint: r.fingerprint ?? null,
    serial: r.serial ?? null,
    notAfter: r.notAfter ?? null,
    batch: r.batch,
    deviceId: r.deviceId ?? null,
    station: r.station ?? null,
    accountId: r.accountId ?? null,
    shortServerId: r.shortServerId ?? null,
    lifetime: r.lifetime ?? null,
    binding: r.binding ?? null,
    enrollmentId: r.enrollmentId ?? null,
    readbackDigest: r.readbackDigest ?? null,
    proof: r.proof ?? 'none',
    statusReason: r.statusReason ?? null,
    developer: r.developer,
    template: r.template ?? null,
    seq: r.seq ?? null,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  }
  if (manifest) row.manifest = manifest
  if (secrets) {
    if (secrets.psk) row.pskKeyHex = secrets.psk.toString('hex')
    if (secrets.privateKeyDer) row.privateKeyPem = derToPem(secrets.privateKeyDer, 'PRIVATE KEY')
  }
  return row
}

/** DER of a row's certificate, or undefined. */
export function certificateDer(r: Pick<ManifestRecord, 'certificatePem'>): Buffer | undefined {
  if (!r.certificatePem) return undefined
  return pemBlocks(r.certificatePem).find((b) => b.label === 'CERTIFICATE')?.der
}

/**
 * RFC 4180 field: quoted when it holds a comma, quote, CR or LF. Text a spreadsheet would run as a formula (leading
 * `=`, `+`, `-`, `@`, tab, CR) gets a leading apostrophe (`csvSafe`); `manifest import` takes it off again. PEM blocks
 * are left as they are: consumers need them verbatim and `-----BEGIN …-----` cannot carry a formula.
 */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return ''
  const raw = typeof v === 'string' ? v : String(v)
  const s = typeof v === 'string' && !/^-----BEGIN [A-Z0-9 ]+-----\r?\n/.test(raw) ? csvSafe(raw) : raw
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** Undoes {@link csvField}'s formula guard on a parsed cell. */
export function csvUnguard(cell: string): string {
  return /^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell
}

/** Parses RFC 4180 CSV (quoted fields may span lines). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let q = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (q) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"'
          i++
        } else q = false
      } else field += c
    } else if (c === '"') q = true
    else if (c === ',') {
      row.push(field)
      field = ''
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++
      row.push(field)
      rows.push(row)
      row = []
      field = ''
    } else field += c
  }
  if (field !== '' || row.length > 0) {
    row.push(field)
    rows.push(row)
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ''))
}
