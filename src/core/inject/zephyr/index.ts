/** `--protocol zephyr-shell`: the Zephyr lwm2m shell (device-shells.md §1): codec, host protocol, simulated device. */
export * from './shell.js'
export { ZephyrShell, ZephyrShellProtocol, withoutZeroBytes, type ZephyrShellOptions } from './protocol.js'
export { ZephyrShellSim, newZephyrNv, type ZephyrNv, type ZephyrSimOptions } from './sim.js'
