/**
 * CA command glue shared by `ca create`, `ca import`, `ca delegate` and `ca revoke`: token sessions for new keys,
 * loading a parent CA (file or token), and recording CA acts in the manifest's audit trail.
 */
import { existsSync } from 'node:fs'

import type { AuditInput } from '../core/manifest/audit.js'
import type { ManifestStore } from '../core/manifest/types.js'
import { isLwprovError, usageError } from '../core/errors.js'
import { isTokenCaDir, loadCa, loadTokenCa, parsePkcs11Uri, resolveModule, tokenSigner, type LoadedCa, type Pkcs11Uri } from '../core/pki/index.js'
import { isInteractive, manifestLocationFromFlags, openStoreFromFlags, type ManifestFlagValues } from './context.js'
import { promptPassphrase, resolveOptionalPassphrase, resolvePin } from './passphrase.js'

export interface TokenFlagValues {
  pkcs11?: string | undefined
  module?: string | undefined
  'pin-file'?: string | undefined
}

/** A logged-in session on the token `--pkcs11` names, for a key of `keyType` (generated or adopted). */
export async function openTokenKey(flags: TokenFlagValues, keyType: string): Promise<{ uri: Pkcs11Uri; module: string; signer: ReturnType<typeof tokenSigner> }> {
  const uri = parsePkcs11Uri(flags.pkcs11!)
  const module = resolveModule(uri, flags.module)
  const pin = await resolvePin(flags['pin-file'], isInteractive())
  return { uri, module, signer: tokenSigner(uri, module, pin, keyType) }
}

/**
 * Loads a parent CA: a token CA with the PIN (--pin-file, LWPROV_PKCS11_PIN, prompt); a file CA with
 * LWPROV_PARENT_CA_PASSPHRASE / --parent-passphrase-file, else `fallback` (the new CA's passphrase), else a prompt.
 */
export async function loadParentCa(dir: string, flags: { 'pin-file'?: string | undefined; 'parent-passphrase-file'?: string | undefined }, fallback?: string): Promise<LoadedCa> {
  if (isTokenCaDir(dir)) return loadTokenCa(dir, await resolvePin(flags['pin-file'], isInteractive()))
  const pass = resolveOptionalPassphrase({
    envVar: 'LWPROV_PARENT_CA_PASSPHRASE',
    file: flags['parent-passphrase-file'],
    fileFlag: '--parent-passphrase-file',
    fallback: fallback ?? process.env.LWPROV_CA_PASSPHRASE ?? '',
  })
  if (pass === '') {
    const asked = await promptPassphrase('Parent CA key passphrase')
    if (asked === undefined) throw usageError('E_CA_PASSPHRASE_MISSING', 'No passphrase for the parent CA key.', 'Set LWPROV_PARENT_CA_PASSPHRASE (or LWPROV_CA_PASSPHRASE), or pass --parent-passphrase-file.')
    return loadCa(dir, asked)
  }
  try {
    return await loadCa(dir, pass)
  } catch (error) {
    // The new CA's passphrase was only a guess for the parent: ask a person before giving up.
    const asked = isLwprovError(error) && error.code === 'E_CA_PASSPHRASE' ? await promptPassphrase('Parent CA key passphrase') : undefined
    if (asked === undefined) throw error
    return loadCa(dir, asked)
  }
}

/**
 * Records a CA act in the manifest's audit trail when a manifest is configured (flag, env, project file, or an
 * existing per-user default); never creates the per-user default just for that. Returns whether it was recorded.
 */
export async function auditCaAct(flags: ManifestFlagValues, input: AuditInput, onCleanup: (fn: () => Promise<void>) => void): Promise<boolean> {
  const where = manifestLocationFromFlags(flags)
  if (where.source === 'default' && !existsSync(where.location)) return false
  const store = await openStoreFromFlags(flags, onCleanup)
  await store.appendAudit([input])
  return true
}

/** Opens the manifest when one is configured (see `auditCaAct`), else undefined. */
export async function configuredStore(flags: ManifestFlagValues, onCleanup: (fn: () => Promise<void>) => void): Promise<ManifestStore | undefined> {
  const where = manifestLocationFromFlags(flags)
  if (where.source === 'default' && !existsSync(where.location)) return undefined
  return openStoreFromFlags(flags, onCleanup)
}
