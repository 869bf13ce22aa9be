/**
 * The station: one worker per port, all in parallel. Each worker waits for a device, provisions it through the
 * injected `inject` function (the inject session: identify → claim → credentials → write → verify → record), reports
 * what happens as events, and in continuous/count mode waits for the next device: the port disappears and comes
 * back (USB re-enumeration, a simulated device renewing), its node changes, or a probe finds a different device.
 *
 * UI-free and I/O-free: ports, links, identity probes and the clock arrive as functions, so the CLI wires serial
 * ports and listr2 while tests wire in-memory fakes. `--count N` is enforced with a shared slot counter taken
 * before a device is touched, so the station never starts more devices than it may verify.
 */
import { setMaxListeners } from 'node:events'

import { LwprovError } from '../errors.js'
import type { ByteLink, DeviceIdentity, InjectionStep } from '../inject/types.js'

/** What the inject session reports back for a verified device (a subset of `InjectOutcome`). */
export interface StationInjectOutcome {
  endpoint: string
  deviceId?: string
  attempts?: number
}

/** Hooks the runner passes to each `inject` call. */
export interface StationInjectHooks {
  onStep(step: InjectionStep, detail?: string): void
  onProgress(written: number, total: number): void
  onIdentity(identity: DeviceIdentity, deviceId: string | undefined): void
  onEndpoint(endpoint: string): void
  onRetry(attempt: number, err: LwprovError): void
  signal: AbortSignal
}

export type StationEvent =
  | { type: 'waiting'; port: string; reason: 'no-port' | 'next-device' | 'no-answer' }
  | { type: 'device'; port: string; deviceId?: string; detail?: string }
  | { type: 'endpoint'; port: string; endpoint: string }
  | { type: 'step'; port: string; step: InjectionStep; detail?: string }
  | { type: 'progress'; port: string; written: number; total: number }
  | { type: 'retry'; port: string; attempt: number; reason: string }
  | { type: 'verified'; port: string; endpoint: string; deviceId?: string; ms: number }
  | { type: 'failed'; port: string; endpoint?: string; deviceId?: string; code: string; reason: string }
  | { type: 'port-added'; port: string }
  | { type: 'idle'; port: string; reason: string }

export interface StationFailure {
  port: string
  endpoint?: string
  deviceId?: string
  code: string
  reason: string
}

export interface StationRunResult {
  /** Devices verified in this run (distinct endpoints). */
  verified: number
  failed: number
  failures: StationFailure[]
  endpoints: string[]
  elapsedMs: number
  devicesPerMinute: number
  /** Why the run ended: count reached, batch exhausted, every port done, or interrupted. */
  stopReason: 'count' | 'exhausted' | 'done' | 'interrupted' | 'fatal'
}

export interface StationOptions {
  /** Port paths to work on. */
  ports: string[]
  /** Provisions the device behind `connect`; resolves when verified, rejects with a `LwprovError` otherwise. */
  inject: (port: string, connect: () => Promise<ByteLink>, hooks: StationInjectHooks) => Promise<StationInjectOutcome>
  /** Opens a link to a port. */
  connect: (port: string) => Promise<ByteLink>
  /**
   * What is at a path right now (e.g. realpath + inode + rdev), undefined when absent. A changed value means a new
   * device node, i.e. the next device.
   */
  portIdentity: (port: string) => Promise<string | undefined>
  /**
   * Asks whoever is on the port who it is (the protocol's identify), for devices that reset or are swapped without
   * their port node changing. Undefined result = unknown. Optional: without it only node changes count.
   */
  probeDevice?: (port: string) => Promise<string | undefined>
  /** Finds ports that appeared since the start (`--ports auto`); polled every `discoverMs`. */
  discover?: () => Promise<string[]>
  /** Stop after this many verified devices in total; also makes ports continue after their first device. */
  count?: number
  /** Keep waiting for the next device on every port until the count, the batch's end or an interrupt. */
  continuous?: boolean
  /** Checked before every device (e.g. the work order's activation window); throwing stops the station. */
  beforeDevice?: () => Promise<void> | void
  onEvent?: (e: StationEvent) => void
  signal?: AbortSignal
  /** Port polling interval, ms; default 25. */
  pollMs?: number
  /** After an unchanged port node for this long, probe for a different device; default 1500. */
  probeAfterMs?: number
  /** One-shot mode: how long a missing port may take to appear, ms; default 10000. */
  appearTimeoutMs?: number
  discoverMs?: number
  /** With --count/--continuous, after "no device answered": pause before asking the port again, ms; default 1000. */
  noAnswerRetryMs?: number
  /**
   * After `signal` aborts, how long workers may take to wind down (sessions record `interrupted`, links close) before
   * the run returns without them, ms; default 3000. Ctrl-C must end promptly even if a link never finishes closing.
   */
  interruptGraceMs?: number
  now?: () => number
}

/** Errors that end the whole station run instead of one device. */
const FATAL = new Set([
  'E_BATCH_NOT_FOUND',
  'E_BATCH_NOT_ACTIVE',
  'E_BATCH_EXPIRED',
  'E_MASTER_KEY_MISSING',
  'E_CA_REQUIRED',
  'E_KEYGEN_NEEDS_CERT',
  'E_ENDPOINT_MISSING',
  'E_TEMPLATE_INVALID',
  'E_WORK_ORDER_REQUIRED',
  'E_POLICY_VIOLATION',
])
const EXHAUSTED = 'E_BATCH_EXHAUSTED'
/** Nothing answered on the port (no device attached, or not running the receiver). */
const NO_DEVICE = 'E_NO_DEVICE'

const asError = (e: unknown): LwprovError =>
  e instanceof LwprovError ? e : new LwprovError('E_INTERNAL', e instanceof Error ? e.message : String(e), { exit: 'bug', cause: e })

/** Runs the station until the count is reached, every port is done, the batch is exhausted or `signal` aborts. */
export async function runStation(o: StationOptions): Promise<StationRunResult> {
  const now = o.now ?? Date.now
  const started = now()
  const pollMs = o.pollMs ?? 25
  const probeAfter = o.probeAfterMs ?? 1500
  const emit = (e: StationEvent) => o.onEvent?.(e)
  const keepGoing = o.continuous === true || o.count !== undefined

  // `stop` ends waiting and starting new devices; `interrupt` also aborts sessions in progress (Ctrl-C only: when
  // the count is reached or the work order runs out, devices already being written are finished, not cut off).
  const stop = new AbortController()
  const interrupt = new AbortController()
  // Every port's session and idle wait listens on these: more than the default 10 listeners is expected.
  setMaxListeners(0, stop.signal)
  setMaxListeners(0, interrupt.signal)
  const onOuterAbort = () => {
    interrupt.abort()
    stop.abort()
  }
  o.signal?.addEventListener('abort', onOuterAbort, { once: true })
  let stopReason: StationRunResult['stopReason'] | undefined
  let fatal: LwprovError | undefined
  const halt = (why: NonNullable<typeof stopReason>) => {
    stopReason ??= why
    stop.abort()
  }

  const endpoints: string[] = []
  const seen = new Set<string>()
  const failures: StationFailure[] = []
  let inFlight = 0
  let wake: (() => void) | undefined
  let woken = new Promise<void>((r) => (wake = r))
  const notify = () => {
    wake?.()
    woken = new Promise<void>((r) => (wake = r))
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stop.signal.aborted) return resolve()
      const t = setTimeout(done, ms)
      function done() {
        clearTimeout(t)
        stop.signal.removeEventListener('abort', done)
        resolve()
      }
      stop.signal.addEventListener('abort', done, { once: true })
    })

  /** Takes one of the `count` slots; false once the count is reached or the station stops. */
  const acquire = async (): Promise<boolean> => {
    for (;;) {
      if (stop.signal.aborted) return false
      if (o.count === undefined) {
        inFlight++
        return true
      }
      if (seen.size >= o.count) return false
      if (seen.size + inFlight < o.count) {
        inFlight++
        return true
      }
      // Every remaining slot is held by a device in progress: wait for one to finish (it may fail and free its slot).
      await Promise.race([woken, sleep(250)])
    }
  }

  /** Waits until something is at the port; resolves its identity, or undefined when giving up / stopping. */
  const waitForPort = async (port: string, timeoutMs: number | undefined): Promise<string | undefined> => {
    const until = timeoutMs === undefined ? Infinity : now() + timeoutMs
    let announced = false
    while (!stop.signal.aborted) {
      const id = await o.portIdentity(port)
      if (id !== undefined) return id
      if (!announced) emit({ type: 'waiting', port, reason: 'no-port' })
      announced = true
      if (now() > until) return undefined
      await sleep(pollMs * 4)
    }
    return undefined
  }

  /** After a device: wait for the port node to change (or vanish and return), or a probe to find another device. */
  const waitForNext = async (port: string, lastNode: string, lastDevice: string | undefined): Promise<void> => {
    emit({ type: 'waiting', port, reason: 'next-device' })
    let since = now()
    while (!stop.signal.aborted) {
      const id = await o.portIdentity(port)
      if (id === undefined) {
        // Unplugged: the next device is whatever appears here.
        await waitForPort(port, undefined)
        return
      }
      if (id !== lastNode) return
      if (o.probeDevice && now() - since >= probeAfter) {
        const who = await o.probeDevice(port).catch(() => undefined)
        if (who !== undefined && who !== lastDevice) return
        since = now()
      }
      await sleep(pollMs)
    }
  }

  const worker = async (port: string): Promise<void> => {
    let first = true
    while (!stop.signal.aborted) {
      const node = await waitForPort(port, keepGoing ? undefined : (o.appearTimeoutMs ?? 10_000))
      if (stop.signal.aborted) break
      if (node === undefined) {
        failures.push({ port, code: 'E_PORT_NOT_FOUND', reason: `No device appeared on ${port}.` })
        emit({ type: 'failed', port, code: 'E_PORT_NOT_FOUND', reason: `No device appeared on ${port}.` })
        break
      }
      if (!(await acquire())) break
      let endpoint: string | undefined
      let deviceId: string | undefined
      let silent = false
      const t0 = now()
      try {
        await o.beforeDevice?.()
        const outcome = await o.inject(port, () => o.connect(port), {
          signal: interrupt.signal,
          onStep: (step, detail) => emit({ type: 'step', port, step, ...(detail === undefined ? {} : { detail }) }),
          onProgress: (written, total) => emit({ type: 'progress', port, written, total }),
          onIdentity: (_id, d) => {
            deviceId = d
            emit({ type: 'device', port, ...(d === undefined ? {} : { deviceId: d }) })
          },
          onEndpoint: (e) => {
            endpoint = e
            emit({ type: 'endpoint', port, endpoint: e })
          },
          onRetry: (attempt, err) => emit({ type: 'retry', port, attempt, reason: err.message }),
        })
        deviceId = outcome.deviceId ?? deviceId
        // A device that was verified before keeps its name: count each endpoint once.
        if (!seen.has(outcome.endpoint)) {
          seen.add(outcome.endpoint)
          endpoints.push(outcome.endpoint)
        }
        emit({ type: 'verified', port, endpoint: outcome.endpoint, ...(deviceId ? { deviceId } : {}), ms: now() - t0 })
        if (o.count !== undefined && seen.size >= o.count) halt('count')
      } catch (e) {
        const err = asError(e)
        if (err.code === EXHAUSTED) {
          emit({ type: 'idle', port, reason: err.message })
          halt('exhausted')
          break
        }
        if (interrupt.signal.aborted) {
          // Ctrl-C: the session recorded the row as failed (interrupted); it stays with this device for a retry.
          const f: StationFailure = { port, ...(endpoint ? { endpoint } : {}), ...(deviceId ? { deviceId } : {}), code: 'E_INTERRUPTED', reason: err.message }
          failures.push(f)
          emit({ type: 'failed', ...f })
          break
        }
        if (err.code === NO_DEVICE && keepGoing) {
          // A port with nothing answering on it is not a failed device: say so and keep asking until one answers.
          silent = true
          emit({ type: 'waiting', port, reason: 'no-answer' })
        } else if (FATAL.has(err.code)) {
          fatal ??= err
          halt('fatal')
          break
        } else {
          const f: StationFailure = { port, ...(endpoint ? { endpoint } : {}), ...(deviceId ? { deviceId } : {}), code: err.code, reason: err.message }
          failures.push(f)
          emit({ type: 'failed', ...f })
        }
      } finally {
        inFlight--
        notify()
      }
      first = false
      if (!keepGoing || stop.signal.aborted) break
      if (silent) await sleep(o.noAnswerRetryMs ?? 1000)
      else await waitForNext(port, node, deviceId)
    }
    void first
    emit({ type: 'idle', port, reason: stopReason ?? (stop.signal.aborted ? 'stopped' : 'done') })
  }

  const workers = new Map<string, Promise<void>>()
  for (const p of new Set(o.ports)) workers.set(p, worker(p))

  let discovering: Promise<void> | undefined
  if (o.discover && keepGoing) {
    const discover = o.discover
    discovering = (async () => {
      while (!stop.signal.aborted) {
        await sleep(o.discoverMs ?? 1000)
        if (stop.signal.aborted) break
        const found = await discover().catch(() => [] as string[])
        for (const p of found) {
          if (workers.has(p)) continue
          emit({ type: 'port-added', port: p })
          workers.set(p, worker(p))
        }
      }
    })()
  }

  // Ctrl-C bounds the wait: a worker stuck past the grace period (a link whose close never completes, a device call
  // that ignores the signal) is reported as interrupted instead of holding the whole station open.
  const busy = new Set<string>()
  const settled = new Set<string>()
  let graceOver: Promise<void> | undefined
  let graceTimer: ReturnType<typeof setTimeout> | undefined
  let finished = false
  const interrupted = new Promise<void>((resolve) => {
    if (interrupt.signal.aborted) resolve()
    else interrupt.signal.addEventListener('abort', () => resolve(), { once: true })
  })
  const bounded = (all: Promise<unknown>): Promise<unknown> => {
    graceOver ??= interrupted.then(
      () =>
        new Promise<void>((resolve) => {
          if (finished) return resolve()
          graceTimer = setTimeout(resolve, o.interruptGraceMs ?? 3000)
        }),
    )
    return Promise.race([all, graceOver])
  }

  // Workers may be added while we wait (`--ports auto`): keep waiting until the set stops growing.
  for (;;) {
    const n = workers.size
    for (const [p, w] of workers) {
      if (busy.has(p) || settled.has(p)) continue
      busy.add(p)
      const settle = () => {
        busy.delete(p)
        settled.add(p)
      }
      w.then(settle, settle)
    }
    await bounded(Promise.all(workers.values()))
    if (interrupt.signal.aborted && busy.size > 0) {
      for (const port of busy) {
        const f: StationFailure = { port, code: 'E_INTERRUPTED', reason: `${port} did not stop within ${o.interruptGraceMs ?? 3000} ms after the interrupt.` }
        failures.push(f)
        emit({ type: 'failed', ...f })
        emit({ type: 'idle', port, reason: 'interrupted' })
      }
      break
    }
    if (workers.size !== n) continue
    if (discovering && n === 0 && !stop.signal.aborted) {
      await sleep(o.discoverMs ?? 1000)
      continue
    }
    break
  }
  stop.abort()
  await (discovering ? bounded(discovering) : undefined)
  finished = true
  clearTimeout(graceTimer)
  o.signal?.removeEventListener('abort', onOuterAbort)
  if (fatal) throw fatal
  const elapsedMs = Math.max(1, now() - started)
  return {
    verified: endpoints.length,
    failed: failures.length,
    failures,
    endpoints,
    elapsedMs,
    devicesPerMinute: Math.round((endpoints.length / (elapsedMs / 60_000)) * 10) / 10,
    stopReason: stopReason ?? (o.signal?.aborted ? 'interrupted' : 'done'),
  }
}
