/**
 * The LwM2M account model: Security /0 and Server /1 instances, built from a `CredentialSet` and checked against
 * the pairing rules of docs/lwm2m.md §5 and what an Anjay-class factory-provisioning client accepts
 * (vectors/senml README). The SenML-CBOR and TLV codecs both convert through `instanceResources` /
 * `instanceFromResources`, so the two wire formats cannot disagree on what a field means.
 */
import { LwprovError } from '../errors.js'
import type { CredentialSet, SecurityKind } from '../model.js'
import { OBJECT, SECURITY_MODE, resourceDef } from './objects.js'
import { validateServerUri } from './uri.js'

/** One Security /0 instance. Optional fields are omitted from the wire form when undefined. */
export interface SecurityInstance {
  /** Object instance ID (convention: 0 = bootstrap account, 1 = direct account). */
  iid: number
  /** /0/x/0 */
  serverUri: string
  /** /0/x/1 */
  bootstrapServer: boolean
  /** /0/x/2, see `SECURITY_MODE`. */
  securityMode: number
  /** /0/x/3: PSK identity bytes or client certificate DER; empty for NoSec. */
  publicKeyOrIdentity: Uint8Array
  /** /0/x/4: server certificate / trust anchor; undefined = not written, empty = written empty. */
  serverPublicKey?: Uint8Array
  /** /0/x/5: PSK bytes or client private key DER; empty for NoSec. Secret. */
  secretKey: Uint8Array
  /** /0/x/10: required for direct accounts. */
  shortServerId?: number
  /** /0/x/11 */
  clientHoldOffTime?: number
  /** /0/x/12 */
  bootstrapServerAccountTimeout?: number
  /** /0/x/13 */
  matchingType?: number
  /** /0/x/14 */
  sni?: string
  /** /0/x/15: RFC 6698 usage of /0/x/4; the client assumes 3 when absent. */
  certificateUsage?: number
}

/** One Server /1 instance (direct accounts only). */
export interface ServerInstance {
  iid: number
  /** /1/x/0: must equal /0/y/10 of its security instance. */
  shortServerId: number
  /** /1/x/1 seconds. */
  lifetime: number
  /** /1/x/2 */
  defaultMinimumPeriod?: number
  /** /1/x/3 */
  defaultMaximumPeriod?: number
  /** /1/x/5 */
  disableTimeout?: number
  /** /1/x/6 */
  notificationStoring: boolean
  /** /1/x/7, e.g. `U`. */
  binding: string
  /** /1/x/16 */
  bootstrapOnRegistrationFailure?: boolean
  /** /1/x/17 */
  communicationRetryCount?: number
}

/** The complete /0 + /1 configuration a device receives (the device deletes its old instances first). */
export interface Lwm2mConfig {
  security: SecurityInstance[]
  server: ServerInstance[]
}

/** A decoded resource value: the JS form of each LwM2M type (integers as numbers, opaque as bytes). */
export type ResourceValue = string | boolean | number | Uint8Array

/** One problem found in a configuration, named by the LwM2M path it concerns. */
export interface Lwm2mIssue {
  path: string
  reason: string
}

/** Field ↔ resource ID tables; ascending RID order, which is also the canonical wire order. */
const SECURITY_FIELDS = [
  [0, 'serverUri'],
  [1, 'bootstrapServer'],
  [2, 'securityMode'],
  [3, 'publicKeyOrIdentity'],
  [4, 'serverPublicKey'],
  [5, 'secretKey'],
  [10, 'shortServerId'],
  [11, 'clientHoldOffTime'],
  [12, 'bootstrapServerAccountTimeout'],
  [13, 'matchingType'],
  [14, 'sni'],
  [15, 'certificateUsage'],
] as const satisfies readonly (readonly [number, keyof SecurityInstance])[]

const SERVER_FIELDS = [
  [0, 'shortServerId'],
  [1, 'lifetime'],
  [2, 'defaultMinimumPeriod'],
  [3, 'defaultMaximumPeriod'],
  [5, 'disableTimeout'],
  [6, 'notificationStoring'],
  [7, 'binding'],
  [16, 'bootstrapOnRegistrationFailure'],
  [17, 'communicationRetryCount'],
] as const satisfies readonly (readonly [number, keyof ServerInstance])[]

/** The resources of an instance in ascending RID order, skipping undefined optional fields. */
export function instanceResources(oid: 0, inst: SecurityInstance): [number, ResourceValue][]
export function instanceResources(oid: 1, inst: ServerInstance): [number, ResourceValue][]
export function instanceResources(oid: 0 | 1, inst: SecurityInstance | ServerInstance): [number, ResourceValue][]
export function instanceResources(oid: 0 | 1, inst: SecurityInstance | ServerInstance): [number, ResourceValue][] {
  const fields = oid === OBJECT.security ? SECURITY_FIELDS : SERVER_FIELDS
  const rec = inst as unknown as Record<string, ResourceValue | undefined>
  const out: [number, ResourceValue][] = []
  for (const [rid, key] of fields) {
    const v = rec[key]
    if (v !== undefined) out.push([rid, v])
  }
  return out
}

/**
 * Builds a typed instance from decoded resource values (already type-checked per resource by the codec).
 * Calls `fail(path, reason)` (which must throw) for a missing mandatory resource or a value out of range.
 */
export function instanceFromResources(
  oid: 0,
  iid: number,
  res: ReadonlyMap<number, ResourceValue>,
  fail: (path: string, reason: string) => never,
): SecurityInstance
export function instanceFromResources(
  oid: 1,
  iid: number,
  res: ReadonlyMap<number, ResourceValue>,
  fail: (path: string, reason: string) => never,
): ServerInstance
export function instanceFromResources(
  oid: 0 | 1,
  iid: number,
  res: ReadonlyMap<number, ResourceValue>,
  fail: (path: string, reason: string) => never,
): SecurityInstance | ServerInstance {
  const fields = oid === OBJECT.security ? SECURITY_FIELDS : SERVER_FIELDS
  const out: Record<string, ResourceValue> = { iid }
  for (const [rid, key] of fields) {
    const v = res.get(rid)
    if (v === undefined) continue
    const d = resourceDef(oid, rid)!
    if (typeof v === 'number' && d.range && !(Number.isInteger(v) && v >= d.range[0] && v <= d.range[1]))
      fail(`/${oid}/${iid}/${rid}`, `${d.name} ${v} is outside ${d.range[0]}..${d.range[1]}`)
    out[key] = v
  }
  // Mandatory as the reference client enforces it (vectors/senml README), not the registry's M column:
  // /0/x/4 is optional there, and /0/x/10 only for direct accounts.
  const need = (rid: number, why = 'is mandatory') => {
    if (!res.has(rid)) fail(`/${oid}/${iid}/${rid}`, `missing ${resourceDef(oid, rid)!.name} (/${oid}/${iid}/${rid}), which ${why}`)
  }
  if (oid === OBJECT.security) {
    for (const rid of [0, 1, 2, 3, 5]) need(rid)
    if (res.get(1) === false) need(10, 'a direct account (Bootstrap-Server = false) requires')
  } else {
    for (const rid of [0, 1, 6, 7]) need(rid)
  }
  return out as unknown as SecurityInstance | ServerInstance
}

const utf8 = (s: string) => Buffer.from(s, 'utf8')
const EMPTY: Uint8Array = Buffer.alloc(0)

/** Options for `buildLwm2mConfig`. */
export interface BuildLwm2mOptions {
  /**
   * What to do with /0/x/4 when there is nothing to put in it (PSK, NoSec, cert without a server CA):
   * `write` writes an empty opaque, as docs/lwm2m.md §1 advises for clients that require the resource;
   * `omit` leaves it out, which is the exact form of the Anjay-verified vectors/senml payloads. Default: `write` in
   * certificate mode (the vectors show an absent /0/x/4 silently disables server verification), `omit` otherwise.
   */
  emptyServerPublicKey?: 'write' | 'omit'
}

const configError = (message: string, hint: string, details?: Record<string, unknown>) =>
  new LwprovError('E_LWM2M_CONFIG_INVALID', message, { hint, exit: 'usage', details })

/**
 * Turns one device's credentials into its /0 + /1 configuration.
 * Bootstrap: /0/0 only (Bootstrap-Server = true, no Short Server ID, no /1).
 * Direct: /0/1 (Bootstrap-Server = false, /0/1/10 = SSID) + /1/1 (same SSID, lifetime, notification storing, binding).
 * PSK: 3 = identity as UTF-8 (endpoint name by default), 5 = raw PSK. Cert: 3 = certificate DER, 5 = private key DER,
 * 4 = server CA DER and 15 = certificate usage (2 unless given) when a server CA is set. NoSec: 3/5 empty.
 */
export function buildLwm2mConfig(c: CredentialSet, opts: BuildLwm2mOptions = {}): Lwm2mConfig {
  const bootstrap = c.mode === 'bootstrap'
  const sec: SecurityInstance = {
    iid: bootstrap ? 0 : 1,
    serverUri: c.serverUri,
    bootstrapServer: bootstrap,
    securityMode: SECURITY_MODE[c.security],
    publicKeyOrIdentity: EMPTY,
    secretKey: EMPTY,
  }
  let serverKey: Uint8Array | undefined
  switch (c.security) {
    case 'psk':
      if (!c.psk || c.psk.length === 0)
        throw configError(`no PSK for ${c.endpoint}`, 'Generate the credential set with a PSK (--psk-bytes >= 16).')
      sec.publicKeyOrIdentity = utf8(c.pskIdentity ?? c.endpoint)
      sec.secretKey = c.psk
      break
    case 'cert':
      if (!c.certificateDer)
        throw configError(`no device certificate for ${c.endpoint}`, 'Issue the certificate before building the LwM2M configuration.')
      sec.publicKeyOrIdentity = c.certificateDer
      sec.secretKey = c.privateKeyDer ?? EMPTY
      if (c.serverCaDer) serverKey = c.serverCaDer
      if (c.serverCaDer || c.certificateUsage !== undefined) sec.certificateUsage = c.certificateUsage ?? 2
      break
    case 'nosec':
      break
    case 'rpk':
      throw configError(
        'Raw Public Key mode (1) is not supported',
        'Use --security cert or psk; Anjay-class clients reject RPK ("Raw Public Key mode not supported").',
      )
  }
  if (serverKey) sec.serverPublicKey = serverKey
  else if ((opts.emptyServerPublicKey ?? (c.security === 'cert' ? 'write' : 'omit')) === 'write') sec.serverPublicKey = EMPTY
  if (bootstrap) return { security: [sec], server: [] }
  sec.shortServerId = c.shortServerId
  return {
    security: [sec],
    server: [
      {
        iid: 1,
        shortServerId: c.shortServerId,
        lifetime: c.lifetime,
        notificationStoring: c.notificationStoring,
        binding: c.binding,
      },
    ],
  }
}

const KIND_OF_MODE: Record<number, SecurityKind> = { 0: 'psk', 1: 'rpk', 2: 'cert', 3: 'nosec', 4: 'cert' }

/**
 * What an Anjay-class client refuses in a factory-provisioning write even though every record is well formed
 * (vectors/senml README): two bootstrap accounts, RPK mode, URI scheme not matching the mode, an empty PSK identity.
 * The decoders reject these; `lwm2mConfigIssues` reports them with the pairing rules.
 */
export function clientRejections(cfg: Lwm2mConfig): Lwm2mIssue[] {
  const out: Lwm2mIssue[] = []
  const bs = cfg.security.filter((s) => s.bootstrapServer)
  if (bs.length > 1)
    out.push({ path: `/0/${bs[1]!.iid}/1`, reason: `more than one bootstrap account (/0/${bs.map((s) => s.iid).join(', /0/')})` })
  for (const s of cfg.security) {
    const p = `/0/${s.iid}`
    if (s.securityMode === SECURITY_MODE.rpk) {
      out.push({ path: `${p}/2`, reason: 'Raw Public Key mode (1) is not supported by the client' })
      continue
    }
    const kind = KIND_OF_MODE[s.securityMode]
    if (kind === undefined) {
      out.push({ path: `${p}/2`, reason: `unknown security mode ${s.securityMode}` })
      continue
    }
    // Only the scheme/mode pairing here: the client checks that, while full URI syntax is lwprov's own rule.
    const scheme = /^([a-z+]+):/i.exec(s.serverUri)?.[1]?.toLowerCase()
    const secure = scheme === 'coaps' || scheme === 'coaps+tcp'
    const plain = scheme === 'coap' || scheme === 'coap+tcp'
    if (kind === 'nosec' ? !plain : !secure)
      out.push({
        path: `${p}/0`,
        reason: `security mode ${s.securityMode} (${kind}) needs a ${kind === 'nosec' ? 'coap://' : 'coaps://'} URI, got "${s.serverUri}"`,
      })
    if (s.securityMode === SECURITY_MODE.psk && s.publicKeyOrIdentity.length === 0)
      out.push({ path: `${p}/3`, reason: 'empty PSK identity' })
  }
  return out
}

/**
 * Every problem with a configuration: the client's rejections plus the pairing rules of docs/lwm2m.md §5
 * (a direct account needs a /1 instance with its Short Server ID, SSIDs 1..65534 and unique, no orphan /1,
 * at most one bootstrap account, unique instance IDs) and lwprov's own: non-empty keys for PSK, a certificate in
 * cert mode, /0/x/4 present in cert mode (empty is allowed: the caller warns), a binding made of U/T/S/N/Q.
 */
export function lwm2mConfigIssues(cfg: Lwm2mConfig): Lwm2mIssue[] {
  const out = clientRejections(cfg)
  const ssidOk = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65534
  const iidOk = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65534
  const seenIid = (list: { iid: number }[], oid: number) => {
    const seen = new Set<number>()
    for (const i of list) {
      if (!iidOk(i.iid)) out.push({ path: `/${oid}/${i.iid}`, reason: 'instance ID must be 0..65534' })
      if (seen.has(i.iid)) out.push({ path: `/${oid}/${i.iid}`, reason: 'duplicate instance ID' })
      seen.add(i.iid)
    }
  }
  for (const s of cfg.security) {
    const kind = KIND_OF_MODE[s.securityMode]
    if (kind === undefined || kind === 'rpk') continue
    try {
      validateServerUri(s.serverUri, kind)
    } catch (e) {
      const reason = e instanceof LwprovError ? e.message : String(e)
      if (!out.some((i) => i.path === `/0/${s.iid}/0`)) out.push({ path: `/0/${s.iid}/0`, reason })
    }
  }
  seenIid(cfg.security, 0)
  seenIid(cfg.server, 1)

  const serverBySsid = new Map<number, ServerInstance>()
  for (const srv of cfg.server) {
    const p = `/1/${srv.iid}`
    if (!ssidOk(srv.shortServerId)) out.push({ path: `${p}/0`, reason: `Short Server ID ${srv.shortServerId} is outside 1..65534` })
    else if (serverBySsid.has(srv.shortServerId))
      out.push({ path: `${p}/0`, reason: `Short Server ID ${srv.shortServerId} is used by two server instances` })
    else serverBySsid.set(srv.shortServerId, srv)
    if (!/^[UTSNQ]+$/.test(srv.binding)) out.push({ path: `${p}/7`, reason: `binding "${srv.binding}" is not made of U, T, S, N, Q` })
    if (!Number.isInteger(srv.lifetime) || srv.lifetime < 0) out.push({ path: `${p}/1`, reason: 'lifetime must be a non-negative integer' })
  }

  const directSsids = new Set<number>()
  for (const s of cfg.security) {
    const p = `/0/${s.iid}`
    if (!s.bootstrapServer) {
      if (s.shortServerId === undefined) out.push({ path: `${p}/10`, reason: 'direct account without a Short Server ID' })
      else if (!ssidOk(s.shortServerId)) out.push({ path: `${p}/10`, reason: `Short Server ID ${s.shortServerId} is outside 1..65534` })
      else if (directSsids.has(s.shortServerId))
        out.push({ path: `${p}/10`, reason: `Short Server ID ${s.shortServerId} is used by two security instances` })
      else {
        directSsids.add(s.shortServerId)
        if (!serverBySsid.has(s.shortServerId))
          out.push({
            path: p,
            reason: `direct account without a /1 server instance (no /1 has Short Server ID ${s.shortServerId}); the device would never register`,
          })
      }
    }
    if (s.securityMode === SECURITY_MODE.psk && s.secretKey.length === 0) out.push({ path: `${p}/5`, reason: 'empty PSK' })
    if (s.securityMode === SECURITY_MODE.cert) {
      if (s.publicKeyOrIdentity.length === 0) out.push({ path: `${p}/3`, reason: 'certificate mode without a client certificate' })
      if (s.serverPublicKey === undefined)
        out.push({ path: `${p}/4`, reason: 'certificate mode must write Server Public Key (empty if there is no server CA)' })
    }
  }
  for (const srv of cfg.server)
    if (ssidOk(srv.shortServerId) && !directSsids.has(srv.shortServerId))
      out.push({ path: `/1/${srv.iid}`, reason: `server instance with Short Server ID ${srv.shortServerId} matches no direct security instance` })
  return out
}

/** Throws `E_LWM2M_CONFIG_INVALID` naming every problem `lwm2mConfigIssues` finds. */
export function validateLwm2mConfig(cfg: Lwm2mConfig): void {
  const issues = lwm2mConfigIssues(cfg)
  if (issues.length === 0) return
  throw configError(
    `invalid LwM2M configuration: ${issues.map((i) => `${i.path}: ${i.reason}`).join('; ')}`,
    'A direct account is /0 (Bootstrap-Server false, Short Server ID) plus /1 with the same Short Server ID; a bootstrap account is one /0 with Bootstrap-Server true. Use coaps:// for psk/cert and coap:// for nosec.',
    { issues },
  )
}
