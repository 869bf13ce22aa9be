/**
 * Host side of `--protocol mcumgr`: SMP over the serial console, in TypeScript (device-shells.md §4.2, §5). The
 * SenML-CBOR account (the same bytes the lwprov protocol sends, which Anjay accepts) is uploaded with the fs group
 * to `path` (default /factory/provision.cbor). Anjay-Zephyr factory provisioning (its /factory/endpoint.txt answers)
 * is verified by /factory/result.txt = `0`; any other file system (littlefs at /lfs…) by the fs hash command, or by
 * downloading the file back, compared byte for byte.
 */
import { createHash } from 'node:crypto'

import { LwprovError, deviceError, transportError } from '../../errors.js'
import type { CredentialSet } from '../../model.js'
import { shown } from '../../validate/escape.js'
import { sleep } from '../console/line-console.js'
import type { ByteLink, DeviceIdentity, InjectionHooks, InjectionPlan, InjectionResult, ProvisioningProtocol, Timeouts } from '../types.js'
import { Cmd, FrameReader, Group, Op, RC_TEXT, Rc, body, decodePacket, encodeFrames, encodePacket, rcOf } from './smp.js'
import type { CborMap } from '../../cbor.js'

export interface McumgrOptions {
  /** Upload target; default /factory/provision.cbor (Anjay-Zephyr factory provisioning). */
  path?: string
  /** SMP MTU when the device does not report one (os mcumgr_params); default 256. */
  mtu?: number
  /** Resends of a request that got no answer; default 2. */
  retries?: number
  /** Anjay: how long /factory/result.txt may take to appear after the upload (it waits 15 s for more data); default 30000. */
  resultTimeoutMs?: number
}

export const DEFAULT_SMP_PATH = '/factory/provision.cbor'
export const ANJAY_ENDPOINT = '/factory/endpoint.txt'
export const ANJAY_RESULT = '/factory/result.txt'

/** One SMP conversation on a link. */
export class SmpClient {
  private seq = Math.floor(Math.random() * 256)
  private readonly reader: FrameReader
  private readonly off: () => void
  private readonly offClose: () => void
  private waiting: { seq: number; resolve: (m: CborMap) => void; reject: (e: Error) => void } | undefined
  private closed = false
  textLog = ''

  constructor(
    readonly link: ByteLink,
    private readonly timeouts: Timeouts,
    private readonly hooks: InjectionHooks,
    private readonly retries = 2,
  ) {
    this.reader = new FrameReader(
      (p) => {
        let pkt
        try {
          pkt = decodePacket(p)
        } catch {
          return
        }
        if (this.waiting && pkt.seq === this.waiting.seq && (pkt.op === Op.READ_RSP || pkt.op === Op.WRITE_RSP)) this.waiting.resolve(pkt.body)
      },
      (t) => {
        this.textLog = (this.textLog + t.toString('latin1')).slice(-8000)
      },
    )
    this.off = link.onData((c) => this.reader.push(c))
    this.offClose = link.onClose(() => {
      this.closed = true
      this.waiting?.reject(transportError('E_DEVICE_DISCONNECTED', `${link.description} closed during an SMP request.`, 'The device hung up; check its power and cable, then retry.'))
    })
  }

  /** Sends one request and returns the response body; resends on silence (`retries`). */
  async request(op: number, group: number, id: number, b: CborMap, ms = this.timeouts.frame, retries = this.retries): Promise<CborMap> {
    for (let attempt = 0; ; attempt++) {
      const seq = (this.seq = (this.seq + 1) & 0xff)
      const frames = encodeFrames(encodePacket({ op, group, seq, id, body: b }))
      try {
        return await new Promise<CborMap>((resolve, reject) => {
          if (this.closed) return reject(transportError('E_DEVICE_DISCONNECTED', `${this.link.description} is closed.`, 'Check the cable.'))
          const timer = setTimeout(() => {
            this.waiting = undefined
            reject(transportError('E_DEVICE_TIMEOUT', `${this.link.description}: no SMP answer within ${ms} ms (group ${group}, id ${id}).`, 'Check the port and baud rate, and that the firmware has the MCUmgr shell transport and the fs group (docs/mcumgr.md).'))
          }, ms)
          const onAbort = () => {
            clearTimeout(timer)
            reject(new LwprovError('E_INTERRUPTED', 'Interrupted during an SMP request.', { exit: 'interrupted' }))
          }
          this.hooks.signal?.addEventListener('abort', onAbort, { once: true })
          this.waiting = {
            seq,
            resolve: (m) => {
              clearTimeout(timer)
              this.hooks.signal?.removeEventListener('abort', onAbort)
              this.waiting = undefined
              resolve(m)
            },
            reject: (e) => {
              clearTimeout(timer)
              this.hooks.signal?.removeEventListener('abort', onAbort)
              this.waiting = undefined
              reject(e)
            },
          }
          this.link.write(frames).catch((e: unknown) => this.waiting?.reject(e as Error))
        })
      } catch (e) {
        if (!(e instanceof LwprovError && e.code === 'E_DEVICE_TIMEOUT') || attempt >= retries) throw e
      }
    }
  }

  /** Downloads a file; undefined when it does not exist (rc ENOENT). */
  async download(name: string, onProgress?: (n: number, total: number) => void): Promise<Buffer | undefined> {
    const parts: Buffer[] = []
    let off = 0
    let total = -1
    for (;;) {
      const r = await this.request(Op.READ, Group.FS, Cmd.FILE, body({ off, name }))
      const rc = rcOf(r)
      if (rc === Rc.ENOENT) return undefined
      if (rc !== 0) throw smpError(this.link, `download ${name}`, rc)
      const data = r.get('data')
      if (!(data instanceof Uint8Array) || r.get('off') !== off) throw deviceError('E_SMP_FRAME', `${this.link.description}: a malformed download answer for ${shown(name)}.`, 'Check the firmware\'s MCUmgr fs group.')
      if (off === 0) total = typeof r.get('len') === 'number' ? (r.get('len') as number) : 0
      parts.push(Buffer.from(data))
      off += data.length
      onProgress?.(off, total)
      if (off >= total || data.length === 0) break
      if (off > 1024 * 1024) throw deviceError('E_SMP_FRAME', `${this.link.description}: ${shown(name)} is larger than expected.`, 'Check --smp-path.')
    }
    return Buffer.concat(parts)
  }

  dispose(): void {
    this.off()
    this.offClose()
  }
}

function smpError(link: ByteLink, what: string, rc: number) {
  return deviceError('E_SMP_RC', `${link.description}: ${shown(what)} failed: rc ${rc} (${RC_TEXT[rc] ?? 'error'}).`, rc === Rc.ENOENT ? 'Check --smp-path: the directory must exist on a mounted file system (docs/mcumgr.md).' : rc === Rc.ENOTSUP ? 'Build the firmware with CONFIG_MCUMGR_GRP_FS (docs/mcumgr.md).' : 'See docs/mcumgr.md.', { rc })
}

const linkInfo = new WeakMap<ByteLink, { anjay: boolean; mtu: number }>()

export class McumgrProtocol implements ProvisioningProtocol {
  readonly name = 'mcumgr' as const
  readonly path: string

  constructor(private readonly opts: McumgrOptions = {}) {
    this.path = opts.path ?? DEFAULT_SMP_PATH
    if (!/^\/[\w./-]{1,200}$/.test(this.path) || this.path.includes('..')) {
      throw new LwprovError('E_SMP_PATH_INVALID', `--smp-path ${shown(this.path)} is not an absolute device path.`, { exit: 'usage', hint: 'Pass e.g. /factory/provision.cbor or /lfs/provision.cbor.' })
    }
  }

  precheck(plan: InjectionPlan): void {
    if (plan.signCsr) throw deviceError('E_DEVICE_NO_KEYGEN', 'MCUmgr factory provisioning cannot generate a key on the device.', 'Drop --device-keygen: lwprov generates the key and uploads it.')
  }

  async identify(link: ByteLink, timeouts: Timeouts, hooks: InjectionHooks, fallback?: Partial<DeviceIdentity>): Promise<DeviceIdentity> {
    const smp = new SmpClient(link, timeouts, hooks, this.opts.retries)
    try {
      const r = await smp.request(Op.WRITE, Group.OS, Cmd.ECHO, body({ d: 'lwprov' }), timeouts.identify, Math.min(1, this.opts.retries ?? 1))
      if (r.get('r') !== 'lwprov') throw deviceError('E_SMP_FRAME', `${link.description}: the SMP echo came back wrong.`, 'Check the firmware\'s MCUmgr OS group.')
      const mtu = await this.mtu(smp, timeouts)
      const ep = await smp.download(ANJAY_ENDPOINT).catch((e: unknown) => {
        if (e instanceof LwprovError && e.code === 'E_SMP_RC') return undefined
        throw e
      })
      const anjay = ep !== undefined
      linkInfo.set(link, { anjay, mtu })
      const serial = ep?.toString('utf8').trim()
      return { ...fallback, ...(serial ? { serial } : {}), capabilities: ['smp', ...(anjay ? ['anjay-factory'] : [])] }
    } finally {
      smp.dispose()
    }
  }

  /** The device's SMP buffer size (os mcumgr_params), else the configured MTU. */
  private async mtu(smp: SmpClient, timeouts: Timeouts): Promise<number> {
    const fallback = this.opts.mtu ?? 256
    const r = await smp.request(Op.READ, Group.OS, Cmd.PARAMS, body({}), timeouts.frame, 0).catch(() => undefined)
    const size = r?.get('buf_size')
    return typeof size === 'number' && size >= 128 && size <= 8192 ? size : fallback
  }

  async provision(link: ByteLink, plan: InjectionPlan, timeouts: Timeouts, hooks: InjectionHooks): Promise<InjectionResult> {
    const smp = new SmpClient(link, timeouts, hooks, this.opts.retries)
    const where = link.description
    try {
      this.precheck(plan)
      let info = linkInfo.get(link)
      if (!info) {
        await this.identify(link, timeouts, hooks)
        info = linkInfo.get(link)!
      }
      const payload = await senml(plan.credentials)
      const digest = createHash('sha256').update(payload).digest('hex')
      const name = this.path
      // header 8 + CBOR keys/values (off, len, name, data head) with room to spare
      const chunk = Math.max(32, info.mtu - 8 - (name.length + 48))
      hooks.onStep?.('write', `${payload.length} bytes to ${name}`)
      hooks.onProgress?.(0, payload.length)
      for (let off = 0; off < payload.length; ) {
        const data = payload.subarray(off, off + chunk)
        // an upload at offset 0 replaces (truncates) the old file: re-provisioning starts from nothing
        const r = await smp.request(Op.WRITE, Group.FS, Cmd.FILE, body({ off, data, ...(off === 0 ? { len: payload.length } : {}), name }), timeouts.frame)
        const rc = rcOf(r)
        if (rc !== 0) throw smpError(link, `upload ${name}`, rc)
        const next = r.get('off')
        if (typeof next !== 'number' || next > payload.length || next < off) throw deviceError('E_SMP_FRAME', `${where}: the upload answer reports offset ${String(next)}, expected ${off + data.length}.`, 'Re-run inject.')
        off = next
        hooks.onProgress?.(off, payload.length)
      }
      hooks.onStep?.('verify', info.anjay && name.startsWith('/factory/') ? ANJAY_RESULT : `${name} read back`)
      let readbackDigest: string
      if (info.anjay && name.startsWith('/factory/')) {
        // Anjay takes 15 s without data as the end of the file, then writes its result
        const until = Date.now() + (this.opts.resultTimeoutMs ?? 30_000)
        let result: Buffer | undefined
        for (;;) {
          result = await smp.download(ANJAY_RESULT).catch((e: unknown) => {
            if (e instanceof LwprovError && e.code === 'E_SMP_RC') return undefined
            throw e
          })
          if (result !== undefined || Date.now() > until) break
          await sleep(500)
        }
        if (result === undefined) throw transportError('E_DEVICE_TIMEOUT', `${where}: ${ANJAY_RESULT} did not appear after the upload.`, 'Check that the device runs the Anjay factory-provisioning image (initial.hex) and waits for provisioning.')
        const text = result.toString('utf8').trim()
        if (text !== '0') {
          throw deviceError('E_SMP_PROVISION_FAILED', `${where}: Anjay's factory provisioning answered ${shown(text.slice(0, 40))} (0 = success).`, 'The device rejected the account: check the profile (docs/mcumgr.md); the device is not verified.', { result: text.slice(0, 40) })
        }
        // the device acknowledged every byte at its offset and applied them: the digest is of those bytes
        readbackDigest = digest
      } else {
        readbackDigest = await this.readBack(smp, name, payload, timeouts, hooks)
      }
      hooks.onStep?.('done')
      return { verified: true, readbackDigest, deviceLog: smp.textLog.slice(-4000) }
    } finally {
      smp.dispose()
    }
  }

  /** The fs hash command where the device has it, else the whole file downloaded; compared with what was sent. */
  private async readBack(smp: SmpClient, name: string, payload: Buffer, timeouts: Timeouts, hooks: InjectionHooks): Promise<string> {
    const want = createHash('sha256').update(payload).digest()
    const where = smp.link.description
    const mismatch = (detail: string) =>
      new LwprovError('E_READBACK_MISMATCH', `${where}: ${shown(name)} reads back differently (${detail}).`, { exit: 'device', hint: 'The device is not verified. Re-run inject; if it repeats, check the device flash / file system.' })
    const h = await smp.request(Op.READ, Group.FS, Cmd.HASH, body({ name, type: 'sha256' }), timeouts.commit)
    const rc = rcOf(h)
    if (rc === 0 && h.get('output') instanceof Uint8Array) {
      const got = Buffer.from(h.get('output') as Uint8Array)
      if (!got.equals(want) || h.get('len') !== payload.length) throw mismatch(`SHA-256 ${got.toString('hex').slice(0, 16)}…, ${String(h.get('len'))} bytes`)
      return got.toString('hex')
    }
    if (rc !== Rc.ENOTSUP && rc !== Rc.EINVAL && rc !== 0) throw smpError(smp.link, `hash ${name}`, rc)
    const back = await smp.download(name, (n, t) => hooks.onProgress?.(n, t))
    if (!back) throw mismatch('the file is gone')
    if (!back.equals(payload)) throw mismatch(`${back.length} bytes, ${payload.length} sent`)
    return createHash('sha256').update(back).digest('hex')
  }
}

/** SenML-CBOR of the account (lwm2m.md §7), loaded lazily. */
async function senml(c: CredentialSet): Promise<Buffer> {
  const { buildLwm2mConfig, encodeSenmlCbor } = await import('../../lwm2m/index.js')
  return encodeSenmlCbor(buildLwm2mConfig(c))
}
