/**
 * Simulated field devices (`lwprov sim --protocol zephyr-shell|nrf-at|mcumgr`). Each session is a freshly booted
 * device, but what it stored (its flash / modem credential store) survives sessions, per serial, so re-provisioning
 * meets the old credentials as a real device would.
 */
import type { SimDevice, SimDeviceOptions } from './faults.js'

export async function fieldDeviceFactory(protocol: 'zephyr-shell' | 'nrf-at' | 'mcumgr', extra: Record<string, unknown>): Promise<(o: SimDeviceOptions) => SimDevice> {
  const flash = new Map<string, unknown>()
  const nvOf = <T>(serial: string, make: () => T): T => {
    if (!flash.has(serial)) flash.set(serial, make())
    return flash.get(serial) as T
  }
  if (protocol === 'zephyr-shell') {
    const { ZephyrShellSim, newZephyrNv } = await import('./zephyr/index.js')
    return (o) => new ZephyrShellSim({ ...extra, ...o, nv: nvOf(o.serial, newZephyrNv) })
  }
  if (protocol === 'nrf-at') {
    const { nrfSim, newModemNv } = await import('./nrf/index.js')
    return (o) => nrfSim({ ...extra, ...o, nv: nvOf(o.serial, newModemNv) })
  }
  const { McumgrSim, newSmpNv } = await import('./mcumgr/index.js')
  return (o) => new McumgrSim({ ...extra, ...o, nv: nvOf(o.serial, newSmpNv) })
}
