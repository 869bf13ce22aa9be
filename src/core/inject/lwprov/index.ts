/** The lwprov device protocol (docs/protocol.md): frame codec, message payloads, host protocol, simulated device. */
export * from './codec.js'
export * from './messages.js'
export { LwprovProtocol, type LwprovProtocolOptions } from './protocol.js'
export { LwprovSimDevice, type LwprovSimOptions } from './sim.js'
