/**
 * The host side of Izuma FCC provisioning over any `ByteLink` (serial UART or TCP to an FCCE device).
 *
 * One provisioning = one FTCD request and its response (or two with on-device key generation). The device has no
 * timeouts at all (izuma-fcc.md §4), so every wait here is bounded by the host's `Timeouts`. Link ownership stays with
 * the caller: after a failed message the caller must close the link itself (a keep-alive device would wait forever).
 */
import { randomBytes } from 'node:crypto'

import { decodeCbor, type CborMap } from '../../cbor.js'
import { LwprovError, transportError, deviceError } from '../../errors.js'
import type { ByteLink, DeviceIdentity, InjectionHooks, InjectionPlan, InjectionResult, ProvisioningProtocol, Timeouts } from '../types.js'
import { buildBundle, buildCsrBundle, encodeBundle, enrollmentId, modeItems, uriAccountId, type FccBundleInput } from './bundle.js'
import { encodeRequest, FtcdScanner, sha256, type FtcdEvent } from './frame.js'
import { fccError, ftcdError, parseWarningInfo, type FccInfoEntry } from './status.js'
import { checkDeviceInfo, checkFccCredentials, csrPublicKey, precheckBundle } from './verify.js'

/** A decoded FCC response map. */
export interface FccResponse {
  /** The response CBOR exactly as received. */
  raw: Buffer
  map: CborMap
  returnStatus: number
  infoMessage: string
  warnings: FccInfoEntry[]
  sid?: string
  csrs: Array<{ keyName: string; csrDer: Buffer }>
}

export interface FccProtocolOptions {
  /** Session id generator (default `lw-` + 8 random hex digits). */
  sid?: () => string
  /** Optional 16-byte mbed.VendorId / mbed.ClassId sent to every device. */
  vendorId?: Uint8Array
  classId?: Uint8Array
}

/** Decodes and checks a response map (accepts the device's indefinite-length map). */
export function parseFccResponse(payload: Buffer, link = 'the device'): FccResponse {
  const bad = (why: string) =>
    deviceError('E_FCC_BAD_RESPONSE', `${link} sent an FCC response lwprov cannot read: ${why}`, 'Make sure the device runs an FCC factory image (mbed-cloud-client 4.x) and nothing else writes FTCD frames on this line.')
  let v
  try {
    v = decodeCbor(payload)
  } catch (e) {
    throw bad((e as Error).message)
  }
  if (!(v instanceof Map)) throw bad('the response is not a CBOR map')
  const rs = v.get('ReturnStatus')
  if (typeof rs !== 'number' || !Number.isInteger(rs) || rs < 0) throw bad('no integer ReturnStatus')
  const info = v.get('InfoMessage')
  const warn = v.get('WarningInfo')
  const sid = v.get('SID')
  const csrsRaw = v.get('Csrs')
  const csrs: FccResponse['csrs'] = []
  if (csrsRaw !== undefined) {
    if (!Array.isArray(csrsRaw)) throw bad('Csrs is not an array')
    for (const c of csrsRaw) {
      const name = c instanceof Map ? c.get('PrKN') : undefined
      const data = c instanceof Map ? c.get('Data') : undefined
      if (typeof name !== 'string' || !(data instanceof Uint8Array)) throw bad('a Csrs entry lacks PrKN or Data')
      csrs.push({ keyName: name, csrDer: Buffer.from(data) })
    }
  }
  return {
    raw: payload,
    map: v,
    returnStatus: rs,
    infoMessage: typeof info === 'string' ? info : '',
    warnings: parseWarningInfo(typeof warn === 'string' ? warn : undefined),
    sid: typeof sid === 'string' ? sid : undefined,
    csrs,
  }
}

const interrupted = () => new LwprovError('E_INTERRUPTED', 'injection interrupted', { exit: 'interrupted', hint: 'Re-run inject for this device.' })

/** Reads response frames from a link, forwarding log text to the hooks. One per provisioning session. */
class ResponseReader {
  private readonly scanner = new FtcdScanner({ kind: 'response' })
  private readonly events: FtcdEvent[] = []
  private wake: (() => void) | undefined
  private closed: { err?: Error } | undefined
  private readonly off: Array<() => void>
  /** Rejects once the link closes; raced against writes, which a link may never settle across a hang-up. */
  readonly gone: Promise<never>
  private rejectGone!: (e: Error) => void
  /** Partial line of device log text not yet passed to `onDeviceLog`. */
  private partial = ''

  constructor(
    private readonly link: ByteLink,
    private readonly hooks: InjectionHooks,
  ) {
    this.gone = new Promise<never>((_, reject) => (this.rejectGone = reject))
    this.gone.catch(() => undefined)
    this.off = [
      link.onData((chunk) => this.feed(this.scanner.push(chunk))),
      link.onClose((err) => {
        this.feed(this.scanner.end())
        this.closed = { err }
        this.wake?.()
        this.rejectGone(transportError('E_LINK_CLOSED', `${link.description} closed while sending the FCC frame`, 'Check the cable/network and that the device still runs its factory image, then retry.', err))
      }),
    ]
  }

  get log(): string {
    return this.scanner.log
  }

  private feed(events: FtcdEvent[]): void {
    for (const e of events) {
      if (e.type === 'log') this.logText(e.text)
      else this.events.push(e)
    }
    if (this.events.length > 0) this.wake?.()
  }

  /** Passes device log text on as whole lines (UART traces end in CRLF). */
  private logText(text: string): void {
    const lines = (this.partial + text).split('\n')
    this.partial = lines.pop() ?? ''
    for (const l of lines) this.hooks.onDeviceLog?.(l.replace(/\r$/, ''))
  }

  /** Waits for the next frame event; `what` names the step for error messages. */
  async next(timeoutMs: number, what: string): Promise<Exclude<FtcdEvent, { type: 'log' }>> {
    const signal = this.hooks.signal
    for (;;) {
      const e = this.events.shift()
      if (e) return e as Exclude<FtcdEvent, { type: 'log' }>
      if (signal?.aborted) throw interrupted()
      if (this.closed) {
        const midFrame = this.scanner.inFrame
        throw transportError(
          'E_FCC_NO_RESPONSE',
          midFrame
            ? `${this.link.description} closed in the middle of the FCC response while ${what}`
            : `${this.link.description} closed the connection without an FCC response while ${what}; over TCP this is how the device rejects a frame (e.g. a SHA-256 mismatch)`,
          'Check the cable/network and that the device still runs its factory image, then retry; the manifest keeps the endpoint reserved for this device.',
          this.closed.err,
        )
      }
      if (timeoutMs <= 0) throw this.timeout(what, 0)
      const started = Date.now()
      let timer: NodeJS.Timeout | undefined
      let onAbort: (() => void) | undefined
      const timedOut = await new Promise<boolean>((resolve) => {
        this.wake = () => resolve(false)
        timer = setTimeout(() => resolve(true), timeoutMs)
        onAbort = () => resolve(false)
        signal?.addEventListener('abort', onAbort, { once: true })
      })
      clearTimeout(timer)
      if (onAbort) signal?.removeEventListener('abort', onAbort)
      this.wake = undefined
      if (timedOut) throw this.timeout(what, timeoutMs)
      timeoutMs -= Date.now() - started
    }
  }

  private timeout(what: string, ms: number): LwprovError {
    return transportError(
      'E_FCC_TIMEOUT',
      `no FCC response from ${this.link.description} within ${ms} ms while ${what}`,
      'Check that the device runs its factory image and waits for a message (FCCE prints its TCP port or UART banner), the port/baud rate, then retry.',
    )
  }

  dispose(): void {
    for (const f of this.off) f()
    if (this.partial) this.hooks.onDeviceLog?.(this.partial.replace(/\r$/, ''))
    this.partial = ''
  }
}

/**
 * Izuma FCC as a `ProvisioningProtocol`.
 *
 * Read-back: FCC has no read-back command. What it has is `Verify` (default 1): after storing the bundle the device
 * re-reads its stored items and checks them (§7: mode items present, URI/aid rules, key ↔ certificate, EKU, CN/OU,
 * expiry) and reports `ReturnStatus`. A frame with a valid SHA-256 trailer, our SID echoed and ReturnStatus 0 after
 * Verify = 1 is therefore the device's proof that it stored a consistent configuration for this endpoint; lwprov
 * treats that as the verification and records SHA-256(response CBOR) as `readbackDigest` (the response carries the
 * SID and the device's WarningInfo, so the digest identifies this very answer).
 */
export class FccProtocol implements ProvisioningProtocol {
  readonly name = 'fcc' as const
  private readonly newSid: () => string

  constructor(private readonly opts: FccProtocolOptions = {}) {
    this.newSid = opts.sid ?? (() => `lw-${randomBytes(4).toString('hex')}`)
  }

  /** FCC devices do not announce themselves: the identity is what the operator told us (e.g. --serial-number). */
  async identify(_link: ByteLink, _timeouts: Timeouts, hooks: InjectionHooks, fallback?: Partial<DeviceIdentity>): Promise<DeviceIdentity> {
    hooks.onStep?.('identify', 'FCC devices do not identify themselves; using the serial number given on the command line')
    return { ...fallback, capabilities: ['fcc', 'csr', ...(fallback?.capabilities ?? [])] }
  }

  /**
   * The host-side checks of `provision`, without a link: X.509 only, device information (the six mandatory items,
   * MemoryTotalKB range), URI scheme and aid rules, first-to-claim rules, server CA present. When the plan already holds
   * the host-generated certificate and key, also CN = endpoint, EKU, key ↔ certificate and expiry. Errors are the
   * ones `provision` (and the device) would give, with `details.detectedBy = 'host'`.
   */
  async precheck(plan: InjectionPlan): Promise<void> {
    const cs = plan.credentials
    const onDeviceKey = plan.signCsr !== undefined
    const hostCredentials = !onDeviceKey && cs.certificateDer !== undefined
    // Without a certificate yet (before generation) only what does not depend on it is checked.
    checkFccCredentials(cs, { onDeviceKey: !hostCredentials })
    checkDeviceInfo(plan.deviceInfo)
    const input = this.bundleInput(plan, 'precheck')
    if (hostCredentials) await precheckBundle(buildBundle({ ...input, certificateDer: cs.certificateDer, privateKeyDer: cs.privateKeyDer }), { now: plan.now })
    else await precheckBundle(buildBundle(input), { now: plan.now, skipDeviceCredentials: true })
  }

  private bundleInput(plan: InjectionPlan, sid: string): FccBundleInput {
    const cs = plan.credentials
    return {
      mode: cs.mode,
      endpoint: plan.endpoint,
      serverUri: cs.serverUri,
      serverCaDer: cs.serverCaDer,
      firstToClaim: plan.firstToClaim,
      deviceInfo: plan.deviceInfo,
      currentTime: plan.now,
      sid,
      vendorId: this.opts.vendorId,
      classId: this.opts.classId,
    }
  }

  async provision(link: ByteLink, plan: InjectionPlan, timeouts: Timeouts, hooks: InjectionHooks): Promise<InjectionResult> {
    const cs = plan.credentials
    const onDeviceKey = plan.signCsr !== undefined
    checkFccCredentials(cs, { onDeviceKey })
    checkDeviceInfo(plan.deviceInfo)
    const deadline = Date.now() + timeouts.total
    const sid = this.newSid()
    const items = modeItems(cs.mode)
    const input = this.bundleInput(plan, sid)
    const reader = new ResponseReader(link, hooks)
    try {
      let certificateDer: Uint8Array
      let response: FccResponse
      if (!onDeviceKey) {
        certificateDer = cs.certificateDer!
        const bundle = buildBundle({ ...input, certificateDer, privateKeyDer: cs.privateKeyDer })
        await precheckBundle(bundle, { now: plan.now })
        response = await this.exchange(link, reader, encodeBundle(bundle), sid, 'write', timeouts, deadline, hooks)
      } else {
        // Check everything but the certificate before the device generates a key it would then hold for nothing.
        await precheckBundle(buildBundle(input), { now: plan.now, skipDeviceCredentials: true })
        hooks.onStep?.('keygen', 'asking the device to generate its key pair and a CSR')
        const aid = uriAccountId(cs.serverUri)
        const subject = cs.mode === 'direct' && aid ? `CN=${plan.endpoint},OU=${aid}` : `CN=${plan.endpoint}`
        const msg1 = encodeBundle(buildCsrBundle({ sid, requests: [{ keyName: items.deviceKey, subject }] }))
        const r1 = await this.exchange(link, reader, msg1, sid, 'keygen', timeouts, deadline, hooks)
        const csr = r1.csrs.find((c) => c.keyName === items.deviceKey)
        if (!csr)
          throw deviceError('E_FCC_NO_CSR', `${link.description} answered the CSR request without a CSR for ${items.deviceKey}`, 'Check that the factory image supports on-device key generation (CsrReqs).')
        let devicePublicKey
        try {
          devicePublicKey = csrPublicKey(csr.csrDer)
        } catch (e) {
          throw deviceError('E_FCC_BAD_RESPONSE', `${link.description} returned a CSR that is not DER PKCS#10: ${(e as Error).message}`, 'Reset the device and retry; check its factory image if this repeats.')
        }
        hooks.onStep?.('sign', 'signing the device CSR with the factory CA')
        const signed = await plan.signCsr!(csr.csrDer)
        certificateDer = signed.certificateDer
        const bundle = buildBundle({ ...input, certificateDer, certificateKeyName: items.deviceKey, verify: 1 })
        await precheckBundle(bundle, { now: plan.now, deviceKeys: { [items.deviceKey]: devicePublicKey } })
        response = await this.exchange(link, reader, encodeBundle(bundle), sid, 'write', timeouts, deadline, hooks)
      }
      const warnings = response.warnings.map((w) => `${w.prefix}:${w.item}`)
      hooks.onStep?.('verify', `device verification passed${warnings.length ? `; device warnings: ${warnings.join(', ')}` : ''}`)
      hooks.onStep?.('done')
      return {
        verified: true,
        readbackDigest: sha256(response.raw).toString('hex'),
        proof: 'fcc-status',
        ...(onDeviceKey ? { certificateDer } : {}),
        ...(plan.firstToClaim ? { enrollmentId: enrollmentId(certificateDer) } : {}),
        deviceLog: reader.log,
      }
    } catch (e) {
      // The tail of the device log usually says why: keep it for --json consumers and the manifest reason.
      const tail = reader.log.slice(-2000)
      if (e instanceof LwprovError && tail) {
        if (e.details === undefined) (e as { details?: Record<string, unknown> }).details = { deviceLog: tail }
        else if (!('deviceLog' in e.details)) e.details.deviceLog = tail
      }
      throw e
    } finally {
      reader.dispose()
    }
  }

  /** Sends one bundle and returns its successful response; every failure becomes an `LwprovError`. */
  private async exchange(
    link: ByteLink,
    reader: ResponseReader,
    bundle: Buffer,
    sid: string,
    step: 'write' | 'keygen',
    timeouts: Timeouts,
    deadline: number,
    hooks: InjectionHooks,
  ): Promise<FccResponse> {
    if (hooks.signal?.aborted) throw interrupted()
    const frame = encodeRequest(bundle)
    // Stale bytes (an old response, boot noise) must not be taken for this answer.
    await link.flushInput?.()
    hooks.onStep?.(step === 'write' ? 'write' : 'keygen', `${frame.length} bytes`)
    hooks.onProgress?.(0, frame.length)
    try {
      await Promise.race([link.write(frame), reader.gone])
    } catch (e) {
      if (e instanceof LwprovError) throw e
      throw transportError('E_FCC_WRITE', `writing the FCC frame to ${link.description} failed: ${(e as Error).message}`, 'Check the connection and retry.', e)
    }
    hooks.onProgress?.(frame.length, frame.length)
    if (step === 'write') hooks.onStep?.('verify', 'waiting for the device to store and verify the bundle')
    const what = step === 'write' ? 'waiting for the device to store and verify the credentials' : 'waiting for the device-generated CSR'
    for (;;) {
      const wait = Math.min(timeouts.commit, deadline - Date.now())
      const e = await reader.next(wait, what)
      if (e.type === 'error-frame') throw ftcdError(e.status, link.description)
      if (e.type === 'bad-length') {
        // A token followed by nonsense: keep scanning, the real frame may follow.
        hooks.onDeviceLog?.(`[lwprov] ignored an FTCD header with impossible length ${e.length}\n`)
        continue
      }
      if (!e.signatureOk)
        throw transportError(
          'E_FCC_RESPONSE_CORRUPT',
          `the FCC response from ${link.description} failed its SHA-256 check (corrupted on the line)`,
          'Check the cable and baud rate, then retry; the device state is unknown, so the whole provisioning is repeated.',
        )
      const r = parseFccResponse(e.payload, link.description)
      if (r.returnStatus !== 0) throw fccError(r.returnStatus, { item: splitItem(r.infoMessage), infoMessage: r.infoMessage, link: link.description })
      if (r.sid !== sid)
        throw deviceError(
          'E_FCC_BAD_RESPONSE',
          `${link.description} answered with session id ${JSON.stringify(r.sid ?? null)} instead of ${sid}: a stale or foreign response`,
          'Reset the device so it starts a fresh factory session, then retry.',
        )
      return r
    }
  }
}

function splitItem(info: string): string {
  const i = info.indexOf(':')
  return i < 0 ? '' : info.slice(i + 1).replace(/\n$/, '')
}
