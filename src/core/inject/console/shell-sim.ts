/**
 * The character-level behaviour of a Zephyr shell, for simulators (device-shells.md §0, §1.1): echo, prompt,
 * colour codes until `shell colors off`, Ctrl-C, backspace, a fixed command buffer (characters past it are
 * dropped) and a small RX ring buffer (a burst longer than it loses its tail, like polled UART mode). Subclasses
 * answer command lines.
 */
import type { SimDevice, SimDeviceOptions } from '../faults.js'

export interface ShellSimOptions extends SimDeviceOptions {
  /** Prompt text; default `uart:~$ `. */
  prompt?: string
  /** CONFIG_SHELL_CMD_BUFF_SIZE; default 1024 (what the docs ask firmware to set for PEM values). */
  cmdBuffer?: number
  /** Bytes one burst may hold before the RX ring overflows; default 256. */
  rxRing?: number
  /** Print a boot banner and the prompt when the session starts; default true. */
  banner?: boolean
}

const RED = '\x1b[1;31m'
const GREEN = '\x1b[1;32m'
const RESET = '\x1b[0m'

export abstract class ShellSim implements SimDevice {
  protected colors = true
  private line = ''
  private lastCr = false
  private esc = 0
  private readonly senders: ((b: Buffer) => void)[] = []
  protected readonly prompt: string
  protected readonly cmdBuffer: number
  private readonly rxRing: number
  protected booted = Date.now()

  constructor(protected readonly opts: ShellSimOptions) {
    this.prompt = opts.prompt ?? 'uart:~$ '
    this.cmdBuffer = opts.cmdBuffer ?? 1024
    this.rxRing = opts.rxRing ?? 256
    if (opts.banner !== false) {
      setImmediate(() => {
        this.send(`\r\n*** Booting Zephyr OS build v3.4.0 ***\r\n${this.bootBanner()}`)
        this.showPrompt()
      })
    }
  }

  onSend(cb: (bytes: Buffer) => void): void {
    this.senders.push(cb)
  }

  protected send(text: string | Buffer): void {
    const b = typeof text === 'string' ? Buffer.from(text, 'latin1') : text
    for (const s of this.senders) s(b)
  }

  protected bootBanner(): string {
    return ''
  }

  protected showPrompt(): void {
    this.send(this.colors ? `${GREEN}${this.prompt}${RESET}` : this.prompt)
  }

  /** Prints output lines; `error` lines are red while colours are on. */
  protected print(lines: string[], error = false): void {
    for (const l of lines) this.send(this.colors && error ? `${RED}${l}${RESET}\r\n` : `${l}\r\n`)
  }

  reset(): void {
    this.line = ''
    this.colors = true
    this.booted = Date.now()
    this.onReset()
    this.send('\r\n*** Booting Zephyr OS build v3.4.0 ***\r\n')
    this.showPrompt()
  }

  protected onReset(): void {}

  /** A frame the subclass recognises before the shell sees the bytes (SMP); returns the bytes it did not take. */
  protected intercept(chunk: Buffer): Buffer {
    return chunk
  }

  receive(chunk: Buffer): void {
    let data = this.intercept(chunk)
    if (data.length > this.rxRing) {
      this.opts.log?.('RX ring buffer full')
      data = data.subarray(0, this.rxRing)
    }
    for (const b of data) this.byte(b)
  }

  private byte(b: number): void {
    if (this.esc > 0) {
      // ESC [ … final byte: cursor keys and the like are ignored
      if (this.esc === 1 && b !== 0x5b) this.esc = 0
      else if (this.esc === 2 && b >= 0x40 && b <= 0x7e) this.esc = 0
      else this.esc = 2
      return
    }
    if (b === 0x1b) {
      this.esc = 1
      return
    }
    if (b === 0x0d || b === 0x0a) {
      const skip = b === 0x0a && this.lastCr
      this.lastCr = b === 0x0d
      if (skip) return
      const line = this.line
      this.line = ''
      this.send('\r\n')
      this.execute(line.trim())
      return
    }
    this.lastCr = false
    if (b === 0x03) {
      this.line = ''
      this.send('\r\n')
      this.showPrompt()
      return
    }
    if (b === 0x08 || b === 0x7f) {
      if (this.line.length > 0) {
        this.line = this.line.slice(0, -1)
        this.send('\x08 \x08')
      }
      return
    }
    if (b < 0x20 || b > 0x7e) return
    // the command buffer is full: further characters are neither stored nor echoed
    if (this.line.length >= this.cmdBuffer - 1) return
    this.line += String.fromCharCode(b)
    this.send(String.fromCharCode(b))
  }

  private execute(line: string): void {
    if (line === '') {
      this.showPrompt()
      return
    }
    if (line === 'shell colors off' || line === 'shell colors on') {
      this.colors = line.endsWith('on')
      this.showPrompt()
      return
    }
    const done = (): void => this.showPrompt()
    const r = this.command(line)
    if (r instanceof Promise) void r.then(done, done)
    else done()
  }

  /** Answers one command line (print what the firmware prints); may be asynchronous. */
  protected abstract command(line: string): void | Promise<void>

  /** The shell's reply to an unknown command. */
  protected notFound(line: string): void {
    this.print([`${line.split(' ')[0]}: command not found`], true)
  }
}
