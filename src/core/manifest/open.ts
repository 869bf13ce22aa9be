/**
 * Opens the manifest a location names: a file path → embedded SQLite, a `postgres://` / `postgresql://` URL →
 * PostgreSQL. Errors name the location (never a password) and say what to do.
 */
import { closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

import { LwprovError, usageError } from '../errors.js'
import { newerSchemaError, SQLITE_SCHEMA_VERSION, SqliteManifestStore } from './sqlite.js'
import type { ManifestStore } from './types.js'

export { redactUrl } from './redact.js'

export interface OpenOptions {
  /** Apply pending migrations (creates the schema in a new manifest). Default true. */
  migrate?: boolean
  /**
   * Create a SQLite manifest that does not exist yet. Default true. Read-only commands pass false so a mistyped
   * `--manifest` fails with `E_MANIFEST_NOT_FOUND` instead of creating (and reporting on) an empty manifest. An
   * existing file is still migrated as usual; PostgreSQL is unaffected (the database exists by connection).
   */
  create?: boolean
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
  return openSqlite(location, migrate, opts.create ?? true)
}

async function openSqlite(location: string, migrate: boolean, create: boolean): Promise<SqliteManifestStore> {
  const path = resolve(location)
  const unreadable = (why: string, cause?: unknown) =>
    new LwprovError('E_MANIFEST_UNREADABLE', `Cannot open the manifest ${location}: ${why}.`, {
      hint: 'Check --manifest / LWPROV_MANIFEST: it must be a lwprov SQLite file (or a new path) you can read and write, or a postgres:// URL.',
      exit: 'usage',
      cause,
    })
  if (existsSync(path) && statSync(path).isDirectory()) throw unreadable('it is a directory')
  if (!existsSync(path)) {
    if (!create) {
      throw usageError(
        'E_MANIFEST_NOT_FOUND',
        `There is no manifest at ${location} (${path}).`,
        'Check --manifest / LWPROV_MANIFEST, or generate credentials first (`lwprov credentials generate` creates the manifest).',
        { path },
      )
    }
    if (!migrate) throw usageError('E_MANIFEST_UNREADABLE', `There is no manifest at ${location}.`, 'Check --manifest, or run `lwprov manifest migrate` to create one.')
    try {
      mkdirSync(dirname(path), { recursive: true })
      // Created 0600 before SQLite sees it: the file holds sealed secrets and certificates, and SQLite gives the
      // -wal and -shm files the same permissions as the database file.
      closeSync(openSync(path, 'a', 0o600))
    } catch (e) {
      throw unreadable((e as Error).message, e)
    }
  }
  let store: SqliteManifestStore
  try {
    store = new SqliteManifestStore(path)
  } catch (e) {
    throw unreadable((e as Error).message, e)
  }
  try {
    await store.init()
    const version = store.schemaVersion()
    if (version > SQLITE_SCHEMA_VERSION) throw newerSchemaError(location, version, SQLITE_SCHEMA_VERSION)
    if (version < SQLITE_SCHEMA_VERSION) {
      if (migrate) await store.migrate()
      else if (version === 0) throw usageError('E_MANIFEST_SCHEMA', `The manifest ${location} is empty (no lwprov schema).`, 'Run `lwprov manifest migrate`.')
      else throw usageError('E_MANIFEST_SCHEMA', `The manifest ${location} has schema version ${version}; this lwprov needs ${SQLITE_SCHEMA_VERSION}.`, 'Run `lwprov manifest migrate`.')
    }
  } catch (e) {
    await store.close()
    if (e instanceof LwprovError) throw e
    const code = (e as { code?: string }).code ?? ''
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code === 'SQLITE_IOERR' || code.startsWith('SQLITE_IOERR'))
      throw unreadable(code === 'SQLITE_NOTADB' ? 'it is not a SQLite database' : (e as Error).message, e)
    throw e
  }
  return store
}
