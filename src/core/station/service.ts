/**
 * The station run as a service: given settled settings and the I/O it needs (links, port identities, probes), it
 * provisions devices on every port through the runner and the inject session, tracks every link it opens, and returns
 * the result counted from the manifest. UI-free: the command asks, wires signals and renders; this decides.
 */
import { LwprovError } from '../errors.js'
import { deviceInfoSource } from '../inject/device-info.js'
import { injectOne } from '../inject/session.js'
import type { ByteLink, ProvisioningProtocol, Timeouts } from '../inject/types.js'
import type { ManifestStore } from '../manifest/types.js'
import type { CredentialProfile, DeviceInfo } from '../model.js'
import type { LoadedCa } from '../pki/index.js'
import { assertBatchActive, batchStatus } from './batch.js'
import { runStation, type StationEvent, type StationFailure, type StationRunResult } from './runner.js'

export interface StationResult {
  verified: number
  /** Devices that failed (an interrupted device is not a failure: it is counted in `interrupted`). */
  failed: number
  failures: Array<Pick<StationFailure, 'port' | 'endpoint' | 'reason'> & { code: string; deviceId?: string }>
  /** Devices cut off by Ctrl-C mid-provisioning: they keep their names and are retried when they come back. */
  interrupted: number
  interruptedDevices: Array<{ port: string; endpoint?: string; deviceId?: string }>
  devicesPerMinute: number
  endpoints: string[]
  elapsedSeconds: number
  stopReason: StationRunResult['stopReason']
  ports: string[]
  batch?: { name: string; verified: number; remaining: number }
}

/** The work order a run draws names from: names left, and devices a stopped station left mid-injection. */
export interface StationWorkOrder {
  name: string
  remaining: number
  unfinished: number
}

/**
 * The work order behind `--batch`, checked active. Undefined when there is no batch, or when `--endpoint` names the
 * devices and the batch is only a label for the rows it creates.
 */
export async function stationWorkOrder(store: ManifestStore, batch: string | undefined, endpoint: string | undefined, now: Date): Promise<StationWorkOrder | undefined> {
  if (!batch) return undefined
  const st = await batchStatus(store, batch, now).catch((e: unknown) => {
    if (endpoint) return undefined // a plain batch label for just-in-time names
    throw e
  })
  if (!st) return undefined
  assertBatchActive(st, now)
  return { name: batch, remaining: st.remaining, unfinished: st.counts.generated + st.counts.injected }
}

const NOTHING_TO_DO: StationRunResult = { verified: 0, failed: 0, failures: [], endpoints: [], elapsedMs: 0, devicesPerMinute: 0, stopReason: 'exhausted' }

/** What the station needs from the outside world: serial ports in production, fakes in tests. */
export interface StationIo {
  openLink(port: string): Promise<ByteLink>
  portIdentity(port: string): Promise<string | undefined>
  /** Asks who is on a port without provisioning it (lwprov HELLO); optional. */
  probe?(port: string): Promise<string | undefined>
  /** Ports that appeared since the start (`--ports auto`). */
  discover?(): Promise<string[]>
}

export interface StationJob {
  store: ManifestStore
  ports: string[]
  protocol: ProvisioningProtocol
  profile: CredentialProfile
  /** Work-order mode: devices claim its reserved names. */
  workOrder?: StationWorkOrder
  /** Without a work order: just-in-time names from this template; `batch` then only labels new rows. */
  endpoint?: string
  batch?: string
  count?: number
  continuous?: boolean
  station: string
  /** Per-step device timeout, ms (commit and read-back get 3×). */
  timeout?: number
  ca?: LoadedCa
  masterKey?: Buffer
  /** Device information; a `{seq}` serial-number template gives every device the next number. */
  deviceInfo?: DeviceInfo
  signal: AbortSignal
  onEvent(e: StationEvent): void
  io: StationIo
}

/** Runs the station to its end (count, work order done, every port done, Ctrl-C) and counts the result. */
export async function runStationJob(job: StationJob): Promise<StationResult> {
  const { store, protocol, workOrder } = job
  const batch = workOrder?.name ?? job.batch
  const verifiedBefore = workOrder ? await store.count({ batch: workOrder.name, status: 'verified' }) : 0
  const nextDeviceInfo = deviceInfoSource(store, job.deviceInfo)
  const timeouts: Partial<Timeouts> = job.timeout === undefined ? {} : { identify: job.timeout, frame: job.timeout, commit: 3 * job.timeout }
  const links = trackLinks(job.signal, job.io.openLink)
  const batchHeader = workOrder ? await store.getBatch(workOrder.name) : undefined
  let run: StationRunResult
  try {
    // A complete work order: no port is touched (a device would only be identified to be told there is no name left).
    run = workOrder?.remaining === 0 ? NOTHING_TO_DO : await runStation({
      ports: job.ports,
      ...(job.count === undefined ? {} : { count: job.count }),
      continuous: job.continuous ?? false,
      signal: job.signal,
      onEvent: (e) => job.onEvent(e),
      beforeDevice: () => {
        if (batchHeader) assertBatchActive(batchHeader, new Date())
      },
      connect: links.open,
      portIdentity: (p) => job.io.portIdentity(p),
      ...(job.io.probe ? { probeDevice: job.io.probe } : {}),
      ...(job.io.discover ? { discover: job.io.discover } : {}),
      inject: async (_port, connect, hooks) => {
        const info = await nextDeviceInfo()
        return injectOne({
          policyVia: 'station',
          connect,
          protocol,
          store,
          profile: job.profile,
          // A work order hands out its reserved names; otherwise --endpoint names devices just in time.
          ...(workOrder ? { batch: workOrder.name } : { endpoint: job.endpoint!, ...(batch ? { batch } : {}) }),
          ...(job.ca ? { ca: job.ca } : {}),
          ...(job.masterKey ? { masterKey: job.masterKey } : {}),
          ...(info ? { deviceInfo: info } : {}),
          // FCC devices do not announce themselves: the serial number we give them is their identity (auto falls
          // back to FCC only with one).
          ...((protocol.name === 'fcc' || protocol.name === 'auto') && info?.serialNumber ? { identity: { serial: info.serialNumber } } : {}),
          station: job.station,
          timeouts,
          retries: 1,
          hooks,
        })
      },
    })
  } finally {
    await links.closeAll()
  }

  const verifiedAfter = workOrder ? await store.count({ batch: workOrder.name, status: 'verified' }) : 0
  const batchNow = workOrder ? await batchStatus(store, workOrder.name, new Date()) : undefined
  const failures = run.failures.filter((f) => f.code !== 'E_INTERRUPTED')
  // One entry per port: a port that also outlived the interrupt's grace period is reported once.
  const cut = new Map<string, StationResult['interruptedDevices'][number]>()
  for (const f of run.failures) {
    if (f.code !== 'E_INTERRUPTED') continue
    // Ctrl-C while a port was still asking who is there cut off no device (a port stuck past the grace period counts).
    if (!f.endpoint && !f.deviceId && !cut.has(f.port) && !/did not stop/.test(f.reason)) continue
    const prev = cut.get(f.port)
    cut.set(f.port, { port: f.port, ...((f.endpoint ?? prev?.endpoint) ? { endpoint: f.endpoint ?? prev!.endpoint! } : {}), ...((f.deviceId ?? prev?.deviceId) ? { deviceId: f.deviceId ?? prev!.deviceId! } : {}) })
  }
  return {
    // The manifest is the truth: a re-verified device does not count twice, a killed run's devices are not lost.
    verified: workOrder ? verifiedAfter - verifiedBefore : run.verified,
    failed: failures.length,
    failures: failures.map((f) => ({ port: f.port, ...(f.endpoint ? { endpoint: f.endpoint } : {}), ...(f.deviceId ? { deviceId: f.deviceId } : {}), code: f.code, reason: f.reason })),
    interrupted: cut.size,
    interruptedDevices: [...cut.values()],
    devicesPerMinute: run.devicesPerMinute,
    endpoints: run.endpoints,
    elapsedSeconds: Math.round(run.elapsedMs / 100) / 10,
    stopReason: run.stopReason,
    ports: job.ports,
    ...(batchNow ? { batch: { name: batchNow.name, verified: batchNow.counts.verified, remaining: batchNow.remaining } } : {}),
  }
}

/**
 * How a finished run ends the process: undefined for success (or an interrupt, which the caller maps to 130), else the
 * error to throw — none verified, or (`failOnError`, for CI) any failure.
 */
export function stationOutcomeError(r: StationResult, failOnError: boolean): LwprovError | undefined {
  if (r.stopReason === 'interrupted') return undefined
  if (r.verified === 0 && r.failed > 0) {
    return new LwprovError('E_STATION_FAILED', `No device was verified; ${r.failed} failed (first: ${r.failures[0]?.reason}).`, {
      exit: 'device',
      hint: 'Check the failure reasons above (cables, protocol, firmware), then run the station again: failed devices keep their names.',
      details: { failures: r.failures },
    })
  }
  if (failOnError && r.failed > 0) {
    return new LwprovError('E_STATION_INCOMPLETE', `${r.failed} device(s) failed (${r.verified} verified; first failure: ${r.failures[0]?.reason}).`, {
      exit: 'device',
      hint: 'Check the failure reasons above, then run the station again: failed devices keep their names.',
      details: { verified: r.verified, failures: r.failures },
    })
  }
  return undefined
}

/**
 * Every link the sessions open is tracked and closed at the end. The inject session stops waiting for `connect` when
 * Ctrl-C aborts it, so a port that finishes opening afterwards would be nobody's: its open serial port keeps reading
 * (a libuv poll handle) and Node would never exit. Such late links are closed as soon as they arrive.
 */
const CLOSE_WAIT_MS = 2000

function trackLinks(signal: AbortSignal, openLink: (port: string) => Promise<ByteLink>) {
  const links = new Set<ByteLink>()
  return {
    open: async (p: string): Promise<ByteLink> => {
      const link = await openLink(p)
      if (signal.aborted) {
        await link.close().catch(() => {})
        throw new LwprovError('E_INTERRUPTED', `Interrupted while opening ${p}.`, { exit: 'interrupted' })
      }
      links.add(link)
      link.onClose(() => links.delete(link))
      return link
    },
    // Bounded: a native close that never completes must not keep the summary from being printed.
    closeAll: async () => {
      const closing = Promise.all([...links].map((l) => l.close().catch(() => {})))
      await Promise.race([closing, new Promise((r) => setTimeout(r, CLOSE_WAIT_MS).unref())])
    },
  }
}
