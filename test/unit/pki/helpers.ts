import { createPrivateKey } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { createCa, loadCa, writeCaDir, type CreateCaOptions, type LoadedCa } from '../../../src/core/pki/index.js'

export const PASS = 'unit-test-passphrase'

/** A temp dir removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'lwprov-pki-'))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Creates a CA, writes it under `parentDir/name` and loads it back. */
export async function makeCa(parentDir: string, name: string, opts: Partial<CreateCaOptions> = {}): Promise<LoadedCa> {
  const ca = await createCa({ name, keyType: 'ec-p256', days: 3650, ...opts })
  writeCaDir(join(parentDir, name), ca, PASS)
  return loadCa(join(parentDir, name), PASS)
}

export { createPrivateKey }
