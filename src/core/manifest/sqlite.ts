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
import type { BatchRecord, HistoryRecord, ManifestFilter, ManifestIdentity, ManifestPolicy, ManifestRecord, ManifestStore, NewManifestRecord, StatusUpdate } from './types.js'

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
      return this.db.prepare(`UPDATE endpoints SET ${sets.join(', ')} WHERE endpoint = ?`).run(...params, endpoint).changes
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
    })
  }

  async info(): Promise<ManifestIdentity> {
    const rows = (await this.retry(() => this.stmt('SELECT key, value FROM manifest_info').all())) as Array<{ key: string; value: string }>
    return identityFrom(rows)
  }

  async setName(name: string): Promise<void> {
    await this.write(() => this.stmt("INSERT INTO manifest_info (key, value) VALUES ('name', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(name))
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close()
  }
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
