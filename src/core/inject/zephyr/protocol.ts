/**
 * Host side of `--protocol zephyr-shell`: the Zephyr `lwm2m` shell writes the Security/Server resources the LwM2M
 * engine loads its DTLS credentials from on every connect (device-shells.md §1). Every line is typed in echo-paced
 * chunks (small RX ring buffers drop characters; a wrong echo cancels the line with Ctrl-C and retypes it smaller),
 * every resource is read back (`-crc32` where the firmware has it, else the `-x` hex dump; numbers and strings as
 * such) and compared before the device counts as verified. Registration starts only with `start: true`.
 */
import { createHash } from 'node:crypto'

import { LwprovError, deviceError, transportError, usageError } from '../../errors.js'
import type { CredentialSet } from '../../model.js'
import { shown } from '../../validate/escape.js'
import { LineConsole, sleep } from '../console/line-console.js'
import type { ByteLink, DeviceIdentity, InjectionHooks, InjectionPlan, InjectionResult, ProvisioningProtocol, Timeouts } from '../types.js'
import { PROMPT, SERVER_IID, checkRange, crc32Of, parseHexDump, quoteShellValue, shellError, shellFailure, shellWrites, writeCommand, type ShellWrite } from './shell.js'

export interface ZephyrShellOptions {
  /** Start registration (`lwm2m start EP -b 0|1`) after a verified write; default false. */
  start?: boolean
  /** Characters typed before waiting for their echo; default 64. */
  chunk?: number
  /** Attempts per line after a wrong echo; default 3. */
  retries?: number
}

/** A free PSK draw for this protocol: no 0x00 byte (the shell passes values through strlen). */
export function withoutZeroBytes(psk: Uint8Array, random: (n: number) => Buffer): Buffer {
  const out = Buffer.from(psk)
  for (let i = 0; i < out.length; i++) {
    // rejection sampling keeps each byte uniform over 1..255
    while (out[i] === 0) out[i] = random(1)[0]!
  }
  return out
}

/** One console session with a Zephyr shell. */
export class ZephyrShell {
  readonly con: LineConsole
  private chunk: number

  constructor(
    readonly link: ByteLink,
    private readonly timeouts: Timeouts,
    hooks: InjectionHooks,
    private readonly opts: { chunk?: number; retries?: number } = {},
  ) {
    this.con = new LineConsole(link, hooks)
    this.chunk = opts.chunk ?? 64
  }

  /** Brings up a clean prompt: Ctrl-C cancels any half-typed line; then colours off. */
  async attach(ms: number): Promise<void> {
    this.con.clear()
    await this.con.write('\x03')
    try {
      await this.con.until((t) => (PROMPT.test(t) ? true : undefined), Math.min(ms, 1500), 'the shell prompt')
    } catch (e) {
      if (!(e instanceof LwprovError) || e.code !== 'E_DEVICE_TIMEOUT') throw e
      this.con.clear()
      await this.con.write('\r\n')
      await this.con.until((t) => (PROMPT.test(t) ? true : undefined), ms, 'the shell prompt (uart:~$)')
    }
    await this.run('shell colors off', ms)
  }

  /**
   * Types `cmd` and returns what it printed (between the echo and the next prompt). Chunks of `chunk` characters
   * are echo-checked; a mismatch cancels the line and retypes it in smaller chunks.
   */
  async run(cmd: string, ms = this.timeouts.frame): Promise<string> {
    const retries = this.opts.retries ?? 3
    for (let attempt = 0; ; attempt++) {
      this.con.clear()
      try {
        // Half a chunk goes out while the previous half is still echoing: at most `chunk` characters are ever
        // un-echoed (what a small RX ring holds), and the line stays busy in both directions.
        const half = Math.max(4, Math.floor(this.chunk / 2))
        const echoed = (upto: number) =>
          this.con.until((t) => {
            const echo = t.replace(/[\r\n]/g, '')
            const want = cmd.slice(0, upto)
            if (echo.includes(want)) return true
            // the echo is not what was typed so far: a character was dropped or mangled
            if (echo.length > 0 && !cmd.startsWith(echo)) throw new EchoMismatch()
            return undefined
          }, Math.min(this.timeouts.frame, 1500), `the echo of "${shown(cmd.slice(0, 40))}…"`)
        for (let sent = 0; sent < cmd.length; ) {
          const end = Math.min(cmd.length, sent + half)
          await this.con.write(cmd.slice(sent, end))
          sent = end
          if (sent - half > 0) await echoed(sent - half)
        }
        await echoed(cmd.length)
      } catch (e) {
        if (!(e instanceof EchoMismatch) && !(e instanceof LwprovError && e.code === 'E_DEVICE_TIMEOUT')) throw e
        // a device that says nothing at all is not dropping characters: that is a transport failure
        if (!(e instanceof EchoMismatch) && this.con.text() === '') throw e
        if (attempt + 1 >= retries) {
          throw deviceError(
            'E_SHELL_ECHO',
            `${this.link.description}: the shell did not echo a ${cmd.length}-character line back intact (${retries} attempts).`,
            'The firmware drops characters or its command buffer is too small: set CONFIG_SHELL_CMD_BUFF_SIZE >= 1024 (PEM values) and a larger CONFIG_SHELL_BACKEND_SERIAL_RX_RING_BUFFER_SIZE (docs/zephyr-shell.md).',
          )
        }
        this.chunk = Math.max(8, Math.floor(this.chunk / 2))
        this.con.clear()
        await this.con.write('\x03')
        await this.con.until((t) => (PROMPT.test(t) ? true : undefined), this.timeouts.frame, 'the prompt after cancelling a line').catch(() => {})
        await sleep(20)
        continue
      }
      this.con.clear()
      await this.con.write('\r')
      const out = await this.con.until((t) => (PROMPT.test(t) ? t : undefined), ms, `the reply to "${shown(cmd.slice(0, 40))}"`)
      return out.replace(PROMPT, '')
    }
  }

  dispose(): void {
    this.con.dispose()
  }
}

class EchoMismatch extends Error {}

const linkReady = new WeakSet<ByteLink>()

export class ZephyrShellProtocol implements ProvisioningProtocol {
  readonly name = 'zephyr-shell' as const

  constructor(private readonly opts: ZephyrShellOptions = {}) {}

  /** PSKs for this protocol are drawn without 0x00 bytes (see {@link withoutZeroBytes}). */
  prepareCredentials(cs: CredentialSet, random: (n: number) => Buffer): CredentialSet {
    return cs.psk ? { ...cs, psk: withoutZeroBytes(cs.psk, random) } : cs
  }

  precheck(plan: InjectionPlan): void {
    const c = plan.credentials
    if (c.security === 'cert' && plan.signCsr) {
      throw usageError('E_SHELL_NO_KEYGEN', 'The Zephyr lwm2m shell cannot generate a key on the device.', 'Drop --device-keygen: lwprov generates the key and writes it to /0/0/5.')
    }
    if (c.security === 'cert' && !c.certificateDer) return
    if (c.security === 'psk' && !c.psk) return
    for (const w of shellWrites(c)) {
      checkRange(w)
      if (typeof w.value !== 'number') quoteShellValue(w.value, w.secret ? `The value for ${w.path} (the PSK/key)` : `The value for ${w.path}`)
    }
  }

  async identify(link: ByteLink, timeouts: Timeouts, hooks: InjectionHooks, fallback?: Partial<DeviceIdentity>): Promise<DeviceIdentity> {
    const sh = new ZephyrShell(link, timeouts, hooks, this.opts)
    try {
      await sh.attach(timeouts.identify)
      linkReady.add(link)
      const id = await identifyShell(sh, timeouts)
      return { ...fallback, ...id, capabilities: ['zephyr-shell'] }
    } finally {
      sh.dispose()
    }
  }

  async provision(link: ByteLink, plan: InjectionPlan, timeouts: Timeouts, hooks: InjectionHooks): Promise<InjectionResult> {
    const sh = new ZephyrShell(link, timeouts, hooks, this.opts)
    const where = link.description
    try {
      if (!linkReady.has(link)) await sh.attach(timeouts.identify)
      const c = plan.credentials
      this.precheck(plan)
      const writes = shellWrites(c)
      const direct = c.mode === 'direct'
      const cmd = async (line: string, what: string, ok?: (f: NonNullable<ReturnType<typeof shellFailure>>) => boolean): Promise<string> => {
        const out = await waitContext(sh, line, timeouts)
        const f = shellFailure(out)
        if (f && !ok?.(f)) throw shellError(what, { ...f, line: shown(f.line) }, where)
        return out
      }
      if (this.opts.start) await cmd('lwm2m stop', 'lwm2m stop', () => true)
      hooks.onStep?.('write', `${writes.length} resources`)
      // Re-provisioning deletes first: a stale Server instance must not outlive a new account.
      await cmd(`lwm2m delete 1/${SERVER_IID}`, `delete 1/${SERVER_IID}`, (f) => f.kind === 'errno' && (f.errno === -2 || f.errno === -22))
      if (direct) await cmd(`lwm2m create 1/${SERVER_IID}`, `create 1/${SERVER_IID}`, (f) => f.kind === 'create' && f.errno === -17)
      const total = writes.reduce((n, w) => n + writeCommand(w).length, 0)
      let done = 0
      hooks.onProgress?.(0, total)
      for (const w of writes) {
        const line = writeCommand(w)
        await cmd(line, w.path)
        done += line.length
        hooks.onProgress?.(done, total)
      }
      hooks.onStep?.('verify', `${writes.length} resources`)
      const digest = createHash('sha256')
      let crc = true
      for (const w of writes) {
        const got = await readBack(sh, w, crc, timeouts, cmd)
        if (got === 'no-crc32') {
          crc = false
          const again = await readBack(sh, w, false, timeouts, cmd)
          if (again === 'no-crc32') throw new Error('unreachable')
          digest.update(`${w.path}=${again}\n`)
        } else digest.update(`${w.path}=${got}\n`)
      }
      if (this.opts.start) {
        hooks.onStep?.('commit', 'lwm2m start')
        await startClient(sh, plan.endpoint, c.mode === 'bootstrap', timeouts, where)
      }
      hooks.onStep?.('done')
      // no device log in the result: the shell echoed the secrets typed into it
      return { verified: true, readbackDigest: digest.digest('hex') }
    } finally {
      sh.dispose()
    }
  }
}

/** `hwinfo devid` (unique per chip, what Zephyr's sample names endpoints by), else Device /3/0/2. */
async function identifyShell(sh: ZephyrShell, timeouts: Timeouts): Promise<Omit<DeviceIdentity, 'capabilities'>> {
  const hw = await sh.run('hwinfo devid', timeouts.identify)
  const m = /ID:\s*0x([0-9a-fA-F]{2,64})/.exec(hw)
  const ver = /Zephyr version ([\w.+-]{1,32})/.exec(await sh.run('kernel version', timeouts.identify))
  const fw = ver ? { firmware: `Zephyr ${ver[1]}` } : {}
  if (m) return { serial: m[1]!.toLowerCase(), ...fw }
  const out = await waitContext(sh, 'lwm2m read 3/0/2 -s', timeouts)
  if (shellFailure(out)) return fw
  const serial = out.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '')
  return { ...(serial ? { serial } : {}), ...fw }
}

/** Runs a command, waiting out "no lwm2m context yet" while the application boots (up to the identify timeout). */
async function waitContext(sh: ZephyrShell, line: string, timeouts: Timeouts): Promise<string> {
  const until = Date.now() + timeouts.identify
  for (;;) {
    const out = await sh.run(line, timeouts.commit)
    if (shellFailure(out)?.kind !== 'no-context' || Date.now() > until) return out
    await sleep(250)
  }
}

/** Reads one written resource back; returns its digest line value, or 'no-crc32' when the firmware lacks -crc32. */
async function readBack(
  sh: ZephyrShell,
  w: ShellWrite,
  crc: boolean,
  timeouts: Timeouts,
  cmd: (line: string, what: string, ok?: (f: NonNullable<ReturnType<typeof shellFailure>>) => boolean) => Promise<string>,
): Promise<string> {
  const where = sh.link.description
  const mismatch = (detail: string) =>
    new LwprovError('E_READBACK_MISMATCH', `${where}: ${w.path} reads back differently from what was written (${detail}).`, {
      exit: 'device',
      hint: 'The device is not verified. Re-run inject; if it repeats, check the firmware (CONFIG_LWM2M_SECURITY_KEY_SIZE, buffer sizes).',
      details: { path: w.path },
    })
  if (typeof w.value === 'number') {
    const out = await cmd(`lwm2m read ${w.path} -${w.type}`, w.path)
    const n = /^\s*(-?\d+)\s*$/m.exec(out)
    if (!n) throw deviceError('E_DEVICE_GARBAGE', `${where}: the read-back of ${w.path} is not a number: ${shown(out.trim().slice(0, 80))}`, 'Check the port and --protocol.')
    if (Number(n[1]) !== w.value) throw mismatch(`${w.secret ? 'value differs' : `${Number(n[1])}, wrote ${w.value}`}`)
    return String(w.value)
  }
  if (crc && w.opaque) {
    const out = await cmd(`lwm2m read ${w.path} -crc32`, w.path, (f) => f.kind === 'type')
    if (shellFailure(out)?.kind === 'type') return 'no-crc32'
    const n = /^\s*(?:0x([0-9a-fA-F]{1,8})|(\d{1,10}))\s*$/m.exec(out)
    if (!n) throw deviceError('E_DEVICE_GARBAGE', `${where}: the CRC-32 of ${w.path} is not a number: ${shown(out.trim().slice(0, 80))}`, 'Check the port and --protocol.')
    const got = n[1] !== undefined ? parseInt(n[1], 16) : Number(n[2])
    const want = crc32Of(w.value)
    if (got !== want) throw mismatch(`CRC-32 ${got.toString(16)}, expected ${want.toString(16)}`)
    return `crc32:${want.toString(16)}:${w.value.length}`
  }
  if (w.opaque) {
    const out = await cmd(`lwm2m read ${w.path} -x`, w.path)
    const got = w.value.length === 0 && out.trim() === '' ? Buffer.alloc(0) : parseHexDump(out)
    if (!got) throw deviceError('E_DEVICE_GARBAGE', `${where}: the hex dump of ${w.path} is malformed.`, 'Check the port and --protocol.')
    if (!got.equals(w.value)) throw mismatch(`${got.length} bytes read, ${w.value.length} written${w.secret ? '' : ', contents differ'}`)
    return createHash('sha256').update(got).digest('hex')
  }
  const out = await cmd(`lwm2m read ${w.path} -s`, w.path)
  const text = out.replace(/^\r?\n/, '').replace(/\r?\n$/, '').replace(/\r/g, '')
  if (text !== w.value.toString('utf8')) throw mismatch(`read "${shown(text.slice(0, 80))}"`)
  return createHash('sha256').update(w.value).digest('hex')
}

/** `lwm2m start`, waiting out an asynchronous `stop` (err -115 while the old session deregisters). */
async function startClient(sh: ZephyrShell, endpoint: string, bootstrap: boolean, timeouts: Timeouts, where: string): Promise<void> {
  const until = Date.now() + Math.max(3000, timeouts.commit)
  for (;;) {
    const out = await sh.run(`lwm2m start ${quoteShellValue(Buffer.from(endpoint), 'The endpoint name')} -b ${bootstrap ? 1 : 0}`, timeouts.commit)
    const f = shellFailure(out)
    if (!f) return
    if (f.kind === 'errno' && f.errno === -115 && Date.now() < until) {
      await sleep(300)
      continue
    }
    throw shellError('lwm2m start', { ...f, line: shown(f.line) }, where)
  }
}
