import { listPorts, type PortInfo } from '../adapters/ports.js'
import { BaseCommand } from '../cli/base-command.js'

export default class Ports extends BaseCommand {
  static override summary = 'List serial ports with USB vendor/product ids and serial numbers.'
  static override description =
    'Uses the serialport library where udev is available and falls back to /sys/class/tty and /dev/serial/by-id where it is not (containers, minimal images). Pass the path to `lwprov inject --port` or `lwprov station --ports`.'

  static override examples = ['<%= config.bin %> ports', '<%= config.bin %> ports --json']

  async run(): Promise<PortInfo[]> {
    await this.parse(Ports)
    const ports = await listPorts()
    if (ports.length === 0) {
      this.info('No serial ports found. Plug the device in (and check `dmesg`), or run `lwprov sim` for a simulated one.')
      return ports
    }
    const rows = ports.map((p) => [p.path, p.vendorId && p.productId ? `${p.vendorId}:${p.productId}` : '-', p.serialNumber ?? '-', [p.manufacturer, p.product].filter(Boolean).join(' ') || '-', p.byId ?? ''])
    const head = ['PORT', 'USB ID', 'SERIAL', 'DESCRIPTION', 'BY-ID']
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
    this.out([line(head), ...rows.map(line)].join('\n'))
    return ports
  }
}
