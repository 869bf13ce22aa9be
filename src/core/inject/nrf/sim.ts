/**
 * A simulated nRF91 modem (device-shells.md §3): raw AT (at_host: no echo, `OK`/`ERROR`/`+CME ERROR: n`) or, with
 * `shell: true`, an NCS shell whose `at '<cmd>'` command forwards to the modem. The credential store (`%CMNG`,
 * digests = upper-case SHA-256 of the text written), AT%KEYGEN with a CSR encoded the modem's way (ecdsa-with-SHA256
 * with NULL parameters), CME 518 unless offline, CME 519 on an existing credential. The store survives sessions.
 */
import { createHash, webcrypto } from 'node:crypto'

import type { SimDevice, SimDeviceOptions } from '../faults.js'
import { ShellSim, type ShellSimOptions } from '../console/shell-sim.js'
import { withNullParams } from './at.js'

export interface ModemNv {
  /** `${tag},${type}` → the text written (or a marker for a generated key). */
  creds: Map<string, string>
}

export function newModemNv(): ModemNv {
  return { creds: new Map() }
}

export interface NrfSimOptions extends ShellSimOptions {
  nv?: ModemNv
  /** AT+CGMR reply; default mfw_nrf9160_1.3.5. */
  firmware?: string
  /** Reached through the shell's `at` command instead of raw AT. */
  shell?: boolean
  /** IMEI; default derived from the serial. */
  imei?: string
}

/** The modem: AT command in, reply lines out (final result code last). */
export class Modem {
  private cfun = 1
  private cmee = false
  readonly imei: string

  constructor(private readonly o: NrfSimOptions & { nv: ModemNv }) {
    this.imei = o.imei ?? `35${BigInt(`0x${createHash('sha256').update(o.serial).digest('hex').slice(0, 15)}`).toString().padStart(13, '0').slice(-13)}`
  }

  reset(): void {
    this.cfun = 1
  }

  private cme(n: number): string[] {
    return [this.cmee ? `+CME ERROR: ${n}` : 'ERROR']
  }

  async handle(cmd: string): Promise<string[]> {
    const u = cmd.toUpperCase()
    if (u === 'AT') return ['OK']
    if (u === 'AT+CMEE=1') {
      this.cmee = true
      return ['OK']
    }
    if (u === 'AT+CGSN') return [this.imei, 'OK']
    if (u === 'AT+CGMR') return [this.o.firmware ?? 'mfw_nrf9160_1.3.5', 'OK']
    if (u === 'AT+CFUN?') return [`+CFUN: ${this.cfun}`, 'OK']
    let m = /^AT\+CFUN=(\d)$/.exec(u)
    if (m) {
      this.cfun = Number(m[1])
      return ['OK']
    }
    m = /^AT%CMNG=1(?:,(\d+))?(?:,(\d+))?$/.exec(u)
    if (m) {
      const lines: string[] = []
      for (const [k, text] of [...this.o.nv.creds.entries()].sort()) {
        const [tag, type] = k.split(',')
        if (m[1] !== undefined && tag !== m[1]) continue
        if (m[2] !== undefined && type !== m[2]) continue
        let sha = createHash('sha256').update(text, 'utf8').digest('hex').toUpperCase()
        if (this.o.corruptDigest) sha = sha.slice(0, -1) + (sha.endsWith('0') ? '1' : '0')
        lines.push(`%CMNG: ${tag},${type},"${sha}"`)
      }
      return [...lines, 'OK']
    }
    m = /^AT%CMNG=3,(\d+),(\d+)$/.exec(u)
    if (m) {
      if (this.cfun !== 4 && this.cfun !== 0) return this.cme(518)
      const k = `${m[1]},${m[2]}`
      if (!this.o.nv.creds.has(k)) return this.cme(513)
      this.o.nv.creds.delete(k)
      return ['OK']
    }
    // the value keeps its case: match on the original text
    m = /^AT%CMNG=0,(\d+),(\d+),"([^"]*)"$/is.exec(cmd)
    if (m) {
      if (this.cfun !== 4 && this.cfun !== 0) return this.cme(518)
      const k = `${m[1]},${m[2]}`
      const type = Number(m[2])
      if (this.o.nv.creds.has(k)) return this.cme(519)
      if (this.o.refuse && (type === 3 || type === 1)) return this.cme(514)
      if (type === 3 && !/^[0-9a-fA-F]+$/.test(m[3]!)) return this.cme(514)
      if (this.o.nv.creds.size >= 32) return this.cme(515)
      this.o.nv.creds.set(k, m[3]!)
      this.o.store?.(Buffer.from([...this.o.nv.creds.entries()].map(([kk, v]) => `${kk}=${v}`).join('\n')))
      return ['OK']
    }
    m = /^AT%KEYGEN=(\d+),2,0(?:,"CN=([^"]*)")?$/i.exec(cmd)
    if (m) {
      if (this.cfun !== 4 && this.cfun !== 0) return this.cme(518)
      const k = `${m[1]},2`
      if (this.o.nv.creds.has(k)) return this.cme(519)
      const csr = await makeCsr(m[2] ?? this.imei)
      this.o.nv.creds.set(k, `generated-key:${createHash('sha256').update(csr).digest('hex')}`)
      const cose = Buffer.from([0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x40, 0x40]).toString('base64url')
      return [`%KEYGEN: "${withNullParams(csr).toString('base64url')}.${cose}"`, 'OK']
    }
    return ['ERROR']
  }
}

/** A P-256 key and a PKCS#10 CSR for it (CN as given), made the way a strict encoder would. */
async function makeCsr(cn: string): Promise<Buffer> {
  await import('reflect-metadata')
  const x509 = await import('@peculiar/x509')
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])
  x509.cryptoProvider.set(webcrypto as never)
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${cn.replace(/[,+=\\]/g, '')}`, keys, signingAlgorithm: alg })
  return Buffer.from(csr.rawData)
}

/** Raw AT over the UART (at_host): lines in, replies out, no echo. */
export class NrfAtSim implements SimDevice {
  private readonly modem: Modem
  private line = ''
  private readonly senders: ((b: Buffer) => void)[] = []
  private queue: Promise<void> = Promise.resolve()

  constructor(o: NrfSimOptions & { nv: ModemNv }) {
    this.modem = new Modem(o)
    setImmediate(() => this.send('Ready\r\n'))
  }

  onSend(cb: (b: Buffer) => void): void {
    this.senders.push(cb)
  }

  private send(t: string): void {
    for (const s of this.senders) s(Buffer.from(t, 'latin1'))
  }

  reset(): void {
    this.line = ''
    this.quoted = false
    this.modem.reset()
    this.send('Ready\r\n')
  }

  private quoted = false

  receive(chunk: Buffer): void {
    for (const b of chunk) {
      // at_host keeps line ends inside double quotes (multi-line PEM values)
      if (b === 0x22) this.quoted = !this.quoted
      if ((b === 0x0d || b === 0x0a) && !this.quoted) {
        const cmd = this.line.trim()
        this.line = ''
        if (cmd === '') continue
        // one command at a time, in order (key generation takes a while)
        this.queue = this.queue.then(async () => {
          const lines = /^AT/i.test(cmd) && cmd.length <= 4096 ? await this.modem.handle(cmd) : ['ERROR']
          this.send(lines.map((l) => `${l}\r\n`).join(''))
        })
        continue
      }
      if (this.line.length < 8192) this.line += String.fromCharCode(b)
    }
  }
}

/** An NCS application shell with the `at` command (AT shell). */
export class NrfShellSim extends ShellSim {
  private readonly modem: Modem

  constructor(o: NrfSimOptions & { nv: ModemNv }) {
    super({ cmdBuffer: 2048, ...o })
    this.modem = new Modem(o)
  }

  protected override onReset(): void {
    this.modem.reset()
  }

  protected async command(line: string): Promise<void> {
    const m = /^at\s+(.*)$/s.exec(line)
    if (!m) return this.notFound(line)
    let arg = m[1]!.trim()
    if (arg.startsWith("'") && arg.endsWith("'") && arg.length >= 2) arg = arg.slice(1, -1)
    arg = arg.replace(/\\n/g, '\n')
    this.print(await this.modem.handle(arg))
  }
}

export function nrfSim(o: NrfSimOptions & { nv: ModemNv }): SimDevice {
  return o.shell ? new NrfShellSim(o) : new NrfAtSim(o)
}

export type { SimDeviceOptions }
