/**
 * Opens the manifest a location names: a file path → embedded SQLite, a `postgres://` / `postgresql://` URL →
 * PostgreSQL. Errors name the location (never a password) and say what to do.
 */
import { closeSync, constants, existsSync, linkSync, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'

import Database from 'better-sqlite3'

import { LwprovError, usageError } from '../errors.js'
import { protectPath, tempNameFor } from '../fs/safe-write.js'
import { newerSchemaError, SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION, SqliteManifestStore } from './sqlite.js'
import type { ManifestStore } from './types.js'

export { redactUrl } from './redact.js'

export interface OpenOptions {
  /** Apply pending migrations (creates the schema in a new manifest). Default true. */
  migrate?: boolean
  /**
   * Create a SQLite manifest that does not exist yet. Default true. Read-only commands pass false so a mistyped
   * `--manifest` fails with `E_MANIFEST_NOT_FOUND` instead of creating (and reporting on) an empty manifest.
   */
  create?: boolean
  /** Open read-only (list, show, export, verify…): the file is never written (a pending migration of an lwprov manifest excepted). */
  readonly?: boolean
  /** Human name recorded in a manifest created now (default: the file name). */
  name?: string
  /** Called when this call created the manifest. */
  onCreate?: (path: string) => void
}

export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location)
}

export async function openManifest(location: string, opts: OpenOptions = {}): Promise<ManifestStore> {
  const migrate = opts.migrate ?? true
  if (isPostgresUrl(location)) {
    const { openPostgres } = await import('./postgres.js')
    return openPostgres(location, { migrate })
  }
  return openSqlite(location, migrate, opts)
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1')
/** Tables every lwprov manifest has; one missing means damage, not a foreign file. */
const REQUIRED_TABLES = ['endpoints', 'sequences', 'batches', 'schema_version']

export function notAManifest(location: string, why: string): LwprovError {
  return usageError('E_NOT_A_MANIFEST', `${location} is not an lwprov manifest: ${why}. It was left untouched.`, 'Check --manifest / LWPROV_MANIFEST (see `lwprov manifest info`); a new manifest is created only at a path that does not exist yet.', { location })
}

export function manifestCorrupt(location: string, why: string, cause?: unknown): LwprovError {
  return new LwprovError('E_MANIFEST_CORRUPT', `The manifest ${location} is damaged: ${why}. Nothing was written to it.`, {
    hint: 'Restore it from a backup (`lwprov manifest backup` makes one), or inspect it with `lwprov manifest verify`; keep a copy of the damaged file.',
    exit: 'conflict',
    cause,
    details: { location },
  })
}

function isCorruption(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? ''
  return code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT') || /malformed|no such table|no such column/i.test((e as Error).message ?? '')
}

/** What is at `path` before anything opens it for writing: not a manifest (refused), damaged (refused), or a manifest and its version. */
function inspect(location: string, path: string): number {
  const fd = openSync(path, 'r')
  const head = Buffer.alloc(100)
  let got: number
  try {
    got = readSync(fd, head, 0, 100, 0)
  } finally {
    closeSync(fd)
  }
  if (got === 0) throw notAManifest(location, 'the file is empty')
  if (!head.subarray(0, 16).equals(SQLITE_MAGIC)) throw notAManifest(location, 'it is not a SQLite database')
  let db: Database.Database | undefined
  try {
    db = new Database(path, { readonly: true, fileMustExist: true })
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) => r.name))
    if (!tables.has('schema_version')) {
      throw tables.size === 0 ? notAManifest(location, 'it is an empty SQLite database') : notAManifest(location, `it is another application's SQLite database (tables: ${[...tables].slice(0, 5).join(', ')})`)
    }
    const missing = REQUIRED_TABLES.filter((t) => !tables.has(t))
    if (missing.length > 0) throw manifestCorrupt(location, `table${missing.length > 1 ? 's' : ''} ${missing.join(', ')} missing`)
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null }
    return row.v ?? 0
  } catch (e) {
    if (e instanceof LwprovError) throw e
    if (isCorruption(e)) throw manifestCorrupt(location, (e as Error).message, e)
    throw e
  } finally {
    db?.close()
  }
}

/**
 * Creates a manifest at `path` atomically: the schema is written into a temporary file beside it, which is then
 * linked into place, so nobody ever sees a half-made manifest and two first uses racing both end up with the same one.
 * Returns whether this call created it.
 */
function createSqlite(path: string, name: string): boolean {
  mkdirSync(dirname(path), { recursive: true })
  const tmp = tempNameFor(path)
  // 0600 before SQLite sees it: the file holds sealed secrets and certificates, and SQLite gives the -wal and -shm
  // files the same permissions as the database file.
  closeSync(openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600))
  try {
    const db = new Database(tmp)
    try {
      db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)')
      const now = new Date().toISOString()
      db.transaction(() => {
        SQLITE_MIGRATIONS.forEach((sql, i) => {
          db.exec(sql)
          db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(i + 1, now)
        })
        db.prepare("UPDATE manifest_info SET value = ? WHERE key = 'name'").run(name)
      })()
    } finally {
      db.close()
    }
    try {
      linkSync(tmp, path)
      return true
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw e
    }
  } finally {
    rmSync(tmp, { force: true })
    rmSync(`${tmp}-journal`, { force: true })
  }
}

async function openSqlite(location: string, migrate: boolean, opts: OpenOptions): Promise<SqliteManifestStore> {
  const path = resolve(location)
  const unreadable = (why: string, cause?: unknown) =>
    new LwprovError('E_MANIFEST_UNREADABLE', `Cannot open the manifest ${location}: ${why}.`, {
      hint: 'Check --manifest / LWPROV_MANIFEST: it must be a lwprov SQLite file (or a new path) you can read and write, or a postgres:// URL.',
      exit: 'usage',
      cause,
    })
  if (existsSync(path) && statSync(path).isDirectory()) throw unreadable('it is a directory')
  if (!existsSync(path)) {
    if (!(opts.create ?? true)) {
      throw usageError(
        'E_MANIFEST_NOT_FOUND',
        `There is no manifest at ${location} (${path}).`,
        'Check --manifest / LWPROV_MANIFEST, or generate credentials first (`lwprov credentials generate` creates the manifest).',
        { path },
      )
    }
    if (!migrate) throw usageError('E_MANIFEST_UNREADABLE', `There is no manifest at ${location}.`, 'Check --manifest, or run `lwprov manifest migrate` to create one.')
    try {
      if (createSqlite(path, opts.name ?? basename(path).replace(/\.(db|sqlite3?)$/i, ''))) opts.onCreate?.(path)
    } catch (e) {
      throw unreadable((e as Error).message, e)
    }
  }
  // From here on the file is never written unless it is an lwprov manifest in good shape.
  let version: number
  try {
    version = inspect(location, path)
  } catch (e) {
    if (e instanceof LwprovError) throw e
    throw unreadable((e as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (e as Error).message, e)
  }
  if (version > SQLITE_SCHEMA_VERSION) throw newerSchemaError(location, version, SQLITE_SCHEMA_VERSION)
  const needsMigration = version < SQLITE_SCHEMA_VERSION
  if (needsMigration && !migrate) throw usageError('E_MANIFEST_SCHEMA', `The manifest ${location} has schema version ${version}; this lwprov needs ${SQLITE_SCHEMA_VERSION}.`, 'Run `lwprov manifest migrate`.')
  const readonly = (opts.readonly ?? false) && !needsMigration
  let store: SqliteManifestStore
  try {
    store = new SqliteManifestStore(path, { readonly })
  } catch (e) {
    throw unreadable((e as Error).message, e)
  }
  protectPath(path)
  try {
    await store.init()
    if (needsMigration) await store.migrate()
    if (needsMigration && opts.readonly) {
      // migrated an lwprov manifest (its own upgrade); everything else in this run reads only
      await store.close()
      store = new SqliteManifestStore(path, { readonly: true })
      await store.init()
    }
  } catch (e) {
    await store.close()
    if (e instanceof LwprovError) throw e
    if (isCorruption(e)) throw manifestCorrupt(location, (e as Error).message, e)
    const code = (e as { code?: string }).code ?? ''
    if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code === 'SQLITE_IOERR' || code.startsWith('SQLITE_IOERR')) throw unreadable((e as Error).message, e)
    throw e
  }
  return store
}
