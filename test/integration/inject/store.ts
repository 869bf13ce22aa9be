/** The manifest for integration tests: a real SQLite store in the test's temp dir. */
import path from 'node:path'

import { openManifest } from '../../../src/core/manifest/open.js'
import type { ManifestStore } from '../../../src/core/manifest/types.js'

export async function openTestStore(dir: string): Promise<ManifestStore> {
  return openManifest(path.join(dir, 'manifest.db'), { migrate: true })
}
