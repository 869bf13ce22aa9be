/**
 * The embedded manifest: one SQLite file (better-sqlite3) in WAL mode, safe for many processes on one machine.
 *
 * Every write runs in a `BEGIN IMMEDIATE` transaction, so the write lock is taken before anything is read and a
 * reader-turned-writer can never hit an unresolvable SQLITE_BUSY_SNAPSHOT; `busy_timeout` makes SQLite itself wait
 * for the lock, and a bounded retry with jitter covers the rare BUSY that escapes it (e.g. during a WAL reset).
 */
import Database from 'better-sqlite3'

import { conflictError, LwprovError, usageError } from '../errors.js'
import {
  COLUMN_NAMES,
  duplicateMessage,
  DUPLICATE_HINT,
  HELD_STATUSES,
  recordValues,
  rowToRecord,
  statusList,
  UPDATE_COLUMNS,
  arrayToRecord,
  historyCopySql,
  rowToHistory,
  withProofRule,
} from './columns.js'
import { shown } from '../validate/escape.js'
import { buildAppend, manyEndpoints, type AuditCheckpoint, type AuditContext, type AuditEntry, type AuditInput } from './audit.js'
import { auditForStatus, caQuotaError, caRevokedError, rowToAudit, rowToCa, rowToCheckpoint, rowToRevocation } from './ledger.js'
import type { AuditFilter, CaRecord, RevocationRecord } from './types.js'
import type { BatchRecord, HistoryRecord, ManifestFilter, ManifestIdentity, ManifestPolicy, ManifestRecord, ManifestStore, NewManifestRecord, StatusUpdate } from './types.js'

/** Migration 5, shared with PostgreSQL (`id` is the integer type of each). */
export const AUDIT_MIGRATION = (int: string): string => `
   CREATE TABLE audit_log (
     seq ${int} PRIMARY KEY,
     at TEXT NOT NULL,
     station TEXT NOT NULL,
     operator TEXT NOT NULL,
     action TEXT NOT NULL,
     subject TEXT NOT NULL,
     details TEXT NOT NULL,
     prev_hash TEXT NOT NULL,
     hash TEXT NOT NULL
   );
   CREATE INDEX audit_log_at ON audit_log (at);
   CREATE INDEX audit_log_subject ON audit_log (subject);
   CREATE TABLE audit_checkpoints (seq ${int} PRIMARY KEY, hash TEXT NOT NULL, at TEXT NOT NULL, public_key TEXT NOT NULL, signature TEXT NOT NULL);
   CREATE TABLE cas (
     fingerprint TEXT PRIMARY KEY,
     subject TEXT NOT NULL,
     parent_fingerprint TEXT,
     key_id TEXT NOT NULL,
     certificate_pem TEXT NOT NULL,
     max_certificates ${int},
     issued ${int} NOT NULL DEFAULT 0,
     not_after TEXT NOT NULL,
     revoked_at TEXT,
     revoke_reason TEXT,
     created_at TEXT NOT NULL
   );
   CREATE TABLE revocations (
     serial TEXT NOT NULL,
     issuer_key_id TEXT NOT NULL,
     subject TEXT NOT NULL,
     revoked_at TEXT NOT NULL,
     reason TEXT,
     PRIMARY KEY (issuer_key_id, serial)
   );`

/** Schema migrations, in order; index + 1 is the version. Never edit a released one: append. */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `CREATE TABLE endpoints (
     id INTEGER PRIMARY KEY,
     endpoint TEXT NOT NULL,
     batch TEXT NOT NULL,
     mode TEXT NOT NULL,
     security TEXT NOT NULL,
     server_uri TEXT NOT NULL,
     status TEXT NOT NULL,
     status_reason TEXT,
     psk_identity TEXT,
     certificate_pem TEXT,
     serial TEXT,
     fingerprint TEXT,
     not_after TEXT,
     secret BLOB,
     account_id TEXT,
     short_server_id INTEGER,
     lifetime INTEGER,
     binding TEXT,
     enrollment_id TEXT,
     device_id TEXT,
     station TEXT,
     readback_digest TEXT,
     developer INTEGER NOT NULL DEFAULT 0,
     template TEXT,
     seq INTEGER,
     claim_hash TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     CONSTRAINT endpoints_endpoint_unique UNIQUE (endpoint)
   );
   CREATE INDEX endpoints_batch_status ON endpoints (batch, status);
   CREATE INDEX endpoints_template_seq ON endpoints (template, seq) WHERE template IS NOT NULL;
   CREATE INDEX endpoints_device ON endpoints (device_id) WHERE device_id IS NOT NULL;
   CREATE TABLE sequences (template TEXT PRIMARY KEY, next INTEGER NOT NULL);
   CREATE TABLE batches (
     name TEXT PRIMARY KEY,
     template TEXT,
     count INTEGER,
     profile TEXT,
     activates_on TEXT,
     expires_on TEXT,
     created_at TEXT NOT NULL
   );`,
  // 2 (issue 10): where a row came from (NULL = issued here, 'imported'); credentials a re-provisioning replaced;
  // manifest policies (one JSON value per policy name).
  `ALTER TABLE endpoints ADD COLUMN provenance TEXT;
   CREATE TABLE endpoint_history (
     id INTEGER PRIMARY KEY,
     endpoint TEXT NOT NULL,
     superseded_at TEXT NOT NULL,
     reason TEXT NOT NULL,
     superseded_by TEXT,
     device_id TEXT,
     status TEXT NOT NULL,
     server_uri TEXT,
     psk_identity TEXT,
     certificate_pem TEXT,
     serial TEXT,
     fingerprint TEXT,
     not_after TEXT,
     secret BLOB,
     readback_digest TEXT,
     provenance TEXT
   );
   CREATE INDEX endpoint_history_endpoint ON endpoint_history (endpoint);
   CREATE TABLE policies (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL);`,
  // 3: the manifest's identity (issue 9): a namespace id and a human name, set when the manifest is created
  `CREATE TABLE manifest_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   INSERT INTO manifest_info (key, value) VALUES ('namespace', lower(hex(randomblob(16)))), ('name', 'manifest'), ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));`,
  // 4 (issue 10, proof of possession): how a verified row was proven: pop-hmac | pop-signature | digest |
  // fcc-status | none (NULL). Rows verified before this version had only the read-back digest (or the FCC status,
  // which also records a digest): they become 'digest', the weaker proof; imported rows stay NULL (none).
  `ALTER TABLE endpoints ADD COLUMN proof TEXT;
   UPDATE endpoints SET proof = 'digest' WHERE status = 'verified' AND readback_digest IS NOT NULL AND provenance IS NULL;`,
  // 5 (issue 13): the hash-chained audit log and its signed checkpoints; CAs the manifest knows (delegated line CAs
  // with their quota, revoked CAs); revoked certificates for CRLs.
  AUDIT_MIGRATION('INTEGER'),
]

export const SQLITE_SCHEMA_VERSION = SQLITE_MIGRATIONS.length

/** Rows per `IN (…)` lookup and per page of a streamed listing. */
const PAGE = 1000
const MAX_RETRIES = 50

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

function isBusy(e: unknown): boolean {
  const code = (e as { code?: string }).code
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
}

export interface SqliteOptions {
  /** Milliseconds SQLite waits for a lock before reporting BUSY (default 30 s). */
  busyTimeoutMs?: number
  readonly?: boolean
}

export class SqliteManifestStore implements ManifestStore {
  readonly kind = 'sqlite'
  readonly location: string
  /** The underlying connection; tests and `verify` use it for raw SQL. */
  readonly db: Database.Database
  private prepared = new Map<string, Database.Statement>()

  constructor(path: string, opts: SqliteOptions = {}) {
    this.location = path
    this.db = new Database(path, { timeout: opts.busyTimeoutMs ?? 30_000, readonly: opts.readonly ?? false })
  }

  /** Connection settings; separate from the constructor so open.ts can map errors (not a database, locked). */
  async init(): Promise<void> {
    await this.retry(() => {
      // WAL: readers never block the writer; NORMAL sync is durable across application crashes, and a power loss
      // can only lose the last commits, never corrupt the file.
      if (!this.db.readonly) this.db.pragma('journal_mode = WAL')
      this.db.pragma('synchronous = NORMAL')
      this.db.pragma('foreign_keys = ON')
    })
  }

  private stmt(sql: string): Database.Statement {
    let s = this.prepared.get(sql)
    if (!s) {
      s = this.db.prepare(sql)
      this.prepared.set(sql, s)
    }
    return s
  }

  /** Runs `fn`, retrying while another process holds the lock past busy_timeout. */
  private async retry<T>(fn: () => T): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return fn()
      } catch (e) {
        if (!isBusy(e) || attempt >= MAX_RETRIES) throw e
        await sleep(5 + Math.random() * Math.min(500, 10 * 2 ** Math.min(attempt, 6)))
      }
    }
  }

  /** `fn` inside BEGIN IMMEDIATE … COMMIT, retried on BUSY. */
  private write<T>(fn: () => T): Promise<T> {
    const tx = this.db.transaction(fn)
    return this.retry(() => tx.immediate())
  }

  /** Schema version recorded in the file (0 for a new file). */
  schemaVersion(): number {
    const has = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get()
    if (!has) return 0
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null }
    return row.v ?? 0
  }

  async migrate(): Promise<number> {
    return this.write(() => {
      this.db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)')
      const current = this.schemaVersion()
      if (current > SQLITE_SCHEMA_VERSION) throw newerSchemaError(this.location, current, SQLITE_SCHEMA_VERSION)
      for (let v = current + 1; v <= SQLITE_SCHEMA_VERSION; v++) {
        this.db.exec(SQLITE_MIGRATIONS[v - 1]!)
        this.db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(v, new Date().toISOString())
      }
      return SQLITE_SCHEMA_VERSION
    })
  }

  async insertMany(rows: NewManifestRecord[]): Promise<void> {
    if (rows.length > 0) await this.insertAtomically(undefined, rows)
  }

  /** Names in `names` that already exist or repeat within `names`, in input order, each once. */
  private findExisting(names: string[]): string[] {
    const found = new Set<string>()
    const seen = new Set<string>()
    for (const n of names) {
      if (seen.has(n)) found.add(n)
      seen.add(n)
    }
    for (let i = 0; i < names.length; i += PAGE) {
      const chunk = names.slice(i, i + PAGE)
      const q = this.db.prepare(`SELECT endpoint FROM endpoints WHERE endpoint IN (${chunk.map(() => '?').join(',')})`)
      for (const r of q.all(...chunk) as { endpoint: string }[]) found.add(r.endpoint)
    }
    return names.filter((n) => found.has(n) && (found.delete(n) || true))
  }

  async allocateSeq(template: string, count: number, start?: number): Promise<number> {
    if (!Number.isInteger(count) || count < 1) throw usageError('E_COUNT_INVALID', `Cannot allocate ${count} numbers.`, 'Pass --count 1 or more.')
    const getNext = this.stmt('SELECT next FROM sequences WHERE template = ?')
    const getMax = this.stmt('SELECT MAX(seq) AS m FROM endpoints WHERE template = ?')
    const put = this.stmt('INSERT INTO sequences (template, next) VALUES (?, ?) ON CONFLICT (template) DO UPDATE SET next = excluded.next')
    return this.write(() => {
      const counter = (getNext.get(template) as { next: number } | undefined)?.next ?? 1
      const maxSeq = (getMax.get(template) as { m: number | null }).m
      const floor = Math.max(counter, maxSeq === null ? 1 : maxSeq + 1)
      const first = start ?? floor
      put.run(template, Math.max(floor, first + count))
      return first
    })
  }

  async get(endpoint: string): Promise<ManifestRecord | undefined> {
    const row = await this.retry(() => this.stmt('SELECT * FROM endpoints WHERE endpoint = ?').get(endpoint) as Record<string, unknown> | undefined)
    return row ? rowToRecord(row) : undefined
  }

  private where(f: ManifestFilter | undefined): { sql: string; params: unknown[] } {
    const parts: string[] = []
    const params: unknown[] = []
    if (f?.batch !== undefined) {
      parts.push('batch = ?')
      params.push(f.batch)
    }
    const st = statusList(f)
    if (st) {
      parts.push(`status IN (${st.map(() => '?').join(',')})`)
      params.push(...st)
    }
    if (f?.since !== undefined) {
      parts.push('updated_at >= ?')
      params.push(f.since)
    }
    if (f?.developer !== undefined) {
      parts.push('developer = ?')
      params.push(f.developer ? 1 : 0)
    }
    if (f?.deviceId !== undefined) {
      parts.push('device_id = ?')
      params.push(f.deviceId)
    }
    return { sql: parts.length ? parts.join(' AND ') : '1', params }
  }

  /**
   * Keyset pagination by rowid: memory stays flat, no read transaction is held open between pages (so the WAL can
   * checkpoint and writers are never blocked), and the caller may write to the store while iterating.
   */
  async *list(filter?: ManifestFilter): AsyncIterable<ManifestRecord> {
    const w = this.where(filter)
    let remaining = filter?.limit ?? Number.POSITIVE_INFINITY
    let after = -1
    // Arrays rather than row objects: better-sqlite3 builds a 28-property object per row otherwise, the main cost
    // of a million-row export. `id` is selected last so the column order matches COLUMN_NAMES.
    const q = this.db.prepare(`SELECT ${COLUMN_NAMES.join(', ')}, id FROM endpoints WHERE id > ? AND ${w.sql} ORDER BY id LIMIT ?`).raw(true)
    const idIdx = COLUMN_NAMES.length
    while (remaining > 0) {
      const n = Math.min(PAGE, remaining)
      const rows = (await this.retry(() => q.all(after, ...w.params, n))) as unknown[][]
      for (const r of rows) yield arrayToRecord(r)
      if (rows.length < n) return
      remaining -= rows.length
      after = rows[rows.length - 1]![idIdx] as number
    }
  }

  async count(filter?: ManifestFilter): Promise<number> {
    const w = this.where(filter)
    const row = await this.retry(() => this.db.prepare(`SELECT COUNT(*) AS n FROM endpoints WHERE ${w.sql}`).get(...w.params) as { n: number })
    return filter?.limit === undefined ? row.n : Math.min(row.n, filter.limit)
  }

  async updateStatus(endpoint: string, given: StatusUpdate): Promise<ManifestRecord> {
    const update = withProofRule(given)
    const sets: string[] = []
    const params: unknown[] = []
    for (const [f, c] of UPDATE_COLUMNS) {
      const v = update[f]
      if (v === undefined) continue
      sets.push(`${c} = ?`)
      params.push(v)
    }
    sets.push('updated_at = ?')
    params.push(new Date().toISOString())
    const sup = update.supersede
    const changed = await this.write(() => {
      if (sup) this.db.prepare(historyCopySql(() => '?')).run(new Date().toISOString(), sup.reason, sup.station ?? null, endpoint)
      const n = this.db.prepare(`UPDATE endpoints SET ${sets.join(', ')} WHERE endpoint = ?`).run(...params, endpoint).changes
      if (n > 0) this.appendSync([auditForStatus(endpoint, update)])
      return n
    })
    if (changed === 0) throw notFoundError(endpoint)
    return (await this.get(endpoint))!
  }

  async claimNext(batch: string, deviceId: string, station: string): Promise<ManifestRecord | undefined> {
    const held = this.stmt(
      `SELECT id FROM endpoints WHERE batch = ? AND device_id = ? AND status IN (${HELD_STATUSES.map(() => '?').join(',')}) ORDER BY id LIMIT 1`,
    )
    const free = this.stmt("SELECT id FROM endpoints WHERE batch = ? AND status IN ('reserved', 'generated') AND device_id IS NULL ORDER BY id LIMIT 1")
    const take = this.stmt('UPDATE endpoints SET device_id = ?, station = ?, updated_at = ? WHERE id = ?')
    const byId = this.stmt('SELECT * FROM endpoints WHERE id = ?')
    const row = await this.write(() => {
      const hit = (held.get(batch, deviceId, ...HELD_STATUSES) ?? free.get(batch)) as { id: number } | undefined
      if (!hit) return undefined
      take.run(deviceId, station, new Date().toISOString(), hit.id)
      return byId.get(hit.id) as Record<string, unknown>
    })
    return row ? rowToRecord(row) : undefined
  }

  async createBatch(b: Omit<BatchRecord, 'createdAt'>): Promise<void> {
    await this.insertAtomically(b, [])
  }

  /**
   * A work-order header and its rows in one transaction. The header goes first: its primary key makes a second
   * creator of the same batch fail with `E_BATCH_EXISTS` before it writes a row, and a crash leaves both or neither.
   */
  async createBatchWithRows(b: Omit<BatchRecord, 'createdAt'>, rows: NewManifestRecord[]): Promise<void> {
    await this.insertAtomically(b, rows)
  }

  /** The one write path for new rows (and an optional batch header): one transaction; on a duplicate, nothing written. */
  private async insertAtomically(header: Omit<BatchRecord, 'createdAt'> | undefined, rows: NewManifestRecord[]): Promise<void> {
    const ins = this.stmt(`INSERT INTO endpoints (${COLUMN_NAMES.join(', ')}) VALUES (${COLUMN_NAMES.map(() => '?').join(', ')})`)
    const now = new Date().toISOString()
    try {
      await this.write(() => {
        if (header) {
          try {
            this.stmt('INSERT INTO batches (name, template, count, profile, activates_on, expires_on, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
              header.name,
              header.template ?? null,
              header.count ?? null,
              header.profile ?? null,
              header.activatesOn ?? null,
              header.expiresOn ?? null,
              now,
            )
          } catch (e) {
            if ((e as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) {
              throw conflictError('E_BATCH_EXISTS', `A batch named ${header.name} already exists.`, 'Choose another --batch name.')
            }
            throw e
          }
        }
        for (const r of rows) ins.run(recordValues(r, now, true))
        this.appendSync(auditForInsert(header, rows))
      })
    } catch (e) {
      if ((e as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw e
      // The transaction rolled back (header included); now name every duplicate, in the rows or already issued.
      const dups = await this.retry(() => this.findExisting(rows.map((r) => r.endpoint)))
      throw conflictError('E_DUPLICATE_ENDPOINT', duplicateMessage(dups), DUPLICATE_HINT, { duplicates: dups })
    }
  }

  async getBatch(name: string): Promise<BatchRecord | undefined> {
    const r = await this.retry(() => this.stmt('SELECT * FROM batches WHERE name = ?').get(name) as Record<string, unknown> | undefined)
    return r ? rowToBatch(r) : undefined
  }

  async listBatches(): Promise<BatchRecord[]> {
    const rows = await this.retry(() => this.stmt('SELECT * FROM batches ORDER BY created_at, name').all() as Record<string, unknown>[])
    return rows.map(rowToBatch)
  }

  async history(endpoint: string): Promise<HistoryRecord[]> {
    const rows = await this.retry(() => this.stmt('SELECT * FROM endpoint_history WHERE endpoint = ? ORDER BY id').all(endpoint) as Record<string, unknown>[])
    return rows.map(rowToHistory)
  }

  async getPolicy(): Promise<ManifestPolicy> {
    const rows = await this.retry(() => this.stmt('SELECT name, value FROM policies').all() as Array<{ name: string; value: string }>)
    return Object.fromEntries(rows.map((r) => [r.name, JSON.parse(r.value)])) as ManifestPolicy
  }

  async setPolicy(policy: ManifestPolicy): Promise<void> {
    const now = new Date().toISOString()
    await this.write(() => {
      this.db.prepare('DELETE FROM policies').run()
      const ins = this.db.prepare('INSERT INTO policies (name, value, updated_at) VALUES (?, ?, ?)')
      for (const [k, v] of Object.entries(policy)) if (v !== undefined) ins.run(k, JSON.stringify(v), now)
      this.appendSync([{ action: 'policy.changed', subject: 'manifest', details: { policy } }])
    })
  }

  async info(): Promise<ManifestIdentity> {
    const rows = (await this.retry(() => this.stmt('SELECT key, value FROM manifest_info').all())) as Array<{ key: string; value: string }>
    return identityFrom(rows)
  }

  async setName(name: string): Promise<void> {
    await this.write(() => this.stmt("INSERT INTO manifest_info (key, value) VALUES ('name', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(name))
  }

  private auditCtx: AuditContext = { station: 'unknown', operator: 'unknown' }
  private keyRecorded = false

  setAuditContext(ctx: AuditContext): void {
    this.auditCtx = ctx
  }

  /** Appends inside the caller's write transaction (BEGIN IMMEDIATE already serialises writers). */
  private appendSync(inputs: AuditInput[]): void {
    if (inputs.length === 0) return
    const last = this.stmt('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined
    const { entries, checkpoint } = buildAppend(last, inputs, this.auditCtx)
    const ins = this.stmt('INSERT INTO audit_log (seq, at, station, operator, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
    for (const e of entries) ins.run(e.seq, e.at, e.station, e.operator, e.action, e.subject, e.details, e.prevHash, e.hash)
    if (checkpoint) {
      this.stmt('INSERT INTO audit_checkpoints (seq, hash, at, public_key, signature) VALUES (?, ?, ?, ?, ?)').run(checkpoint.seq, checkpoint.hash, checkpoint.at, checkpoint.publicKey, checkpoint.signature)
      // once per process is enough: the first checkpoint records the key
      if (!this.keyRecorded) this.stmt("INSERT INTO manifest_info (key, value) VALUES ('signing_public_key', ?) ON CONFLICT (key) DO NOTHING").run(checkpoint.publicKey)
      this.keyRecorded = true
    }
  }

  async appendAudit(inputs: AuditInput[]): Promise<void> {
    await this.write(() => this.appendSync(inputs))
  }

  async listAudit(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    const parts: string[] = []
    const params: unknown[] = []
    if (filter.since !== undefined) {
      parts.push('at >= ?')
      params.push(filter.since)
    }
    if (filter.endpoint !== undefined) {
      parts.push('(subject = ? OR instr(details, ?) > 0)')
      params.push(filter.endpoint, JSON.stringify(filter.endpoint))
    }
    const sql = `SELECT * FROM audit_log WHERE ${parts.length ? parts.join(' AND ') : '1'} ORDER BY seq${filter.limit ? ` LIMIT ${Math.floor(filter.limit)}` : ''}`
    const rows = await this.retry(() => this.db.prepare(sql).all(...params) as Record<string, unknown>[])
    return rows.map(rowToAudit)
  }

  async auditCheckpoints(): Promise<AuditCheckpoint[]> {
    const rows = await this.retry(() => this.stmt('SELECT * FROM audit_checkpoints ORDER BY seq').all() as Record<string, unknown>[])
    return rows.map(rowToCheckpoint)
  }

  async signingPublicKey(): Promise<string | undefined> {
    const r = await this.retry(() => this.stmt("SELECT value FROM manifest_info WHERE key = 'signing_public_key'").get() as { value: string } | undefined)
    return r?.value
  }

  async registerCa(ca: Omit<CaRecord, 'issued' | 'createdAt' | 'revokedAt' | 'revokeReason'>, audit: AuditInput): Promise<void> {
    await this.write(() => {
      if (this.stmt('SELECT 1 FROM cas WHERE fingerprint = ?').get(ca.fingerprint)) throw conflictError('E_CA_EXISTS', `The manifest already records the CA ${ca.subject}.`, 'Each CA is recorded once.')
      this.stmt(
        'INSERT INTO cas (fingerprint, subject, parent_fingerprint, key_id, certificate_pem, max_certificates, issued, not_after, created_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)',
      ).run(ca.fingerprint, ca.subject, ca.parentFingerprint, ca.keyId, ca.certificatePem, ca.maxCertificates, ca.notAfter, new Date().toISOString())
      this.appendSync([audit])
    })
  }

  async getCa(fingerprint: string): Promise<CaRecord | undefined> {
    const r = await this.retry(() => this.stmt('SELECT * FROM cas WHERE fingerprint = ?').get(fingerprint) as Record<string, unknown> | undefined)
    return r ? rowToCa(r) : undefined
  }

  async listCas(): Promise<CaRecord[]> {
    const rows = await this.retry(() => this.stmt('SELECT * FROM cas ORDER BY created_at').all() as Record<string, unknown>[])
    return rows.map(rowToCa)
  }

  async consumeCaQuota(fingerprint: string, count: number): Promise<void> {
    await this.write(() => {
      const r = this.stmt('SELECT * FROM cas WHERE fingerprint = ?').get(fingerprint) as Record<string, unknown> | undefined
      if (!r) return
      const ca = rowToCa(r)
      if (ca.revokedAt) throw caRevokedError(ca)
      if (ca.maxCertificates !== null && ca.issued + count > ca.maxCertificates) throw caQuotaError(ca, count)
      this.stmt('UPDATE cas SET issued = issued + ? WHERE fingerprint = ?').run(count, fingerprint)
    })
  }

  async revoke(items: Array<RevocationRecord & { endpoint?: string; caFingerprint?: string }>, audit: AuditInput): Promise<void> {
    const now = new Date().toISOString()
    await this.write(() => {
      for (const it of items) {
        this.stmt('INSERT INTO revocations (serial, issuer_key_id, subject, revoked_at, reason) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING').run(it.serial, it.issuerKeyId, it.subject, it.revokedAt, it.reason)
        if (it.endpoint !== undefined) this.stmt("UPDATE endpoints SET status = 'revoked', status_reason = ?, updated_at = ? WHERE endpoint = ?").run(it.reason, now, it.endpoint)
        if (it.caFingerprint !== undefined) this.stmt('UPDATE cas SET revoked_at = ?, revoke_reason = ? WHERE fingerprint = ? AND revoked_at IS NULL').run(it.revokedAt, it.reason, it.caFingerprint)
      }
      this.appendSync([audit])
    })
  }

  async listRevocations(): Promise<RevocationRecord[]> {
    const rows = await this.retry(() => this.stmt('SELECT * FROM revocations ORDER BY revoked_at, serial').all() as Record<string, unknown>[])
    return rows.map(rowToRevocation)
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close()
  }
}

/** The audit entry of an insert: a work order, an import, or issued credentials (one entry per batch act). */
export function auditForInsert(header: Omit<BatchRecord, 'createdAt'> | undefined, rows: NewManifestRecord[]): AuditInput[] {
  const out: AuditInput[] = []
  if (header) out.push({ action: 'batch.created', subject: header.name, details: { count: header.count ?? rows.length, template: header.template ?? null } })
  if (rows.length === 0) return out
  const imported = rows[0]!.provenance === 'imported'
  const batch = rows[0]!.batch
  const action = imported ? 'imported' : header ? 'reserved' : 'issued'
  const subject = rows.length === 1 ? rows[0]!.endpoint : `batch ${batch}`
  out.push(manyEndpoints(action, subject, rows.map((r) => r.endpoint), { batch, certificates: rows.filter((r) => r.certificatePem).length }))
  return out
}

export function identityFrom(rows: Array<{ key: string; value: string }>): ManifestIdentity {
  const m = new Map(rows.map((r) => [r.key, r.value]))
  return { namespace: m.get('namespace') ?? '', name: m.get('name') ?? '', createdAt: m.get('created_at') ?? '' }
}

export function rowToBatch(r: Record<string, unknown>): BatchRecord {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : (v as string | null))
  return {
    name: r.name as string,
    template: (r.template as string | null) ?? null,
    count: r.count === null || r.count === undefined ? null : Number(r.count),
    profile: (r.profile as string | null) ?? null,
    activatesOn: iso(r.activates_on) ?? null,
    expiresOn: iso(r.expires_on) ?? null,
    createdAt: iso(r.created_at)!,
  }
}

export function notFoundError(endpoint: string): LwprovError {
  return usageError('E_ENDPOINT_NOT_FOUND', `No endpoint ${shown(endpoint)} in the manifest.`, 'Check the name with `lwprov manifest list`, and --manifest.')
}

export function newerSchemaError(location: string, found: number, known: number): LwprovError {
  return usageError(
    'E_MANIFEST_SCHEMA',
    `The manifest ${location} has schema version ${found}; this lwprov knows up to ${known}.`,
    'Upgrade lwprov to the version that last wrote this manifest.',
  )
}
