/**
 * `--protocol auto`: asks the device who it is in a safe order and provisions it with the protocol that answered.
 * lwprov HELLO first (a framed binary request that shells and modems ignore or answer with an error), then an SMP
 * echo (MCUmgr), then AT+CGSN raw and through the shell's `at` command (nRF91), then the Zephyr lwm2m shell. FCC
 * comes last because it has no probe: it is chosen only when nothing answered and the device's identity was given
 * on the command line (--serial-number), as FCC requires anyway. Each probe's leftovers are flushed before the next.
 */
import { LwprovError, deviceError } from '../errors.js'
import { sleep } from './console/line-console.js'
import { LwprovProtocol } from './lwprov/protocol.js'
import { McumgrProtocol } from './mcumgr/protocol.js'
import type { ByteLink, DeviceIdentity, InjectionHooks, InjectionPlan, InjectionResult, ProtocolName, ProvisioningProtocol, Timeouts } from './types.js'

/** Probe order (FCC is the fallback, not a probe). */
export const PROBE_ORDER: readonly ProtocolName[] = ['lwprov', 'mcumgr', 'nrf-at', 'zephyr-shell']

/** A probe that did not answer: timeouts and garbage, never a user mistake. */
function silent(e: unknown): boolean {
  return e instanceof LwprovError && (e.exitCode === 4 || e.exitCode === 5) && e.code !== 'E_DEVICE_DISCONNECTED' && e.code !== 'E_MODEM_FIRMWARE_OLD' && e.code !== 'E_DEVICE_IDENTITY_INVALID'
}

export interface ProbeResult {
  protocol: ProtocolName
  identity: DeviceIdentity
  /** What each probe found, in order (for `ports --probe` and error messages). */
  tried: { protocol: ProtocolName; answer: string }[]
}

/** Probes one link; throws E_PROTOCOL_UNDETECTED when nothing answered (and FCC was not vouched for). */
export async function probeLink(
  link: ByteLink,
  make: (name: ProtocolName) => ProvisioningProtocol,
  timeouts: Timeouts,
  hooks: InjectionHooks,
  fallback?: Partial<DeviceIdentity>,
  onFound?: (p: ProvisioningProtocol) => void,
): Promise<ProbeResult> {
  const probeMs = Math.min(timeouts.identify, 800)
  const t: Timeouts = { ...timeouts, identify: probeMs, frame: probeMs }
  const tried: ProbeResult['tried'] = []
  let smp: { p: ProvisioningProtocol; id: DeviceIdentity } | undefined
  for (const name of PROBE_ORDER) {
    if (name === 'zephyr-shell' && smp?.id.capabilities.includes('anjay-factory')) break
    // framed probes ask once (no resends): silence is the answer; the protocol that answered provisions with its own
    // settings (what identify learned is kept per link, so the fresh instance continues the same device session)
    const p = name === 'lwprov' ? new LwprovProtocol({ retries: 0 }) : name === 'mcumgr' ? new McumgrProtocol({ retries: 0 }) : make(name)
    await sleep(30)
    await link.flushInput?.()
    try {
      hooks.onStep?.('identify', `probing ${name}`)
      const id = await p.identify(link, name === 'lwprov' || name === 'mcumgr' ? t : { ...t, identify: Math.min(timeouts.identify, 1500) }, hooks, fallback)
      if (name === 'mcumgr' && !id.capabilities.includes('anjay-factory')) {
        // a Zephyr app may have MCUmgr for updates and still take its account through the lwm2m shell: look on
        smp = { p: make(name), id }
        tried.push({ protocol: name, answer: 'SMP (no factory-provisioning file system)' })
        continue
      }
      tried.push({ protocol: name, answer: 'answered' })
      onFound?.(name === 'lwprov' || name === 'mcumgr' ? make(name) : p)
      return { protocol: name, identity: { ...id, protocol: name }, tried }
    } catch (e) {
      if (!silent(e)) throw e
      tried.push({ protocol: name, answer: e instanceof LwprovError ? e.code : 'no answer' })
    }
  }
  if (smp) {
    onFound?.(smp.p)
    return { protocol: 'mcumgr', identity: { ...smp.id, protocol: 'mcumgr' }, tried }
  }
  if (fallback?.serial) {
    const p = make('fcc')
    onFound?.(p)
    tried.push({ protocol: 'fcc', answer: 'assumed (no probe; identity from the command line)' })
    return { protocol: 'fcc', identity: { ...(await p.identify(link, timeouts, hooks, fallback)), protocol: 'fcc' }, tried }
  }
  throw deviceError(
    'E_PROTOCOL_UNDETECTED',
    `${link.description}: no device protocol answered (${tried.map((x) => `${x.protocol}: ${x.answer}`).join(', ')}).`,
    'Check the port (boards expose several; only one is the console), the baud rate and the firmware; for an Izuma FCC device pass --protocol fcc (it has no probe).',
    { tried },
  )
}

export class AutoProtocol implements ProvisioningProtocol {
  readonly name = 'auto' as const
  private readonly chosen = new WeakMap<ByteLink, ProvisioningProtocol>()

  constructor(private readonly make: (name: ProtocolName) => ProvisioningProtocol) {}

  async identify(link: ByteLink, timeouts: Timeouts, hooks: InjectionHooks, fallback?: Partial<DeviceIdentity>): Promise<DeviceIdentity> {
    const r = await probeLink(link, this.make, timeouts, hooks, fallback, (p) => this.chosen.set(link, p))
    hooks.onStep?.('identify', `${r.protocol} answered`)
    return r.identity
  }

  /** The answering protocol's offline checks (the session passes what identify found in the plan). */
  async precheck(plan: InjectionPlan): Promise<void> {
    if (plan.protocol) await this.make(plan.protocol).precheck?.(plan)
  }

  /** PSKs are drawn without 0x00 bytes: the device may turn out to be a Zephyr shell, which cannot type them. */
  prepareCredentials(cs: import('../model.js').CredentialSet, random: (n: number) => Buffer): import('../model.js').CredentialSet {
    return this.make('zephyr-shell').prepareCredentials?.(cs, random) ?? cs
  }

  async provision(link: ByteLink, plan: InjectionPlan, timeouts: Timeouts, hooks: InjectionHooks): Promise<InjectionResult> {
    const p = this.chosen.get(link)
    if (!p) throw new LwprovError('E_INTERNAL', 'auto: provision before identify', { exit: 'bug' })
    await p.precheck?.(plan)
    return p.provision(link, plan, timeouts, hooks)
  }
}
