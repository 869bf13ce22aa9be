/**
 * `lwprov devcert`: one developer credential, recorded in the manifest like any other (marked `developer`, batch
 * `devcert`, same uniqueness rule) and rendered into firmware source through a template. Everything the user can
 * get wrong (template vs. security mode, missing server CA, broken user template, duplicate endpoint, device limit)
 * is checked before a certificate is issued or a row is written.
 */
import { generateCredentialSets, toManifestRecord, validateProfile } from '../credentials/generate.js'
import { conflictError, cryptoError, LwprovError, usageError } from '../errors.js'
import { enforcePolicy, profileRequest } from '../manifest/policy.js'
import { validateEndpointName } from '../lwm2m/endpoint.js'
import { openSecrets } from '../manifest/secrets.js'
import type { ManifestRecord, ManifestStore } from '../manifest/types.js'
import type { CredentialProfile, CredentialSet, DeviceInfo } from '../model.js'
import type { LoadedCa } from '../pki/index.js'
import { pemBlocks } from '../pki/index.js'
import { buildDevcertModel, type DevcertModel, serverAid } from './model.js'
import { checkTemplate, type LoadedTemplate, type RenderedFile, renderTemplateFiles, templateWarnings } from './templates.js'

/** The manifest batch every developer credential is recorded under. */
export const DEVCERT_BATCH = 'devcert'
/** Izuma allows one developer certificate on at most 100 devices; lwprov applies the same default per developer CA. */
export const DEFAULT_MAX_DEVICES = 100

/** The developer CA and its issue counter (see devca.ts). */
export interface DeveloperCa {
  ca: LoadedCa
  dir: string
  /** True when this call created it. */
  created: boolean
  /** How many devcert certificates this CA has issued. */
  issuedCount(): Promise<number>
  /** Records one more issued certificate. */
  recordIssued(entry: { endpoint: string; serialHex: string; fingerprint: string; issuedAt: Date }): Promise<void>
}

export interface DevcertRequest {
  endpoint: string
  /** Credential profile; `serverCaDer` is taken from here on reuse too (the manifest does not store it). */
  profile: CredentialProfile
  device?: DeviceInfo
  template: LoadedTemplate
  /** Base name of `--out`. */
  outName: string
  /** Return (re-render) the credential already issued for the endpoint instead of failing. */
  reuse?: boolean
  /** Exceed the per-CA device limit. */
  force?: boolean
  /** Per-CA device limit; default 100. */
  maxDevices?: number
  now: Date
  /** `lwprov <version>`, rendered into file headers. */
  generator: string
}

export interface DevcertDeps {
  store: Pick<ManifestStore, 'get' | 'insertMany' | 'getPolicy'>
  /** Keys to try when opening a stored secret (reuse), in order; the first seals new rows. */
  masterKeys: Buffer[]
  /** Loads or creates the developer CA; only called when a new certificate must be issued. */
  developerCa: () => Promise<DeveloperCa>
  /** Credential generation (default: the credentials module's); injectable for tests. */
  generate?: typeof generateCredentialSets
  /**
   * Called with the output file names after the dry render and before the manifest or the CA is touched; throws
   * when they cannot be written (the command passes `prepareOutputDir`), so a bad --out costs nothing.
   */
  prepareOutput?: (fileNames: string[]) => void
}

export interface DevcertOutcome {
  endpoint: string
  /** True when an existing credential was re-rendered (`--reuse`). */
  reused: boolean
  /** Developer CA directory used to issue (null for PSK or on reuse). */
  developerCa: string | null
  developerCaCreated: boolean
  fingerprint: string | null
  notAfter: string | null
  model: DevcertModel
  files: RenderedFile[]
  warnings: string[]
}

/** Preview credential with placeholder secrets: lets the template be checked and dry-rendered before issuing. */
function previewCredential(endpoint: string, p: CredentialProfile): CredentialSet {
  const one = new Uint8Array([0])
  return {
    endpoint,
    mode: p.mode,
    security: p.security,
    serverUri: p.serverUri,
    ...(p.security === 'psk' ? { psk: new Uint8Array(p.pskBytes), pskIdentity: endpoint } : {}),
    ...(p.security === 'cert' ? { certificateDer: one, privateKeyDer: one, fingerprint: '00', serialHex: '00', notAfter: new Date(0) } : {}),
    ...(p.serverCaDer ? { serverCaDer: p.serverCaDer } : {}),
    ...(certificateUsage(p) === undefined ? {} : { certificateUsage: certificateUsage(p) }),
    ...(p.accountId ? { accountId: p.accountId } : {}),
    shortServerId: p.shortServerId,
    lifetime: p.lifetime,
    binding: p.binding,
    notificationStoring: p.notificationStoring,
  }
}

function certificateUsage(p: CredentialProfile): number | undefined {
  return p.serverCaDer ? (p.certificateUsage ?? 2) : p.certificateUsage
}

/** Rebuilds the credential set of an existing developer row from the manifest (secrets unsealed). */
export function credentialFromRecord(rec: ManifestRecord, profile: CredentialProfile, masterKeys: Buffer[]): CredentialSet {
  let secrets: { psk?: Buffer; privateKeyDer?: Buffer } = {}
  if (rec.secret) {
    let lastError: unknown
    let opened = false
    for (const key of masterKeys) {
      try {
        secrets = openSecrets(key, rec.secret, rec.endpoint)
        opened = true
        break
      } catch (e) {
        lastError = e
      }
    }
    if (!opened) {
      throw cryptoError(
        'E_DEVCERT_SECRET_UNREADABLE',
        `The stored key of ${rec.endpoint} cannot be decrypted with the master key in use.`,
        'Use the master key the credential was created with (LWPROV_MASTER_KEY or --key-file, else the per-user key beside the developer CA).',
        lastError,
      )
    }
  }
  const certDer = rec.certificatePem ? pemBlocks(rec.certificatePem)[0]?.der : undefined
  const c: CredentialSet = {
    endpoint: rec.endpoint,
    mode: rec.mode,
    security: rec.security,
    serverUri: rec.serverUri,
    ...(rec.pskIdentity ? { pskIdentity: rec.pskIdentity } : {}),
    ...(secrets.psk ? { psk: secrets.psk } : {}),
    ...(certDer ? { certificateDer: certDer } : {}),
    ...(secrets.privateKeyDer ? { privateKeyDer: secrets.privateKeyDer } : {}),
    ...(profile.serverCaDer ? { serverCaDer: profile.serverCaDer } : {}),
    ...(certificateUsage(profile) === undefined ? {} : { certificateUsage: certificateUsage(profile) }),
    ...(rec.serial ? { serialHex: rec.serial } : {}),
    ...(rec.fingerprint ? { fingerprint: rec.fingerprint } : {}),
    ...(rec.notAfter ? { notAfter: new Date(rec.notAfter) } : {}),
    ...(rec.accountId ? { accountId: rec.accountId } : {}),
    shortServerId: rec.shortServerId ?? profile.shortServerId,
    lifetime: rec.lifetime ?? profile.lifetime,
    binding: rec.binding ?? profile.binding,
    notificationStoring: profile.notificationStoring,
  }
  if ((c.security === 'cert' && !c.privateKeyDer) || (c.security === 'psk' && !c.psk)) {
    throw conflictError('E_DEVCERT_NO_SECRET', `The manifest holds no private key or PSK for ${rec.endpoint}, so it cannot be rendered again.`, 'Issue a new developer credential under another --endpoint.')
  }
  return c
}

/** Issues (or, with `reuse`, re-reads) a developer credential and renders the template. Writes no files. */
export async function runDevcert(req: DevcertRequest, deps: DevcertDeps): Promise<DevcertOutcome> {
  validateEndpointName(req.endpoint)
  const profile: CredentialProfile = { ...req.profile }
  // The certificate OU carries the account id; Izuma wants it equal to the URI's aid, so default to that.
  if (!profile.accountId) {
    const aid = serverAid(profile.serverUri)
    if (aid) profile.accountId = aid
  }
  if (profile.security !== 'cert' && profile.security !== 'psk') {
    throw usageError('E_DEVCERT_SECURITY', `Developer credentials are certificates or PSKs, not '${profile.security}'.`, 'Pass --security cert (default) or --security psk.')
  }
  validateProfile(profile, true)
  const maxDevices = req.maxDevices ?? DEFAULT_MAX_DEVICES
  const modelOf = (credential: CredentialSet) =>
    buildDevcertModel({ credential, ...(req.device ? { device: req.device } : {}), template: req.template.id, outName: req.outName, generatedAt: req.now, generator: req.generator })

  // Template checks and a dry render on placeholder values: a bad template must not cost a manifest row.
  const preview = modelOf(previewCredential(req.endpoint, profile))
  checkTemplate(req.template, preview)
  const previewFiles = renderTemplateFiles(req.template, preview)
  deps.prepareOutput?.(previewFiles.map((f) => f.name))

  const warnings: string[] = []
  const existing = await deps.store.get(req.endpoint)
  // Manifest policies hold for developer credentials too (a re-rendered one was checked when it was issued).
  if (!existing) {
    enforcePolicy(await deps.store.getPolicy(), { via: 'devcert', endpoints: [req.endpoint], jit: true, ...profileRequest(profile) })
  }
  let credential: CredentialSet
  let reused = false
  let caDir: string | null = null
  let caCreated = false
  if (existing) {
    if (!req.reuse) {
      throw conflictError(
        'E_DUPLICATE_ENDPOINT',
        `The endpoint ${req.endpoint} was already issued (${existing.developer ? 'developer credential' : `batch ${existing.batch}`}, ${existing.status}).`,
        existing.developer ? 'Pass --reuse to render the credential already issued again, or choose another --endpoint.' : 'Choose another --endpoint: factory names are not reused for developer credentials.',
        { duplicates: [req.endpoint] },
      )
    }
    if (!existing.developer) {
      throw conflictError('E_DEVCERT_NOT_DEVELOPER', `${req.endpoint} is a factory credential (batch ${existing.batch}); --reuse only returns developer credentials.`, 'Choose another --endpoint for the developer credential.', { endpoint: req.endpoint })
    }
    if (existing.status === 'revoked') {
      throw conflictError('E_DEVCERT_REVOKED', `The developer credential of ${req.endpoint} was revoked.`, 'Choose another --endpoint.', { endpoint: req.endpoint })
    }
    credential = credentialFromRecord(existing, profile, deps.masterKeys)
    reused = true
    for (const [what, stored, asked] of [
      ['server URI', existing.serverUri, req.profile.serverUri],
      ['mode', existing.mode, req.profile.mode],
      ['security', existing.security, req.profile.security],
    ] as const) {
      if (stored !== asked) warnings.push(`--reuse keeps the stored ${what} ${stored} (asked for ${asked}).`)
    }
    checkTemplate(req.template, modelOf(credential))
  } else {
    let dev: DeveloperCa | undefined
    if (profile.security === 'cert') {
      dev = await deps.developerCa()
      caDir = dev.dir
      caCreated = dev.created
      const issued = await dev.issuedCount()
      if (issued >= maxDevices && !req.force) {
        throw conflictError(
          'E_DEVCERT_LIMIT',
          `The developer CA in ${dev.dir} has already issued ${issued} developer certificates (limit ${maxDevices}).`,
          'Pass --force to exceed the limit, --max-devices N to raise it, or --ca DIR to use another developer CA.',
          { issued, limit: maxDevices },
        )
      }
    }
    const generate = deps.generate ?? generateCredentialSets
    const [cs] = await generate([req.endpoint], profile, { ...(dev ? { ca: dev.ca } : {}), now: req.now })
    credential = cs!
    const masterKey = deps.masterKeys[0]
    if (!masterKey) throw new LwprovError('E_MASTER_KEY_MISSING', 'No master key to seal the developer credential with.', { hint: 'Set LWPROV_MASTER_KEY or pass --key-file.' })
    await deps.store.insertMany([toManifestRecord(credential, { batch: DEVCERT_BATCH, status: 'generated', masterKey, developer: true })])
    if (dev && credential.serialHex && credential.fingerprint) {
      await dev.recordIssued({ endpoint: req.endpoint, serialHex: credential.serialHex, fingerprint: credential.fingerprint, issuedAt: req.now })
    }
  }

  const model = modelOf(credential)
  warnings.push(...templateWarnings(req.template, model))
  if (credential.security === 'cert' && !credential.serverCaDer) {
    warnings.push("No --server-ca: the device cannot verify the server's certificate (/0/x/4 stays empty).")
  }
  return {
    endpoint: req.endpoint,
    reused,
    developerCa: caDir,
    developerCaCreated: caCreated,
    fingerprint: credential.fingerprint ?? null,
    notAfter: credential.notAfter ? credential.notAfter.toISOString() : null,
    model,
    files: renderTemplateFiles(req.template, model),
    warnings,
  }
}
