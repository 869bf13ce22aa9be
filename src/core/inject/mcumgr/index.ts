/** `--protocol mcumgr`: SMP over the serial console, fs upload of the factory-provisioning file (device-shells.md §4.2, §5). */
export * from './smp.js'
export { ANJAY_ENDPOINT, ANJAY_RESULT, DEFAULT_SMP_PATH, McumgrProtocol, SmpClient, type McumgrOptions } from './protocol.js'
export { McumgrSim, newSmpNv, type McumgrSimOptions, type SmpNv } from './sim.js'
