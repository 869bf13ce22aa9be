/**
 * One device, start to finish: connect → identify → resolve the endpoint → offline pre-check → just-in-time
 * credentials → write → commit → read back → record. The manifest is updated at every stage, so whatever happens
 * (unplug, timeout, refusal, Ctrl-C) the row ends `verified` only with a matching read-back, and `failed` with the step
 * and the reason otherwise; a failed row stays with the device (matched by its serial/IMEI/MAC) so re-injecting it is idempotent.
 * The protocol's offline pre-check runs before credentials are generated, so a mistake it catches (missing device
 * information, a URI the device would refuse…) creates no row and does not make the CA sign anything.
 * Re-injecting a `verified`/`injected` row keeps its recorded credentials until the device has confirmed the new ones.
 * UI-free: progress goes through `hooks`.
 */
import { X509Certificate, randomBytes } from 'node:crypto'

import { generateCredentialSets, toManifestRecord } from '../credentials/generate.js'
import { ExitCode, type ExitCodeName, LwprovError, conflictError, deviceError, transportError, usageError } from '../errors.js'
import { parseEndpointTemplate, validateEndpointName } from '../lwm2m/endpoint.js'
import type { ManifestRecord, ManifestStore, StatusUpdate } from '../manifest/types.js'
import type { CredentialProfile, CredentialSet, DeviceInfo } from '../model.js'
import { derToPem, signCsr, type LoadedCa } from '../pki/index.js'
import { assertBatchActive } from '../manifest/batch-window.js'
import { enforcePolicy, precheckInjectPolicy } from '../manifest/policy.js'
import { checkDeviceIdentity, shown } from '../validate/index.js'
import { recordedCredentials } from './pregenerated.js'
import {
  DEFAULT_TIMEOUTS,
  type ByteLink,
  type DeviceIdentity,
  type InjectionHooks,
  type InjectionPlan,
  type InjectionStep,
  type ProtocolName,
  type ProvisioningProtocol,
  type Timeouts,
} from './types.js'

/** Hooks of {@link injectOne}: the protocol hooks plus session-level events. */
export interface SessionHooks extends InjectionHooks {
  /** A transport failure is being retried with a fresh connection. */
  onRetry?(attempt: number, err: LwprovError): void
  /** The device identified itself. */
  onIdentity?(identity: DeviceIdentity, deviceId: string | undefined): void
  /** The endpoint name chosen for the device. */
  onEndpoint?(endpoint: string): void
}

export interface InjectOptions {
  /** Opens (and on retry re-opens) the link to the device. */
  connect: () => Promise<ByteLink>
  protocol: ProvisioningProtocol
  store: ManifestStore
  /** How just-in-time credentials are generated. */
  profile: CredentialProfile
  /** An endpoint name, or a template filled from the device (`{serial}`, `{imei}`, `{mac}`, `{seq}`…). */
  endpoint?: string
  /** Work order: without `endpoint`, the device claims the batch's next reserved name; new rows are recorded under it. */
  batch?: string
  /** Factory CA (certificate mode; signing device CSRs). */
  ca?: LoadedCa
  /** Manifest master key: seals PSKs. */
  masterKey?: Buffer
  /** Let the device generate its key pair (certificate mode, device with the keygen capability or FCC). */
  deviceKeygen?: boolean
  /** Izuma device information. */
  deviceInfo?: DeviceInfo
  /** Identity for devices that do not announce one (FCC), e.g. the serial from `--serial-number`. */
  identity?: Partial<DeviceIdentity>
  /** Izuma first-to-claim. */
  firstToClaim?: boolean
  /**
   * Re-provision a `verified` endpoint with new credentials (its old ones are kept as superseded history with this
   * reason). Without it a device reporting the identity of a verified row is refused as a serial collision.
   */
  reprovision?: { reason: string }
  /** The command named in policy errors (default inject). */
  policyVia?: 'inject' | 'station'
  /** The device's address for messages before a connection exists (e.g. the --port path). */
  target?: string
  /** Station name recorded with the row. */
  station?: string
  timeouts?: Partial<Timeouts>
  /** Reconnect-and-retry attempts after transport failures (never after refusals); default 2. */
  retries?: number
  /** Pause before a retry, ms; default 300 (a re-enumerating USB device needs a moment). */
  retryDelayMs?: number
  hooks?: SessionHooks
  /** Clock; default `new Date()`. */
  now?: () => Date
  /** Credential generator (tests); default `generateCredentialSets`. */
  generate?: typeof generateCredentialSets
}

export interface InjectOutcome {
  endpoint: string
  status: 'verified'
  deviceId?: string
  protocol: ProtocolName
  /** The link the device was on (port path or tcp:// address). */
  port: string
  /** SHA-256 of the device certificate (certificate mode). */
  fingerprint?: string
  readbackDigest: string
  enrollmentId?: string
  /** Connections it took (1 = no retry). */
  attempts: number
  /** The device generated its own key (the private key never left it). */
  deviceKeygen: boolean
}

const DEFAULT_BATCH = 'inject'

/** Connect-time failures that a retry cannot fix on the first attempt (wrong path, permissions, port in use). */
const FATAL_FIRST_CONNECT = new Set(['E_PORT_NOT_FOUND', 'E_PORT_PERMISSION', 'E_PORT_BUSY', 'E_TCP_CONNECT', 'E_TCP_ADDRESS'])

function asLwprov(e: unknown, link: string, step: InjectionStep): LwprovError {
  if (e instanceof LwprovError) return e
  const err = e instanceof Error ? e : new Error(String(e))
  return new LwprovError('E_INJECT_FAILED', `${link}: ${step} failed: ${err.message}`, { exit: 'bug', cause: err })
}

/** The identity the manifest matches a device by. */
export function deviceIdOf(id: Partial<DeviceIdentity>): string | undefined {
  return id.serial ?? id.imei ?? id.mac
}

/** Injects one device; resolves when it is verified, rejects with a `LwprovError` after recording the failure. */
export async function injectOne(opts: InjectOptions): Promise<InjectOutcome> {
  // Manifest policies that need no device are checked before the first connection (and before any timer starts).
  const policy = await precheckInjectPolicy(opts.store, { via: opts.policyVia ?? 'inject', endpoint: opts.endpoint, batch: opts.batch, profile: opts.profile })
  const timeouts: Timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts }
  const retries = opts.retries ?? 2
  const now = opts.now ?? (() => new Date())
  const external = opts.hooks?.signal
  const ctl = new AbortController()
  const onAbort = () => ctl.abort(external?.reason)
  external?.addEventListener('abort', onAbort, { once: true })
  // Kept referenced (cleared in `finally`): should anything below await a promise nobody settles, this timer keeps the
  // process alive to fail the session with E_SESSION_TIMEOUT and record it, instead of Node exiting with code 13.
  const deadline = setTimeout(() => ctl.abort(new Error('deadline')), timeouts.total)

  let step: InjectionStep = 'connect'
  const hooks: InjectionHooks = {
    ...opts.hooks,
    signal: ctl.signal,
    onStep: (s, d) => {
      // Protocols report 'done' themselves; the session reports it for those that do not, never twice.
      if (s === 'done' && step === 'done') return
      step = s
      opts.hooks?.onStep?.(s, d)
    },
  }
  let linkName = opts.target ?? 'the device'
  let endpoint: string | undefined
  let resolved: Resolved | undefined
  let row: ManifestRecord | undefined
  let credentials: CredentialSet | undefined
  let deviceId: string | undefined
  let firstDeviceId: string | undefined
  let deviceKeygen = false
  let identitySeen: DeviceIdentity | undefined
  /**
   * New credentials for a row the device already holds (`verified`/`injected`): written only together with the
   * verified status, so a failed re-injection never leaves the manifest describing credentials the device never got.
   */
  let pending: StatusUpdate | undefined
  /** The protocol's offline pre-check refused the plan: nothing was generated, nothing reached the device. */
  let mistake = false

  /** Fails fast when aborted (Ctrl-C or the total deadline) instead of waiting for a step timeout. */
  const guard = <T>(p: Promise<T>): Promise<T> => {
    if (ctl.signal.aborted) return Promise.reject(abortError())
    return new Promise<T>((resolve, reject) => {
      const stop = () => reject(abortError())
      ctl.signal.addEventListener('abort', stop, { once: true })
      p.then(
        (v) => {
          ctl.signal.removeEventListener('abort', stop)
          resolve(v)
        },
        (e: unknown) => {
          ctl.signal.removeEventListener('abort', stop)
          reject(e)
        },
      )
    })
  }
  const abortError = (): LwprovError =>
    external?.aborted
      ? new LwprovError('E_INTERRUPTED', `Interrupted during ${step} on ${linkName}.`, { exit: 'interrupted', hint: 'Re-run inject to provision this device; it keeps its endpoint.' })
      : transportError('E_SESSION_TIMEOUT', `The session with ${linkName} took longer than ${timeouts.total} ms (during ${step}).`, 'Check the device, then re-run inject.')

  const precheck = async (plan: InjectionPlan): Promise<void> => {
    try {
      await opts.protocol.precheck?.(plan)
    } catch (e) {
      mistake = true
      throw e
    }
  }

  const record = async (u: StatusUpdate): Promise<void> => {
    if (endpoint === undefined || row === undefined) return
    row = await opts.store.updateStatus(endpoint, { ...(opts.station ? { station: opts.station } : {}), ...u })
  }

  try {
    for (let attempt = 0; ; attempt++) {
      let link: ByteLink | undefined
      let offClose: (() => void) | undefined
      let closeGrace: ReturnType<typeof setTimeout> | undefined
      try {
        step = 'connect'
        hooks.onStep?.('connect')
        const connecting = opts.connect()
        // If Ctrl-C wins the race, the port may still finish opening: close it then, or it keeps the process alive.
        link = await guard(connecting).catch((e: unknown) => {
          if (ctl.signal.aborted) connecting.then((l) => l.close(), () => {}).catch(() => {})
          throw e
        })
        linkName = link.description
        // Safety net only: protocols interpret a hang-up themselves (for FCC over TCP a close without a reply means
        // the device rejected the frame), so they get a head start before a generic disconnect error wins.
        // The grace timer stays referenced so that the net holds even when the protocol awaits something the close
        // never settles (no other handle may be left then); it is cleared and the listener removed before our own close.
        const closed = new Promise<never>((_, reject) => {
          offClose = link!.onClose((err) => {
            closeGrace = setTimeout(() => {
              if (step !== 'done') reject(err ?? transportError('E_DEVICE_DISCONNECTED', `${linkName} closed during ${step}.`, 'The device hung up; check its power and cable, then retry.'))
            }, 1000)
          })
        })
        closed.catch(() => {})

        step = 'identify'
        const identity = await guard(Promise.race([opts.protocol.identify(link, timeouts, hooks, opts.identity), closed]))
        // A device's identity is untrusted input: it becomes a manifest key and part of endpoint names, so one outside
        // the identity character set is refused before anything is recorded (model/firmware are only shown, escaped).
        for (const f of ['serial', 'imei', 'mac'] as const) checkDeviceIdentity(identity[f], f, linkName)
        const seen = deviceIdOf(identity)
        // Checked before `deviceId` changes: the failure is recorded on the first device's row, under its id.
        if (firstDeviceId !== undefined && seen !== firstDeviceId) {
          throw deviceError('E_DEVICE_CHANGED', `${linkName} now has device ${seen ?? '(unknown)'} attached, not ${firstDeviceId}.`, 'Re-run inject for the device now attached.')
        }
        deviceId = seen
        firstDeviceId = deviceId
        identitySeen = identity
        opts.hooks?.onIdentity?.(identity, deviceId)

        if (endpoint === undefined) {
          resolved = await resolveEndpoint(opts, identity, deviceId, now())
          // A name not reserved by a work order is a just-in-time name; checked before anything is generated.
          enforcePolicy(policy, { via: opts.policyVia ?? 'inject', endpoints: [resolved.endpoint], jit: resolved.row === undefined })
          endpoint = resolved.endpoint
          row = resolved.row
          opts.hooks?.onEndpoint?.(endpoint)
        }
        const planFor = (ep: string, cs: CredentialSet): InjectionPlan => ({
          endpoint: ep,
          credentials: cs,
          now: now(),
          ...(opts.deviceInfo ? { deviceInfo: opts.deviceInfo } : {}),
          ...(opts.firstToClaim ? { firstToClaim: true } : {}),
          ...(deviceKeygen ? { signCsr: csrSigner(opts, ep) } : {}),
        })
        if (credentials === undefined) {
          step = 'generate'
          hooks.onStep?.('generate', endpoint)
          // Credentials recorded before (generated offline, or a failed earlier attempt) are written as recorded.
          const recorded = row === undefined ? undefined : recordedCredentials(row, opts.profile, { ...(opts.masterKey ? { masterKey: opts.masterKey } : {}), ...(opts.ca ? { chainDer: opts.ca.chainDer } : {}) })
          if (recorded) {
            if (opts.deviceKeygen) {
              throw conflictError('E_CREDENTIALS_PREGENERATED', `Endpoint ${endpoint} already holds pre-generated credentials; the device cannot generate its own key for it.`, 'Drop --device-keygen to inject the recorded credentials, or pick another endpoint.', { endpoint })
            }
            await precheck(planFor(endpoint, recorded))
            credentials = recorded
          }
        }
        if (credentials === undefined) {
          deviceKeygen = wantsDeviceKeygen(opts, identity, linkName)
          // Offline checks first: a user mistake (missing device information, a URI the device would refuse…) must
          // not make the CA sign a certificate nor leave a row behind.
          await precheck(planFor(endpoint, bareCredentials(opts, endpoint, deviceKeygen)))
          const cs = await makeCredentials(opts, endpoint, deviceKeygen, now())
          // What needs the certificate (CN, key ↔ certificate, expiry) is checked before anything is recorded.
          if (!deviceKeygen) await precheck(planFor(endpoint, cs))
          if (row !== undefined && HELD_BY_DEVICE.has(row.status)) {
            pending = credentialFields(opts, resolved!, row, cs, deviceId)
            // The verified credentials being replaced go to the history in the same write as the new ones.
            if (row.status === 'verified' && opts.reprovision) pending.supersede = { reason: opts.reprovision.reason, station: opts.station ?? null }
          }
          else row = await recordGenerated(opts, resolved!, row, cs, deviceId)
          credentials = cs
        }

        const plan = planFor(endpoint, credentials)
        const result = await guard(Promise.race([opts.protocol.provision(link, plan, timeouts, hooks), closed]))
        if (!result.verified || !result.readbackDigest) {
          throw deviceError('E_NOT_VERIFIED', `${linkName} did not confirm what it stored (no matching read-back).`, 'The device is not verified; re-run inject, and check its firmware if this repeats.')
        }
        hooks.onStep?.('done')
        const issued = result.certificateDer ? certFields(result.certificateDer) : {}
        // One write: credentials (for a re-injected row), the device-issued certificate and `verified` land together,
        // so a crash cannot leave a read-back-confirmed device recorded as merely `injected`. No `injected` record is
        // written at all: `provision` returns only after the read-back, so the session never observes a moment where
        // the device has accepted the commit but the read-back is still pending; a kill during provisioning leaves
        // the row `generated` (or, re-injecting, as it was), and re-running inject settles it.
        await record({
          ...pending,
          ...issued,
          status: 'verified',
          deviceId: deviceId ?? null,
          readbackDigest: result.readbackDigest,
          statusReason: null,
          // New credentials were made in this session: an enrollment id of an older certificate no longer applies.
          enrollmentId: result.enrollmentId ?? null,
        })
        pending = undefined
        const fingerprint = issued.fingerprint ?? credentials.fingerprint
        return {
          endpoint,
          status: 'verified',
          ...(deviceId === undefined ? {} : { deviceId }),
          // `--protocol auto` reports the protocol that answered
          protocol: protocolOf(opts.protocol.name, identitySeen),
          port: linkName,
          ...(fingerprint ? { fingerprint } : {}),
          readbackDigest: result.readbackDigest,
          ...(result.enrollmentId ? { enrollmentId: result.enrollmentId } : {}),
          attempts: attempt + 1,
          deviceKeygen,
        }
      } catch (e) {
        const err = ctl.signal.aborted ? abortError() : asLwprov(e, linkName, step)
        const retryable =
          err.exitCode === 5 &&
          err.code !== 'E_SESSION_TIMEOUT' &&
          !(attempt === 0 && step === 'connect' && FATAL_FIRST_CONNECT.has(err.code)) &&
          attempt < retries &&
          !ctl.signal.aborted
        if (!retryable) {
          throw err
        }
        opts.hooks?.onRetry?.(attempt + 1, err)
        await new Promise((r) => setTimeout(r, opts.retryDelayMs ?? 300))
      } finally {
        offClose?.()
        clearTimeout(closeGrace)
        if (link) await link.close().catch(() => {})
      }
    }
  } catch (e) {
    const err = e instanceof LwprovError ? e : asLwprov(e, linkName, step)
    const failedStep = step
    // The row keeps the device id, so the same device gets the same endpoint when it comes back. A row the device
    // holds is not marked failed for a pre-check mistake: its verified credentials are still on the device.
    if (!(mistake && row !== undefined && HELD_BY_DEVICE.has(row.status))) {
      await record({
        status: 'failed',
        statusReason: `${err.code === 'E_INTERRUPTED' ? 'interrupted' : failedStep}: ${err.message}`.slice(0, 500),
        ...(deviceId === undefined ? {} : { deviceId }),
      }).catch(() => {})
    }
    throw contextual(err, linkName, failedStep, endpoint)
  } finally {
    clearTimeout(deadline)
    external?.removeEventListener('abort', onAbort)
  }
}

const EXIT_NAMES: Record<number, ExitCodeName> = Object.fromEntries(Object.entries(ExitCode).map(([k, v]) => [v, k as ExitCodeName]))

/** Makes sure an error names the port and the step; adds port/step/endpoint to `details` for --json consumers. */
function contextual(err: LwprovError, link: string, step: InjectionStep, endpoint: string | undefined): LwprovError {
  let message = err.message.includes(link) ? err.message : `${link}: ${err.message}`
  if (!message.includes(step)) message = `${message.replace(/\.$/, '')} (step: ${step}).`
  return new LwprovError(err.code, message, {
    ...(err.hint === undefined ? {} : { hint: err.hint }),
    exit: EXIT_NAMES[err.exitCode] ?? 'bug',
    cause: err.cause ?? err,
    details: { ...err.details, port: link, step, ...(endpoint ? { endpoint } : {}) },
  })
}

function wantsDeviceKeygen(opts: InjectOptions, id: DeviceIdentity, link: string): boolean {
  if (!opts.deviceKeygen) return false
  if (opts.profile.security !== 'cert') {
    throw usageError('E_KEYGEN_NEEDS_CERT', 'On-device key generation only applies to certificate credentials.', 'Use --security cert with --device-keygen, or drop --device-keygen.')
  }
  if (!opts.ca) throw usageError('E_CA_REQUIRED', 'Signing the device CSR needs the factory CA.', 'Pass --ca DIR.')
  // FCC devices do not announce capabilities: the operator vouches for them with the flag.
  if (opts.protocol.name === 'lwprov' && !id.capabilities.includes('keygen')) {
    throw deviceError('E_DEVICE_NO_KEYGEN', `The device on ${link} cannot generate keys (no keygen capability).`, 'Drop --device-keygen so the host generates the key.')
  }
  return true
}

function csrSigner(opts: InjectOptions, endpoint: string): NonNullable<InjectionPlan['signCsr']> {
  return async (csrDer) => {
    const ca = opts.ca!
    const issued = await signCsr(ca, csrDer, {
      endpoint,
      days: opts.profile.days,
      now: (opts.now ?? (() => new Date()))(),
      ...(opts.profile.accountId ? { accountId: opts.profile.accountId } : {}),
    })
    return { certificateDer: issued.certificateDer, chainDer: ca.chainDer }
  }
}

/**
 * The profile's credentials without any key, PSK or certificate: what device key generation sends, and what the
 * pre-check sees before anything is generated.
 */
function bareCredentials(opts: InjectOptions, endpoint: string, deviceKeygen: boolean): CredentialSet {
  const p = opts.profile
  const certificateUsage = p.security === 'cert' && p.serverCaDer ? (p.certificateUsage ?? 2) : p.certificateUsage
  return {
    endpoint,
    mode: p.mode,
    security: p.security,
    serverUri: p.serverUri,
    ...(deviceKeygen && opts.ca ? { chainDer: opts.ca.chainDer } : {}),
    ...(p.serverCaDer ? { serverCaDer: p.serverCaDer } : {}),
    ...(certificateUsage === undefined ? {} : { certificateUsage }),
    ...(p.accountId ? { accountId: p.accountId } : {}),
    shortServerId: p.shortServerId,
    lifetime: p.lifetime,
    binding: p.binding,
    notificationStoring: p.notificationStoring,
  }
}

/** Credentials for one device. With device key generation there is no key (and no certificate yet) on the host. */
async function makeCredentials(opts: InjectOptions, endpoint: string, deviceKeygen: boolean, now: Date): Promise<CredentialSet> {
  const p = opts.profile
  if (deviceKeygen) return bareCredentials(opts, endpoint, true)
  const generate = opts.generate ?? generateCredentialSets
  const [cs] = await generate([endpoint], p, { ...(opts.ca ? { ca: opts.ca } : {}), now })
  if (!cs) throw new LwprovError('E_INTERNAL', 'credential generation returned nothing', { exit: 'bug' })
  return opts.protocol.prepareCredentials?.(cs, randomBytes) ?? cs
}

function protocolOf(name: ProtocolName | 'auto', identity: DeviceIdentity | undefined): ProtocolName {
  return name === 'auto' ? (identity?.protocol ?? 'lwprov') : name
}

/** Certificate fields for the manifest from a device certificate issued during the session. */
function certFields(der: Uint8Array): Pick<StatusUpdate, 'certificatePem' | 'serial' | 'fingerprint' | 'notAfter'> {
  const x = new X509Certificate(Buffer.from(der))
  return {
    certificatePem: derToPem(der, 'CERTIFICATE'),
    serial: x.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
    fingerprint: x.fingerprint256.replace(/:/g, '').toLowerCase(),
    notAfter: new Date(x.validTo).toISOString(),
  }
}

/** Statuses whose row describes credentials a device holds: re-injecting them records new ones only once verified. */
const HELD_BY_DEVICE = new Set(['verified', 'injected'])

/** The manifest record of just-in-time credentials. The private key of host-generated certificates is never stored. */
function manifestRecordOf(opts: InjectOptions, resolved: Resolved, row: ManifestRecord | undefined, cs: CredentialSet, deviceId: string | undefined) {
  const { privateKeyDer: _dropped, ...kept } = cs
  return toManifestRecord(kept, {
    batch: row?.batch ?? opts.batch ?? DEFAULT_BATCH,
    status: 'generated',
    ...(opts.masterKey ? { masterKey: opts.masterKey } : {}),
    ...(deviceId ? { deviceId } : {}),
    ...(opts.station ? { station: opts.station } : {}),
    ...(resolved.template ? { template: resolved.template } : {}),
    ...(resolved.seq === undefined ? {} : { seq: resolved.seq }),
  })
}

/**
 * Records the just-in-time credentials: a new `generated` row, or the device's existing row updated. The private key
 * of host-generated certificates is never stored (it exists only on the device from now on); the PSK is sealed.
 */
async function recordGenerated(
  opts: InjectOptions,
  resolved: Resolved,
  row: ManifestRecord | undefined,
  cs: CredentialSet,
  deviceId: string | undefined,
): Promise<ManifestRecord> {
  const endpoint = resolved.endpoint
  if (row === undefined) {
    await opts.store.insertMany([manifestRecordOf(opts, resolved, row, cs, deviceId)])
    const got = await opts.store.get(endpoint)
    if (!got) throw new LwprovError('E_INTERNAL', `manifest row for ${endpoint} vanished after insert`, { exit: 'bug' })
    return got
  }
  return opts.store.updateStatus(endpoint, { ...credentialFields(opts, resolved, row, cs, deviceId), status: 'generated' })
}

/** The fields of an existing row that new credentials replace (sealing the PSK); the status is the caller's. */
function credentialFields(opts: InjectOptions, resolved: Resolved, row: ManifestRecord, cs: CredentialSet, deviceId: string | undefined): StatusUpdate {
  const rec = manifestRecordOf(opts, resolved, row, cs, deviceId)
  return {
    status: 'generated',
    statusReason: null,
    deviceId: deviceId ?? null,
    ...(opts.station ? { station: opts.station } : {}),
    certificatePem: rec.certificatePem ?? null,
    serial: rec.serial ?? null,
    fingerprint: rec.fingerprint ?? null,
    notAfter: rec.notAfter ?? null,
    pskIdentity: rec.pskIdentity ?? null,
    secret: rec.secret ?? null,
    readbackDigest: null,
    enrollmentId: null,
    // A reserved work-order row knows only its name: record the profile actually injected.
    mode: rec.mode,
    security: rec.security,
    serverUri: rec.serverUri,
    accountId: rec.accountId ?? null,
    shortServerId: rec.shortServerId ?? null,
    lifetime: rec.lifetime ?? null,
    binding: rec.binding ?? null,
  }
}

/** Statuses a row can be (re)injected from. */
const INJECTABLE = new Set(['reserved', 'generated', 'injected', 'verified', 'failed'])

/**
 * Picks the endpoint for this device: the device's existing row first (idempotent re-injection), then an explicit
 * name or device-filled template, then the batch's next reserved name.
 */
interface Resolved {
  endpoint: string
  row: ManifestRecord | undefined
  /** `{seq}` template and number of a newly allocated name (recorded so later batches continue after it). */
  template?: string
  seq?: number
}

async function resolveEndpoint(opts: InjectOptions, identity: DeviceIdentity, deviceId: string | undefined, now: Date): Promise<Resolved> {
  const store = opts.store
  const take = async (row: ManifestRecord | undefined, name: string): Promise<Resolved> => {
    // One device, one live identity: the manifest must not claim a device holds two endpoints when its storage
    // only has the last one written.
    const holding = deviceId ? await findDeviceRow(store, deviceId, (r) => r.endpoint !== name && (r.status === 'verified' || r.status === 'injected')) : undefined
    if (holding) {
      throw conflictError(
        'E_DEVICE_HAS_ENDPOINT',
        `Device ${deviceId} already holds endpoint ${holding.endpoint} (${holding.status}); refusing to give it ${name} as well.`,
        `Re-inject it as ${holding.endpoint} (--endpoint ${holding.endpoint}), or revoke that endpoint first.`,
        { endpoint: holding.endpoint },
      )
    }
    if (row === undefined) return { endpoint: name, row }
    // A row a work order holds is injected only inside the work order's window, however it is named.
    if ((row.status === 'reserved' || row.status === 'generated') && opts.batch === undefined) {
      const header = await store.getBatch(row.batch)
      if (header) assertBatchActive(header, now)
    }
    if (!INJECTABLE.has(row.status)) {
      throw conflictError('E_ENDPOINT_REVOKED', `Endpoint ${name} is ${row.status}; it cannot be injected again.`, 'Pick another endpoint name.')
    }
    // A row a device holds goes back only to that device, proven by its id: an unidentified device (or a row that
    // does not say who holds it) must not take it over.
    if (HELD_BY_DEVICE.has(row.status) && (!row.deviceId || !deviceId || row.deviceId !== deviceId)) {
      throw conflictError(
        'E_ENDPOINT_TAKEN',
        !row.deviceId
          ? `Endpoint ${name} is ${row.status}, and the manifest does not say which device holds it; refusing to inject it into ${deviceId ? `device ${deviceId}` : 'this device'}.`
          : !deviceId
            ? `Endpoint ${name} is ${row.status} on device ${row.deviceId}, and this device did not report a serial, IMEI or MAC to show it is that device.`
            : `Endpoint ${name} already belongs to device ${row.deviceId}, not ${deviceId}.`,
        !deviceId && row.deviceId
          ? `If this is device ${row.deviceId}, pass its identity (--serial-number ${row.deviceId} for FCC); otherwise pick another endpoint name.`
          : 'Each endpoint goes to one device: pick another name, or use a template such as urn:dev:ops:32473-Widget-{serial}.',
        { endpoint: name },
      )
    }
    // A verified row is re-provisioned only on request: a second device reporting the same serial must not silently
    // take over the credentials the first one holds (the manifest would no longer describe the first device).
    if (row.status === 'verified' && !opts.reprovision) {
      throw conflictError(
        'E_SERIAL_COLLISION',
        `Device ${shown(deviceId ?? '(no identity)')} is already verified as endpoint ${shown(name)}${row.station ? ` (station ${shown(row.station)}, ${row.updatedAt})` : ''}. Either a second device reports the same serial (a serial collision), or this device is being provisioned again.`,
        `If this is a different device, set it aside and check its serial. If it is the same device and it needs new credentials, pass --reprovision --reason TEXT (the old credentials are kept as history).`,
        { endpoint: name, deviceId: deviceId ?? null },
      )
    }
    if (row.deviceId && deviceId && row.deviceId !== deviceId) {
      throw conflictError(
        'E_ENDPOINT_TAKEN',
        `Endpoint ${name} already belongs to device ${row.deviceId}, not ${deviceId}.`,
        'Each endpoint goes to one device: pick another name, or use a template such as urn:dev:ops:32473-Widget-{serial}.',
      )
    }
    return { endpoint: name, row }
  }

  if (opts.endpoint !== undefined) {
    const t = parseEndpointTemplate(opts.endpoint)
    if (!t.isTemplate && !t.hasPlaceholders) {
      validateEndpointName(opts.endpoint)
      return take(await store.get(opts.endpoint), opts.endpoint)
    }
    const device = {
      ...(identity.serial ? { serial: identity.serial } : {}),
      ...(identity.imei ? { imei: identity.imei } : {}),
      ...(identity.mac ? { mac: identity.mac } : {}),
    }
    const onlyDevice = !t.hasSeq && t.deviceFields.length > 0 && !/\{(uuid|hex:\d+)\}/.test(t.source)
    if (onlyDevice) {
      const name = t.render({ now, random: randomBytes, device })
      return take(await store.get(name), name)
    }
    // {seq}/{uuid}/{hex} names differ per call: a device that comes back keeps the name it got the first time.
    const mine = deviceId ? await findDeviceRow(store, deviceId, (r) => r.template === t.source) : undefined
    if (mine) return take(mine, mine.endpoint)
    const seq = t.hasSeq ? await store.allocateSeq(t.seqKey, 1) : undefined
    const name = t.render({ ...(seq === undefined ? {} : { seq }), now, random: randomBytes, device })
    return { ...(await take(await store.get(name), name)), template: t.source, ...(seq === undefined ? {} : { seq }) }
  }

  if (opts.batch !== undefined) {
    if (!deviceId) {
      throw deviceError('E_DEVICE_NO_IDENTITY', 'The device did not report a serial, IMEI or MAC, so it cannot claim a name from a batch.', 'Pass --serial-number, or --endpoint NAME.')
    }
    // A work order takes devices only inside its activation window (checked before any name is claimed).
    const header = await store.getBatch(opts.batch)
    if (header) assertBatchActive(header, now)
    const mine = await findDeviceRow(store, deviceId, (r) => r.batch === opts.batch)
    if (mine) return take(mine, mine.endpoint)
    const elsewhere = await findDeviceRow(store, deviceId, (r) => r.status === 'verified' || r.status === 'injected')
    if (elsewhere) {
      throw conflictError(
        'E_DEVICE_HAS_ENDPOINT',
        `Device ${deviceId} already holds endpoint ${elsewhere.endpoint} (${elsewhere.status}, batch ${elsewhere.batch}); refusing to claim a second name from ${opts.batch}.`,
        `Re-inject it as ${elsewhere.endpoint} (--endpoint ${elsewhere.endpoint}), or revoke that endpoint first.`,
        { endpoint: elsewhere.endpoint },
      )
    }
    const claimed = await store.claimNext(opts.batch, deviceId, opts.station ?? 'lwprov')
    if (!claimed) {
      // `credentials generate` records a batch by its rows alone (no work-order header).
      const exists = (await store.getBatch(opts.batch)) !== undefined || (await store.count({ batch: opts.batch })) > 0
      if (!exists) throw usageError('E_BATCH_NOT_FOUND', `There is no batch named ${opts.batch}.`, 'Create it with `lwprov batch create`, or check --batch.')
      throw conflictError('E_BATCH_EXHAUSTED', `Batch ${opts.batch} has no reserved endpoint names left.`, 'Reserve more names with `lwprov batch create`, or use --endpoint.')
    }
    return { endpoint: claimed.endpoint, row: claimed }
  }
  throw usageError('E_ENDPOINT_MISSING', 'No endpoint for the device.', "Pass --endpoint NAME (or a template such as 'urn:dev:ops:32473-Widget-{serial}') or --batch NAME.")
}

async function findDeviceRow(store: ManifestStore, deviceId: string, match: (r: ManifestRecord) => boolean): Promise<ManifestRecord | undefined> {
  for await (const r of store.list({ deviceId })) {
    if (r.status !== 'revoked' && match(r)) return r
  }
  return undefined
}
