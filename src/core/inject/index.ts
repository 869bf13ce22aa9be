/** Injection: link/protocol contracts, the two device protocols and their simulators, faults, the device session. */
import { usageError } from '../errors.js'
import { FccProtocol } from './fcc/index.js'
import { LwprovProtocol } from './lwprov/index.js'
import type { ProvisioningProtocol } from './types.js'

export * from './types.js'
export * from './faults.js'
export * from './session.js'
export * from './request.js'
export { FccProtocol, FccSimDevice } from './fcc/index.js'
export { LwprovProtocol, LwprovSimDevice } from './lwprov/index.js'

/** The protocol for `--protocol NAME`. */
export function protocolByName(name: string | undefined): ProvisioningProtocol {
  if (name === 'fcc') return new FccProtocol()
  if (name === 'lwprov') return new LwprovProtocol()
  throw usageError('E_PROTOCOL_INVALID', `Unknown device protocol '${name ?? ''}'.`, 'Pass --protocol lwprov (open protocol) or --protocol fcc (Izuma factory configurator).')
}
