import path from 'node:path'

import { Flags } from '@oclif/core'

import { startSimulator, type SimProtocol } from '../adapters/sim-runner.js'
import { BaseCommand } from '../cli/base-command.js'
import { fieldSimFlags, simDeviceOptions } from '../cli/sim-flags.js'
import { usageError } from '../core/errors.js'
import { FAULT_KINDS, checkLwprovOnly, parseFault } from '../core/inject/faults.js'

export interface SimResult {
  protocol: SimProtocol
  link?: string
  port?: number
  serial: string
}

export default class Sim extends BaseCommand {
  static override summary = 'Run a simulated device on a new PTY or a TCP port, optionally with faults.'
  static override description = `The device speaks the Izuma FCC, the lwprov protocol, a Zephyr lwm2m shell, an nRF91 modem's AT commands or MCUmgr SMP (Anjay factory provisioning) as firmware does, so \`lwprov inject\` and \`lwprov station\` can be tried, taught and tested without hardware. Each open of the PTY (or TCP connection) is a new session with a freshly booted device.

Faults strike at a host→device byte offset (--fault-at): drop hangs up, delay goes silent past the host timeout, reset reboots the device (staged data lost), corrupt flips a reply bit (or, without --fault-at, reports a wrong read-back digest), refuse rejects the credentials, liar (lwprov) acknowledges everything, stores nothing, echoes the digest it was sent and fakes the proof of possession: protocol v2 ends it failed, with --protocol-version 1 it can only be recorded verified with the weaker "digest" proof. A fault strikes in every session unless --fault-once.

With --json one line {"status":0,"result":{…}} is printed when the device is ready; the simulator then runs until SIGINT/SIGTERM.`

  static override examples = [
    '<%= config.bin %> sim --protocol lwprov --link /tmp/lwprov-dev0 --serial SIM-0001',
    '<%= config.bin %> sim --protocol fcc --tcp 0 --json',
    '<%= config.bin %> sim --protocol lwprov --link /tmp/dev1 --fault drop --fault-at 120 --fault-once',
    '<%= config.bin %> sim --protocol lwprov --link /tmp/dev2 --renew --baud 115200',
    '<%= config.bin %> sim --protocol lwprov --link /tmp/dev3 --fault liar --protocol-version 1',
  ]

  static override flags = {
    protocol: Flags.string({ summary: 'Device protocol.', options: ['fcc', 'lwprov', 'zephyr-shell', 'nrf-at', 'mcumgr'], required: true, env: 'LWPROV_PROTOCOL' }),
    link: Flags.string({ summary: 'Create a PTY and symlink it at this path.', exactlyOne: ['link', 'tcp'] }),
    tcp: Flags.integer({ summary: 'Listen on this TCP port on 127.0.0.1 (0 = any free port).', min: 0, max: 65535, exactlyOne: ['link', 'tcp'] }),
    serial: Flags.string({ summary: 'Serial number the device reports (default SIM- + random hex).' }),
    fault: Flags.string({ summary: 'Inject a fault.', options: [...FAULT_KINDS] }),
    'fault-at': Flags.integer({ summary: 'Host→device byte offset where the fault strikes (corrupt: reply byte).', min: 0 }),
    'fault-once': Flags.boolean({ summary: 'Strike in the first session only, so a retry succeeds.' }),
    store: Flags.string({ summary: 'Write the committed payload to this new file (mode 0600).' }),
    force: Flags.boolean({ summary: 'Replace an existing --store file (never the manifest or a CA file).' }),
    renew: Flags.boolean({ summary: 'After each provisioning, come back as a new device (next serial, new PTY).' }),
    baud: Flags.integer({ summary: 'Pace host bytes to this baud rate (baud/10 bytes/s), like a real UART.', min: 300 }),
    'device-log': Flags.boolean({ summary: "Echo the device's log lines on stderr." }),
    ...fieldSimFlags,
    'protocol-version': Flags.integer({ summary: 'lwprov: highest protocol version the device speaks (1 = an old receiver: read-back digest only, no proof of possession).', min: 1, max: 2, default: 2 }),
  }

  async run(): Promise<SimResult> {
    const { flags } = await this.parse(Sim)
    const fault = parseFault(flags.fault, flags['fault-at'], flags['fault-once'])
    checkLwprovOnly(flags.protocol, fault, flags['protocol-version'])
    if (flags.link !== undefined && flags.link.trim() === '') throw usageError('E_LINK_INVALID', '--link is empty.', 'Pass a path such as /tmp/lwprov-dev0.')
    const quiet = this.jsonEnabled()
    const sim = await startSimulator({
      protocol: flags.protocol as SimProtocol,
      ...(flags.link === undefined ? { tcpPort: flags.tcp ?? 0 } : { link: path.resolve(flags.link) }),
      ...(flags.serial === undefined ? {} : { serial: flags.serial }),
      ...(fault === undefined ? {} : { fault }),
      ...(flags.store === undefined ? {} : { storeFile: path.resolve(flags.store), storeForce: flags.force }),
      ...(flags.baud === undefined ? {} : { baud: flags.baud }),
      renew: flags.renew,
      deviceOptions: simDeviceOptions(flags),
      protocolVersion: flags['protocol-version'],
      log: (line) => {
        if (!quiet) this.info(`sim: ${line}`)
      },
      ...(flags['device-log'] ? { deviceLog: (line: string) => this.info(this.color('dim', `device: ${line}`)) } : {}),
    })
    const stopped = new Promise<void>((resolve) => {
      const stop = () => resolve()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      sim.once('error', (e: Error) => {
        this.warn(e.message)
        resolve()
      })
    })
    this.onCleanup(() => sim.close())
    const result: SimResult = {
      protocol: sim.protocol,
      ...(sim.link === undefined ? {} : { link: sim.link }),
      ...(sim.port === undefined ? {} : { port: sim.port }),
      serial: sim.serial,
    }
    // The ready line goes out now (not at exit) so scripts can wait for it; oclif then prints nothing more.
    if (quiet) {
      process.stdout.write(`${JSON.stringify({ status: 0, result })}\n`)
    } else {
      this.info(`sim: ${result.protocol} device ${result.serial} ready on ${result.link ?? `127.0.0.1:${result.port}`} (Ctrl-C to stop)`)
    }
    this.readyPrinted = quiet
    await stopped
    await sim.close()
    return result
  }

  private readyPrinted = false

  /** The envelope was printed when the device became ready; printing it again at exit would break line readers. */
  override logJson(json: unknown): void {
    if (!this.readyPrinted) super.logJson(json)
  }
}
