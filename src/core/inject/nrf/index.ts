/** `--protocol nrf-at`: the nRF91 modem credential store over AT (device-shells.md §3). */
export * from './at.js'
export { AtPort, NrfAtProtocol, type NrfAtOptions } from './protocol.js'
export { Modem, NrfAtSim, NrfShellSim, newModemNv, nrfSim, type ModemNv, type NrfSimOptions } from './sim.js'
