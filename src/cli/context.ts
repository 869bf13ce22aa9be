/**
 * Composition root: the one place that turns flags and environment into the real adapters (manifest store, master
 * key, CA, credential profile). Commands call these; tests can call core directly with their own fakes.
 */
import { readFileSync, statSync } from 'node:fs'
import { hostname, userInfo } from 'node:os'

import { usageError } from '../core/errors.js'
import { type ResolvedManifest, resolveManifestLocation } from '../core/manifest/location.js'
import { signingKeyFromMasterKey, type AuditContext } from '../core/manifest/audit.js'
import { openManifest } from '../core/manifest/open.js'
import { parseMasterKey } from '../core/manifest/secrets.js'
import type { ManifestStore } from '../core/manifest/types.js'
import { type AccountMode, type CredentialProfile, DEFAULT_PROFILE, type DeviceInfo, type SecurityKind } from '../core/model.js'
import type { LoadedCa } from '../core/pki/index.js'
import { readCertificateFile } from '../core/pki/util.js'
import { checkDays, checkIdentityFlag, checkServerCa } from '../core/validate/index.js'
import { recordedBatchProfile } from '../core/inject/pregenerated.js'
import { canPrompt } from './tty.js'

/** Whether prompting is allowed: both ends a TTY and not in CI. */
export function isInteractive(): boolean {
  return canPrompt()
}

export interface ManifestFlagValues {
  manifest?: string | undefined
  'manifest-file'?: string | undefined
  'key-file'?: string | undefined
  operator?: string | undefined
  station?: string | undefined
}

/**
 * Who acts and how checkpoints are signed, for the audit trail: station (--station, LWPROV_STATION, host name),
 * operator (--operator, LWPROV_OPERATOR, OS user), and the signing key derived from the master key when it is at hand.
 */
export function auditContextFromFlags(flags: ManifestFlagValues): AuditContext {
  let operator = flags.operator ?? process.env.LWPROV_OPERATOR
  if (!operator) {
    try {
      operator = userInfo().username
    } catch {
      operator = process.env.USER ?? 'unknown'
    }
  }
  let signingKey
  try {
    const mk = masterKeyFromFlags(flags, false)
    if (mk) signingKey = signingKeyFromMasterKey(mk)
  } catch {
    // a bad key is reported by the command that needs it; the chain is still written, unsigned
  }
  return { station: flags.station ?? process.env.LWPROV_STATION ?? hostname(), operator, ...(signingKey ? { signingKey } : {}) }
}

/** Where the manifest is (flag, LWPROV_MANIFEST, --manifest-file, lwprov.yaml, per-user default); warnings on stderr. */
export function manifestLocationFromFlags(flags: ManifestFlagValues): ResolvedManifest {
  const r = resolveManifestLocation(flags)
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`)
  return r
}

/**
 * Opens the manifest the flags name (see core/manifest/location.ts) and closes it when the command ends. Read-only
 * commands pass `readonly: true` (implies `create: false`): a missing SQLite file is `E_MANIFEST_NOT_FOUND`, a file
 * that is not an lwprov manifest `E_NOT_A_MANIFEST`, and nothing is ever written to either.
 */
export async function openStoreFromFlags(
  flags: ManifestFlagValues,
  onCleanup: (fn: () => Promise<void>) => void,
  opts: { migrate?: boolean; create?: boolean; readonly?: boolean } = {},
): Promise<ManifestStore> {
  const where = manifestLocationFromFlags(flags)
  const store = await openManifest(where.location, {
    migrate: opts.migrate ?? true,
    create: opts.create ?? !opts.readonly,
    readonly: opts.readonly ?? false,
    ...(where.source === 'default' ? { name: 'default' } : {}),
    onCreate: (path) => {
      if (where.source === 'default') process.stderr.write(`Created your manifest (the ledger of issued endpoints) at ${path}. Pin another with --manifest, LWPROV_MANIFEST or an lwprov.yaml.\n`)
    },
  })
  onCleanup(() => store.close())
  if (!opts.readonly) store.setAuditContext(auditContextFromFlags(flags))
  return store
}

/**
 * The manifest master key from `--key-file` or `LWPROV_MASTER_KEY`. With `required`, a missing key is a usage error;
 * otherwise undefined is returned and the caller decides.
 */
export function masterKeyFromFlags(flags: ManifestFlagValues, required: boolean): Buffer | undefined {
  let hex: string | undefined
  if (flags['key-file']) {
    try {
      const st = statSync(flags['key-file'])
      if ((st.mode & 0o077) !== 0) {
        process.stderr.write(`warning: key file ${flags['key-file']} is readable by others; chmod 600 it.\n`)
      }
      hex = readFileSync(flags['key-file'], 'utf8').trim()
    } catch (e) {
      throw usageError('E_KEY_FILE_UNREADABLE', `Cannot read the key file ${flags['key-file']}.`, 'Check the path and permissions of --key-file.', {
        cause: (e as Error).message,
      })
    }
  } else if (process.env.LWPROV_MASTER_KEY) {
    hex = process.env.LWPROV_MASTER_KEY.trim()
  }
  if (hex === undefined) {
    if (!required) return undefined
    throw usageError(
      'E_MASTER_KEY_MISSING',
      'No manifest master key: PSKs and private keys are stored encrypted with it.',
      'Set LWPROV_MASTER_KEY to 64 hex characters (e.g. `export LWPROV_MASTER_KEY=$(openssl rand -hex 32)`) or pass --key-file FILE.',
    )
  }
  return parseMasterKey(hex)
}

export interface CaFlagValues {
  ca?: string | undefined
  'passphrase-file'?: string | undefined
  'pin-file'?: string | undefined
}

/**
 * Loads the CA named by `--ca`: decrypts a key file, or logs in to the token of a token CA (PIN from --pin-file,
 * LWPROV_PKCS11_PIN or a prompt; module from the recorded URI or LWPROV_PKCS11_MODULE). Undefined when no CA was given.
 * A token session is closed with the command (`onCleanup`).
 */
export async function loadCaFromFlags(flags: CaFlagValues, onCleanup?: (fn: () => Promise<void>) => void): Promise<LoadedCa | undefined> {
  if (!flags.ca) return undefined
  // Loaded here, not at start-up: the CA code pulls in @peculiar/x509, the prompt inquirer.
  const [{ resolveCaPassphrase, resolvePin }, { loadCa, isTokenCaDir, loadTokenCa }] = await Promise.all([import('./passphrase.js'), import('../core/pki/index.js')])
  if (isTokenCaDir(flags.ca)) {
    const ca = await loadTokenCa(flags.ca, await resolvePin(flags['pin-file'], isInteractive()))
    onCleanup?.(async () => ca.signer.close?.())
    return ca
  }
  const passphrase = await resolveCaPassphrase({
    ...(flags['passphrase-file'] ? { passphraseFile: flags['passphrase-file'] } : {}),
    interactive: isInteractive(),
  })
  return loadCa(flags.ca, passphrase)
}

/**
 * Ties a CA to the manifest: a delegated line CA's quota (and revocation) is checked and taken in the manifest before
 * each issue (`E_CA_QUOTA`, `E_CA_REVOKED`). CAs the manifest does not record are not limited.
 */
export function bindCaToManifest<T extends LoadedCa | undefined>(ca: T, store: ManifestStore): T {
  if (ca) ca.beforeIssue = (n) => store.consumeCaQuota(ca.fingerprint, n)
  return ca
}

export interface ProfileFlagValues {
  mode?: string | undefined
  security?: string | undefined
  server?: string | undefined
  'server-ca'?: string | undefined
  'certificate-usage'?: number | undefined
  days?: number | undefined
  'account-id'?: string | undefined
  'short-server-id'?: number | undefined
  lifetime?: number | undefined
  binding?: string | undefined
  'psk-bytes'?: number | undefined
  'psk-identity'?: string | undefined
}

/**
 * Builds a credential profile from flags; names every missing required flag at once. Bounded and identity flags are
 * validated here, and `--server-ca` is parsed as an X.509 certificate (subject and expiry reported through `warn`).
 */
export function profileFromFlags(flags: ProfileFlagValues, warn: (text: string) => void = (t) => process.stderr.write(`warning: ${t}\n`)): CredentialProfile {
  const missing = (['mode', 'security', 'server'] as const).filter((k) => !flags[k]).map((k) => `--${k}`)
  if (missing.length > 0) {
    throw usageError(
      'E_FLAGS_MISSING',
      `Missing ${missing.join(', ')}.`,
      'Example: --mode bootstrap --security cert --server coaps://bootstrap.example.com:5684 --ca ./factory-ca',
      { missing },
    )
  }
  const profile: CredentialProfile = {
    ...DEFAULT_PROFILE,
    mode: flags.mode as AccountMode,
    security: flags.security as SecurityKind,
    serverUri: flags.server!,
    ...(flags.days === undefined ? {} : { days: flags.days }),
    ...(flags['account-id'] ? { accountId: flags['account-id'] } : {}),
    ...(flags['short-server-id'] === undefined ? {} : { shortServerId: flags['short-server-id'] }),
    ...(flags.lifetime === undefined ? {} : { lifetime: flags.lifetime }),
    ...(flags.binding ? { binding: flags.binding } : {}),
    ...(flags['psk-bytes'] === undefined ? {} : { pskBytes: flags['psk-bytes'] }),
    ...(flags['psk-identity'] ? { pskIdentity: flags['psk-identity'] as 'endpoint' | 'random' } : {}),
    ...(flags['certificate-usage'] === undefined ? {} : { certificateUsage: flags['certificate-usage'] }),
  }
  if (flags.days !== undefined) checkDays(flags.days)
  if (flags['account-id'] !== undefined) checkIdentityFlag(flags['account-id'], '--account-id')
  if (flags['server-ca']) {
    const der = readCertificateFile(flags['server-ca'])
    const info = checkServerCa(der, flags['certificate-usage'] ?? 2, flags['server-ca'], new Date())
    if (info.expired) warn(`--server-ca ${info.subject} expired on ${info.notAfter.toISOString().slice(0, 10)}; devices will refuse the server.`)
    else process.stderr.write(`server CA: ${info.subject}, valid until ${info.notAfter.toISOString().slice(0, 10)}\n`)
    profile.serverCaDer = der
  }
  return profile
}

/**
 * The profile for injecting into `batch`: flags first, then what the batch's rows record, so pre-generated
 * credentials (`credentials generate --batch B`) inject with `--batch B` alone.
 */
export async function profileFromFlagsOrBatch(
  flags: ProfileFlagValues & { batch?: string | undefined },
  store: ManifestStore,
  warn?: (text: string) => void,
): Promise<CredentialProfile> {
  if (flags.batch === undefined || (flags.mode && flags.security && flags.server)) return profileFromFlags(flags, warn)
  const recorded = await recordedBatchProfile(store, flags.batch)
  if (recorded === undefined) return profileFromFlags(flags, warn)
  return profileFromFlags({
    ...flags,
    mode: flags.mode ?? recorded.mode,
    security: flags.security ?? recorded.security,
    server: flags.server ?? recorded.serverUri,
    ...(flags['account-id'] === undefined && recorded.accountId ? { 'account-id': recorded.accountId } : {}),
    ...(flags['short-server-id'] === undefined && recorded.shortServerId !== undefined ? { 'short-server-id': recorded.shortServerId } : {}),
    ...(flags.lifetime === undefined && recorded.lifetime !== undefined ? { lifetime: recorded.lifetime } : {}),
    ...(flags.binding === undefined && recorded.binding ? { binding: recorded.binding } : {}),
  }, warn)
}

/** The device-information flags that are identity fields (validated as such). */
export function identityFlagValues(f: Record<string, unknown>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {}
  for (const k of ['manufacturer', 'model-number', 'device-type', 'hardware-version', 'serial-number']) {
    if (typeof f[k] === 'string') out[`--${k}`] = f[k] as string
  }
  return out
}

/** Izuma device information from the device-info flags (a `--serial-number` template is filled per device later). */
export function deviceInfoFromFlags(s: Record<string, unknown>): DeviceInfo | undefined {
  const map: Array<[string, keyof DeviceInfo]> = [
    ['manufacturer', 'manufacturer'],
    ['model-number', 'modelNumber'],
    ['device-type', 'deviceType'],
    ['hardware-version', 'hardwareVersion'],
    ['memory-total-kb', 'memoryTotalKb'],
    ['serial-number', 'serialNumber'],
    ['timezone', 'timezone'],
    ['utc-offset', 'utcOffset'],
  ]
  const info: Record<string, unknown> = {}
  for (const [flag, key] of map) if (s[flag] !== undefined) info[key] = key === 'memoryTotalKb' ? Number(s[flag]) : String(s[flag])
  return Object.keys(info).length > 0 ? (info as DeviceInfo) : undefined
}
