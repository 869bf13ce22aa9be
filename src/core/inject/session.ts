/**
 * One device, start to finish, as named steps: connect → identify → claim the endpoint → prepare credentials (offline
 * pre-check, recorded or just-in-time) → write/commit/read back (the protocol) → verify the read-back → record. The
 * manifest is updated at every stage, so whatever happens (unplug, timeout, refusal, Ctrl-C) the row ends `verified`
 * only with a matching read-back, and `failed` with the step and the reason otherwise; a failed row stays with the
 * device (matched by its serial/IMEI/MAC) so re-injecting it is idempotent.
 * The protocol's offline pre-check runs before credentials are generated, so a mistake it catches (missing device
 * information, a URI the device would refuse…) creates no row and does not make the CA sign anything.
 * Re-injecting a `verified`/`injected` row keeps its recorded credentials until the device has confirmed the new ones.
 * UI-free: progress goes through `hooks`. The endpoint, credential and record steps live in session-*.ts.
 */
import type { generateCredentialSets } from '../credentials/generate.js'
import { ExitCode, type ExitCodeName, LwprovError, conflictError, deviceError, transportError } from '../errors.js'
import type { ManifestRecord, ManifestStore, ProofName, StatusUpdate } from '../manifest/types.js'
import type { CredentialProfile, CredentialSet, DeviceInfo } from '../model.js'
import type { LoadedCa } from '../pki/index.js'
import { enforcePolicy, precheckInjectPolicy } from '../manifest/policy.js'
import { checkDeviceIdentity } from '../validate/index.js'
import { recordedCredentials } from './pregenerated.js'
import { bareCredentials, csrSigner, makeCredentials, wantsDeviceKeygen } from './session-credentials.js'
import { resolveEndpoint, type Resolved } from './session-endpoint.js'
import { certFields, credentialFields, HELD_BY_DEVICE, recordGenerated } from './session-records.js'
import {
  DEFAULT_TIMEOUTS,
  type ByteLink,
  type DeviceIdentity,
  type InjectionHooks,
  type InjectionPlan,
  type InjectionResult,
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
  /** How the device proved what it stored (manifest column `proof`). */
  proof: ProofName
  enrollmentId?: string
  /** Connections it took (1 = no retry). */
  attempts: number
  /** The device generated its own key (the private key never left it). */
  deviceKeygen: boolean
}

/** Connect-time failures that a retry cannot fix on the first attempt (wrong path, permissions, port in use). */
const FATAL_FIRST_CONNECT = new Set(['E_PORT_NOT_FOUND', 'E_PORT_PERMISSION', 'E_PORT_BUSY', 'E_TCP_CONNECT', 'E_TCP_ADDRESS'])

function asLwprov(e: unknown, link: string, step: InjectionStep): LwprovError {
  if (e instanceof LwprovError) return e
  const err = e instanceof Error ? e : new Error(String(e))
  return new LwprovError('E_INJECT_FAILED', `${link}: ${step} failed: ${err.message}`, { exit: 'bug', cause: err })
}

/**
 * The proof a verified result is recorded with: what the protocol reports, else what each protocol's verification
 * is (lwprov without a report: the read-back digest; FCC: the device's success status).
 */
function proofOf(protocol: ProtocolName | 'auto', result: InjectionResult): ProofName {
  // field devices (zephyr-shell, nrf-at, mcumgr) report no proof of possession: their read-back compare is `digest`
  return result.proof ?? (protocol === 'fcc' ? 'fcc-status' : 'digest')
}

/** The identity the manifest matches a device by. */
export function deviceIdOf(id: Partial<DeviceIdentity>): string | undefined {
  return id.serial ?? id.imei ?? id.mac
}

/** Injects one device; resolves when it is verified, rejects with a `LwprovError` after recording the failure. */
export async function injectOne(opts: InjectOptions): Promise<InjectOutcome> {
  // Manifest policies that need no device are checked before the first connection (and before any timer starts).
  const policy = await precheckInjectPolicy(opts.store, { via: opts.policyVia ?? 'inject', endpoint: opts.endpoint, batch: opts.batch, profile: opts.profile })
  return new InjectSession(opts, policy).run()
}

type Policy = Awaited<ReturnType<typeof precheckInjectPolicy>>

/** An open link plus the watch on its hang-up; `dispose` stops the watch and closes the link. */
interface Connection {
  link: ByteLink
  /** Rejects when the link closes under a step (after a grace period the protocol gets to interpret the close). */
  closed: Promise<never>
  dispose(): Promise<void>
}

/** The state of one device's session across its connection attempts. */
class InjectSession {
  private step: InjectionStep = 'connect'
  private linkName: string
  private endpoint: string | undefined
  private resolved: Resolved | undefined
  private row: ManifestRecord | undefined
  private credentials: CredentialSet | undefined
  private deviceId: string | undefined
  private firstDeviceId: string | undefined
  private deviceKeygen = false
  private identity: DeviceIdentity | undefined
  /**
   * New credentials for a row the device already holds (`verified`/`injected`): written only together with the
   * verified status, so a failed re-injection never leaves the manifest describing credentials the device never got.
   */
  private pending: StatusUpdate | undefined
  /** The protocol's offline pre-check refused the plan: nothing was generated, nothing reached the device. */
  private mistake = false
  private readonly ctl = new AbortController()
  private readonly external: AbortSignal | undefined
  private readonly timeouts: Timeouts
  private readonly hooks: InjectionHooks
  private readonly now: () => Date

  constructor(
    private readonly opts: InjectOptions,
    private readonly policy: Policy,
  ) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts }
    this.now = opts.now ?? (() => new Date())
    this.external = opts.hooks?.signal
    this.linkName = opts.target ?? 'the device'
    this.hooks = {
      ...opts.hooks,
      signal: this.ctl.signal,
      onStep: (s, d) => {
        // Protocols report 'done' themselves; the session reports it for those that do not, never twice.
        if (s === 'done' && this.step === 'done') return
        this.step = s
        opts.hooks?.onStep?.(s, d)
      },
    }
  }

  async run(): Promise<InjectOutcome> {
    const onAbort = () => this.ctl.abort(this.external?.reason)
    this.external?.addEventListener('abort', onAbort, { once: true })
    // Kept referenced (cleared in `finally`): should anything below await a promise nobody settles, this timer keeps
    // the process alive to fail the session with E_SESSION_TIMEOUT and record it, instead of Node exiting with code 13.
    const deadline = setTimeout(() => this.ctl.abort(new Error('deadline')), this.timeouts.total)
    try {
      return await this.attempts()
    } catch (e) {
      throw await this.recordFailure(e)
    } finally {
      clearTimeout(deadline)
      this.external?.removeEventListener('abort', onAbort)
    }
  }

  /** One connection per attempt; transport failures are retried on a fresh one, refusals never. */
  private async attempts(): Promise<InjectOutcome> {
    const retries = this.opts.retries ?? 2
    /** The transport failure that cut a device off mid-session, if a later reconnect finds its port gone. */
    let lost: { err: LwprovError; step: InjectionStep } | undefined
    for (let attempt = 0; ; attempt++) {
      let conn: Connection | undefined
      try {
        conn = await this.connect()
        const identity = await this.identify(conn)
        await this.claimEndpoint(identity)
        await this.prepareCredentials(identity)
        const result = await this.writeAndReadBack(conn)
        this.verifyReadBack(result)
        return await this.recordVerified(result, attempt + 1)
      } catch (e) {
        const err = this.ctl.signal.aborted ? this.abortError() : asLwprov(e, this.linkName, this.step)
        const retryable =
          err.exitCode === 5 &&
          err.code !== 'E_SESSION_TIMEOUT' &&
          // Nothing answered at all: reconnecting would only make a silent port take minutes to fail.
          err.code !== 'E_NO_DEVICE' &&
          !(attempt === 0 && this.step === 'connect' && FATAL_FIRST_CONNECT.has(err.code)) &&
          attempt < retries &&
          !this.ctl.signal.aborted
        if (!retryable) throw lost && this.step === 'connect' && err.code === 'E_PORT_NOT_FOUND' ? this.lostError(lost) : err
        if (this.step !== 'connect') lost = { err, step: this.step }
        this.opts.hooks?.onRetry?.(attempt + 1, err)
        await new Promise((r) => setTimeout(r, this.opts.retryDelayMs ?? 300))
      } finally {
        await conn?.dispose()
      }
    }
  }

  /**
   * The device was cut off during a step and its port has not come back (unplugged): that is what happened to this
   * device, reported at the step it was lost in, not as a port that cannot be found.
   */
  private lostError(lost: { err: LwprovError; step: InjectionStep }): LwprovError {
    this.step = lost.step
    const who = this.deviceId ? `Device ${this.deviceId}` : 'The device'
    return transportError(
      'E_DEVICE_DISCONNECTED',
      `${who} was lost during ${lost.step} on ${this.linkName} (${lost.err.message.replace(/\.$/, '')}); its port is gone.`,
      'Plug it back in: it keeps its endpoint and is provisioned again.',
    )
  }

  /** Step: open the link and watch for it closing under us. */
  private async connect(): Promise<Connection> {
    this.step = 'connect'
    this.hooks.onStep?.('connect')
    const connecting = this.opts.connect()
    // If Ctrl-C wins the race, the port may still finish opening: close it then, or it keeps the process alive.
    const link = await this.guard(connecting).catch((e: unknown) => {
      if (this.ctl.signal.aborted) connecting.then((l) => l.close(), () => {}).catch(() => {})
      throw e
    })
    this.linkName = link.description
    // Safety net only: protocols interpret a hang-up themselves (for FCC over TCP a close without a reply means
    // the device rejected the frame), so they get a head start before a generic disconnect error wins.
    // The grace timer stays referenced so that the net holds even when the protocol awaits something the close
    // never settles (no other handle may be left then); it is cleared and the listener removed before our own close.
    let closeGrace: ReturnType<typeof setTimeout> | undefined
    let offClose: (() => void) | undefined
    const closed = new Promise<never>((_, reject) => {
      offClose = link.onClose((err) => {
        closeGrace = setTimeout(() => {
          if (this.step !== 'done') reject(err ?? transportError('E_DEVICE_DISCONNECTED', `${this.linkName} closed during ${this.step}.`, 'The device hung up; check its power and cable, then retry.'))
        }, 1000)
      })
    })
    closed.catch(() => {})
    return {
      link,
      closed,
      dispose: async () => {
        offClose?.()
        clearTimeout(closeGrace)
        await link.close().catch(() => {})
      },
    }
  }

  /** Step: learn who the device is; its identity is untrusted input, and it must be the same device on a retry. */
  private async identify(conn: Connection): Promise<DeviceIdentity> {
    this.step = 'identify'
    const identity = await this.guard(Promise.race([this.opts.protocol.identify(conn.link, this.timeouts, this.hooks, this.opts.identity), conn.closed]))
    // A device's identity becomes a manifest key and part of endpoint names, so one outside the identity character
    // set is refused before anything is recorded (model/firmware are only shown, escaped).
    for (const f of ['serial', 'imei', 'mac'] as const) checkDeviceIdentity(identity[f], f, this.linkName)
    const seen = deviceIdOf(identity)
    // Checked before `deviceId` changes: the failure is recorded on the first device's row, under its id.
    if (this.firstDeviceId !== undefined && seen !== this.firstDeviceId) {
      throw deviceError('E_DEVICE_CHANGED', `${this.linkName} now has device ${seen ?? '(unknown)'} attached, not ${this.firstDeviceId}.`, 'Re-run inject for the device now attached.')
    }
    this.deviceId = seen
    this.firstDeviceId = seen
    this.identity = identity
    this.opts.hooks?.onIdentity?.(identity, seen)
    return identity
  }

  /** Step: the endpoint this device gets (once per session; a retry keeps it). */
  private async claimEndpoint(identity: DeviceIdentity): Promise<void> {
    if (this.endpoint !== undefined) return
    const resolved = await resolveEndpoint(this.opts, identity, this.deviceId, this.now())
    // A name not reserved by a work order is a just-in-time name; checked before anything is generated.
    enforcePolicy(this.policy, { via: this.opts.policyVia ?? 'inject', endpoints: [resolved.endpoint], jit: resolved.row === undefined })
    this.resolved = resolved
    this.endpoint = resolved.endpoint
    this.row = resolved.row
    this.opts.hooks?.onEndpoint?.(resolved.endpoint)
  }

  /**
   * Step: the credentials to write — those recorded before (generated offline, or by a failed earlier attempt) as
   * recorded, otherwise new ones, pre-checked offline before the CA signs anything or a row is written.
   */
  private async prepareCredentials(identity: DeviceIdentity): Promise<void> {
    if (this.credentials !== undefined) return
    const { opts } = this
    const endpoint = this.endpoint!
    this.step = 'generate'
    this.hooks.onStep?.('generate', endpoint)
    const recorded =
      this.row === undefined ? undefined : recordedCredentials(this.row, opts.profile, { ...(opts.masterKey ? { masterKey: opts.masterKey } : {}), ...(opts.ca ? { chainDer: opts.ca.chainDer } : {}) })
    if (recorded) {
      if (opts.deviceKeygen) {
        throw conflictError('E_CREDENTIALS_PREGENERATED', `Endpoint ${endpoint} already holds pre-generated credentials; the device cannot generate its own key for it.`, 'Drop --device-keygen to inject the recorded credentials, or pick another endpoint.', { endpoint })
      }
      await this.precheck(recorded)
      this.credentials = recorded
      return
    }
    this.deviceKeygen = wantsDeviceKeygen(opts, identity, this.linkName)
    // Offline checks first: a user mistake (missing device information, a URI the device would refuse…) must
    // not make the CA sign a certificate nor leave a row behind.
    await this.precheck(bareCredentials(opts, endpoint, this.deviceKeygen))
    const cs = await makeCredentials(opts, endpoint, this.deviceKeygen, this.now())
    // What needs the certificate (CN, key ↔ certificate, expiry) is checked before anything is recorded.
    if (!this.deviceKeygen) await this.precheck(cs)
    const row = this.row
    if (row !== undefined && HELD_BY_DEVICE.has(row.status)) {
      this.pending = credentialFields(opts, this.resolved!, row, cs, this.deviceId)
      // The verified credentials being replaced go to the history in the same write as the new ones.
      if (row.status === 'verified' && opts.reprovision) this.pending.supersede = { reason: opts.reprovision.reason, station: opts.station ?? null }
    } else {
      this.row = await recordGenerated(opts, this.resolved!, row, cs, this.deviceId)
    }
    this.credentials = cs
  }

  /** Step: the protocol writes the credentials, commits them and reads them back. */
  private async writeAndReadBack(conn: Connection): Promise<InjectionResult> {
    return this.guard(Promise.race([this.opts.protocol.provision(conn.link, this.plan(this.credentials!), this.timeouts, this.hooks), conn.closed]))
  }

  /** Step: only a read-back that matches what was sent makes a device verified. */
  private verifyReadBack(result: InjectionResult): asserts result is InjectionResult & { readbackDigest: string } {
    if (!result.verified || !result.readbackDigest) {
      throw deviceError('E_NOT_VERIFIED', `${this.linkName} did not confirm what it stored (no matching read-back).`, 'The device is not verified; re-run inject, and check its firmware if this repeats.')
    }
    this.hooks.onStep?.('done')
  }

  /** Step: record the device verified, in one write with any new credentials and a device-issued certificate. */
  private async recordVerified(result: InjectionResult & { readbackDigest: string }, attempts: number): Promise<InjectOutcome> {
    const issued = result.certificateDer ? certFields(result.certificateDer) : {}
    // One write: credentials (for a re-injected row), the device-issued certificate and `verified` land together,
    // so a crash cannot leave a read-back-confirmed device recorded as merely `injected`. No `injected` record is
    // written at all: `provision` returns only after the read-back, so the session never observes a moment where
    // the device has accepted the commit but the read-back is still pending; a kill during provisioning leaves
    // the row `generated` (or, re-injecting, as it was), and re-running inject settles it.
    await this.record({
      ...this.pending,
      ...issued,
      status: 'verified',
      deviceId: this.deviceId ?? null,
      readbackDigest: result.readbackDigest,
      proof: proofOf(this.opts.protocol.name === 'auto' ? (this.identity?.protocol ?? 'lwprov') : this.opts.protocol.name, result),
      statusReason: null,
      // New credentials were made in this session: an enrollment id of an older certificate no longer applies.
      enrollmentId: result.enrollmentId ?? null,
    })
    this.pending = undefined
    const fingerprint = issued.fingerprint ?? this.credentials!.fingerprint
    return {
      endpoint: this.endpoint!,
      status: 'verified',
      ...(this.deviceId === undefined ? {} : { deviceId: this.deviceId }),
      // `--protocol auto` reports the protocol that answered
      protocol: this.opts.protocol.name === 'auto' ? (this.identity?.protocol ?? 'lwprov') : this.opts.protocol.name,
      port: this.linkName,
      ...(fingerprint ? { fingerprint } : {}),
      readbackDigest: result.readbackDigest,
      proof: proofOf(this.opts.protocol.name === 'auto' ? (this.identity?.protocol ?? 'lwprov') : this.opts.protocol.name, result),
      ...(result.enrollmentId ? { enrollmentId: result.enrollmentId } : {}),
      attempts,
      deviceKeygen: this.deviceKeygen,
    }
  }

  /**
   * Step after the last attempt failed: record the row failed with the step and reason, and return the error naming
   * the port and the step. The row keeps the device id, so the same device gets the same endpoint when it comes back.
   * A row the device holds is not marked failed for a pre-check mistake: its verified credentials are still on it.
   */
  private async recordFailure(e: unknown): Promise<LwprovError> {
    const err = e instanceof LwprovError ? e : asLwprov(e, this.linkName, this.step)
    const failedStep = this.step
    if (!(this.mistake && this.row !== undefined && HELD_BY_DEVICE.has(this.row.status))) {
      await this.record({
        status: 'failed',
        statusReason: `${err.code === 'E_INTERRUPTED' ? 'interrupted' : failedStep}: ${err.message}`.slice(0, 500),
        ...(this.deviceId === undefined ? {} : { deviceId: this.deviceId }),
      }).catch(() => {})
    }
    return contextual(err, this.linkName, failedStep, this.endpoint)
  }

  private plan(cs: CredentialSet): InjectionPlan {
    const endpoint = this.endpoint!
    return {
      endpoint,
      credentials: cs,
      now: this.now(),
      ...(this.opts.deviceInfo ? { deviceInfo: this.opts.deviceInfo } : {}),
      ...(this.opts.firstToClaim ? { firstToClaim: true } : {}),
      ...(this.deviceKeygen ? { signCsr: csrSigner(this.opts, endpoint) } : {}),
      ...(this.identity?.protocol ? { protocol: this.identity.protocol } : {}),
    }
  }

  private async precheck(cs: CredentialSet): Promise<void> {
    try {
      await this.opts.protocol.precheck?.(this.plan(cs))
    } catch (e) {
      this.mistake = true
      throw e
    }
  }

  private async record(u: StatusUpdate): Promise<void> {
    if (this.endpoint === undefined || this.row === undefined) return
    this.row = await this.opts.store.updateStatus(this.endpoint, { ...(this.opts.station ? { station: this.opts.station } : {}), ...u })
  }

  /** Fails fast when aborted (Ctrl-C or the total deadline) instead of waiting for a step timeout. */
  private guard<T>(p: Promise<T>): Promise<T> {
    const signal = this.ctl.signal
    if (signal.aborted) return Promise.reject(this.abortError())
    return new Promise<T>((resolve, reject) => {
      const stop = () => reject(this.abortError())
      signal.addEventListener('abort', stop, { once: true })
      p.then(
        (v) => {
          signal.removeEventListener('abort', stop)
          resolve(v)
        },
        (e: unknown) => {
          signal.removeEventListener('abort', stop)
          reject(e)
        },
      )
    })
  }

  private abortError(): LwprovError {
    return this.external?.aborted
      ? new LwprovError('E_INTERRUPTED', `Interrupted during ${this.step} on ${this.linkName}.`, { exit: 'interrupted', hint: 'Re-run inject to provision this device; it keeps its endpoint.' })
      : transportError('E_SESSION_TIMEOUT', `The session with ${this.linkName} took longer than ${this.timeouts.total} ms (during ${this.step}).`, 'Check the device, then re-run inject.')
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

