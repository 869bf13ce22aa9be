/**
 * Listener plumbing shared by the serial and TCP links. Bytes that arrive while nobody listens are kept (a device
 * may answer before the protocol subscribes) until a listener subscribes or `flushInput()` drops them.
 */
import type { ByteLink } from '../core/inject/types.js'

export abstract class LinkBase implements ByteLink {
  abstract readonly description: string
  private readonly dataListeners = new Set<(chunk: Buffer) => void>()
  private readonly closeListeners = new Set<(err?: Error) => void>()
  private pending: Buffer[] = []
  protected closed = false
  private closeError: Error | undefined
  /** Rejecters of I/O operations in flight; a close fails them all (see `untilClosed`). */
  private readonly inflight = new Set<(err?: Error) => void>()

  abstract write(data: Uint8Array): Promise<void>
  abstract close(): Promise<void>

  onData(listener: (chunk: Buffer) => void): () => void {
    this.dataListeners.add(listener)
    if (this.pending.length > 0) {
      const queued = this.pending
      this.pending = []
      for (const c of queued) listener(c)
    }
    return () => this.dataListeners.delete(listener)
  }

  onClose(listener: (err?: Error) => void): () => void {
    // A listener added after the close still learns about it, so no caller waits forever on a dead link.
    if (this.closed) {
      queueMicrotask(() => listener(this.closeError))
      return () => {}
    }
    this.closeListeners.add(listener)
    return () => this.closeListeners.delete(listener)
  }

  async flushInput(): Promise<void> {
    this.pending = []
  }

  protected emitData(chunk: Buffer): void {
    if (this.dataListeners.size === 0) {
      this.pending.push(chunk)
      return
    }
    for (const l of [...this.dataListeners]) l(chunk)
  }

  /**
   * Settles `start`'s operation, or rejects with `closedError` once the link closes. I/O libraries may never settle an
   * operation overlapping a close (serialport queues a write or drain issued while the port is closing until the next
   * 'open', i.e. forever), and a promise nobody settles, with no handle left, ends the process with exit 13.
   */
  protected untilClosed<T>(start: (resolve: (v: T) => void, reject: (e: unknown) => void) => void, closedError: (cause?: Error) => Error): Promise<T> {
    if (this.closed) return Promise.reject(closedError(this.closeError))
    return new Promise<T>((resolve, reject) => {
      const onClose = (cause?: Error) => reject(closedError(cause))
      this.inflight.add(onClose)
      try {
        start(
          (v) => {
            this.inflight.delete(onClose)
            resolve(v)
          },
          (e) => {
            this.inflight.delete(onClose)
            reject(e)
          },
        )
      } catch (e) {
        this.inflight.delete(onClose)
        reject(e)
      }
    })
  }

  protected emitClose(err?: Error): void {
    if (this.closed) return
    this.closed = true
    this.closeError = err
    // Operations in flight first: a close listener may start the next one, which must see `closed`.
    const ops = [...this.inflight]
    this.inflight.clear()
    for (const fail of ops) fail(err)
    for (const l of [...this.closeListeners]) l(err)
    this.closeListeners.clear()
  }

  get isClosed(): boolean {
    return this.closed
  }
}
