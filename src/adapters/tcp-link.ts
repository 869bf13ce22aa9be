/**
 * `ByteLink` over TCP, for Linux devices that run the factory configurator on a socket (`--tcp HOST:PORT`).
 */
import net from 'node:net'

import { transportError, usageError } from '../core/errors.js'
import { LinkBase } from './link-base.js'

export interface TcpLinkOptions {
  /** Connect timeout, ms. Default 5000. */
  connectTimeoutMs?: number
}

/** Parses `HOST:PORT` (IPv6 as `[::1]:PORT`). */
export function parseTcpAddress(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(addr.trim())
  const port = m ? Number(m[3]) : NaN
  if (!m || !(port > 0 && port < 65536)) {
    throw usageError('E_TCP_ADDRESS', `'${addr}' is not a HOST:PORT address.`, 'Pass --tcp 192.168.1.20:7777 (or [::1]:7777).')
  }
  return { host: (m[1] ?? m[2])!, port }
}

class TcpLink extends LinkBase {
  readonly description: string

  constructor(private readonly socket: net.Socket, host: string, port: number) {
    super()
    this.description = `tcp://${host.includes(':') ? `[${host}]` : host}:${port}`
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.emitData(chunk))
    socket.on('error', () => {})
    socket.on('close', (hadError) => {
      this.emitClose(hadError ? transportError('E_LINK_CLOSED', `The connection to ${this.description} broke.`, 'Check the device and the network, then retry.') : undefined)
    })
  }

  write(data: Uint8Array): Promise<void> {
    if (this.closed || this.socket.destroyed) {
      return Promise.reject(transportError('E_LINK_CLOSED', `The connection to ${this.description} is closed.`, 'The device hung up; retry.'))
    }
    // Settled by the close too: a write must never outlive the connection.
    return this.untilClosed<void>(
      (resolve, reject) => {
        this.socket.write(Buffer.from(data), (err) =>
          err ? reject(transportError('E_LINK_CLOSED', `Writing to ${this.description} failed: ${err.message}`, 'The device hung up; retry.', err)) : resolve(),
        )
      },
      (cause) => transportError('E_LINK_CLOSED', `The connection to ${this.description} closed during a write.`, 'The device hung up; retry.', cause),
    )
  }

  async close(): Promise<void> {
    if (this.closed) return
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve())
      this.socket.end()
      // A peer that never acknowledges the FIN must not hold us.
      setTimeout(() => {
        this.socket.destroy()
        resolve()
      }, 500).unref()
    })
    this.emitClose()
  }
}

/** Connects to `HOST:PORT`; rejects with E_TCP_CONNECT (transport, exit 5). */
export async function openTcpLink(address: string, opts: TcpLinkOptions = {}): Promise<LinkBase> {
  const { host, port } = parseTcpAddress(address)
  const timeoutMs = opts.connectTimeoutMs ?? 5000
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host, port })
    const timer = setTimeout(() => {
      s.destroy()
      reject(transportError('E_TCP_CONNECT', `Connecting to ${address} took longer than ${timeoutMs} ms.`, 'Check the device address, that it is on the network, and that its factory service listens on that port.'))
    }, timeoutMs)
    s.once('connect', () => {
      clearTimeout(timer)
      resolve(s)
    })
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(
        transportError(
          'E_TCP_CONNECT',
          `Cannot connect to ${address}: ${err.code ?? err.message}.`,
          err.code === 'ECONNREFUSED' ? 'Nothing listens there: start the device\'s factory service (or `lwprov sim --tcp PORT`) and check the port.' : 'Check the device address and the network.',
          err,
        ),
      )
    })
  })
  return new TcpLink(socket, host, port)
}
