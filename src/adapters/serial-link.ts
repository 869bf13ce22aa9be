/**
 * `ByteLink` over a serial port (USB CDC/UART, or a pseudo-terminal in tests) using the real `serialport` binding.
 * Library errors become `LwprovError`s that name the port and the fix. Modem lines (DTR/RTS) are never touched:
 * the ioctls fail on PTYs and most factory jigs wire reset separately.
 */
import fs from 'node:fs'

import { SerialPort, type SerialPortMock } from 'serialport'

import { LwprovError, transportError } from '../core/errors.js'
import { LinkBase } from './link-base.js'

export interface SerialLinkOptions {
  /** Baud rate; meaningless on PTYs. Default 115200. */
  baud?: number
  /** How long opening may take before giving up, ms. Default 5000. */
  openTimeoutMs?: number
  /**
   * Port constructor seam (serialport's "binding" idea): tests pass `SerialPortMock`; default the real `SerialPort`.
   */
  portClass?: typeof SerialPort | typeof SerialPortMock
}

type AnyPort = SerialPort | SerialPortMock

/**
 * The path is there but is no serial device (a directory, a regular file, /dev/null): an operator mistake, so a usage
 * error that no retry can fix.
 */
export function notSerialError(path: string, what: string, cause?: unknown): LwprovError {
  return new LwprovError('E_PORT_NOT_SERIAL', `${path} is not a serial device (${what}).`, {
    exit: 'usage',
    hint: 'Pass the serial port the device is on, e.g. --port /dev/ttyUSB0; `lwprov ports` lists serial ports.',
    ...(cause === undefined ? {} : { cause }),
  })
}

/** Maps an open/IO error of `serialport` to a transport error naming the port. */
export function translateSerialError(path: string, err: unknown): LwprovError {
  if (err instanceof LwprovError) return err
  const e = err as NodeJS.ErrnoException
  const msg = String(e?.message ?? err)
  // The Linux binding says "Is a directory, cannot open PATH" and, for files and other non-tty devices, "Inappropriate
  // ioctl for device setting custom baud rate" (ENOTTY).
  if (/EISDIR|Is a directory/i.test(msg) || e?.code === 'EISDIR') return notSerialError(path, 'it is a directory', err)
  if (/ENOTTY|Inappropriate ioctl|not a (character|tty|serial) device/i.test(msg) || e?.code === 'ENOTTY') {
    return notSerialError(path, 'it is not a terminal device', err)
  }
  if (/Port is locked|EBUSY|Resource temporarily unavailable|cannot lock/i.test(msg) || e?.code === 'EBUSY') {
    return transportError(
      'E_PORT_BUSY',
      `Serial port ${path} is in use by another program.`,
      'Close the other program (a terminal, another lwprov station, ModemManager) and try again.',
      err,
    )
  }
  if (/EACCES|Permission denied/i.test(msg) || e?.code === 'EACCES') {
    return transportError(
      'E_PORT_PERMISSION',
      `No permission to open serial port ${path}.`,
      'Add your user to the dialout group (`sudo usermod -aG dialout $USER`, then log in again) or run with access to the port.',
      err,
    )
  }
  // After the permission check: bindings phrase both as "…, cannot open PATH".
  if (/ENOENT|No such file/i.test(msg) || e?.code === 'ENOENT') {
    return transportError('E_PORT_NOT_FOUND', `Serial port ${path} does not exist.`, 'Check the cable, then run `lwprov ports` to list the ports present.', err)
  }
  return transportError('E_PORT_IO', `Serial port ${path}: ${msg}`, 'Check the cable and that the device is powered, then retry.', err)
}

class SerialLink extends LinkBase {
  readonly description: string

  constructor(private readonly port: AnyPort) {
    super()
    this.description = port.path
    port.on('data', (chunk: Buffer) => this.emitData(chunk))
    port.on('close', (err?: Error & { disconnected?: boolean }) => {
      this.emitClose(err ? transportError('E_LINK_CLOSED', `Serial port ${this.description} went away (device unplugged or reset).`, 'Reconnect the device and retry.', err) : undefined)
    })
    // Errors after open arrive here; the 'close' that follows carries the outcome.
    port.on('error', () => {})
  }

  write(data: Uint8Array): Promise<void> {
    // `isOpen` turns false as soon as serialport starts closing (a hang-up is noticed), before 'close' is emitted; a
    // write issued then would be queued until a re-open that never comes.
    if (this.closed || !this.port.isOpen) return Promise.reject(this.closedError())
    return this.untilClosed<void>(
      (resolve, reject) => {
        this.port.write(Buffer.from(data), (err) => {
          if (err) return reject(this.closed || !this.port.isOpen ? this.closedError(err) : translateSerialError(this.description, err))
          if (!this.port.isOpen) return reject(this.closedError())
          // drain: resolves once the OS took the bytes, so step timeouts measure the device, not our buffer.
          this.port.drain((e) => (e && !this.closed ? reject(translateSerialError(this.description, e)) : resolve()))
        })
      },
      (cause) => this.closedError(cause),
    )
  }

  private closedError(cause?: Error): LwprovError {
    return transportError('E_LINK_CLOSED', `Serial port ${this.description} is closed.`, 'Reconnect the device and retry.', cause)
  }

  override async flushInput(): Promise<void> {
    await super.flushInput()
    if (this.closed || !this.port.isOpen) return
    await this.untilClosed<void>(
      (resolve) => this.port.flush(() => resolve()),
      (cause) => this.closedError(cause),
    ).catch(() => undefined)
  }

  async close(): Promise<void> {
    if (this.closed || !this.port.isOpen) {
      this.emitClose()
      return
    }
    await new Promise<void>((resolve) => this.port.close(() => resolve()))
    this.emitClose()
  }
}

/** Refuses an existing path that cannot be a serial port before opening it; a missing path is left to `open`. */
function assertCharacterDevice(path: string): void {
  let st: fs.Stats
  try {
    st = fs.statSync(path)
  } catch {
    return
  }
  if (st.isDirectory()) throw notSerialError(path, 'it is a directory')
  if (!st.isCharacterDevice()) throw notSerialError(path, st.isFile() ? 'it is a regular file' : 'it is not a character device')
}

/**
 * Opens a serial port as a `ByteLink`; rejects with E_PORT_* / E_PORT_TIMEOUT transport errors, or the usage error
 * E_PORT_NOT_SERIAL for a path that is not a serial device.
 */
export async function openSerialLink(path: string, opts: SerialLinkOptions = {}): Promise<LinkBase> {
  const timeoutMs = opts.openTimeoutMs ?? 5000
  const Port = opts.portClass ?? SerialPort
  if (!opts.portClass) assertCharacterDevice(path)
  const port: AnyPort = new Port({ path, baudRate: opts.baud ?? 115200, autoOpen: false, hupcl: false })
  await new Promise<void>((resolve, reject) => {
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      reject(transportError('E_PORT_TIMEOUT', `Opening serial port ${path} took longer than ${timeoutMs} ms.`, 'Check that the device is connected and not stuck; unplug and replug it.'))
    }, timeoutMs)
    port.open((err) => {
      clearTimeout(timer)
      // An open that completes after we gave up must still be closed, or its poll handle keeps the process alive.
      if (timedOut) {
        if (!err) port.close(() => {})
        return
      }
      if (err) reject(translateSerialError(path, err))
      else resolve()
    })
  })
  return new SerialLink(port)
}
