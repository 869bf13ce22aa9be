import { Flags } from '@oclif/core'

import { openSerialLink } from '../adapters/serial-link.js'
import { BaseCommand } from '../cli/base-command.js'
import { isInteractive } from '../cli/context.js'
import { caFlags, credentialProfileFlags, deviceInfoFlags, endpointFlags, fieldDeviceFlags, manifestFlags, transportFlags } from '../cli/flags.js'
import { abortOnSignals } from '../cli/interrupt.js'
import { chooseRenderer, renderStation, stationSummary } from '../cli/render.js'
import { autoPorts, resumeCommand, setUpStation } from '../cli/station-setup.js'
import { portIdentity, probe } from '../cli/station-ports.js'
import { runStationJob, stationOutcomeError, type StationResult } from '../core/station/service.js'

export type { StationResult } from '../core/station/service.js'

export default class Station extends BaseCommand {
  static override summary = 'Provision devices on many ports in parallel: live progress, work orders, resumable.'

  static override description = `One worker per port: each waits for a device, identifies it, takes the next reserved name of the work order (--batch) or a just-in-time name from --endpoint, writes and verifies its credentials and records it in the manifest. With --count N the ports keep going (each waits for the next device: unplug/plug, reset, or a new device on the jig) until N devices are verified in total; --continuous keeps going until the work order is done or Ctrl-C.

Settings come from flags, then LWPROV_* variables, then a station profile (--profile line3.yaml: the same keys as the flags), then defaults. On a terminal, missing settings are asked; without one the command fails naming the flags to pass. Progress goes to stderr; stdout carries only the summary (or the --json result).

Killing a station (Ctrl-C or kill -9) is safe: names are claimed atomically per device, a device that was mid-injection keeps its name and is retried when it comes back, and the counts come from the manifest.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --profile line3.yaml',
    '<%= config.bin %> <%= command.id %> --ports /dev/ttyACM0,/dev/ttyACM1 --protocol lwprov --batch WO-1234 --count 200 --mode bootstrap --security cert --server coaps://bs.example.com:5684 --ca ./line-ca',
    '<%= config.bin %> <%= command.id %> --ports auto --vid 2fe3 --pid 0100 --protocol lwprov --endpoint urn:dev:ops:ACME-{serial} --continuous --bell --mode direct --security psk --server coaps://lwm2m.example.com:5684',
  ]

  static override flags = {
    'fail-on-error': Flags.boolean({ summary: 'Exit 4 (E_STATION_INCOMPLETE) when any device failed, not only when none was verified (for CI).' }),
    ports: Flags.string({ summary: 'Comma-separated port paths, or auto (all serial ports matching --vid/--pid).', env: 'LWPROV_PORTS', helpGroup: 'TRANSPORT' }),
    vid: Flags.string({ summary: 'With --ports auto: USB vendor id (hex).', env: 'LWPROV_VID', helpGroup: 'TRANSPORT' }),
    pid: Flags.string({ summary: 'With --ports auto: USB product id (hex).', env: 'LWPROV_PID', helpGroup: 'TRANSPORT' }),
    protocol: transportFlags.protocol,
    baud: transportFlags.baud,
    batch: endpointFlags.batch,
    endpoint: Flags.string({ summary: 'Without --batch: just-in-time names from this template ({serial}, {seq:06}, …).', env: 'LWPROV_ENDPOINT', helpGroup: 'ENDPOINTS' }),
    count: Flags.integer({ summary: 'Stop after N verified devices in total (ports keep taking devices until then).', min: 1, env: 'LWPROV_COUNT', helpGroup: 'ENDPOINTS' }),
    continuous: Flags.boolean({ summary: 'Keep waiting for the next device on every port until the work order is done or Ctrl-C.', env: 'LWPROV_CONTINUOUS' }),
    profile: Flags.string({ summary: 'Station profile YAML (flag > environment > profile > default).', env: 'LWPROV_PROFILE' }),
    bell: Flags.boolean({ summary: 'Ring the terminal bell when a device fails.', env: 'LWPROV_BELL' }),
    station: Flags.string({ summary: 'Station name recorded with every row (default: host name).', env: 'LWPROV_STATION' }),
    timeout: Flags.integer({ summary: 'Per-step device timeout in ms (commit and read-back get 3x).', min: 100, helpGroup: 'TRANSPORT' }),
    yes: Flags.boolean({ summary: 'Do not ask for confirmation on a terminal.', char: 'y' }),
    ...credentialProfileFlags,
    ...caFlags,
    ...manifestFlags,
    ...deviceInfoFlags,
    ...fieldDeviceFlags,
  }

  async run(): Promise<StationResult> {
    const { flags: parsed } = await this.parse(Station)
    const flagDefs = Station.flags as Record<string, { env?: string }>
    const setup = await setUpStation(
      { argv: this.argv, envOf: (k) => flagDefs[k]?.env, interactive: isInteractive() && !this.jsonEnabled(), warn: (t) => this.warn(t), info: (t) => this.info(t), onCleanup: (fn) => this.onCleanup(fn) },
      parsed,
    )
    const s = setup.settings
    const signal = abortOnSignals('lwprov station', (fn) => this.onCleanup(fn))
    const view = renderStation(setup.ports, { renderer: chooseRenderer(this.jsonEnabled()), bell: s.bell })
    let result: StationResult
    try {
      result = await runStationJob({
        ...setup,
        ...(s.endpoint === undefined ? {} : { endpoint: s.endpoint }),
        ...(s.batch === undefined ? {} : { batch: s.batch }),
        ...(s.count === undefined ? {} : { count: s.count }),
        ...(s.timeout === undefined ? {} : { timeout: s.timeout }),
        continuous: s.continuous,
        signal,
        onEvent: (e) => view.onEvent(e),
        io: {
          openLink: (p) => openSerialLink(p, { baud: s.baud }),
          portIdentity: async (p) => portIdentity(p),
          ...(setup.protocol.name === 'lwprov' ? { probe: (p: string) => probe(setup.protocol, p, s.baud) } : {}),
          ...(String(s.ports) === 'auto' ? { discover: async () => (await autoPorts(s.vid, s.pid)).map((x) => x.path) } : {}),
        },
      })
    } finally {
      await view.finish()
    }
    this.out(stationSummary(result, (c, t) => this.color(c, t), resumeCommand(setup.commandWords, result.verified)))
    if (result.stopReason === 'interrupted') process.exitCode = 130
    const failure = stationOutcomeError(result, s['fail-on-error'])
    if (failure) throw failure
    return result
  }
}
