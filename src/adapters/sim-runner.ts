/**
 * Runs a simulated device (`lwprov sim`): wires a protocol's `SimDevice` to a PTY or a TCP port, applies faults,
 * paces host bytes to a baud rate, stores committed payloads, and optionally comes back as a new device after each
 * provisioning (`renew`). Each TCP connection / each open of the PTY is a new session with a freshly booted device.
 */
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import { randomBytes } from 'node:crypto'

import { transportError } from '../core/errors.js'
import { writeOutputFileSync } from '../core/fs/safe-write.js'
import { FaultPlan, FaultSession, type FaultSpec, type SimDevice, type SimDeviceOptions } from '../core/inject/faults.js'
import { openPty, type PtyDevice, type PtyEngine } from './pty.js'

export type SimProtocol = 'fcc' | 'lwprov' | 'zephyr-shell' | 'nrf-at' | 'mcumgr'

export interface SimulatorOptions {
  protocol: SimProtocol
  /** PTY mode: the symlink to create. */
  link?: string
  /** TCP mode: port on 127.0.0.1 (0 = any free port). */
  tcpPort?: number
  /** Serial number the device reports; default SIM- + 8 random hex digits. */
  serial?: string
  fault?: FaultSpec
  /** File the committed payload is written to (mode 0600: it holds credentials). */
  storeFile?: string
  /** Replace an existing store file the first time (else refused). */
  storeForce?: boolean
  /** After a session that stored credentials, reappear as a new device (next serial, new PTY). */
  renew?: boolean
  /** Deliver host bytes no faster than baud/10 bytes/s (models a UART); default: unpaced. */
  baud?: number
  /** With `baud`: pace the device's replies too (chatty consoles: hex dumps, echo); default: replies unpaced. */
  paceReplies?: boolean
  /** PTY engine override (tests). */
  engine?: PtyEngine
  /** Simulator status lines (session start/end, faults). */
  log?: (line: string) => void
  /** Device log lines. */
  deviceLog?: (line: string) => void
  /** Extra options for the protocol's simulated device (e.g. zephyr-shell `contextDelayMs`, mcumgr `idleMs`). */
  deviceOptions?: Record<string, unknown>
  /** lwprov: highest protocol version the simulated device speaks (1 = an old receiver without the v2 proof). */
  protocolVersion?: number
  /** Device factory override (tests); default: the protocol's simulated device. */
  createDevice?: (o: SimDeviceOptions) => SimDevice
}

/** Events: `session` (serial), `session-end` ({serial, stored, struck}), `stored` ({serial, bytes}), `renew` (new serial). */
export interface Simulator extends EventEmitter {
  readonly protocol: SimProtocol
  readonly link?: string
  readonly port?: number
  /** Serial of the device currently attached. */
  readonly serial: string
  close(): Promise<void>
}

/** Default serial: unique per run, so two simulators never look like the same device to the manifest. */
export function randomSimSerial(): string {
  return `SIM-${randomBytes(4).toString('hex').toUpperCase()}`
}

/** SIM-0001 → SIM-0002 (keeps the width); no trailing digits → append -2. */
export function nextSerial(serial: string): string {
  const m = /^(.*?)(\d+)$/.exec(serial)
  if (!m) return `${serial}-2`
  const n = String(Number(m[2]) + 1).padStart(m[2]!.length, '0')
  return `${m[1]}${n}`
}

async function deviceFactory(protocol: SimProtocol, transport: 'serial' | 'tcp', extra: Record<string, unknown> = {}): Promise<(o: SimDeviceOptions) => SimDevice> {
  if (protocol === 'zephyr-shell' || protocol === 'nrf-at' || protocol === 'mcumgr') {
    const { fieldDeviceFactory } = await import('../core/inject/field-sims.js')
    return fieldDeviceFactory(protocol, extra)
  }
  if (protocol === 'lwprov') {
    const { LwprovSimDevice } = await import('../core/inject/lwprov/index.js')
    return (o) => new LwprovSimDevice(o)
  }
  const { FccSimDevice } = await import('../core/inject/fcc/index.js')
  // FCC over TCP behaves differently on the line (no trace text, hangs up after a session): izuma-fcc.md §4.
  return (o) => new FccSimDevice({ ...o, transport })
}

/** Paces bytes to baud/10 bytes per second (8N1 = 10 bits a byte). */
class Pacer {
  private queue: Buffer[] = []
  private timer: NodeJS.Timeout | undefined
  private credit = 0
  private last = 0

  constructor(
    private readonly bytesPerSec: number,
    private readonly deliver: (b: Buffer) => void,
  ) {}

  push(b: Buffer): void {
    this.queue.push(b)
    if (!this.timer) {
      this.last = performance.now()
      this.credit = Math.max(1, Math.floor(this.bytesPerSec / 1000))
      this.tick()
    }
  }

  private tick = (): void => {
    const now = performance.now()
    this.credit += ((now - this.last) * this.bytesPerSec) / 1000
    this.last = now
    while (this.queue.length > 0 && this.credit >= 1) {
      const head = this.queue[0]!
      const n = Math.min(head.length, Math.floor(this.credit))
      this.credit -= n
      if (n === head.length) this.queue.shift()
      else this.queue[0] = head.subarray(n)
      this.deliver(head.subarray(0, n))
    }
    if (this.queue.length === 0) {
      this.timer = undefined
      this.credit = 0
      return
    }
    this.timer = setTimeout(this.tick, 2)
  }

  clear(): void {
    this.queue = []
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }
}

class SimulatorImpl extends EventEmitter implements Simulator {
  link?: string
  port?: number
  serial: string
  private readonly plan: FaultPlan
  private pty: PtyDevice | undefined
  private server: net.Server | undefined
  private readonly sockets = new Set<net.Socket>()
  private closed = false

  constructor(
    readonly protocol: SimProtocol,
    private readonly opts: SimulatorOptions,
    private readonly make: (o: SimDeviceOptions) => SimDevice,
  ) {
    super()
    this.serial = opts.serial ?? randomSimSerial()
    this.plan = new FaultPlan(opts.fault)
  }

  private storeWritten = false

  private log(line: string): void {
    this.opts.log?.(line)
  }

  /**
   * Persists what the device stored (it may hold secrets). `mode` only applies when the file is created, so an existing
   * file is chmod-ed too. This runs inside the device's callback: a bad --store path is logged, never thrown into it.
   */
  private writeStore(file: string, bytes: Buffer, serial: string): void {
    try {
      // through the safe-output helper: a file this run did not write is replaced only with --force, never the
      // manifest, a CA file or a symlink's target; the device's later stores replace this run's own file
      writeOutputFileSync(file, bytes, { mode: 0o600, secret: true, force: this.storeWritten || (this.opts.storeForce ?? false), flag: '--store' })
      this.storeWritten = true
    } catch (e) {
      this.log(`${serial}: could not write the store file ${file}: ${(e as Error).message}`)
    }
  }

  /** A new session: a freshly booted device behind the fault wrapper. */
  private newSession(
    send: (b: Buffer) => void,
    hangup: () => void,
    disconnect?: () => void,
  ): { receive: (b: Buffer) => void; end: () => void } {
    const serial = this.serial
    let stored = false
    const replies = this.opts.baud && this.opts.paceReplies ? new Pacer(this.opts.baud / 10, send) : undefined
    if (replies) send = (b) => replies.push(b)
    const device = this.make({
      serial,
      ...this.plan.deviceFlags(),
      ...(this.opts.protocolVersion === undefined ? {} : { protocolVersion: this.opts.protocolVersion }),
      store: (bytes) => {
        stored = true
        if (this.opts.storeFile) this.writeStore(this.opts.storeFile, bytes, serial)
        this.log(`${serial}: stored ${bytes.length} bytes`)
        this.emit('stored', { serial, bytes })
      },
      log: (line) => this.opts.deviceLog?.(line),
    })
    // A device that closes the connection itself (FCC over TCP after its last message) does so after its answer.
    if (disconnect) device.onDisconnect?.(disconnect)
    const fs_ = new FaultSession(device, this.plan, { send, hangup, note: (w) => this.log(`${serial}: fault: ${w}`) })
    const pacer = this.opts.baud ? new Pacer(this.opts.baud / 10, (b) => fs_.receive(b)) : undefined
    this.log(`${serial}: session start`)
    this.emit('session', serial)
    let ended = false
    return {
      receive: (b) => (pacer ? pacer.push(b) : fs_.receive(b)),
      end: () => {
        if (ended) return
        ended = true
        pacer?.clear()
        replies?.clear()
        fs_.end()
        this.log(`${serial}: session end${stored ? ' (provisioned)' : ''}`)
        this.emit('session-end', { serial, stored, struck: fs_.struck })
        if (stored && this.opts.renew && !this.closed) {
          this.serial = nextSerial(this.serial)
          this.log(`renewed: now ${this.serial}`)
          this.emit('renew', this.serial)
          // A real board is unplugged and the next one plugged in: the PTY disappears and comes back.
          if (this.pty) void this.pty.hangup()
        }
      },
    }
  }

  async startPty(link: string): Promise<void> {
    const pty = await openPty(link, this.opts.engine ? { engine: this.opts.engine } : {})
    this.pty = pty
    this.link = link
    let session: ReturnType<SimulatorImpl['newSession']> | undefined
    const begin = () => {
      session?.end()
      session = this.newSession(
        (b) => pty.write(b),
        () => {
          session?.end()
          session = undefined
          void pty.hangup()
        },
      )
    }
    pty.on('open', begin)
    pty.on('close', () => {
      session?.end()
      session = undefined
    })
    pty.on('data', (b: Buffer) => {
      // socat engine: no open/close events after a hang-up until data arrives.
      if (!session) begin()
      session!.receive(b)
    })
    pty.on('error', (e: Error) => this.emit('error', e))
    if (pty.hostOpen) begin()
  }

  async startTcp(port: number): Promise<void> {
    const server = net.createServer((sock) => {
      this.sockets.add(sock)
      sock.setNoDelay(true)
      const s = this.newSession(
        (b) => {
          if (!sock.destroyed) sock.write(b)
        },
        () => sock.destroy(),
        () => sock.end(),
      )
      sock.on('data', (b: Buffer) => s.receive(b))
      sock.on('error', () => {})
      sock.on('close', () => {
        this.sockets.delete(sock)
        s.end()
      })
    })
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          transportError(
            e.code === 'EADDRINUSE' ? 'E_TCP_PORT_BUSY' : 'E_TCP_LISTEN',
            `Cannot listen on 127.0.0.1:${port}: ${e.code ?? e.message}.`,
            e.code === 'EADDRINUSE' ? 'Pick another port, or --tcp 0 for a free one.' : 'Check the port number.',
            e,
          ),
        ),
      )
      server.listen(port, '127.0.0.1', () => resolve())
    })
    const addr = server.address()
    this.port = typeof addr === 'object' && addr ? addr.port : port
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const s of this.sockets) s.destroy()
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()))
    if (this.pty) await this.pty.close()
  }
}

/** Starts a simulator; resolves once the PTY link exists / the TCP port listens. */
export async function startSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const make = opts.createDevice ?? (await deviceFactory(opts.protocol, opts.link !== undefined ? 'serial' : 'tcp', opts.deviceOptions))
  const sim = new SimulatorImpl(opts.protocol, opts, make)
  if (opts.link !== undefined) await sim.startPty(opts.link)
  else await sim.startTcp(opts.tcpPort ?? 0)
  return sim
}
