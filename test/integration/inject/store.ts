/**
 * The manifest for integration tests: the real SQLite store (openManifest) once the manifest module is built into the
 * tree, the in-memory one from the unit tests until then, so the injection tests do not wait on it.
 */
import path from 'node:path'

import type { ManifestStore } from '../../../src/core/manifest/types.js'
import { MemoryStore } from '../../unit/inject/memory-store.js'

export async function openTestStore(dir: string): Promise<ManifestStore> {
  const mod = '../../../src/core/manifest/open.js'
  try {
    const { openManifest } = (await import(/* @vite-ignore */ mod)) as { openManifest: (l: string, o?: { migrate?: boolean }) => Promise<ManifestStore> }
    return await openManifest(path.join(dir, 'manifest.db'), { migrate: true })
  } catch (e) {
    if (!/Cannot find module|Failed to load|does not provide/i.test(String((e as Error).message))) throw e
    return new MemoryStore()
  }
}
