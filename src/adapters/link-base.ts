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

  protected emitClose(err?: Error): void {
    if (this.closed) return
    this.closed = true
    this.closeError = err
    for (const l of [...this.closeListeners]) l(err)
    this.closeListeners.clear()
  }

  get isClosed(): boolean {
    return this.closed
  }
}
