/**
 * Serial port discovery. `SerialPort.list()` shells out to `udevadm` on Linux, which containers and minimal images
 * lack; then we read the same facts from sysfs and /dev/serial/by-id ourselves. Never throws.
 */
import fs from 'node:fs'
import path from 'node:path'

import { SerialPort } from 'serialport'

export interface PortInfo {
  path: string
  manufacturer?: string
  product?: string
  serialNumber?: string
  /** USB vendor id, 4 lowercase hex digits. */
  vendorId?: string
  /** USB product id, 4 lowercase hex digits. */
  productId?: string
  /** Stable /dev/serial/by-id link, when udev made one. */
  byId?: string
}

export interface ListPortsOptions {
  /** Skip `SerialPort.list()` (tests; hosts where udevadm hangs). */
  skipNative?: boolean
  /** Root for /sys and /dev lookups (tests). Default '/'. */
  root?: string
}

/** Lists serial ports with their USB identity where known, sorted by path. */
export async function listPorts(opts: ListPortsOptions = {}): Promise<PortInfo[]> {
  const root = opts.root ?? '/'
  const byId = readByIdLinks(root)
  let ports: PortInfo[] | undefined
  if (!opts.skipNative) {
    try {
      const native = await withTimeout(SerialPort.list(), 3000)
      if (native.length > 0) {
        ports = native.map((p) => clean({
          path: p.path,
          manufacturer: p.manufacturer,
          serialNumber: p.serialNumber,
          vendorId: p.vendorId?.toLowerCase(),
          productId: p.productId?.toLowerCase(),
        }))
      }
    } catch {
      // udevadm missing or failing: the sysfs scan below covers it.
    }
  }
  ports ??= scanSysfs(root)
  for (const p of ports) {
    const link = byId.get(p.path)
    if (link !== undefined && p.byId === undefined) p.byId = link
  }
  return ports.sort((a, b) => a.path.localeCompare(b.path, undefined, { numeric: true }))
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms)
    p.then(
      (v) => {
        clearTimeout(t)
        resolve(v)
      },
      (e: unknown) => {
        clearTimeout(t)
        reject(e)
      },
    )
  })
}

function clean(p: PortInfo): PortInfo {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined && v !== '')) as unknown as PortInfo
}

/** /dev/serial/by-id/<name> → resolved /dev path. */
function readByIdLinks(root: string): Map<string, string> {
  const out = new Map<string, string>()
  const dir = path.join(root, 'dev/serial/by-id')
  let names: string[] = []
  try {
    names = fs.readdirSync(dir)
  } catch {
    return out
  }
  for (const n of names) {
    try {
      const target = path.resolve(dir, fs.readlinkSync(path.join(dir, n)))
      out.set(path.join('/dev', path.basename(target)), path.join('/dev/serial/by-id', n))
    } catch {
      // dangling link: skip
    }
  }
  return out
}

function readText(p: string): string | undefined {
  try {
    const t = fs.readFileSync(p, 'utf8').trim()
    return t === '' ? undefined : t
  } catch {
    return undefined
  }
}

/**
 * /sys/class/tty/<name>/device is the tty's parent (a USB interface for CDC-ACM/FTDI, a platform device for UARTs).
 * Walk up until a directory holds idVendor: that is the USB device with the descriptor strings.
 */
function scanSysfs(root: string): PortInfo[] {
  const classDir = path.join(root, 'sys/class/tty')
  let names: string[] = []
  try {
    names = fs.readdirSync(classDir)
  } catch {
    return []
  }
  const ports: PortInfo[] = []
  for (const name of names) {
    const devLink = path.join(classDir, name, 'device')
    let dev: string
    try {
      dev = fs.realpathSync(devLink)
    } catch {
      continue // virtual tty (console, pts): no device
    }
    // Legacy 8250 stubs (ttyS4..31 with no hardware) have a device but no real port behind them.
    if (/^ttyS\d+$/.test(name) && readText(path.join(classDir, name, 'type')) === '0') continue
    const info: PortInfo = { path: path.join('/dev', name) }
    let dir = dev
    for (let i = 0; i < 6 && dir !== path.dirname(dir); i++) {
      const vid = readText(path.join(dir, 'idVendor'))
      if (vid !== undefined) {
        info.vendorId = vid.toLowerCase()
        const pid = readText(path.join(dir, 'idProduct'))
        if (pid) info.productId = pid.toLowerCase()
        const serial = readText(path.join(dir, 'serial'))
        if (serial) info.serialNumber = serial
        const man = readText(path.join(dir, 'manufacturer'))
        if (man) info.manufacturer = man
        const prod = readText(path.join(dir, 'product'))
        if (prod) info.product = prod
        break
      }
      dir = path.dirname(dir)
    }
    ports.push(info)
  }
  return ports
}
