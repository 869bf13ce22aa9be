/**
 * CA command glue shared by `ca create`, `ca import`, `ca delegate` and `ca revoke`: token sessions for new keys,
 * loading a parent CA (file or token), and recording CA acts in the manifest's audit trail.
 */
import { existsSync } from 'node:fs'

import type { AuditInput } from '../core/manifest/audit.js'
import type { ManifestStore } from '../core/manifest/types.js'
import { isLwprovError, usageError } from '../core/errors.js'
import {
  checkCaDirFree,
  checkNewPassphrase,
  createCa,
  isTokenCaDir,
  loadCa,
  loadTokenCa,
  parsePkcs11Uri,
  recordIssuedCa,
  resolveModule,
  tokenSigner,
  writeCaDir,
  writeTokenCaDir,
  type KeyType,
  type LoadedCa,
  type Pkcs11Uri,
} from '../core/pki/index.js'
import { isInteractive, manifestLocationFromFlags, openStoreFromFlags, type ManifestFlagValues } from './context.js'
import { promptPassphrase, resolveCaPassphrase, resolveOptionalPassphrase, resolvePin } from './passphrase.js'

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

export interface CaCreateFlags extends TokenFlagValues {
  name: string
  out: string
  parent?: string | undefined
  'key-type': string
  days: number
  'path-len'?: number | undefined
  org?: string | undefined
  'org-unit'?: string | undefined
  country?: string | undefined
  'passphrase-file'?: string | undefined
  'parent-passphrase-file'?: string | undefined
  force: boolean
}

/**
 * `ca create`: a new CA in `flags.out`, its key in an encrypted file or generated inside the token `--pkcs11` names,
 * signed by `--parent` (file or token) or self-signed. Everything that can be refused (the directory, the passphrase)
 * is checked before a key is generated or a parent unlocked.
 */
export async function createCaFromFlags(flags: CaCreateFlags, warn: (w: string) => void): Promise<{ parent: LoadedCa | undefined }> {
  checkCaDirFree(flags.out, flags.force)
  const keyType = flags['key-type'] as KeyType
  const passphrase = flags.pkcs11 ? undefined : await resolveCaPassphrase({ passphraseFile: flags['passphrase-file'], confirm: true, interactive: true })
  if (passphrase !== undefined) checkNewPassphrase(passphrase)
  const token = flags.pkcs11 ? await openTokenKey(flags, keyType) : undefined
  let parent: LoadedCa | undefined
  let certPem = ''
  try {
    if (flags.parent) parent = await loadParentCa(flags.parent, flags, passphrase)
    const key = token ? token.signer.session.generate(keyType) : undefined
    const ca = await createCa({
      name: flags.name,
      keyType,
      days: flags.days,
      pathLen: flags['path-len'],
      org: flags.org,
      orgUnit: flags['org-unit'],
      country: flags.country,
      parent,
      ...(token && key ? { key: { spki: key.spki, signer: token.signer } } : {}),
    })
    for (const w of ca.warnings) warn(w)
    certPem = ca.certPem
    if (token && key) writeTokenCaDir(flags.out, ca, { ...token.uri, id: token.uri.id ?? key.id, modulePath: token.uri.modulePath ?? token.module })
    else writeCaDir(flags.out, ca, passphrase!, { force: flags.force })
  } finally {
    token?.signer.session.close()
    parent?.signer.close?.()
  }
  if (flags.parent) {
    const w = recordIssuedCa(flags.parent, certPem, flags.out)
    if (w) warn(w)
  }
  return { parent }
}
