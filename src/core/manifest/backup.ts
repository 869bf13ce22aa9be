/**
 * `lwprov manifest backup`: a consistent copy of a SQLite manifest through SQLite's online backup API (other
 * processes may keep writing), written through the safe-output helper. PostgreSQL backups belong to pg_dump.
 */
import { usageError } from '../errors.js'
import { reserveOutputFile } from '../fs/safe-write.js'
import { SqliteManifestStore } from './sqlite.js'
import type { ManifestStore } from './types.js'

export interface BackupResult {
  path: string
  rows: number
  namespace: string
}

export async function backupManifest(store: ManifestStore, out: string, opts: { force?: boolean } = {}): Promise<BackupResult> {
  if (!(store instanceof SqliteManifestStore)) {
    throw usageError(
      'E_BACKUP_POSTGRES',
      `${store.location} is a PostgreSQL manifest; back it up with pg_dump.`,
      `Run e.g. \`pg_dump --format=custom --file ${out} "$DATABASE"\` with the same connection settings (PGPASSWORD / ~/.pgpass / PGSERVICE).`,
    )
  }
  const target = reserveOutputFile(out, { force: opts.force ?? false })
  try {
    await store.db.backup(target.tmp)
    target.commit()
  } catch (e) {
    target.abort()
    throw e
  }
  const id = await store.info()
  return { path: target.path, rows: await store.count({}), namespace: id.namespace }
}
