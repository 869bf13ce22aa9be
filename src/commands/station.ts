import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'

import { Flags } from '@oclif/core'

import { listPorts, type PortInfo } from '../adapters/ports.js'
import type { LinkBase } from '../adapters/link-base.js'
import { openSerialLink } from '../adapters/serial-link.js'
import { shown } from '../core/validate/escape.js'
import { withAccountId } from '../core/inject/fcc/bundle.js'
import { BaseCommand } from '../cli/base-command.js'
import { bindCaToManifest, isInteractive, loadCaFromFlags, masterKeyFromFlags, openStoreFromFlags, profileFromFlags } from '../cli/context.js'
import { caFlags, credentialProfileFlags, deviceInfoFlags, endpointFlags, manifestFlags, transportFlags } from '../cli/flags.js'
import * as prompts from '../cli/prompts.js'
import { chooseRenderer, renderStation } from '../cli/render.js'
import { LwprovError, usageError } from '../core/errors.js'
import { FccProtocol } from '../core/inject/fcc/index.js'
import { LwprovProtocol } from '../core/inject/lwprov/index.js'
import { injectOne } from '../core/inject/session.js'
import { validateInjectRequest } from '../core/inject/request.js'
import { precheckInjectPolicy } from '../core/manifest/policy.js'
import { identityFlagValues } from './inject.js'
import type { ProvisioningProtocol } from '../core/inject/types.js'
import { parseEndpointTemplate } from '../core/lwm2m/endpoint.js'
import type { DeviceInfo } from '../core/model.js'
import { assertBatchActive, batchStatus, listBatchStatuses } from '../core/station/batch.js'
import { isExplicit, mergeSettings, parseStationProfile } from '../core/station/profile.js'
import { runStation, type StationFailure } from '../core/station/runner.js'
import { portIdentity, probe } from '../cli/station-ports.js'
import { PROFILE_KEYS } from './batch/create.js'

/** After Ctrl-C, how long the process may take to exit on its own before it is ended with 130. */
const FORCE_EXIT_MS = 5000

function forceExit(why: string): never {
  process.stderr.write(`lwprov station: exiting after ${why} (exit 130).\n`)
  process.exit(130)
}

export interface StationResult {
  verified: number
  failed: number
  failures: Array<Pick<StationFailure, 'port' | 'endpoint' | 'reason'> & { code: string; deviceId?: string }>
  devicesPerMinute: number
  endpoints: string[]
  elapsedSeconds: number
  stopReason: string
  ports: string[]
  batch?: { name: string; verified: number; remaining: number }
}

export default class Station extends BaseCommand {
  static override summary = 'Provision devices on many ports in parallel: live progress, work orders, resumable.'

  static override description = `One worker per port: each waits for a device, identifies it, takes the next reserved name of the work order (--batch) or a just-in-time name from --endpoint, writes and verifies its credentials and records it in the manifest. With --count N the ports keep going (each waits for the next device: unplug/plug, reset, or a new device on the jig) until N devices are verified in total; --continuous keeps going until the work order is done or Ctrl-C.

Settings come from flags, then LWPROV_* variables, then a station profile (--profile line3.yaml: the same keys as the flags), then defaults. On a terminal, missing settings are asked; without one the command fails naming the flags to pass. Progress goes to stderr; stdout carries only the summary (or the --json result).

Killing a station (Ctrl-C or kill -9) is safe: names are claimed atomically per device, a device that was mid-injection keeps its name and is retried when it comes back, and the counts come from the manifest.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --profile line3.yaml',
    '<%= config.bin %> <%= command.id %> --ports /dev/ttyACM0,/dev/ttyACM1 --protocol lwprov --batch WO-1234 --count 200 --mode bootstrap --security cert --server coaps://bs.example.com:5684 --ca ./line-ca',
    '<%= config.bin %> <%= command.id %> --ports auto --vid 2fe3 --pid 0100 --protocol lwprov --endpoint urn:dev:ops:ACME-{serial} --continuous --bell --mode direct --security psk --server coaps://lwm2m.example.com:5684',
  ]

  static override flags = {
    'fail-on-error': Flags.boolean({ summary: 'Exit 4 (E_STATION_INCOMPLETE) when any device failed, not only when none was verified (for CI).' }),
    ports: Flags.string({ summary: 'Comma-separated port paths, or auto (all serial ports matching --vid/--pid).', env: 'LWPROV_PORTS', helpGroup: 'TRANSPORT' }),
    vid: Flags.string({ summary: 'With --ports auto: USB vendor id (hex).', env: 'LWPROV_VID', helpGroup: 'TRANSPORT' }),
    pid: Flags.string({ summary: 'With --ports auto: USB product id (hex).', env: 'LWPROV_PID', helpGroup: 'TRANSPORT' }),
    protocol: transportFlags.protocol,
    baud: transportFlags.baud,
    batch: endpointFlags.batch,
    endpoint: Flags.string({ summary: 'Without --batch: just-in-time names from this template ({serial}, {seq:06}, …).', env: 'LWPROV_ENDPOINT', helpGroup: 'ENDPOINTS' }),
    count: Flags.integer({ summary: 'Stop after N verified devices in total (ports keep taking devices until then).', min: 1, env: 'LWPROV_COUNT', helpGroup: 'ENDPOINTS' }),
    continuous: Flags.boolean({ summary: 'Keep waiting for the next device on every port until the work order is done or Ctrl-C.', env: 'LWPROV_CONTINUOUS' }),
    profile: Flags.string({ summary: 'Station profile YAML (flag > environment > profile > default).', env: 'LWPROV_PROFILE' }),
    bell: Flags.boolean({ summary: 'Ring the terminal bell when a device fails.', env: 'LWPROV_BELL' }),
    station: Flags.string({ summary: 'Station name recorded with every row (default: host name).', env: 'LWPROV_STATION' }),
    timeout: Flags.integer({ summary: 'Per-step device timeout in ms (commit and read-back get 3x).', min: 100, helpGroup: 'TRANSPORT' }),
    yes: Flags.boolean({ summary: 'Do not ask for confirmation on a terminal.', char: 'y' }),
    ...credentialProfileFlags,
    ...caFlags,
    ...manifestFlags,
    ...deviceInfoFlags,
  }

  async run(): Promise<StationResult> {
    const { flags: parsed } = await this.parse(Station)
    const interactive = isInteractive() && !this.jsonEnabled()
    const explicit = (k: string) => isExplicit(this.argv, process.env, k, (Station.flags as Record<string, { env?: string }>)[k]?.env)
    let profilePath = parsed.profile
    if (!profilePath && interactive && !this.complete(parsed)) profilePath = await prompts.askProfile()
    let s = parsed
    if (profilePath) s = mergeSettings(parsed, parseStationProfile(readProfile(profilePath), profilePath, PROFILE_KEYS), explicit)

    if (!interactive) {
      const missing = this.missingFlags(s)
      if (missing.length > 0) {
        throw usageError('E_FLAGS_MISSING', `Missing ${missing.join(', ')} (no terminal to ask on).`, `Pass ${missing.join(' ')} or put them in a station profile (--profile line3.yaml).`, { missing })
      }
    }
    // Without a terminal every setting is known now: check them all before the manifest or any port is opened.
    const check = (p: ReturnType<typeof profileFromFlags>) =>
      validateInjectRequest({ profile: p, hasCa: Boolean(s.ca), baud: s.baud, endpoint: s.endpoint, station: s.station, identityFlags: identityFlagValues(s) })
    if (!interactive) check(profileFromFlags(s, () => {}))
    const store = await openStoreFromFlags(s, (fn) => this.onCleanup(fn))
    const now = new Date()
    if (interactive) {
      if (!s.batch && !s.endpoint) s = { ...s, batch: await prompts.askWorkOrder(await listBatchStatuses(store, now)) }
      if (!s.protocol) s = { ...s, protocol: await prompts.askProtocol() }
      if (!s.mode) s = { ...s, mode: await prompts.askMode() }
      if (!s.security) s = { ...s, security: await prompts.askSecurity() }
      if (!s.server) s = { ...s, server: await prompts.askServer() }
      if (!s.ports) s = { ...s, ports: (await prompts.askPorts(await listPorts())).join(',') }
    }

    const given = profileFromFlags(s, (t) => this.warn(t))
    const profile = s.protocol === 'fcc' ? withAccountId(given, false) : given
    check(profile)
    await precheckInjectPolicy(store, { via: 'station', endpoint: s.endpoint, batch: s.batch, profile })
    let remaining: number | undefined
    if (s.batch) {
      const st = await batchStatus(store, s.batch, now).catch((e: unknown) => {
        if (s.endpoint) return undefined // a plain batch label for just-in-time names
        throw e
      })
      if (st) {
        assertBatchActive(st, now)
        remaining = st.remaining
        const unfinished = st.counts.generated + st.counts.injected
        if (unfinished > 0) this.warn(`${unfinished} device(s) of ${s.batch} were mid-injection when a station stopped; they keep their names and are retried when they come back.`)
      }
    }
    if (interactive && s.count === undefined && !s.continuous) s = { ...s, count: await prompts.askCount(remaining) }
    const ports = await this.resolvePorts(String(s.ports), s.vid, s.pid)
    if (interactive && !s.yes) {
      const what = s.count ? `${s.count} device(s)` : s.continuous ? 'devices continuously' : `one device per port`
      if (!(await prompts.confirmRun(`Provision ${what}${s.batch ? ` of ${s.batch}` : ''}${remaining === undefined ? '' : ` (${remaining} to do)`} on ${ports.length} port(s).`))) {
        throw usageError('E_CANCELLED', 'Cancelled at the confirmation prompt.', 'Run the command again when ready.')
      }
    }
    if (s.count && remaining !== undefined && s.count > remaining) this.warn(`--count ${s.count} is more than the ${remaining} names left in ${s.batch}; the run stops when they are used.`)

    const masterKey = masterKeyFromFlags(s, profile.security === 'psk')
    const ca = bindCaToManifest(await loadCaFromFlags(s, (fn) => this.onCleanup(fn)), store)
    const protocol: ProvisioningProtocol = s.protocol === 'fcc' ? new FccProtocol() : new LwprovProtocol()
    const deviceInfo = pickDeviceInfo(s)
    const stationName = s.station ?? hostname()
    const t = s.timeout
    const timeouts = t === undefined ? {} : { identify: t, frame: t, commit: 3 * t }
    const verifiedBefore = s.batch ? await store.count({ batch: s.batch, status: 'verified' }) : 0

    // `--serial-number SN-{seq:06}`: each device gets the next number from the manifest's counter.
    const serialTemplate = deviceInfo?.serialNumber?.includes('{') ? parseEndpointTemplate(deviceInfo.serialNumber) : undefined
    const perDeviceInfo = async (): Promise<DeviceInfo | undefined> => {
      if (!deviceInfo || !serialTemplate) return deviceInfo
      const seq = serialTemplate.hasSeq ? await store.allocateSeq(`serial-number:${serialTemplate.source}`, 1) : undefined
      return { ...deviceInfo, serialNumber: serialTemplate.renderText({ ...(seq === undefined ? {} : { seq }), now: new Date(), random: randomBytes }) }
    }

    const abort = new AbortController()
    const onSigint = () => {
      if (abort.signal.aborted) forceExit('a second interrupt')
      abort.abort()
      // Last resort, documented: the runner stops waiting for stuck ports after its grace period, but a handle we do
      // not own (a serial port whose native close or read never completes) could still keep Node alive after the
      // summary. Unref'd, so it only fires when the process would otherwise hang; the result is already on stdout.
      setTimeout(() => forceExit('a hang after the interrupt'), FORCE_EXIT_MS).unref()
    }
    // Listeners stay installed until cleanup (not `once`): a second Ctrl-C must not fall back to Node's default kill.
    process.on('SIGINT', onSigint)
    process.on('SIGTERM', onSigint)
    this.onCleanup(() => {
      process.removeListener('SIGINT', onSigint)
      process.removeListener('SIGTERM', onSigint)
    })
    // Every link the sessions open is tracked and closed at the end. The inject session stops waiting for `connect`
    // when Ctrl-C aborts it, so a port that finishes opening afterwards would be nobody's: its open serial port keeps
    // reading (a libuv poll handle) and Node would never exit. Such late links are closed as soon as they arrive.
    const links = new Set<LinkBase>()
    const openTracked = async (p: string): Promise<LinkBase> => {
      const link = await openSerialLink(p, { baud: s.baud })
      if (abort.signal.aborted) {
        await link.close().catch(() => {})
        throw new LwprovError('E_INTERRUPTED', `Interrupted while opening ${p}.`, { exit: 'interrupted' })
      }
      links.add(link)
      link.onClose(() => links.delete(link))
      return link
    }
    this.onCleanup(async () => {
      await Promise.all([...links].map((l) => l.close().catch(() => {})))
    })
    const view = renderStation(ports, { renderer: chooseRenderer(this.jsonEnabled()), bell: s.bell })
    const batchHeader = s.batch ? await store.getBatch(s.batch) : undefined
    let run
    try {
      run = await runStation({
        ports,
        ...(s.count === undefined ? {} : { count: s.count }),
        continuous: s.continuous,
        signal: abort.signal,
        onEvent: (e) => view.onEvent(e),
        beforeDevice: () => {
          if (batchHeader) assertBatchActive(batchHeader, new Date())
        },
        connect: (p) => openTracked(p),
        portIdentity: async (p) => portIdentity(p),
        ...(protocol.name === 'lwprov' ? { probeDevice: (p: string) => probe(protocol, p, s.baud) } : {}),
        ...(String(s.ports) === 'auto' ? { discover: async () => (await autoPorts(s.vid, s.pid)).map((x) => x.path) } : {}),
        inject: async (_port, connect, hooks) => {
          const info = await perDeviceInfo()
          return injectOne({
            policyVia: 'station',
            connect,
            protocol,
            store,
            profile,
            // A work order hands out its reserved names; otherwise --endpoint names devices just in time.
            ...(remaining !== undefined ? { batch: s.batch! } : { endpoint: s.endpoint!, ...(s.batch ? { batch: s.batch } : {}) }),
            ...(ca ? { ca } : {}),
            ...(masterKey ? { masterKey } : {}),
            ...(info ? { deviceInfo: info } : {}),
            // FCC devices do not announce themselves: the serial number we give them is their identity.
            ...(protocol.name === 'fcc' && info?.serialNumber ? { identity: { serial: info.serialNumber } } : {}),
            station: stationName,
            timeouts,
            retries: 1,
            hooks,
          })
        },
      })
    } finally {
      await view.finish()
    }

    const verifiedAfter = s.batch ? await store.count({ batch: s.batch, status: 'verified' }) : 0
    const batchNow = s.batch && remaining !== undefined ? await batchStatus(store, s.batch, new Date()) : undefined
    const result: StationResult = {
      // The manifest is the truth: a re-verified device does not count twice, a killed run's devices are not lost.
      verified: s.batch && remaining !== undefined ? verifiedAfter - verifiedBefore : run.verified,
      failed: run.failed,
      failures: run.failures.map((f) => ({ port: f.port, ...(f.endpoint ? { endpoint: f.endpoint } : {}), ...(f.deviceId ? { deviceId: f.deviceId } : {}), code: f.code, reason: f.reason })),
      devicesPerMinute: run.devicesPerMinute,
      endpoints: run.endpoints,
      elapsedSeconds: Math.round(run.elapsedMs / 100) / 10,
      stopReason: run.stopReason,
      ports,
      ...(batchNow ? { batch: { name: batchNow.name, verified: batchNow.counts.verified, remaining: batchNow.remaining } } : {}),
    }
    this.out(this.summary(result))
    if (run.stopReason === 'interrupted') process.exitCode = 130
    else if (result.verified === 0 && result.failed > 0) {
      throw new LwprovError('E_STATION_FAILED', `No device was verified; ${result.failed} failed (first: ${result.failures[0]?.reason}).`, {
        exit: 'device',
        hint: 'Check the failure reasons above (cables, protocol, firmware), then run the station again: failed devices keep their names.',
        details: { failures: result.failures },
      })
    } else if (s['fail-on-error'] && result.failed > 0) {
      throw new LwprovError('E_STATION_INCOMPLETE', `${result.failed} device(s) failed (${result.verified} verified; first failure: ${result.failures[0]?.reason}).`, {
        exit: 'device',
        hint: 'Check the failure reasons above, then run the station again: failed devices keep their names.',
        details: { verified: result.verified, failures: result.failures },
      })
    }
    return result
  }

  private summary(r: StationResult): string {
    const lines = [
      `${this.color('green', `${r.verified} verified`)}, ${r.failed > 0 ? this.color('red', `${r.failed} failed`) : '0 failed'} on ${r.ports.length} port(s) in ${r.elapsedSeconds} s (${r.devicesPerMinute} devices/min).`,
    ]
    for (const f of r.failures) lines.push(`  ${this.color('red', '✖')} ${shown(f.port)}${f.endpoint ? ` ${shown(f.endpoint)}` : ''}: ${shown(f.reason)}`)
    if (r.batch) lines.push(`Work order ${r.batch.name}: ${r.batch.verified} verified, ${r.batch.remaining} remaining.`)
    return lines.join('\n')
  }

  /** True when nothing needs asking. */
  private complete(s: Record<string, unknown>): boolean {
    return this.missingFlags(s).length === 0
  }

  /** The flags a non-interactive run must have, named the way the user types them. */
  private missingFlags(s: Record<string, unknown>): string[] {
    const missing: string[] = []
    if (!s.ports) missing.push('--ports')
    if (!s.protocol) missing.push('--protocol')
    if (!s.batch && !s.endpoint) missing.push('--batch')
    for (const k of ['mode', 'security', 'server']) if (!s[k]) missing.push(`--${k}`)
    return missing
  }

  private async resolvePorts(spec: string, vid?: string, pid?: string): Promise<string[]> {
    if (spec === 'auto') {
      const found = await autoPorts(vid, pid)
      if (found.length === 0) this.warn(`No serial ports${vid ? ` with USB id ${vid}:${pid ?? '*'}` : ''} yet; waiting for devices to appear (needs --continuous or --count).`)
      return found.map((p) => p.path)
    }
    if (vid || pid) this.warn('--vid/--pid only apply to --ports auto; ignored.')
    const list = [...new Set(prompts.splitList(spec).map((p) => path.resolve(p)))]
    if (list.length === 0) throw usageError('E_PORTS_EMPTY', '--ports names no port.', 'Pass --ports /dev/ttyACM0,/dev/ttyACM1 or --ports auto.')
    return list
  }
}

async function autoPorts(vid?: string, pid?: string): Promise<PortInfo[]> {
  const norm = (x?: string) => x?.toLowerCase().replace(/^0x/, '').padStart(4, '0')
  const all = await listPorts()
  return all.filter((p) => (vid ? p.vendorId === norm(vid) : p.vendorId !== undefined) && (pid ? p.productId === norm(pid) : true))
}

function readProfile(p: string): string {
  try {
    return fs.readFileSync(p, 'utf8')
  } catch {
    throw usageError('E_PROFILE_UNREADABLE', `Cannot read station profile ${p}.`, 'Check the --profile path.')
  }
}

function pickDeviceInfo(s: Record<string, unknown>): DeviceInfo | undefined {
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
