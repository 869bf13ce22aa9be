/**
 * The device side of a pseudo-terminal, for `lwprov sim` and tests: a PTY whose slave is symlinked at a path the host
 * opens like any serial port, with the master's bytes delivered here.
 *
 * Two engines. The default is a tiny python3 helper (python3 is on every Linux/macOS machine): it holds only the PTY
 * master, so the kernel's POLLHUP tells it when the host opens and closes the port, and a re-open starts a new device
 * session (faults, `--fault-once`, `--renew` depend on that). socat is the fallback when python3 is missing: it keeps
 * its own slave open, so host re-opens are invisible and a session only ends with `hangup()`.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'

const { accessSync, constants, statSync } = fs
const { delimiter, join } = path

import { transportError, usageError } from '../core/errors.js'

export type PtyEngine = 'python' | 'socat'

/** Events: `open` (host opened the port), `close` (host closed it, or hang-up), `data` (Buffer from the host). */
export interface PtyDevice extends EventEmitter {
  /** The symlink the host opens. */
  readonly link: string
  readonly engine: PtyEngine
  /** Current /dev/pts/N, once known. */
  readonly ttyPath: string | undefined
  /** True while a host has the port open (socat engine: always true once ready). */
  readonly hostOpen: boolean
  /** Sends bytes to the host; dropped while no host has the port open (like a UART nobody listens to). */
  write(data: Uint8Array): void
  /** The device "unplugs": the PTY is destroyed (host reads fail) and a fresh one appears at the same link. */
  hangup(): Promise<void>
  /** Destroys the PTY and removes the link. */
  close(): Promise<void>
}

export interface OpenPtyOptions {
  /** Default: python when available, else socat. */
  engine?: PtyEngine
  /** How long to wait for the link to appear, ms. Default 10000. */
  readyTimeoutMs?: number
}

// Protocol between node and the helper, both ways: 1-byte type + uint32 BE length + payload.
// helper → node: R(tty path) ready, O opened, C closed, D data.  node → helper: D (uint32 BE session + data), H hang up, Q quit.
// Sessions are numbered by the 'O's, counted on both sides: the helper drops bytes a device sent for a session the host
// has already closed, so a late reply never reaches the next opener.
//
// Ordering (why the loop is shaped as it is): the kernel queues the inotify IN_OPEN event before the host's open()
// returns, so before any byte the new host writes. Draining inotify (and reporting C/O) before every read of the
// master, and again after it before forwarding the bytes, guarantees a re-open is reported ahead of the data that
// follows it; bytes read after a re-open became known go to the new session (the old host has closed: nobody is
// listening to that device any more).
const PY_HELPER = String.raw`
import os, pty, sys, tty, select, struct, time, errno
link = sys.argv[1]
try:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.inotify_init1
except Exception:
    libc = None
def out(t, d=b''):
    b = t + struct.pack('>I', len(d)) + d
    while b:
        n = os.write(1, b); b = b[n:]
def watch(name):
    # Linux: inotify reports the host opening the tty at once; elsewhere we poll for POLLHUP every 20 ms.
    if libc is None: return None
    try:
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0: return None
        if libc.inotify_add_watch(fd, name.encode(), 0x20 | 0x08 | 0x10) < 0:
            os.close(fd); return None
        return fd
    except Exception:
        return None
def make():
    m, s = pty.openpty()
    tty.setraw(s)
    name = os.ttyname(s)
    os.close(s)
    tmp = link + '.lwprov-tmp'
    try: os.unlink(tmp)
    except OSError: pass
    os.symlink(name, tmp); os.rename(tmp, link)
    out(b'R', name.encode())
    return m, watch(name)
def unlink():
    try:
        if os.readlink(link).startswith('/dev/'): os.unlink(link)
    except OSError: pass
def mstate():
    p = select.poll(); p.register(m, select.POLLIN)
    ev = p.poll(0)
    return ev[0][1] if ev else 0
def hup():
    return bool(mstate() & select.POLLHUP)
def begin():
    global opened, closed_seen, gen
    opened = True; closed_seen = False; gen += 1; out(b'O')
def sync():
    # Apply every open/close the kernel has reported so far. A close followed by an open between two wake-ups (the
    # POLLHUP state never seen) is still two sessions.
    global closed_seen
    if ino is None: return
    while True:
        try: buf = os.read(ino, 4096)
        except OSError: return
        if not buf: return
        i = 0
        while i + 16 <= len(buf):
            _, mask, _, ln = struct.unpack_from('iIII', buf, i); i += 16 + ln
            if mask & 0x18:
                if opened: closed_seen = True
            elif mask & 0x20 and closed_seen and opened:
                out(b'C'); begin()
m, ino = make(); opened = False; inbuf = b''; closed_seen = False; gen = 0
while True:
    sync()
    if not opened and not hup(): begin()
    p = select.poll(); p.register(0, select.POLLIN)
    if opened: p.register(m, select.POLLIN)
    if ino is not None: p.register(ino, select.POLLIN)
    ready = set(fd for fd, _ in p.poll(None if opened else 20))
    # Hang-up / close / open news first, then the master's bytes.
    sync()
    if opened and m in ready:
        ev = mstate()  # afresh: the wake-up's POLLHUP may belong to a session sync() has just closed
        data = b''
        if ev & select.POLLIN:
            try: data = os.read(m, 65536)
            except OSError: data = b''
        if data:
            sync()  # a re-open that raced with the read is still reported before these bytes
            out(b'D', data)
        elif ev & (select.POLLHUP | select.POLLERR):
            sync()
            if opened and hup():  # still hung up: no re-open seen in the meantime
                opened = False; closed_seen = False; out(b'C')
    if 0 in ready:
        chunk = os.read(0, 65536)
        if not chunk:
            unlink(); sys.exit(0)
        inbuf += chunk
        while len(inbuf) >= 5:
            t = inbuf[:1]; n = struct.unpack('>I', inbuf[1:5])[0]
            if len(inbuf) < 5 + n: break
            d = inbuf[5:5+n]; inbuf = inbuf[5+n:]
            if t == b'D' and opened and len(d) >= 4 and struct.unpack('>I', d[:4])[0] == gen:
                d = d[4:]
                try:
                    while d:
                        k = os.write(m, d); d = d[k:]
                except OSError: pass
            elif t == b'H':
                # the new PTY replaces the link atomically, so the path never dangles; then the old one dies
                old, oldino = m, ino; m, ino = make(); os.close(old)
                if oldino is not None: os.close(oldino)
                if opened: opened = False; out(b'C')
                closed_seen = False
            elif t == b'Q':
                os.close(m); unlink(); sys.exit(0)
`

/**
 * An executable by file-system lookup, no process spawned: system directories first, then PATH. Version-manager shims
 * (pyenv) are shell scripts that take seconds under load; simulators are the demo's and tests' devices and must start
 * at once, so the interpreter is looked up rather than probed by running it.
 */
function findExecutable(cmd: string): string | undefined {
  const dirs = ['/usr/bin', '/usr/local/bin', '/bin', '/opt/homebrew/bin', ...(process.env.PATH ?? '').split(delimiter)]
  for (const d of dirs) {
    if (!d) continue
    const p = join(d, cmd)
    try {
      accessSync(p, constants.X_OK)
      if (statSync(p).isFile()) return p
    } catch {
      // not here
    }
  }
  return undefined
}

let engineCache: { engine: PtyEngine; path: string } | undefined
function engineInfo(): { engine: PtyEngine; path: string } {
  if (engineCache) return engineCache
  const python = findExecutable('python3')
  const socat = python ? undefined : findExecutable('socat')
  if (python) engineCache = { engine: 'python', path: python }
  else if (socat) engineCache = { engine: 'socat', path: socat }
  else {
    throw transportError(
      'E_PTY_UNAVAILABLE',
      'Cannot create a pseudo-terminal: neither python3 nor socat is installed.',
      'Install python3 or socat (apt-get install socat), or use `lwprov sim --tcp PORT`.',
    )
  }
  return engineCache
}

/** Which engine works on this machine (cached). */
export function detectPtyEngine(): PtyEngine {
  return engineInfo().engine
}

function enginePath(engine: PtyEngine): string {
  const info = engineInfo()
  return info.engine === engine ? info.path : (findExecutable(engine === 'python' ? 'python3' : 'socat') ?? (engine === 'python' ? 'python3' : 'socat'))
}

const live = new Set<PtyDeviceImpl>()
let exitHookInstalled = false
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // Last resort on abrupt exits: the helpers also remove their link when our end of their stdin closes.
  process.on('exit', () => {
    for (const p of live) p.killNow()
  })
}

class PtyDeviceImpl extends EventEmitter implements PtyDevice {
  ttyPath: string | undefined
  hostOpen = false
  private child: ChildProcess | undefined
  private rx: Buffer = Buffer.alloc(0)
  /** Number of 'O's seen from the python helper: tags our writes with the session they belong to. */
  private session = 0
  private closing = false
  private readyWaiters: Array<() => void> = []

  constructor(
    readonly link: string,
    readonly engine: PtyEngine,
  ) {
    super()
  }

  start(): void {
    if (this.engine === 'python') {
      // -I -S: no site packages, no environment: the helper needs only os/pty/select and starts faster without them.
      const c = spawn(enginePath('python'), ['-I', '-S', '-c', PY_HELPER, this.link], { stdio: ['pipe', 'pipe', 'inherit'] })
      c.stdout!.on('data', (b: Buffer) => this.onHelper(b))
      this.attach(c)
    } else {
      const c = spawn(enginePath('socat'), ['-d', '-d', `pty,raw,echo=0,link=${this.link}`, 'STDIO'], { stdio: ['pipe', 'pipe', 'pipe'] })
      c.stdout!.on('data', (b: Buffer) => this.emit('data', b))
      let err = ''
      c.stderr!.on('data', (b: Buffer) => {
        err += b.toString()
        const m = /PTY is (\S+)/.exec(err)
        if (m && this.ttyPath === undefined) {
          this.ttyPath = m[1]
          void this.waitForLink().then(() => {
            this.hostOpen = true
            this.ready()
            this.emit('open')
          })
        }
      })
      this.attach(c)
    }
  }

  private attach(c: ChildProcess): void {
    this.child = c
    c.stdin!.on('error', () => {})
    c.on('exit', () => {
      if (this.child !== c) return
      this.child = undefined
      if (this.hostOpen) {
        this.hostOpen = false
        this.emit('close')
      }
      if (!this.closing) this.emit('error', transportError('E_PTY_EXITED', `The PTY helper for ${this.link} exited.`, 'Restart the simulator.'))
    })
  }

  private async waitForLink(): Promise<void> {
    for (let i = 0; i < 200 && !fs.existsSync(this.link); i++) await new Promise((r) => setTimeout(r, 10))
  }

  private ready(): void {
    for (const w of this.readyWaiters.splice(0)) w()
  }

  whenReady(timeoutMs: number): Promise<void> {
    if (this.ttyPath !== undefined && fs.existsSync(this.link)) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.killNow()
        reject(transportError('E_PTY_TIMEOUT', `No PTY appeared at ${this.link} within ${timeoutMs} ms.`, 'Check that the directory exists and is writable.'))
      }, timeoutMs)
      this.readyWaiters.push(() => {
        clearTimeout(t)
        resolve()
      })
      this.once('error', (e) => {
        clearTimeout(t)
        reject(e)
      })
    })
  }

  private onHelper(b: Buffer): void {
    this.rx = this.rx.length === 0 ? b : Buffer.concat([this.rx, b])
    while (this.rx.length >= 5) {
      const n = this.rx.readUInt32BE(1)
      if (this.rx.length < 5 + n) break
      const type = String.fromCharCode(this.rx[0]!)
      const payload = this.rx.subarray(5, 5 + n)
      this.rx = this.rx.subarray(5 + n)
      if (type === 'R') {
        this.ttyPath = payload.toString()
        this.ready()
        this.emit('ready', this.ttyPath)
      } else if (type === 'O') {
        this.session++
        this.hostOpen = true
        this.emit('open')
      } else if (type === 'C') {
        this.hostOpen = false
        this.emit('close')
      } else if (type === 'D') {
        this.emit('data', Buffer.from(payload))
      }
    }
  }

  private send(type: string, data: Uint8Array = new Uint8Array(0)): void {
    const c = this.child
    if (!c || !c.stdin || c.stdin.destroyed) return
    const h = Buffer.alloc(5)
    h.write(type, 0, 'latin1')
    h.writeUInt32BE(data.length, 1)
    c.stdin.write(Buffer.concat([h, data]))
  }

  write(data: Uint8Array): void {
    if (data.length === 0) return
    if (this.engine === 'python') {
      const tag = Buffer.alloc(4)
      tag.writeUInt32BE(this.session >>> 0)
      this.send('D', Buffer.concat([tag, data]))
    }
    else if (this.hostOpen) this.child?.stdin?.write(Buffer.from(data))
  }

  async hangup(): Promise<void> {
    if (this.engine === 'python') {
      this.send('H')
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 3000)
        this.once('ready', () => {
          clearTimeout(t)
          resolve()
        })
      })
      return
    }
    // socat: a new process makes a new PTY at the same link.
    const old = this.child
    this.child = undefined
    if (this.hostOpen) {
      this.hostOpen = false
      this.emit('close')
    }
    if (old) await killAndWait(old)
    this.unlinkIfPty()
    this.ttyPath = undefined
    this.start()
    await this.whenReady(10_000)
  }

  private unlinkIfPty(): void {
    try {
      if (fs.readlinkSync(this.link).startsWith('/dev/')) fs.unlinkSync(this.link)
    } catch {
      // already gone
    }
  }

  killNow(): void {
    this.closing = true
    try {
      this.child?.kill('SIGTERM')
    } catch {
      // gone
    }
    this.unlinkIfPty()
  }

  async close(): Promise<void> {
    this.closing = true
    live.delete(this)
    const c = this.child
    if (c) {
      if (this.engine === 'python') this.send('Q')
      await killAndWait(c, this.engine === 'python' ? 1000 : 0)
    }
    this.child = undefined
    this.unlinkIfPty()
    if (this.hostOpen) {
      this.hostOpen = false
      this.emit('close')
    }
  }
}

function killAndWait(c: ChildProcess, graceMs = 0): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t1)
      clearTimeout(t2)
      resolve()
    }
    c.once('exit', done)
    const t1 = setTimeout(() => c.kill('SIGTERM'), graceMs)
    const t2 = setTimeout(() => {
      c.kill('SIGKILL')
      resolve()
    }, graceMs + 2000)
    if (graceMs === 0) c.kill('SIGTERM')
  })
}

/** The directory of a PTY link must exist and be writable before the helper is started (else it dies with a traceback). */
export function checkLinkDir(link: string): void {
  const dir = path.dirname(link)
  let st: fs.Stats
  try {
    st = fs.statSync(dir)
  } catch {
    throw usageError('E_LINK_INVALID', `The directory of --link ${link} (${dir}) does not exist.`, 'Create the directory first, or pick a --link path in an existing directory such as /tmp.')
  }
  if (!st.isDirectory()) throw usageError('E_LINK_INVALID', `${dir} (the directory of --link ${link}) is not a directory.`, 'Pick a --link path in an existing directory such as /tmp.')
  try {
    fs.accessSync(dir, fs.constants.W_OK)
  } catch {
    throw usageError('E_LINK_INVALID', `The directory ${dir} of --link ${link} is not writable.`, 'Pick a --link path in a directory you can write, such as /tmp.')
  }
}

/** Creates a PTY linked at `link` and resolves once the link exists. */
export async function openPty(link: string, opts: OpenPtyOptions = {}): Promise<PtyDevice> {
  const engine = opts.engine ?? detectPtyEngine()
  try {
    const st = fs.lstatSync(link)
    // Replace a stale link left by a killed simulator, never a regular file someone cares about.
    if (st.isSymbolicLink()) fs.unlinkSync(link)
    else throw usageError('E_LINK_EXISTS', `${link} exists and is not a symlink.`, 'Pick another --link path.')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  checkLinkDir(link)
  const p = new PtyDeviceImpl(link, engine)
  installExitHook()
  live.add(p)
  p.start()
  await p.whenReady(opts.readyTimeoutMs ?? 10_000)
  return p
}
