/**
 * The shared manifest on PostgreSQL (`pg`), for factories with several stations or lines in one endpoint namespace.
 * Same contract as SQLite: UNIQUE endpoint names, all-or-nothing batches, atomic `{seq}` allocation
 * (`INSERT … ON CONFLICT DO UPDATE … RETURNING` is one atomic statement, so no retry loop is needed), claims with
 * `FOR UPDATE SKIP LOCKED` so stations never wait on each other, and keyset-paginated listing.
 */
import pg from 'pg'

import { conflictError, LwprovError, transportError, usageError } from '../errors.js'
import { COLUMN_NAMES, duplicateMessage, DUPLICATE_HINT, HELD_STATUSES, historyCopySql, recordValues, rowToHistory, rowToRecord, statusList, UPDATE_COLUMNS, withProofRule } from './columns.js'
import { resolvePgUrl } from './pg-service.js'
import { redactUrl } from './redact.js'
import { buildAppend, type AuditCheckpoint, type AuditContext, type AuditEntry, type AuditInput } from './audit.js'
import { auditForStatus, caQuotaError, caRevokedError, rowToAudit, rowToCa, rowToCheckpoint, rowToRevocation } from './ledger.js'
import { AUDIT_MIGRATION, auditForInsert, identityFrom, newerSchemaError, notFoundError, rowToBatch } from './sqlite.js'
import type { AuditFilter, CaRecord, RevocationRecord } from './types.js'
import type { BatchRecord, HistoryRecord, ManifestFilter, ManifestIdentity, ManifestPolicy, ManifestRecord, ManifestStore, NewManifestRecord, StatusUpdate } from './types.js'

export const PG_MIGRATIONS: readonly string[] = [
  `CREATE TABLE endpoints (
     id BIGSERIAL PRIMARY KEY,
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
     secret BYTEA,
     account_id TEXT,
     short_server_id INTEGER,
     lifetime INTEGER,
     binding TEXT,
     enrollment_id TEXT,
     device_id TEXT,
     station TEXT,
     readback_digest TEXT,
     developer BOOLEAN NOT NULL DEFAULT FALSE,
     template TEXT,
     seq BIGINT,
     claim_hash TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     CONSTRAINT endpoints_endpoint_unique UNIQUE (endpoint)
   );
   CREATE INDEX endpoints_batch_status ON endpoints (batch, status);
   CREATE INDEX endpoints_template_seq ON endpoints (template, seq) WHERE template IS NOT NULL;
   CREATE INDEX endpoints_device ON endpoints (device_id) WHERE device_id IS NOT NULL;
   CREATE TABLE sequences (template TEXT PRIMARY KEY, next BIGINT NOT NULL);
   CREATE TABLE batches (
     name TEXT PRIMARY KEY,
     template TEXT,
     count INTEGER,
     profile TEXT,
     activates_on TEXT,
     expires_on TEXT,
     created_at TEXT NOT NULL
   );`,
  // 2 (issue 10): provenance, superseded credentials, manifest policies (as in SQLite).
  `ALTER TABLE endpoints ADD COLUMN provenance TEXT;
   CREATE TABLE endpoint_history (
     id BIGSERIAL PRIMARY KEY,
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
     secret BYTEA,
     readback_digest TEXT,
     provenance TEXT
   );
   CREATE INDEX endpoint_history_endpoint ON endpoint_history (endpoint);
   CREATE TABLE policies (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL);`,
  // 3: the manifest's identity (issue 9): a namespace id and a human name, set when the manifest is created
  `CREATE TABLE manifest_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   INSERT INTO manifest_info (key, value) VALUES ('namespace', md5(random()::text || clock_timestamp()::text)), ('name', current_database()), ('created_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));`,
  // 4 (issue 10, proof of possession): how a verified row was proven: pop-hmac | pop-signature | digest |
  // fcc-status | none (NULL). Rows verified before this version had only the read-back digest (or the FCC status,
  // which also records a digest): they become 'digest', the weaker proof; imported rows stay NULL (none).
  `ALTER TABLE endpoints ADD COLUMN proof TEXT;
   UPDATE endpoints SET proof = 'digest' WHERE status = 'verified' AND readback_digest IS NOT NULL AND provenance IS NULL;`,
  // 5 (issue 13): audit log + signed checkpoints, CA registry (quotas, revocation), revoked certificates.
  AUDIT_MIGRATION('BIGINT'),
]
export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length

/** Column SQL types, for the `unnest` bulk insert. */
const PG_TYPES: Record<string, string> = {
  secret: 'bytea',
  short_server_id: 'int4',
  lifetime: 'int4',
  developer: 'bool',
  seq: 'int8',
}
const PAGE = 1000
/** Rows per INSERT … SELECT unnest(…) statement. */
const INSERT_CHUNK = 5000
/** Advisory lock key serialising migrations across processes ('lwpr' as int). */
const MIGRATE_LOCK = 0x6c777072
/** Advisory lock serialising audit appends ('lwau'): one chain, no forks, across every station. */
const AUDIT_LOCK = 0x6c776175

export class PostgresManifestStore implements ManifestStore {
  readonly kind = 'postgres'
  readonly location: string
  readonly pool: pg.Pool

  constructor(url: string, opts: { max?: number } = {}) {
    this.location = redactUrl(url)
    this.pool = new pg.Pool({ connectionString: resolvePgUrl(url), max: opts.max ?? 4 })
    // An idle client losing its server must not crash the process; the next query reports it.
    this.pool.on('error', () => undefined)
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect()
    try {
      await c.query('BEGIN')
      const r = await fn(c)
      await c.query('COMMIT')
      return r
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined)
      throw e
    } finally {
      c.release()
    }
  }

  async schemaVersion(): Promise<number> {
    const t = await this.pool.query("SELECT to_regclass('schema_version') IS NOT NULL AS has")
    if (!t.rows[0].has) return 0
    const r = await this.pool.query('SELECT MAX(version) AS v FROM schema_version')
    return r.rows[0].v === null ? 0 : Number(r.rows[0].v)
  }

  async migrate(): Promise<number> {
    return this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATE_LOCK])
      await c.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)')
      const r = await c.query('SELECT MAX(version) AS v FROM schema_version')
      const current = r.rows[0].v === null ? 0 : Number(r.rows[0].v)
      if (current > PG_SCHEMA_VERSION) throw newerSchemaError(this.location, current, PG_SCHEMA_VERSION)
      for (let v = current + 1; v <= PG_SCHEMA_VERSION; v++) {
        await c.query(PG_MIGRATIONS[v - 1]!)
        await c.query('INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)', [v, new Date().toISOString()])
      }
      return PG_SCHEMA_VERSION
    })
  }

  async insertMany(rows: NewManifestRecord[]): Promise<void> {
    if (rows.length > 0) await this.insertAtomically(undefined, rows)
  }

  async allocateSeq(template: string, count: number, start?: number): Promise<number> {
    if (!Number.isInteger(count) || count < 1) throw usageError('E_COUNT_INVALID', `Cannot allocate ${count} numbers.`, 'Pass --count 1 or more.')
    // One statement: the row lock taken by ON CONFLICT serialises concurrent allocations of the same template.
    const floor = `GREATEST(COALESCE((SELECT MAX(seq) + 1 FROM endpoints WHERE template = $1), 1), %OLD%)`
    if (start === undefined) {
      const r = await this.pool.query(
        `INSERT INTO sequences (template, next) VALUES ($1, ${floor.replace('%OLD%', '1')} + $2::bigint)
         ON CONFLICT (template) DO UPDATE SET next = ${floor.replace('%OLD%', 'sequences.next')} + $2::bigint
         RETURNING next - $2::bigint AS first`,
        [template, count],
      )
      return Number(r.rows[0].first)
    }
    await this.pool.query(
      `INSERT INTO sequences (template, next) VALUES ($1, GREATEST(${floor.replace('%OLD%', '1')}, $2::bigint + $3::bigint))
       ON CONFLICT (template) DO UPDATE SET next = GREATEST(${floor.replace('%OLD%', 'sequences.next')}, $2::bigint + $3::bigint)`,
      [template, start, count],
    )
    return start
  }

  async get(endpoint: string): Promise<ManifestRecord | undefined> {
    const r = await this.pool.query('SELECT * FROM endpoints WHERE endpoint = $1', [endpoint])
    return r.rows[0] ? rowToRecord(r.rows[0]) : undefined
  }

  private where(f: ManifestFilter | undefined, params: unknown[]): string {
    const parts: string[] = []
    const p = (v: unknown) => {
      params.push(v)
      return `$${params.length}`
    }
    if (f?.batch !== undefined) parts.push(`batch = ${p(f.batch)}`)
    const st = statusList(f)
    if (st) parts.push(`status = ANY(${p(st)}::text[])`)
    if (f?.since !== undefined) parts.push(`updated_at >= ${p(f.since)}`)
    if (f?.developer !== undefined) parts.push(`developer = ${p(f.developer)}`)
    if (f?.deviceId !== undefined) parts.push(`device_id = ${p(f.deviceId)}`)
    return parts.length ? parts.join(' AND ') : 'TRUE'
  }

  async *list(filter?: ManifestFilter): AsyncIterable<ManifestRecord> {
    let remaining = filter?.limit ?? Number.POSITIVE_INFINITY
    let after = '0'
    while (remaining > 0) {
      const n = Math.min(PAGE, remaining)
      const params: unknown[] = [after]
      const w = this.where(filter, params)
      params.push(n)
      const r = await this.pool.query(`SELECT * FROM endpoints WHERE id > $1 AND ${w} ORDER BY id LIMIT $${params.length}`, params)
      for (const row of r.rows) yield rowToRecord(row)
      if (r.rows.length < n) return
      remaining -= r.rows.length
      after = String(r.rows[r.rows.length - 1].id)
    }
  }

  async count(filter?: ManifestFilter): Promise<number> {
    const params: unknown[] = []
    const r = await this.pool.query(`SELECT COUNT(*) AS n FROM endpoints WHERE ${this.where(filter, params)}`, params)
    const n = Number(r.rows[0].n)
    return filter?.limit === undefined ? n : Math.min(n, filter.limit)
  }

  async updateStatus(endpoint: string, given: StatusUpdate): Promise<ManifestRecord> {
    const update = withProofRule(given)
    const sets: string[] = []
    const params: unknown[] = []
    for (const [f, c] of UPDATE_COLUMNS) {
      const v = update[f]
      if (v === undefined) continue
      params.push(v)
      sets.push(`${c} = $${params.length}`)
    }
    params.push(new Date().toISOString())
    sets.push(`updated_at = $${params.length}`)
    params.push(endpoint)
    const sql = `UPDATE endpoints SET ${sets.join(', ')} WHERE endpoint = $${params.length} RETURNING *`
    const sup = update.supersede
    const r = await this.tx(async (c) => {
      if (sup) await c.query(historyCopySql((i) => `$${i}`), [new Date().toISOString(), sup.reason, sup.station ?? null, endpoint])
      const res = await c.query(sql, params)
      if (res.rowCount) await this.appendIn(c, [auditForStatus(endpoint, update)])
      return res
    })
    if (r.rowCount === 0) throw notFoundError(endpoint)
    return rowToRecord(r.rows[0])
  }

  async claimNext(batch: string, deviceId: string, station: string): Promise<ManifestRecord | undefined> {
    const now = new Date().toISOString()
    const held = await this.pool.query(
      `UPDATE endpoints SET station = $3, updated_at = $4 WHERE id = (
         SELECT id FROM endpoints WHERE batch = $1 AND device_id = $2 AND status = ANY($5::text[]) ORDER BY id LIMIT 1 FOR UPDATE
       ) RETURNING *`,
      [batch, deviceId, station, now, HELD_STATUSES],
    )
    if (held.rows[0]) return rowToRecord(held.rows[0])
    // SKIP LOCKED: concurrent stations each take a different free row instead of queueing on the same one.
    const free = await this.pool.query(
      `UPDATE endpoints SET device_id = $2, station = $3, updated_at = $4 WHERE id = (
         SELECT id FROM endpoints WHERE batch = $1 AND status IN ('reserved', 'generated') AND device_id IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
       ) RETURNING *`,
      [batch, deviceId, station, now],
    )
    return free.rows[0] ? rowToRecord(free.rows[0]) : undefined
  }

  async createBatch(b: Omit<BatchRecord, 'createdAt'>): Promise<void> {
    await this.insertAtomically(b, [])
  }

  /**
   * A work-order header and its rows in one transaction. The header goes first: its primary key makes a concurrent
   * creator of the same batch wait, then fail with `E_BATCH_EXISTS` before writing a row; a crash leaves both or neither.
   */
  async createBatchWithRows(b: Omit<BatchRecord, 'createdAt'>, rows: NewManifestRecord[]): Promise<void> {
    await this.insertAtomically(b, rows)
  }

  /**
   * The one write path for new rows (and an optional batch header): a single transaction, bulk `unnest` inserts in
   * chunks; on a duplicate nothing is written and every duplicate is named.
   */
  private async insertAtomically(header: Omit<BatchRecord, 'createdAt'> | undefined, rows: NewManifestRecord[]): Promise<void> {
    const now = new Date().toISOString()
    const sql = `INSERT INTO endpoints (${COLUMN_NAMES.join(', ')}) SELECT * FROM unnest(${COLUMN_NAMES.map((c, i) => `$${i + 1}::${PG_TYPES[c] ?? 'text'}[]`).join(', ')})`
    try {
      await this.tx(async (c) => {
        if (header) {
          try {
            await c.query(
              'INSERT INTO batches (name, template, count, profile, activates_on, expires_on, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
              [header.name, header.template ?? null, header.count ?? null, header.profile ?? null, header.activatesOn ?? null, header.expiresOn ?? null, now],
            )
          } catch (e) {
            if ((e as { code?: string }).code === '23505') throw conflictError('E_BATCH_EXISTS', `A batch named ${header.name} already exists.`, 'Choose another --batch name.')
            throw e
          }
        }
        for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
          const cols: unknown[][] = COLUMN_NAMES.map(() => [])
          for (const r of rows.slice(i, i + INSERT_CHUNK)) {
            const v = recordValues(r, now, false)
            for (let k = 0; k < v.length; k++) cols[k]!.push(v[k])
          }
          await c.query(sql, cols)
        }
        await this.appendIn(c, auditForInsert(header, rows))
      })
    } catch (e) {
      if ((e as { code?: string }).code !== '23505') throw e
      // Rolled back (header included); now name every duplicate, in the rows themselves or already issued.
      const names = rows.map((r) => r.endpoint)
      const seen = new Set<string>()
      const found = new Set<string>(names.filter((n) => seen.has(n) || !seen.add(n)))
      for (let i = 0; i < names.length; i += 10_000) {
        const r = await this.pool.query('SELECT endpoint FROM endpoints WHERE endpoint = ANY($1::text[])', [names.slice(i, i + 10_000)])
        for (const x of r.rows) found.add(x.endpoint)
      }
      const dups = names.filter((n) => found.has(n) && (found.delete(n) || true))
      // A concurrent transaction may hold the name uncommitted, invisible to the lookup: take it from the error.
      const m = /Key \(endpoint\)=\((.*)\) already exists/.exec((e as { detail?: string }).detail ?? '')
      if (dups.length === 0 && m?.[1]) dups.push(m[1])
      throw conflictError('E_DUPLICATE_ENDPOINT', duplicateMessage(dups), DUPLICATE_HINT, { duplicates: dups })
    }
  }

  async getBatch(name: string): Promise<BatchRecord | undefined> {
    const r = await this.pool.query('SELECT * FROM batches WHERE name = $1', [name])
    return r.rows[0] ? rowToBatch(r.rows[0]) : undefined
  }

  async listBatches(): Promise<BatchRecord[]> {
    const r = await this.pool.query('SELECT * FROM batches ORDER BY created_at, name')
    return r.rows.map(rowToBatch)
  }

  async history(endpoint: string): Promise<HistoryRecord[]> {
    const r = await this.pool.query('SELECT * FROM endpoint_history WHERE endpoint = $1 ORDER BY id', [endpoint])
    return r.rows.map(rowToHistory)
  }

  async getPolicy(): Promise<ManifestPolicy> {
    const r = await this.pool.query('SELECT name, value FROM policies')
    return Object.fromEntries(r.rows.map((x: { name: string; value: string }) => [x.name, JSON.parse(x.value)])) as ManifestPolicy
  }

  async setPolicy(policy: ManifestPolicy): Promise<void> {
    const now = new Date().toISOString()
    await this.tx(async (c) => {
      await c.query('DELETE FROM policies')
      for (const [k, v] of Object.entries(policy)) {
        if (v !== undefined) await c.query('INSERT INTO policies (name, value, updated_at) VALUES ($1, $2, $3)', [k, JSON.stringify(v), now])
      }
      await this.appendIn(c, [{ action: 'policy.changed', subject: 'manifest', details: { policy } }])
    })
  }

  async info(): Promise<ManifestIdentity> {
    const r = await this.pool.query('SELECT key, value FROM manifest_info')
    return identityFrom(r.rows as Array<{ key: string; value: string }>)
  }

  async setName(name: string): Promise<void> {
    await this.pool.query("INSERT INTO manifest_info (key, value) VALUES ('name', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [name])
  }

  private auditCtx: AuditContext = { station: 'unknown', operator: 'unknown' }
  private keyRecorded = false

  setAuditContext(ctx: AuditContext): void {
    this.auditCtx = ctx
  }

  /**
   * Appends inside the caller's transaction. The transaction-scoped advisory lock, taken last (after the act's own
   * row locks, so it never waits while holding them), serialises every station's appends: each reads the head only
   * once the previous append committed, so the chain never forks. Held until COMMIT.
   */
  private async appendIn(c: pg.PoolClient, inputs: AuditInput[]): Promise<void> {
    if (inputs.length === 0) return
    await c.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK])
    const r = await c.query('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1')
    const last = r.rows[0] ? { seq: Number(r.rows[0].seq), hash: String(r.rows[0].hash) } : undefined
    const { entries, checkpoint } = buildAppend(last, inputs, this.auditCtx)
    const cols: unknown[][] = [[], [], [], [], [], [], [], [], []]
    for (const e of entries) [e.seq, e.at, e.station, e.operator, e.action, e.subject, e.details, e.prevHash, e.hash].forEach((v, i) => cols[i]!.push(v))
    await c.query(
      'INSERT INTO audit_log (seq, at, station, operator, action, subject, details, prev_hash, hash) SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])',
      cols,
    )
    if (checkpoint) {
      await c.query('INSERT INTO audit_checkpoints (seq, hash, at, public_key, signature) VALUES ($1, $2, $3, $4, $5)', [checkpoint.seq, checkpoint.hash, checkpoint.at, checkpoint.publicKey, checkpoint.signature])
      // once per process is enough: the first checkpoint records the key
      if (!this.keyRecorded) await c.query("INSERT INTO manifest_info (key, value) VALUES ('signing_public_key', $1) ON CONFLICT (key) DO NOTHING", [checkpoint.publicKey])
      this.keyRecorded = true
    }
  }

  async appendAudit(inputs: AuditInput[]): Promise<void> {
    await this.tx((c) => this.appendIn(c, inputs))
  }

  async listAudit(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    const parts: string[] = []
    const params: unknown[] = []
    if (filter.since !== undefined) {
      params.push(filter.since)
      parts.push(`at >= $${params.length}`)
    }
    if (filter.endpoint !== undefined) {
      params.push(filter.endpoint, JSON.stringify(filter.endpoint))
      parts.push(`(subject = $${params.length - 1} OR strpos(details, $${params.length}) > 0)`)
    }
    const r = await this.pool.query(`SELECT * FROM audit_log WHERE ${parts.length ? parts.join(' AND ') : 'TRUE'} ORDER BY seq${filter.limit ? ` LIMIT ${Math.floor(filter.limit)}` : ''}`, params)
    return r.rows.map(rowToAudit)
  }

  async auditCheckpoints(): Promise<AuditCheckpoint[]> {
    return (await this.pool.query('SELECT * FROM audit_checkpoints ORDER BY seq')).rows.map(rowToCheckpoint)
  }

  async signingPublicKey(): Promise<string | undefined> {
    const r = await this.pool.query("SELECT value FROM manifest_info WHERE key = 'signing_public_key'")
    return r.rows[0]?.value as string | undefined
  }

  async registerCa(ca: Omit<CaRecord, 'issued' | 'createdAt' | 'revokedAt' | 'revokeReason'>, audit: AuditInput): Promise<void> {
    await this.tx(async (c) => {
      const r = await c.query(
        'INSERT INTO cas (fingerprint, subject, parent_fingerprint, key_id, certificate_pem, max_certificates, issued, not_after, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8) ON CONFLICT DO NOTHING',
        [ca.fingerprint, ca.subject, ca.parentFingerprint, ca.keyId, ca.certificatePem, ca.maxCertificates, ca.notAfter, new Date().toISOString()],
      )
      if (r.rowCount === 0) throw conflictError('E_CA_EXISTS', `The manifest already records the CA ${ca.subject}.`, 'Each CA is recorded once.')
      await this.appendIn(c, [audit])
    })
  }

  async getCa(fingerprint: string): Promise<CaRecord | undefined> {
    const r = await this.pool.query('SELECT * FROM cas WHERE fingerprint = $1', [fingerprint])
    return r.rows[0] ? rowToCa(r.rows[0]) : undefined
  }

  async listCas(): Promise<CaRecord[]> {
    return (await this.pool.query('SELECT * FROM cas ORDER BY created_at')).rows.map(rowToCa)
  }

  async consumeCaQuota(fingerprint: string, count: number): Promise<void> {
    await this.tx(async (c) => {
      const r = await c.query('SELECT * FROM cas WHERE fingerprint = $1 FOR UPDATE', [fingerprint])
      if (!r.rows[0]) return
      const ca = rowToCa(r.rows[0])
      if (ca.revokedAt) throw caRevokedError(ca)
      if (ca.maxCertificates !== null && ca.issued + count > ca.maxCertificates) throw caQuotaError(ca, count)
      await c.query('UPDATE cas SET issued = issued + $1 WHERE fingerprint = $2', [count, fingerprint])
    })
  }

  async revoke(items: Array<RevocationRecord & { endpoint?: string; caFingerprint?: string }>, audit: AuditInput): Promise<void> {
    const now = new Date().toISOString()
    await this.tx(async (c) => {
      for (const it of items) {
        await c.query('INSERT INTO revocations (serial, issuer_key_id, subject, revoked_at, reason) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING', [it.serial, it.issuerKeyId, it.subject, it.revokedAt, it.reason])
        if (it.endpoint !== undefined) await c.query("UPDATE endpoints SET status = 'revoked', status_reason = $1, updated_at = $2 WHERE endpoint = $3", [it.reason, now, it.endpoint])
        if (it.caFingerprint !== undefined) await c.query('UPDATE cas SET revoked_at = $1, revoke_reason = $2 WHERE fingerprint = $3 AND revoked_at IS NULL', [it.revokedAt, it.reason, it.caFingerprint])
      }
      await this.appendIn(c, [audit])
    })
  }

  async listRevocations(): Promise<RevocationRecord[]> {
    return (await this.pool.query('SELECT * FROM revocations ORDER BY revoked_at, serial')).rows.map(rowToRevocation)
  }

  async close(): Promise<void> {
    await this.pool.end()
  }
}

/** Opens (and by default migrates) a PostgreSQL manifest; connection problems are `E_MANIFEST_CONNECT` (exit 5). */
export async function openPostgres(url: string, opts: { migrate: boolean }): Promise<PostgresManifestStore> {
  const store = new PostgresManifestStore(url)
  try {
    await store.pool.query('SELECT 1')
  } catch (e) {
    await store.close().catch(() => undefined)
    const code = (e as { code?: string }).code
    const what = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' ? 'host not found' : code === '28P01' || code === '28000' ? 'authentication failed' : code === '3D000' ? 'database does not exist' : redactMessage((e as Error).message, url)
    throw transportError(
      'E_MANIFEST_CONNECT',
      `Cannot connect to the PostgreSQL manifest ${redactUrl(url)}: ${what}.`,
      'Check that the server runs and accepts connections from this host, and the user, password and database in the URL (or PGPASSWORD / ~/.pgpass / a PGSERVICE entry).',
      e,
    )
  }
  try {
    const version = await store.schemaVersion()
    if (version > PG_SCHEMA_VERSION) throw newerSchemaError(store.location, version, PG_SCHEMA_VERSION)
    if (version < PG_SCHEMA_VERSION) {
      if (opts.migrate) await store.migrate()
      else throw usageError('E_MANIFEST_SCHEMA', `The manifest ${store.location} has schema version ${version}; this lwprov needs ${PG_SCHEMA_VERSION}.`, 'Run `lwprov manifest migrate`.')
    }
  } catch (e) {
    await store.close().catch(() => undefined)
    if (e instanceof LwprovError) throw e
    throw transportError('E_MANIFEST_CONNECT', `PostgreSQL manifest ${store.location}: ${redactMessage((e as Error).message, url)}.`, 'Check that the user may create tables (first use) and read/write them.', e)
  }
  return store
}

function redactMessage(msg: string, url: string): string {
  try {
    const pw = decodeURIComponent(new URL(url).password)
    return pw ? msg.split(pw).join('***') : msg
  } catch {
    return msg
  }
}
