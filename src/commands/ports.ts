import { Flags } from '@oclif/core'

import { listPorts, type PortInfo } from '../adapters/ports.js'
import { BaseCommand } from '../cli/base-command.js'
import { probePorts, type ProbedPort } from '../cli/ports-probe.js'
import { shown } from '../core/validate/index.js'

export default class Ports extends BaseCommand {
  static override summary = 'List serial ports with USB vendor/product ids and serial numbers; --probe asks each device what it speaks.'
  static override description =
    'Uses the serialport library where udev is available and falls back to /sys/class/tty and /dev/serial/by-id where it is not (containers, minimal images). Pass the path to `lwprov inject --port` or `lwprov station --ports`.\n\nWith --probe each port is asked, in a safe order (lwprov HELLO, MCUmgr SMP echo, AT+CGSN raw and through the shell, the Zephyr lwm2m shell; FCC has no probe), which protocol answers and who the device is. --port probes the given paths (e.g. simulators) instead of the listed ports.'

  static override examples = ['<%= config.bin %> ports', '<%= config.bin %> ports --json', '<%= config.bin %> ports --probe', '<%= config.bin %> ports --probe --port /tmp/dev0 --port /tmp/dev1 --json']

  static override flags = {
    probe: Flags.boolean({ summary: 'Ask each port which device protocol answers and who the device is.' }),
    port: Flags.string({ summary: 'With --probe: probe this path (repeatable) instead of the listed ports.', multiple: true, dependsOn: ['probe'] }),
    baud: Flags.integer({ summary: 'Serial baud rate for --probe.', default: 115200, env: 'LWPROV_BAUD' }),
    timeout: Flags.integer({ summary: 'Per-probe timeout in ms.', default: 3000, min: 100 }),
  }

  async run(): Promise<PortInfo[] | ProbedPort[]> {
    const { flags } = await this.parse(Ports)
    if (flags.probe) {
      const paths = flags.port ?? (await listPorts()).map((p) => p.path)
      const found = await probePorts(paths, flags.baud, flags.timeout)
      const rows = found.map((p) => [p.path, p.protocol ?? '-', shown(p.serial ?? p.imei ?? '-'), shown(p.firmware ?? (p.error ? `(${p.error})` : '-'))])
      this.table(['PORT', 'PROTOCOL', 'DEVICE', 'FIRMWARE'], rows)
      return found
    }
    const ports = await listPorts()
    if (ports.length === 0) {
      this.info('No serial ports found. Plug the device in (and check `dmesg`), or run `lwprov sim` for a simulated one.')
      return ports
    }
    const rows = ports.map((p) => [p.path, p.vendorId && p.productId ? `${p.vendorId}:${p.productId}` : '-', p.serialNumber ?? '-', [p.manufacturer, p.product].filter(Boolean).join(' ') || '-', p.byId ?? ''])
    this.table(['PORT', 'USB ID', 'SERIAL', 'DESCRIPTION', 'BY-ID'], rows)
    return ports
  }

  private table(head: string[], rows: string[][]): void {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
    this.out([line(head), ...rows.map(line)].join('\n'))
  }
}
