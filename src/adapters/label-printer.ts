/**
 * Networked label printers (Zebra "raw" port 9100): `tcp://HOST[:PORT]` → a socket the ZPL is written to. The
 * connection is opened up front (so an unreachable printer is known before claim codes exist) and `close` resolves
 * once the printer has everything (our FIN sent and the socket closed).
 */
import { connect, type Socket } from 'node:net'

import { transportError, usageError } from '../core/errors.js'
import type { PrinterConnection } from '../core/labels/output.js'

export function parsePrinterUrl(url: string): { host: string; port: number } {
  const m = /^tcp:\/\/(\[[0-9a-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/i.exec(url)
  const port = m?.[2] === undefined ? 9100 : Number(m[2])
  if (!m || port < 1 || port > 65535) throw usageError('E_PRINTER_URL_INVALID', `${url} is not a printer address.`, 'Use tcp://HOST:9100 (the printer\'s raw port).')
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port }
}

export function connectPrinter(url: string, timeoutMs = Number(process.env.LWPROV_PRINTER_TIMEOUT_MS ?? 10_000)): Promise<PrinterConnection> {
  const { host, port } = parsePrinterUrl(url)
  return new Promise((res, rej) => {
    const sock: Socket = connect({ host, port })
    const fail = (e: Error) => {
      sock.destroy()
      rej(transportError('E_PRINTER_UNREACHABLE', `Cannot reach the label printer at ${host}:${port} (${(e as NodeJS.ErrnoException).code ?? e.message}).`, 'Check the printer is on the network and its raw port (9100) is open, or write the labels to a file.', e))
    }
    sock.setTimeout(timeoutMs, () => fail(new Error('timed out')))
    sock.once('error', fail)
    sock.once('connect', () => {
      sock.off('error', fail)
      let error: Error | undefined
      sock.on('error', (e) => (error = e))
      res({
        stream: sock,
        destroy: () => sock.destroy(),
        close: () =>
          new Promise<void>((ok, ko) => {
            if (error) return ko(sendFailed(host, port, error))
            sock.once('close', () => (error ? ko(sendFailed(host, port, error)) : ok()))
            // a printer that never closes its side: everything was handed to the kernel, stop waiting after a while
            sock.once('finish', () => setTimeout(() => sock.destroy(), Math.min(timeoutMs, 2000)).unref())
            sock.end()
          }),
      })
    })
  })
}

function sendFailed(host: string, port: number, e: Error) {
  return transportError('E_PRINTER_SEND_FAILED', `The label printer at ${host}:${port} dropped the connection (${(e as NodeJS.ErrnoException).code ?? e.message}).`, 'Check the printer, then reprint with `lwprov labels`.', e)
}
