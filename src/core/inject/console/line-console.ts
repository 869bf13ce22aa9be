/**
 * Text consoles over a `ByteLink` (Zephyr shells, AT interfaces): collects what the device prints with ANSI
 * sequences removed (device-shells.md §0), waits for a pattern with a timeout, and writes text. Bytes are read as
 * latin1 so nothing a device sends is lost or reinterpreted; callers escape it with `shown` before display.
 */
import { LwprovError, transportError } from '../../errors.js'
import type { ByteLink, InjectionHooks } from '../types.js'

/** CSI/OSC/other ESC sequences (colour codes, cursor moves): removed before any matching. */
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '')
}

/** Device output kept for diagnostics, characters. */
const MAX_LOG = 32 * 1024

export class LineConsole {
  private raw = ''
  private readonly off: () => void
  private readonly offClose: () => void
  private waiter: (() => void) | undefined
  private closed: Error | undefined
  /** Everything the device printed this session (ANSI stripped), for error details. */
  log = ''

  constructor(
    readonly link: ByteLink,
    private readonly hooks: InjectionHooks = {},
  ) {
    this.off = link.onData((chunk) => {
      const s = chunk.toString('latin1')
      this.raw += s
      this.log = (this.log + s).slice(-MAX_LOG)
      this.waiter?.()
    })
    this.offClose = link.onClose((err) => {
      this.closed = err ?? new Error('closed')
      this.waiter?.()
    })
  }

  /** What arrived since the last `clear`, ANSI removed. */
  text(): string {
    return stripAnsi(this.raw)
  }

  clear(): void {
    this.raw = ''
  }

  async write(text: string | Uint8Array): Promise<void> {
    await this.link.write(typeof text === 'string' ? Buffer.from(text, 'latin1') : text)
  }

  /**
   * Resolves with `test`'s result once it returns something other than undefined for the text so far; rejects with
   * E_DEVICE_TIMEOUT after `ms` (the message says what was awaited) or E_DEVICE_DISCONNECTED when the link closes.
   */
  async until<T>(test: (text: string) => T | undefined, ms: number, what: string): Promise<T> {
    const first = test(this.text())
    if (first !== undefined) return first
    return new Promise<T>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        this.hooks.signal?.removeEventListener('abort', onAbort)
        this.waiter = undefined
      }
      const onAbort = (): void => {
        done()
        reject(new LwprovError('E_INTERRUPTED', `Interrupted while waiting for ${what}.`, { exit: 'interrupted' }))
      }
      const timer = setTimeout(() => {
        done()
        reject(transportError('E_DEVICE_TIMEOUT', `${this.link.description} did not answer within ${ms} ms (waiting for ${what}).`, 'Check the port, baud rate and --protocol, and that the firmware has the console enabled.'))
      }, ms)
      this.hooks.signal?.addEventListener('abort', onAbort, { once: true })
      this.waiter = () => {
        if (this.closed) {
          done()
          reject(transportError('E_DEVICE_DISCONNECTED', `${this.link.description} closed while waiting for ${what}.`, 'The device hung up; check its power and cable, then retry.'))
          return
        }
        let v: T | undefined
        try {
          v = test(this.text())
        } catch (e) {
          done()
          reject(e)
          return
        }
        if (v !== undefined) {
          done()
          resolve(v)
        }
      }
      if (this.closed) this.waiter()
    })
  }

  /** Waits `ms` and returns what arrived (probes that must not miss a late answer use `until`). */
  async settle(ms: number): Promise<string> {
    await new Promise((r) => setTimeout(r, ms))
    return this.text()
  }

  dispose(): void {
    this.off()
    this.offClose()
    this.waiter = undefined
  }
}

/** Resolves after `ms` (pacing, asynchronous device operations). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
