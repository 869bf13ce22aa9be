/** An in-memory ByteLink wired to an FccSimDevice through two PassThrough streams (Node 20 has no duplexPair). */
import { PassThrough } from 'node:stream'

import type { ByteLink } from '../../../src/core/inject/types.js'
import type { FccSimDevice } from '../../../src/core/inject/fcc/sim.js'

export interface SimLinkOptions {
  /** Split host → device writes into chunks of at most this many bytes (1 = byte by byte). */
  chunk?: number | (() => number)
  /** Bytes the line delivers to the host before anything else (boot noise). */
  preamble?: Buffer
  /** Split device → host bytes into chunks of at most this many bytes. */
  hostChunk?: number | (() => number)
  /** Drop device output (a device that never answers). */
  mute?: boolean
  /** Flip a bit of the host's n-th written byte (line corruption). */
  corruptWriteAt?: number
}

export function simLink(sim: FccSimDevice, opts: SimLinkOptions = {}): ByteLink & { written: Buffer[]; closed: boolean } {
  const toDevice = new PassThrough()
  const toHost = new PassThrough()
  const closeListeners = new Set<(err?: Error) => void>()
  const written: Buffer[] = []
  let closed = false
  const doClose = () => {
    if (closed) return
    closed = true
    // Deliver buffered bytes first, then the close, as a socket would.
    toHost.end()
  }
  toHost.on('end', () => {
    for (const l of closeListeners) l()
  })
  toDevice.on('data', (chunk: Buffer) => {
    const size = typeof opts.chunk === 'function' ? opts.chunk() : opts.chunk
    if (!size) return sim.receive(chunk)
    for (let at = 0; at < chunk.length; ) {
      const n = typeof opts.chunk === 'function' ? opts.chunk() : size
      sim.receive(chunk.subarray(at, at + n))
      at += n
    }
  })
  sim.onSend((bytes) => {
    if (opts.mute || closed) return
    if (!opts.hostChunk) return void toHost.write(bytes)
    for (let at = 0; at < bytes.length; ) {
      const n = typeof opts.hostChunk === 'function' ? opts.hostChunk() : opts.hostChunk
      toHost.write(bytes.subarray(at, at + n))
      at += n
    }
  })
  sim.onDisconnect(doClose)
  if (opts.preamble) toHost.write(opts.preamble)
  return {
    description: 'mem://fcc-sim',
    written,
    get closed() {
      return closed
    },
    async write(data) {
      const b = Buffer.from(data)
      const before = written.reduce((n, w) => n + w.length, 0)
      const at = (opts.corruptWriteAt ?? -1) - before
      if (at >= 0 && at < b.length) b[at]! ^= 0x01
      written.push(b)
      toDevice.write(b)
    },
    onData(listener) {
      toHost.on('data', listener)
      return () => toHost.off('data', listener)
    },
    onClose(listener) {
      closeListeners.add(listener)
      return () => closeListeners.delete(listener)
    },
    async close() {
      doClose()
    },
  }
}
