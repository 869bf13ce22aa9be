import { usageError } from '../errors.js'
import type { ManifestStore } from './types.js'

export async function openPostgres(_url: string, _opts: { migrate: boolean }): Promise<ManifestStore> {
  throw usageError('E_MANIFEST_CONNECT', 'PostgreSQL manifests are not available yet in this build.', 'Use a SQLite path for --manifest.')
}
