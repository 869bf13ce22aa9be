/**
 * A simulated Zephyr device with MCUmgr over its shell console (device-shells.md §4.2, §5): SMP frames are taken
 * off the line before the shell sees them; OS echo and parameters; fs upload/download/hash. Paths under /factory
 * behave like Anjay-Zephyr's factory-provisioning fake file system (endpoint.txt, provision.cbor streamed into the
 * provisioning parser, which counts `idleMs` without data as the end of the file, then result.txt); /lfs is a plain
 * littlefs mount. Files survive sessions.
 */
import { createHash } from 'node:crypto'

import { type CborMap } from '../../cbor.js'
import { ShellSim, type ShellSimOptions } from '../console/shell-sim.js'
import { Cmd, FrameReader, Group, Op, Rc, body, decodePacket, encodeFrames, encodePacket } from './smp.js'

export interface SmpNv {
  files: Map<string, Buffer>
  /** Anjay: the provisioning result once the upload went idle. */
  result?: string
}

export function newSmpNv(): SmpNv {
  return { files: new Map() }
}

export interface McumgrSimOptions extends ShellSimOptions {
  nv?: SmpNv
  /** Anjay's end-of-file inactivity, ms; default 15000 (device-shells.md §4.2). */
  idleMs?: number
  /** SMP buffer size reported by os mcumgr_params (and the largest packet taken); default 384. */
  bufSize?: number
  /** Answer the fs hash command; default true. */
  hash?: boolean
  /** Anjay factory-provisioning image (/factory); default true. */
  anjay?: boolean
}

export class McumgrSim extends ShellSim {
  private readonly nv: SmpNv
  private readonly reader: FrameReader
  private text: Buffer[] = []
  private upload: { name: string; data: Buffer; len: number } | undefined
  private idle: NodeJS.Timeout | undefined

  constructor(private readonly m: McumgrSimOptions) {
    super(m)
    this.nv = m.nv ?? newSmpNv()
    this.reader = new FrameReader(
      (p) => this.packet(p),
      (t) => this.text.push(t),
    )
  }

  protected override bootBanner(): string {
    return this.anjay ? 'Device ready for provisioning.\r\n' : ''
  }

  private get anjay(): boolean {
    return this.m.anjay !== false
  }

  protected override onReset(): void {
    this.upload = undefined
    clearTimeout(this.idle)
  }

  protected override intercept(chunk: Buffer): Buffer {
    this.text = []
    this.reader.push(chunk)
    return Buffer.concat(this.text)
  }

  protected command(line: string): void {
    this.notFound(line)
  }

  private reply(req: ReturnType<typeof decodePacket>, b: CborMap): void {
    this.send(encodeFrames(encodePacket({ op: req.op + 1, group: req.group, seq: req.seq, id: req.id, body: b })))
  }

  private packet(p: Buffer): void {
    if (p.length > (this.m.bufSize ?? 384)) return // too large for the SMP buffer: dropped
    let req
    try {
      req = decodePacket(p)
    } catch {
      return
    }
    const b = req.body
    if (req.group === Group.OS && req.id === Cmd.ECHO) return this.reply(req, body({ r: String(b.get('d') ?? '') }))
    if (req.group === Group.OS && req.id === Cmd.PARAMS) return this.reply(req, body({ buf_size: this.m.bufSize ?? 384, buf_count: 4 }))
    if (req.group !== Group.FS) return this.reply(req, body({ rc: Rc.ENOTSUP }))
    const name = String(b.get('name') ?? '')
    if (req.id === Cmd.HASH) {
      if (this.m.hash === false) return this.reply(req, body({ rc: Rc.ENOTSUP }))
      const f = this.nv.files.get(name)
      if (!f || name.startsWith('/factory/')) return this.reply(req, body({ rc: Rc.ENOENT }))
      const out = createHash('sha256').update(f).digest()
      if (this.opts.corruptDigest) out[0] = out[0]! ^ 1
      return this.reply(req, body({ type: 'sha256', off: 0, len: f.length, output: out }))
    }
    if (req.id !== Cmd.FILE) return this.reply(req, body({ rc: Rc.ENOTSUP }))
    const off = Number(b.get('off') ?? -1)
    if (req.op === Op.READ) return this.download(req, name, off)
    return this.store(req, name, off, b)
  }

  private mounted(name: string): boolean {
    return (this.anjay && name.startsWith('/factory/')) || name.startsWith('/lfs/')
  }

  private download(req: ReturnType<typeof decodePacket>, name: string, off: number): void {
    let f: Buffer | undefined
    if (this.anjay && name === '/factory/endpoint.txt') f = Buffer.from(`anjay-zephyr-demo-${this.opts.serial}`)
    else if (this.anjay && name === '/factory/result.txt') f = this.nv.result === undefined ? undefined : Buffer.from(this.nv.result)
    else if (name.startsWith('/factory/')) f = undefined
    else f = this.nv.files.get(name)
    if (!f) return this.reply(req, body({ rc: Rc.ENOENT }))
    if (off < 0 || off > f.length) return this.reply(req, body({ rc: Rc.EINVAL }))
    let data = f.subarray(off, off + 128)
    if (this.opts.corruptDigest && !name.startsWith('/factory/') && data.length > 0) {
      data = Buffer.from(data)
      data[0] = data[0]! ^ 1
    }
    this.reply(req, body({ off, data, ...(off === 0 ? { len: f.length } : {}) }))
  }

  private store(req: ReturnType<typeof decodePacket>, name: string, off: number, b: CborMap): void {
    const data = b.get('data')
    if (!(data instanceof Uint8Array) || off < 0 || !this.mounted(name) || name === '/factory/endpoint.txt' || name === '/factory/result.txt') {
      return this.reply(req, body({ rc: name.startsWith('/') && !this.mounted(name) ? Rc.ENOENT : Rc.EINVAL }))
    }
    if (this.opts.refuse && !name.startsWith('/factory/')) return this.reply(req, body({ rc: Rc.EUNKNOWN }))
    if (off === 0) {
      // a new upload truncates the file (and a new provisioning starts)
      this.upload = { name, data: Buffer.alloc(0), len: Number(b.get('len') ?? 0) }
      if (name.startsWith('/factory/')) delete this.nv.result
    }
    const up = this.upload
    if (!up || up.name !== name || off !== up.data.length) return this.reply(req, body({ rc: Rc.EINVAL, off: up?.data.length ?? 0 }))
    up.data = Buffer.concat([up.data, Buffer.from(data)])
    if (!name.startsWith('/factory/')) {
      this.nv.files.set(name, up.data)
      if (up.data.length >= up.len) this.opts.store?.(up.data)
    } else {
      clearTimeout(this.idle)
      this.idle = setTimeout(() => void this.provision(up.data), this.m.idleMs ?? 15_000)
    }
    this.reply(req, body({ off: up.data.length }))
  }

  /** Anjay's factory provisioning of the streamed SenML-CBOR: 0 on success, a negative errno otherwise. */
  private async provision(data: Buffer): Promise<void> {
    let result = '0'
    try {
      const { decodeSenmlCbor } = await import('../../lwm2m/index.js')
      decodeSenmlCbor(data)
    } catch {
      result = '-22'
    }
    if (this.opts.refuse || this.opts.corruptDigest) result = '-1'
    this.nv.result = result
    if (result === '0') this.opts.store?.(data)
    this.opts.log?.(`factory provisioning result ${result}`)
  }
}
