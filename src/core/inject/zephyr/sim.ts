/**
 * A simulated Zephyr 3.4 `lwm2m_client` with its shell on the console (device-shells.md §1.1): Security /0 and
 * Server /1 objects with Zephyr's resource types, `lwm2m write/read/create/delete/start/stop`, the error replies as
 * the docs quote them, numeric writes stored truncated (`-u8 300` reads back 44), "no lwm2m context yet" until the
 * application has started, an asynchronous `stop`, and the `hwinfo devid` identity. Resources survive sessions
 * (flash) through `nv`.
 */
import { createHash } from 'node:crypto'

import { crc32Of, hexDump, splitArgs, unquoteShellArg } from './shell.js'
import { ShellSim, type ShellSimOptions } from '../console/shell-sim.js'

type ResType = 'string' | 'opaque' | 'bool' | 'u8' | 'u16' | 'u32' | 's32'

/** Zephyr's Security (0) and Server (1) resource types, plus Device /3/0/2 (serial, read-only). */
const TYPES: Record<string, ResType> = {
  '0/0': 'string', '0/1': 'bool', '0/2': 'u8', '0/3': 'opaque', '0/4': 'opaque', '0/5': 'opaque', '0/10': 'u16', '0/11': 's32', '0/12': 's32', '0/15': 'u8',
  '1/0': 'u16', '1/1': 's32', '1/2': 's32', '1/3': 's32', '1/6': 'bool', '1/7': 'string',
  '3/2': 'string',
}
const MAX_INSTANCES: Record<string, number> = { '0': 2, '1': 1 }
const OPAQUE_MAX = 2048

/** Flash of one simulated device: survives sessions. */
export interface ZephyrNv {
  instances: Set<string>
  values: Map<string, Buffer>
  /** TLS credentials shell store: `${tag},${type}` → bytes as stored. */
  creds: Map<string, Buffer>
}

export function newZephyrNv(): ZephyrNv {
  return { instances: new Set(['0/0', '3/0']), values: new Map(), creds: new Map() }
}

/** `cred` type names (device-shells.md §2): accepted aliases → canonical name, and the short form `cred list` prints. */
const CRED_TYPES: Record<string, [string, string]> = {
  CA_CERT: ['CA_CERT', 'CA'], CA: ['CA_CERT', 'CA'],
  SERVER_CERT: ['SERVER_CERT', 'SELF'], CLIENT_CERT: ['SERVER_CERT', 'SELF'], SELF_CERT: ['SERVER_CERT', 'SELF'], SELF: ['SERVER_CERT', 'SELF'], CLIENT: ['SERVER_CERT', 'SELF'], SERV: ['SERVER_CERT', 'SELF'],
  PRIVATE_KEY: ['PRIVATE_KEY', 'PK'], PK: ['PRIVATE_KEY', 'PK'],
  PRE_SHARED_KEY: ['PRE_SHARED_KEY', 'PSK'], PSK: ['PRE_SHARED_KEY', 'PSK'],
  PRE_SHARED_KEY_ID: ['PRE_SHARED_KEY_ID', 'PSK_ID'], PSK_ID: ['PRE_SHARED_KEY_ID', 'PSK_ID'],
}

export interface ZephyrSimOptions extends ShellSimOptions {
  nv?: ZephyrNv
  /** Milliseconds after boot before the application creates its LwM2M context; default 0. */
  contextDelayMs?: number
  /** The firmware knows `lwm2m read … -crc32`; default true. */
  crc32?: boolean
  /** How long `lwm2m stop` takes to deregister, ms; default 1000. */
  stopMs?: number
  /** The application starts its LwM2M client at boot (as Zephyr's sample does); default false. */
  autostart?: boolean
}

export class ZephyrShellSim extends ShellSim {
  private readonly nv: ZephyrNv
  private client: 'idle' | 'running' | 'stopping' = 'idle'
  private stopTimer: NodeJS.Timeout | undefined

  constructor(private readonly z: ZephyrSimOptions) {
    super(z)
    this.nv = z.nv ?? newZephyrNv()
    this.nv.values.set('3/0/2', Buffer.from(z.serial))
    if (z.autostart) this.client = 'running'
  }

  protected override bootBanner(): string {
    return '[00:00:00.010,000] <inf> net_lwm2m_client_app: Run LWM2M client\r\n'
  }

  protected override onReset(): void {
    this.client = this.z.autostart ? 'running' : 'idle'
    clearTimeout(this.stopTimer)
  }

  private fail(op: string, err: number): void {
    this.print([`can't do ${op} operation, request failed (err ${err})`, ''], true)
  }

  protected command(line: string): void {
    const args = splitArgs(line)
    if (args[0] === 'hwinfo' && args[1] === 'devid') {
      this.print([`Length: ${this.z.serial.length}`, `ID: 0x${Buffer.from(this.z.serial).toString('hex')}`])
      return
    }
    if (args[0] === 'kernel' && args[1] === 'version') {
      this.print(['Zephyr version 3.4.0'])
      return
    }
    if (args[0] === 'cred') return this.cred(args.slice(1))
    if (args[0] !== 'lwm2m') return this.notFound(line)
    if (Date.now() - this.booted < (this.z.contextDelayMs ?? 0)) {
      this.print(['no lwm2m context yet'], true)
      return
    }
    const sub = args[1]
    const rest = args.slice(2)
    switch (sub) {
      case 'write':
        return this.write(rest)
      case 'read':
        return this.read(rest)
      case 'create':
        return this.create(rest)
      case 'delete':
        return this.remove(rest)
      case 'start':
        if (rest.length < 1) return this.print(['start: wrong parameter count'], true)
        if (this.client !== 'idle') {
          this.opts.log?.(`lwm2m start refused: client ${this.client} (-115)`)
          return this.fail('start', -115)
        }
        this.client = 'running'
        this.opts.log?.(`lwm2m start ${unquoteShellArg(rest[0]!).toString('latin1')} ${rest.slice(1).join(' ')}`)
        return
      case 'stop':
        if (this.client === 'idle') return this.fail('stop', -1)
        this.client = 'stopping'
        clearTimeout(this.stopTimer)
        // deregistration finishes later: a start right after this fails with -115
        this.stopTimer = setTimeout(() => (this.client = 'idle'), rest.includes('-f') ? 50 : (this.z.stopMs ?? 1000))
        this.stopTimer.unref?.()
        return
      default:
        this.print([`${sub ?? 'lwm2m'}: command not found`], true)
    }
  }

  private parsePath(p: string | undefined): { obj: string; inst: string; res?: string } | undefined {
    if (p === undefined) return undefined
    const m = /^\/?(\d+)\/(\d+)(?:\/(\d+))?$/.exec(p)
    if (!m) return undefined
    return { obj: m[1]!, inst: m[2]!, ...(m[3] === undefined ? {} : { res: m[3] }) }
  }

  private write(args: string[]): void {
    if (args.length < 2 || args.length > 3) return this.print(['write: wrong parameter count', 'write PATH [OPTIONS] VALUE'], true)
    const p = this.parsePath(args[0])
    if (!p || p.res === undefined) return this.fail('write', -22)
    const opt = args.length === 3 ? args[1]! : '-s'
    const raw = args[args.length - 1]!
    const key = `${p.obj}/${p.res}`
    const type = TYPES[key]
    if (!this.nv.instances.has(`${p.obj}/${p.inst}`) || !type) return this.fail('write', -2)
    if (key === '3/2') return this.fail('write', -13)
    let stored: Buffer
    if (opt === '-s') {
      if (type !== 'string' && type !== 'opaque') return this.fail('write', -22)
      stored = unquoteShellArg(raw)
      // the argument went through strlen: nothing after a NUL arrives
      const nul = stored.indexOf(0)
      if (nul >= 0) stored = stored.subarray(0, nul)
      if (stored.length > OPAQUE_MAX) return this.fail('write', -28)
      if (this.opts.refuse && (p.res === '3' || p.res === '5') && p.obj === '0') return this.fail('write', -22)
    } else {
      const width = { '-b': 1, '-u8': 1, '-u16': 2, '-u32': 4, '-s32': 4 }[opt]
      if (width === undefined) return this.print([`can't recognize data type ${opt}`], true)
      const n = Number(raw)
      if (!/^-?\d+$/.test(raw) || !Number.isFinite(n)) return this.print([`Invalid number: ${raw}`], true)
      if (type === 'string' || type === 'opaque') return this.fail('write', -22)
      // not range-checked: the value is truncated to the type's width (300 → 44, -1 → 255)
      const size = type === 'bool' || type === 'u8' ? 1 : type === 'u16' ? 2 : 4
      stored = Buffer.alloc(size)
      const v = BigInt.asUintN(size * 8, BigInt(n))
      if (size === 1) stored.writeUInt8(Number(v))
      else if (size === 2) stored.writeUInt16LE(Number(v))
      else stored.writeUInt32LE(Number(v))
    }
    this.nv.values.set(`${p.obj}/${p.inst}/${p.res}`, stored)
    this.opts.store?.(this.dump())
  }

  private read(args: string[]): void {
    if (args.length < 1 || args.length > 2) return this.print(['read: wrong parameter count'], true)
    const p = this.parsePath(args[0])
    if (!p || p.res === undefined) return this.fail('read', -22)
    const key = `${p.obj}/${p.res}`
    const type = TYPES[key]
    if (!this.nv.instances.has(`${p.obj}/${p.inst}`) || !type) return this.fail('read', -2)
    const opt = args[1] ?? '-x'
    let v = this.nv.values.get(`${p.obj}/${p.inst}/${p.res}`) ?? Buffer.alloc(type === 'string' || type === 'opaque' ? 0 : type === 'bool' || type === 'u8' ? 1 : type === 'u16' ? 2 : 4)
    if (this.opts.corruptDigest && p.obj === '0' && v.length > 0) {
      v = Buffer.from(v)
      v[v.length - 1] = v[v.length - 1]! ^ 0x01
    }
    switch (opt) {
      case '-x':
        return this.print(hexDump(v))
      case '-crc32':
        if (this.z.crc32 === false) return this.print([`can't recognize data type ${opt}`], true)
        return this.print([String(crc32Of(v))])
      case '-s':
        return this.print([v.toString('latin1')])
      case '-b':
      case '-u8':
        return this.print([String(v[0] ?? 0)])
      case '-u16':
        return this.print([String(v.length >= 2 ? v.readUInt16LE(0) : 0)])
      case '-u32':
        return this.print([String(v.length >= 4 ? v.readUInt32LE(0) : 0)])
      case '-s32':
        return this.print([String(v.length >= 4 ? v.readInt32LE(0) : 0)])
      default:
        return this.print([`can't recognize data type ${opt}`], true)
    }
  }

  private create(args: string[]): void {
    if (args.length !== 1) return this.print(['create: wrong parameter count'], true)
    const p = this.parsePath(args[0])
    if (!p || p.res !== undefined || MAX_INSTANCES[p.obj] === undefined) return this.print([`Failed to create object instance ${args[0]}, ret=-22`], true)
    const id = `${p.obj}/${p.inst}`
    if (this.nv.instances.has(id)) return this.print([`Failed to create object instance ${id}, ret=-17`], true)
    const count = [...this.nv.instances].filter((i) => i.startsWith(`${p.obj}/`)).length
    if (count >= MAX_INSTANCES[p.obj]!) return this.print([`Failed to create object instance ${id}, ret=-12`], true)
    this.nv.instances.add(id)
  }

  private remove(args: string[]): void {
    if (args.length !== 1) return this.print(['delete: wrong parameter count'], true)
    const p = this.parsePath(args[0])
    if (!p || p.res !== undefined) return this.fail('delete', -22)
    const id = `${p.obj}/${p.inst}`
    if (!this.nv.instances.has(id)) return this.fail('delete', -2)
    this.nv.instances.delete(id)
    for (const k of [...this.nv.values.keys()]) if (k.startsWith(`${id}/`)) this.nv.values.delete(k)
    this.opts.store?.(this.dump())
  }

  private credBuf = ''

  /** The TLS credentials shell (CONFIG_TLS_CREDENTIALS_SHELL): other TLS users' sec_tags; lwprov does not use it. */
  private cred(a: string[]): void {
    const sub = a[0]
    if (sub === 'buf') {
      if (a[1] === 'clear') {
        this.credBuf = ''
        return this.print(['Credential buffer cleared.'])
      }
      this.credBuf += a[1] ?? ''
      return this.print([`Stored ${(a[1] ?? '').length} bytes.`])
    }
    const type = a[2] === undefined ? undefined : CRED_TYPES[a[2].toUpperCase()]
    if ((sub === 'add' || sub === 'del') && a[2] !== undefined && !type) return this.print([`${a[2]} is not a valid credential type.`], true)
    if (sub === 'add') {
      if (a.length < 5 || !type) return this.print(['add: wrong parameter count'], true)
      const fmt = a[4]!.toLowerCase()
      const inline = a[5]
      if (inline !== undefined) this.print([`Stored ${inline.length} bytes.`])
      const text = inline ?? this.credBuf
      const k = `${a[1]},${type[1]}`
      if (this.nv.creds.has(k)) return this.print([`TLS credential with sectag ${a[1]} and type ${type[0]} already exists.`], true)
      let bytes: Buffer
      if (fmt === 'bin' || fmt === 'bint') {
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return this.print(['Could not decode input from base64, error: -22'], true)
        bytes = Buffer.from(text, 'base64')
      } else bytes = Buffer.from(text, 'latin1')
      if (fmt.endsWith('t')) bytes = Buffer.concat([bytes, Buffer.from([0])])
      this.nv.creds.set(k, bytes)
      this.credBuf = ''
      return this.print([`Added TLS credential of type ${type[0]}, sectag ${a[1]}, and length ${bytes.length} bytes.`])
    }
    if (sub === 'del') {
      if (a.length < 3 || !type) return this.print(['del: wrong parameter count'], true)
      const k = `${a[1]},${type[1]}`
      if (!this.nv.creds.delete(k)) return this.print([`There is no TLS credential with sectag ${a[1]} and type ${type[0]}.`], true)
      return this.print([`Deleted TLS credential with sectag ${a[1]} and type ${type[0]}.`])
    }
    if (sub === 'list') {
      const want = a[2] === undefined ? undefined : CRED_TYPES[a[2].toUpperCase()]?.[1]
      const lines = [...this.nv.creds.entries()]
        .map(([k, v]) => [...k.split(','), v] as [string, string, Buffer])
        .filter(([tag, t]) => (a[1] === undefined || tag === a[1]) && (want === undefined || t === want))
        .map(([tag, t, v]) => `${tag},${t},${createHash('sha256').update(v).digest('base64')},0`)
      return this.print([...lines, `${lines.length} credentials found.`])
    }
    this.print([`${sub ?? 'cred'}: command not found`], true)
  }

  /** What the device holds (the `--store` file): path = hex value, one a line. */
  private dump(): Buffer {
    const lines = [...this.nv.values.entries()].filter(([k]) => !k.startsWith('3/')).map(([k, v]) => `${k}=${v.toString('hex')}`)
    return Buffer.from(`${lines.sort().join('\n')}\n`)
  }
}
