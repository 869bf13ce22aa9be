/** Injection: link/protocol contracts, the two device protocols and their simulators, faults, the device session. */
import { usageError } from '../errors.js'
import { FccProtocol } from './fcc/index.js'
import { LwprovProtocol } from './lwprov/index.js'
import { AutoProtocol } from './auto.js'
import { McumgrProtocol } from './mcumgr/protocol.js'
import { NrfAtProtocol } from './nrf/protocol.js'
import type { ProvisioningProtocol } from './types.js'
import { ZephyrShellProtocol } from './zephyr/protocol.js'

export * from './types.js'
export * from './faults.js'
export * from './session.js'
export * from './request.js'
export { FccProtocol, FccSimDevice } from './fcc/index.js'
export { LwprovProtocol, LwprovSimDevice } from './lwprov/index.js'
export { ZephyrShellProtocol } from './zephyr/protocol.js'
export { NrfAtProtocol } from './nrf/protocol.js'
export { McumgrProtocol } from './mcumgr/protocol.js'
export { AutoProtocol } from './auto.js'

/** Options of the field-device protocols (`--start`, `--sec-tag`, `--smp-path`…); ignored by the others. */
export interface ProtocolOptions {
  /** zephyr-shell: start registration after a verified write. */
  start?: boolean
  /** nrf-at: the modem sec_tag (default: the NCS LwM2M client's bootstrap/server tag for the mode). */
  secTag?: number
  /** mcumgr: the upload target (default /factory/provision.cbor). */
  smpPath?: string
  /** mcumgr: SMP MTU when the device does not report one. */
  smpMtu?: number
}

/** Every `--protocol` value (auto probes the others). */
export const PROTOCOL_NAMES = ['lwprov', 'fcc', 'zephyr-shell', 'nrf-at', 'mcumgr', 'auto'] as const

/** The protocol for `--protocol NAME` (the one registry of device protocols). */
export function protocolByName(name: string | undefined, opts: ProtocolOptions = {}): ProvisioningProtocol {
  if (name === 'fcc') return new FccProtocol()
  if (name === 'lwprov') return new LwprovProtocol()
  if (name === 'zephyr-shell') return new ZephyrShellProtocol({ ...(opts.start ? { start: true } : {}) })
  if (name === 'nrf-at') return new NrfAtProtocol({ ...(opts.secTag === undefined ? {} : { secTag: opts.secTag }) })
  if (name === 'mcumgr') return new McumgrProtocol({ ...(opts.smpPath === undefined ? {} : { path: opts.smpPath }), ...(opts.smpMtu === undefined ? {} : { mtu: opts.smpMtu }) })
  if (name === 'auto') return new AutoProtocol((n) => protocolByName(n, opts))
  throw usageError('E_PROTOCOL_INVALID', `Unknown device protocol '${name ?? ''}'.`, `Pass --protocol ${PROTOCOL_NAMES.join(', ')}.`)
}
