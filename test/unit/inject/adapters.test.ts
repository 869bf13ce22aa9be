import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { SerialPortMock } from 'serialport'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { listPorts } from '../../../src/adapters/ports.js'
import { openSerialLink, translateSerialError } from '../../../src/adapters/serial-link.js'
import { nextSerial } from '../../../src/adapters/sim-runner.js'
import { parseTcpAddress } from '../../../src/adapters/tcp-link.js'
import { LwprovProtocol } from '../../../src/core/inject/lwprov/index.js'
import { injectOne } from '../../../src/core/inject/session.js'
import { MASTER_KEY, profile } from './fixtures.js'
import { MemoryStore } from './memory-store.js'

describe('translateSerialError', () => {
  it.each([
    ['Error: Resource temporarily unavailable Cannot lock port', 'E_PORT_BUSY', /in use/],
    ['Error: Port is locked', 'E_PORT_BUSY', /in use/],
    ['Error: No such file or directory, cannot open /dev/ttyUSB9', 'E_PORT_NOT_FOUND', /lwprov ports/],
    ['Error: Permission denied, cannot open /dev/ttyUSB0', 'E_PORT_PERMISSION', /dialout/],
    ['Error: something odd', 'E_PORT_IO', /retry/],
  ])('%s → %s', (msg, code, hint) => {
    const e = translateSerialError('/dev/ttyUSB0', new Error(msg))
    expect(e.code).toBe(code)
    expect(e.exitCode).toBe(5)
    expect(e.message).toContain('/dev/ttyUSB0')
    expect(`${e.message} ${e.hint}`).toMatch(hint)
  })
})

describe('a --port that is not a serial device', () => {
  it.each([
    ['Error: Is a directory, cannot open /dev/ttyUSB0', /directory/],
    ['Error: Inappropriate ioctl for device setting custom baud rate of 115200', /not a terminal/],
    ['Error: ENOTTY: not a typewriter', /not a terminal/],
  ])('%s → E_PORT_NOT_SERIAL, usage (not retried)', (msg, what) => {
    const e = translateSerialError('/dev/ttyUSB0', new Error(msg))
    expect(e.code).toBe('E_PORT_NOT_SERIAL')
    expect(e.exitCode).toBe(2)
    expect(e.message).toContain('/dev/ttyUSB0')
    expect(e.message).toMatch(what)
    expect(e.hint).toMatch(/lwprov ports/)
  })

  it('the real binding: a directory, a regular file and /dev/null are refused as E_PORT_NOT_SERIAL', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwprov-notserial-'))
    const file = path.join(dir, 'plain.txt')
    fs.writeFileSync(file, 'x')
    for (const p of [dir, file, '/dev/null']) {
      await expect(openSerialLink(p)).rejects.toMatchObject({ code: 'E_PORT_NOT_SERIAL', exitCode: 2, hint: expect.stringContaining('lwprov ports') })
    }
  })

  it('injectOne gives up at once: no retry of a usage mistake', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwprov-notserial-'))
    const retries: number[] = []
    const store = new MemoryStore()
    const err = await injectOne({
      connect: () => openSerialLink(dir),
      protocol: new LwprovProtocol(),
      store,
      profile: profile({ mode: 'direct', security: 'psk' }),
      masterKey: MASTER_KEY,
      endpoint: 'not-serial-1',
      target: dir,
      retryDelayMs: 1,
      hooks: { onRetry: (n) => retries.push(n) },
    }).catch((e: unknown) => e as { code: string; exitCode: number })
    expect(err).toMatchObject({ code: 'E_PORT_NOT_SERIAL', exitCode: 2 })
    expect(retries).toEqual([])
    expect(await store.count()).toBe(0)
  })
})

describe('parseTcpAddress', () => {
  it('parses host:port and [v6]:port, rejects the rest', () => {
    expect(parseTcpAddress('127.0.0.1:7777')).toEqual({ host: '127.0.0.1', port: 7777 })
    expect(parseTcpAddress('[::1]:80')).toEqual({ host: '::1', port: 80 })
    expect(parseTcpAddress('device.local:1')).toEqual({ host: 'device.local', port: 1 })
    for (const bad of ['127.0.0.1', ':80', 'host:0', 'host:70000', 'a:b']) expect(() => parseTcpAddress(bad)).toThrow(expect.objectContaining({ code: 'E_TCP_ADDRESS', exitCode: 2 }))
  })
})

describe('nextSerial', () => {
  it('increments the trailing number keeping its width', () => {
    expect(nextSerial('SIM-0001')).toBe('SIM-0002')
    expect(nextSerial('SIM-0999')).toBe('SIM-1000')
    expect(nextSerial('SIM-9999')).toBe('SIM-10000')
    expect(nextSerial('ABC')).toBe('ABC-2')
  })
})

describe('listPorts without udevadm (sysfs fallback)', () => {
  it('reads USB ids, serial and names from the USB parent, and the by-id link', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lwprov-sysfs-'))
    const usbDev = path.join(root, 'sys/devices/pci0000:00/usb1/1-2')
    const iface = path.join(usbDev, '1-2:1.0')
    fs.mkdirSync(path.join(iface, 'tty/ttyACM0'), { recursive: true })
    for (const [f, v] of Object.entries({ idVendor: '2FE3', idProduct: '0100', serial: 'E66038B7133B4C2A', manufacturer: 'ZEPHYR', product: 'Zephyr CDC ACM' })) {
      fs.writeFileSync(path.join(usbDev, f), `${v}\n`)
    }
    fs.mkdirSync(path.join(root, 'sys/class/tty/ttyACM0'), { recursive: true })
    fs.symlinkSync(iface, path.join(root, 'sys/class/tty/ttyACM0/device'))
    // A virtual tty without a device, and a legacy UART stub with no hardware behind it.
    fs.mkdirSync(path.join(root, 'sys/class/tty/tty0'), { recursive: true })
    const uart = path.join(root, 'sys/devices/platform/serial8250')
    fs.mkdirSync(uart, { recursive: true })
    fs.mkdirSync(path.join(root, 'sys/class/tty/ttyS5'), { recursive: true })
    fs.symlinkSync(uart, path.join(root, 'sys/class/tty/ttyS5/device'))
    fs.writeFileSync(path.join(root, 'sys/class/tty/ttyS5/type'), '0\n')
    fs.mkdirSync(path.join(root, 'dev/serial/by-id'), { recursive: true })
    fs.symlinkSync('../../ttyACM0', path.join(root, 'dev/serial/by-id/usb-ZEPHYR_Zephyr_CDC_ACM_E66038B7133B4C2A-if00'))

    const ports = await listPorts({ root, skipNative: true })
    expect(ports).toEqual([
      {
        path: '/dev/ttyACM0',
        vendorId: '2fe3',
        productId: '0100',
        serialNumber: 'E66038B7133B4C2A',
        manufacturer: 'ZEPHYR',
        product: 'Zephyr CDC ACM',
        byId: '/dev/serial/by-id/usb-ZEPHYR_Zephyr_CDC_ACM_E66038B7133B4C2A-if00',
      },
    ])
  })

  it('returns an empty list, not an error, when sysfs is missing', async () => {
    expect(await listPorts({ root: '/nonexistent-root', skipNative: true })).toEqual([])
  })

  it('works on this machine (udevadm or not)', async () => {
    await expect(listPorts()).resolves.toBeInstanceOf(Array)
  })
})

describe('openSerialLink over MockBinding', () => {
  const PATH = '/dev/ttyMOCK0'
  beforeEach(() => SerialPortMock.binding.createPort(PATH, { record: true }))
  afterEach(() => SerialPortMock.binding.reset())

  it('writes bytes, delivers replies, buffers early replies until someone listens, flushes stale input', async () => {
    const link = await openSerialLink(PATH, { portClass: SerialPortMock })
    expect(link.description).toBe(PATH)
    await link.write(Buffer.from('HELLO'))
    const port = (link as unknown as { port: SerialPortMock }).port
    expect(port.port!.lastWrite).toEqual(Buffer.from('HELLO'))
    port.port!.emitData(Buffer.from('early'))
    await new Promise((r) => setTimeout(r, 10))
    const got: string[] = []
    const off = link.onData((b) => got.push(b.toString()))
    expect(got).toEqual(['early'])
    off()
    port.port!.emitData(Buffer.from('stale'))
    await new Promise((r) => setTimeout(r, 10))
    await link.flushInput()
    link.onData((b) => got.push(b.toString()))
    port.port!.emitData(Buffer.from('fresh'))
    await new Promise((r) => setTimeout(r, 10))
    expect(got).toEqual(['early', 'fresh'])
    const closed = new Promise<Error | undefined>((r) => link.onClose(r))
    await link.close()
    expect(await closed).toBeUndefined()
    await expect(link.write(Buffer.from('x'))).rejects.toMatchObject({ code: 'E_LINK_CLOSED', exitCode: 5 })
  })

  it('a port already open elsewhere is E_PORT_BUSY; a missing one E_PORT_NOT_FOUND-or-IO naming the path', async () => {
    const a = await openSerialLink(PATH, { portClass: SerialPortMock })
    await expect(openSerialLink(PATH, { portClass: SerialPortMock })).rejects.toMatchObject({ code: 'E_PORT_BUSY', exitCode: 5 })
    await a.close()
    const e = await openSerialLink('/dev/ttyNOPE', { portClass: SerialPortMock }).catch((x: unknown) => x as { message: string; exitCode: number })
    expect(e).toMatchObject({ exitCode: 5 })
    expect((e as { message: string }).message).toContain('/dev/ttyNOPE')
  })

  it('the real binding: a path that does not exist is E_PORT_NOT_FOUND with the `lwprov ports` hint', async () => {
    await expect(openSerialLink('/dev/lwprov-no-such-port')).rejects.toMatchObject({ code: 'E_PORT_NOT_FOUND', hint: expect.stringContaining('lwprov ports') })
  })
})
