/** Shared fixtures for the injection tests: a factory CA on disk, credential profiles. */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { DEFAULT_PROFILE, type CredentialProfile } from '../../../src/core/model.js'
import { createCa, loadCa, writeCaDir, type LoadedCa } from '../../../src/core/pki/index.js'

export const PASSPHRASE = 'inject-test-passphrase-0001'
export const MASTER_KEY = Buffer.alloc(32, 7)

let caPromise: Promise<{ dir: string; ca: LoadedCa }> | undefined

/** One CA per test file (worker), written to a temp dir so CLI runs can use it too. */
export function testCa(): Promise<{ dir: string; ca: LoadedCa }> {
  caPromise ??= (async () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lwprov-inject-ca-')), 'ca')
    const created = await createCa({ name: 'Inject Test CA', keyType: 'ec-p256', days: 3650 })
    writeCaDir(dir, created, PASSPHRASE)
    return { dir, ca: await loadCa(dir, PASSPHRASE) }
  })()
  return caPromise
}

export function profile(p: Partial<CredentialProfile> & Pick<CredentialProfile, 'mode' | 'security'>): CredentialProfile {
  return {
    ...DEFAULT_PROFILE,
    serverUri: p.mode === 'bootstrap' ? 'coaps://bootstrap.example.com:5684' : 'coaps://lwm2m.example.com:5684',
    ...p,
  }
}
