/**
 * Everything `lwprov station` settles before the first port is touched: flags merged with a station profile, the
 * questions a technician is asked on a terminal (or the flags named without one), the credential profile and policy
 * checks, the work order, the ports, the confirmation, then the secrets (master key, CA). The command wires the
 * result into the core station service.
 */
import { hostname } from 'node:os'
import path from 'node:path'

import { listPorts, type PortInfo } from '../adapters/ports.js'
import { usageError } from '../core/errors.js'
import { withAccountId } from '../core/inject/fcc/bundle.js'
import { protocolByName } from '../core/inject/index.js'
import { validateInjectRequest } from '../core/inject/request.js'
import { checkCount } from '../core/validate/index.js'
import { confirmLargeCount } from './confirm-count.js'
import type { ProvisioningProtocol } from '../core/inject/types.js'
import { precheckInjectPolicy } from '../core/manifest/policy.js'
import type { ManifestStore } from '../core/manifest/types.js'
import type { CredentialProfile, DeviceInfo } from '../core/model.js'
import type { LoadedCa } from '../core/pki/index.js'
import { listBatchStatuses } from '../core/station/batch.js'
import { isExplicit, loadStationProfile, mergeSettings } from '../core/station/profile.js'
import { stationWorkOrder, type StationWorkOrder } from '../core/station/service.js'
import {
  deviceInfoFromFlags,
  identityFlagValues,
  bindCaToManifest,
  loadCaFromFlags,
  masterKeyFromFlags,
  openStoreFromFlags,
  profileFromFlags,
  type CaFlagValues,
  type ManifestFlagValues,
  type ProfileFlagValues,
} from './context.js'
import { protocolOptionsFromFlags } from './flags.js'
import * as prompts from './prompts.js'

/** The station's flag values this module reads (the parsed flags of `lwprov station`). */
export interface StationFlagValues extends ProfileFlagValues, CaFlagValues, ManifestFlagValues {
  [flag: string]: unknown
  ports?: string | undefined
  vid?: string | undefined
  pid?: string | undefined
  protocol?: string | undefined
  baud: number
  batch?: string | undefined
  endpoint?: string | undefined
  count?: number | undefined
  continuous: boolean
  profile?: string | undefined
  station?: string | undefined
  yes: boolean
}

export interface SetupContext {
  /** The command line as typed (decides which settings were given explicitly). */
  argv: readonly string[]
  /** Flag name → its environment variable. */
  envOf: (flag: string) => string | undefined
  interactive: boolean
  warn: (text: string) => void
  /** A line for the technician on stderr. */
  info: (text: string) => void
  onCleanup: (fn: () => Promise<void> | void) => void
}

export interface StationSetup<T extends StationFlagValues> {
  settings: T
  /** The command line that repeats this run (typed flags plus the answers). */
  commandWords: string[]
  store: ManifestStore
  profile: CredentialProfile
  protocol: ProvisioningProtocol
  ports: string[]
  workOrder?: StationWorkOrder
  station: string
  ca?: LoadedCa
  masterKey?: Buffer
  deviceInfo?: DeviceInfo
}

export async function setUpStation<T extends StationFlagValues>(ctx: SetupContext, parsed: T): Promise<StationSetup<T>> {
  const { interactive } = ctx
  const explicit = (k: string) => isExplicit(ctx.argv, process.env, k, ctx.envOf(k))
  let profilePath = parsed.profile
  // Every answer is kept, so the run can be printed as the one command that repeats it.
  const asked: Array<[string, string | number]> = []
  const answer = <V extends string | number | undefined>(flag: string, v: V): V => {
    if (v !== undefined) asked.push([flag, v])
    return v
  }
  if (!profilePath && interactive && missingFlags(parsed).length > 0) profilePath = answer('profile', await prompts.askProfile())
  let s = parsed
  if (profilePath) s = mergeSettings(parsed, loadStationProfile(profilePath), explicit)

  if (!interactive) {
    const missing = missingFlags(s)
    if (missing.length > 0) {
      throw usageError('E_FLAGS_MISSING', `Missing ${missing.join(', ')} (no terminal to ask on).`, `Pass ${missing.join(' ')} or put them in a station profile (--profile line3.yaml).`, { missing })
    }
  }
  // Without a terminal every setting is known now: check them all before the manifest or any port is opened.
  const check = (p: CredentialProfile) =>
    validateInjectRequest({ profile: p, hasCa: Boolean(s.ca), baud: s.baud, endpoint: s.endpoint, station: s.station, identityFlags: identityFlagValues(s), protocol: s.protocol, utcOffset: s['utc-offset'] as string | undefined })
  if (s.count !== undefined) checkCount(s.count)
  if (!interactive) check(profileFromFlags(s, () => {}))
  const store = await openStoreFromFlags(s, ctx.onCleanup)
  const now = new Date()
  if (interactive) {
    if (!s.batch && !s.endpoint) s = { ...s, batch: answer('batch', await prompts.askWorkOrder(await listBatchStatuses(store, now))) }
    if (!s.protocol) s = { ...s, protocol: answer('protocol', await prompts.askProtocol()) }
    if (!s.mode) s = { ...s, mode: answer('mode', await prompts.askMode()) }
    if (!s.security) s = { ...s, security: answer('security', await prompts.askSecurity()) }
    if (!s.server) s = { ...s, server: answer('server', await prompts.askServer()) }
    if (!s.ports) s = { ...s, ports: answer('ports', (await prompts.askPorts(await listPorts())).join(',')) }
    // Certificates are signed by the factory CA: asked now, not discovered missing after every other answer.
    if (s.security === 'cert' && !s.ca) s = { ...s, ca: answer('ca', await prompts.askCaDir()) }
  }

  const given = profileFromFlags(s, ctx.warn)
  const profile = s.protocol === 'fcc' ? withAccountId(given, false) : given
  check(profile)
  await precheckInjectPolicy(store, { via: 'station', endpoint: s.endpoint, batch: s.batch, profile })
  const masterKey = masterKeyFromFlags(s, profile.security === 'psk')
  const workOrder = await stationWorkOrder(store, s.batch, s.endpoint, now)
  if (workOrder && workOrder.unfinished > 0) {
    ctx.warn(`${workOrder.unfinished} device(s) of ${workOrder.name} were mid-injection when a station stopped; they keep their names and are retried when they come back.`)
  }
  const remaining = workOrder?.remaining
  // A finished work order has nothing to ask about: the run ends at once, saying so (no port is opened).
  const complete = remaining === 0
  if (complete) ctx.warn(`Work order ${workOrder!.name} is complete: every name is verified or revoked; nothing to do. Create the next one with \`lwprov batch create\`.`)
  if (interactive && !complete && s.count === undefined && !s.continuous) s = { ...s, count: answer('count', await prompts.askCount(remaining)) }
  if (s.count !== undefined) checkCount(s.count)
  // (the Start? prompt below covers a large count when it is shown; without it, a large count is confirmed on its own)
  if (!complete && (!interactive || s.yes)) await confirmLargeCount(s.count, 'provision', s.yes)
  const ports = await resolvePorts(String(s.ports), ctx.warn, s.vid, s.pid)
  // The CA's passphrase is asked (or read) before the confirmation too: after "Start?" nothing more is asked.
  // a delegated line CA's quota is taken in the manifest before each certificate
  const ca = complete ? undefined : bindCaToManifest(await loadCaFromFlags(s, ctx.onCleanup as (fn: () => Promise<void>) => void), store)
  const words = commandWords(ctx.argv, asked)
  if (asked.length > 0) ctx.info(`The same run as one command (the passphrase stays out of it):\n  ${shellLine(words)}`)
  if (interactive && !complete && !s.yes) {
    const what = s.count ? `${s.count} device(s)` : s.continuous ? 'devices continuously' : `one device per port`
    if (!(await prompts.confirmRun(`Provision ${what}${s.batch ? ` of ${s.batch}` : ''}${remaining === undefined ? '' : ` (${remaining} to do)`} on ${ports.length} port(s).`))) {
      throw usageError('E_CANCELLED', 'Cancelled at the confirmation prompt.', 'Run the command again when ready.')
    }
  }
  if (s.count && remaining !== undefined && s.count > remaining) ctx.warn(`--count ${s.count} is more than the ${remaining} names left in ${s.batch}; the run stops when they are used.`)

  const deviceInfo = deviceInfoFromFlags(s)
  return {
    settings: s,
    commandWords: words,
    store,
    profile,
    protocol: protocolByName(s.protocol, protocolOptionsFromFlags(s as Parameters<typeof protocolOptionsFromFlags>[0])),
    ports,
    ...(workOrder ? { workOrder } : {}),
    station: s.station ?? hostname(),
    ...(ca ? { ca } : {}),
    ...(masterKey ? { masterKey } : {}),
    ...(deviceInfo ? { deviceInfo } : {}),
  }
}

/** What was typed plus what the technician answered, as the words of one command line. */
export function commandWords(argv: readonly string[], asked: Array<[string, string | number]>): string[] {
  const words = ['lwprov', 'station', ...argv]
  for (const [k, v] of asked) words.push(`--${k}`, String(v))
  return words
}

/** Words as one pasteable shell line. */
export function shellLine(words: readonly string[]): string {
  return words.map(shellQuote).join(' ')
}

/**
 * The command that resumes an interrupted run: the same one (a work order hands out the names it has left; cut-off
 * devices keep theirs), with `--count` lowered by the devices this run verified.
 */
export function resumeCommand(words: readonly string[], verified: number): string {
  const out = [...words]
  for (let i = 0; i < out.length; i++) {
    const eq = /^--count=(\d+)$/.exec(out[i]!)
    const n = eq ? Number(eq[1]) : out[i] === '--count' ? Number(out[i + 1]) : undefined
    if (n === undefined || !Number.isFinite(n)) continue
    const left = Math.max(1, n - verified)
    if (eq) out[i] = `--count=${left}`
    else out[i + 1] = String(left)
  }
  return shellLine(out)
}

export function shellQuote(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`
}

/** The flags a non-interactive run must have, named the way the user types them. */
export function missingFlags(s: StationFlagValues): string[] {
  const missing: string[] = []
  if (!s.ports) missing.push('--ports')
  if (!s.protocol) missing.push('--protocol')
  if (!s.batch && !s.endpoint) missing.push('--batch')
  for (const k of ['mode', 'security', 'server'] as const) if (!s[k]) missing.push(`--${k}`)
  return missing
}

async function resolvePorts(spec: string, warn: (t: string) => void, vid?: string, pid?: string): Promise<string[]> {
  if (spec === 'auto') {
    const found = await autoPorts(vid, pid)
    if (found.length === 0) warn(`No serial ports${vid ? ` with USB id ${vid}:${pid ?? '*'}` : ''} yet; waiting for devices to appear (needs --continuous or --count).`)
    return found.map((p) => p.path)
  }
  if (vid || pid) warn('--vid/--pid only apply to --ports auto; ignored.')
  const list = [...new Set(prompts.splitList(spec).map((p) => path.resolve(p)))]
  if (list.length === 0) throw usageError('E_PORTS_EMPTY', '--ports names no port.', 'Pass --ports /dev/ttyACM0,/dev/ttyACM1 or --ports auto.')
  return list
}

/** Serial ports matching --vid/--pid (any USB port without them). */
export async function autoPorts(vid?: string, pid?: string): Promise<PortInfo[]> {
  const norm = (x?: string) => x?.toLowerCase().replace(/^0x/, '').padStart(4, '0')
  const all = await listPorts()
  return all.filter((p) => (vid ? p.vendorId === norm(vid) : p.vendorId !== undefined) && (pid ? p.productId === norm(pid) : true))
}
