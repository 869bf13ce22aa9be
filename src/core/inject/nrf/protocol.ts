/**
 * Host side of `--protocol nrf-at`: the nRF91 modem credential store over AT commands (device-shells.md §3), raw
 * (at_host) or wrapped as `at '<cmd>'` in an NCS shell — detected. Identity from AT+CGSN (`{imei}`), a modem
 * firmware gate (AT+CGMR: ≥ 1.3.0, SHA-256 digests need ≥ 1.3.2), writes with the modem offline (AT+CFUN=4), old
 * credentials of the sec_tag deleted first, on-device keys with AT%KEYGEN (the CSR normalised, signed with the
 * factory CA, the certificate written back), and verification by the AT%CMNG=1 SHA-256 of every text written.
 * The modem stores credentials only: the server URI and account mode stay the application's configuration.
 */
import { createHash } from 'node:crypto'

import { LwprovError, deviceError, transportError, usageError } from '../../errors.js'
import { derToPem } from '../../pki/util.js'
import { shown } from '../../validate/escape.js'
import { LineConsole } from '../console/line-console.js'
import type { ByteLink, DeviceIdentity, InjectionHooks, InjectionPlan, InjectionResult, ProvisioningProtocol, Timeouts } from '../types.js'
import { ZephyrShell } from '../zephyr/protocol.js'
import {
  CredType,
  NCS_BOOTSTRAP_TAG,
  NCS_SERVER_TAG,
  RESERVED_TAGS,
  atLeast,
  cmeError,
  cmngDigest,
  cmngWrite,
  crlf,
  imeiOf,
  modemVersion,
  normalizeEcdsaCsr,
  parseAtReply,
  parseCmngList,
  parseKeygen,
  shellWrap,
  type AtReply,
} from './at.js'

export interface NrfAtOptions {
  /** sec_tag to write; default NCS_BOOTSTRAP_TAG (bootstrap) / NCS_SERVER_TAG (direct). */
  secTag?: number
}

type Mode = 'raw' | 'shell'

/** One AT session, raw or through the shell's `at` command. */
export class AtPort {
  private readonly con: LineConsole
  private sh: ZephyrShell | undefined

  constructor(
    readonly link: ByteLink,
    private readonly timeouts: Timeouts,
    private readonly hooks: InjectionHooks,
    public mode: Mode | undefined,
  ) {
    this.con = new LineConsole(link, hooks)
  }

  /** Finds how the modem is reached: `at AT+CGSN` (shell), then `AT+CGSN` (raw), 3 tries each. */
  async detect(ms: number): Promise<Mode> {
    const per = Math.max(300, Math.min(2000, Math.floor(ms / 3)))
    for (let i = 0; i < 3; i++) {
      for (const mode of ['shell', 'raw'] as const) {
        this.con.clear()
        await this.con.write(mode === 'shell' ? 'at AT+CGSN\r\n' : 'AT+CGSN\r\n')
        const got = await this.con
          .until((t) => (/\d{15}[\s\S]*\r?\nOK\r?\n/.test(t) ? true : /ERROR|command not found/.test(t) ? false : undefined), per, 'an IMEI')
          .catch((e: unknown) => {
            if (e instanceof LwprovError && e.code === 'E_DEVICE_TIMEOUT') return false
            throw e
          })
        if (got) {
          this.mode = mode
          if (mode === 'shell') {
            // a late prompt first, then colours off for clean replies
            await this.con.settle(30)
            this.sh = new ZephyrShell(this.link, this.timeouts, this.hooks)
            await this.sh.attach(ms)
          }
          return mode
        }
      }
    }
    throw transportError('E_DEVICE_TIMEOUT', `${this.link.description}: no nRF91 modem answered AT+CGSN (raw or through the shell's at command).`, 'Check that this is the AT/console port (boards expose several), the baud rate, and that the firmware runs at_host or the AT shell (docs/nrf-at.md).')
  }

  async cmd(cmd: string, ms = this.timeouts.frame): Promise<AtReply> {
    if (this.mode === undefined) await this.detect(this.timeouts.identify)
    if (this.mode === 'shell') {
      this.sh ??= new ZephyrShell(this.link, this.timeouts, this.hooks)
      const out = await this.sh.run(shellWrap(cmd), ms)
      const r = parseAtReply(out)
      if (!r) throw deviceError('E_DEVICE_GARBAGE', `${this.link.description}: the at shell command gave no result code: ${shown(out.trim().slice(0, 120))}`, 'Check that the firmware has the AT shell (CONFIG_AT_SHELL).')
      return r
    }
    this.con.clear()
    await this.con.write(`${cmd}\r\n`)
    return this.con.until((t) => parseAtReply(t), ms, `the reply to ${shown(cmd.slice(0, 24))}`)
  }

  /** `cmd`, failing with the CME meaning unless it answers OK. */
  async ok(cmd: string, ms?: number): Promise<AtReply> {
    const r = await this.cmd(cmd, ms)
    if (!r.ok) throw cmeError(cmd, r, this.link.description)
    return r
  }

  get log(): string {
    return this.con.log
  }

  dispose(): void {
    this.sh?.dispose()
    this.con.dispose()
  }
}

const linkMode = new WeakMap<ByteLink, { mode: Mode; imei?: string }>()

export class NrfAtProtocol implements ProvisioningProtocol {
  readonly name = 'nrf-at' as const

  constructor(private readonly opts: NrfAtOptions = {}) {
    if (opts.secTag !== undefined && RESERVED_TAGS.includes(opts.secTag)) {
      throw new LwprovError('E_SEC_TAG_INVALID', `sec_tag ${opts.secTag} is reserved by the modem.`, { exit: 'usage', hint: `Use a tag below ${RESERVED_TAGS[0]} (NCS LwM2M defaults: ${NCS_SERVER_TAG} server, ${NCS_BOOTSTRAP_TAG} bootstrap).` })
    }
  }

  precheck(plan: InjectionPlan): void {
    const c = plan.credentials
    if (c.security !== 'psk' && c.security !== 'cert') {
      throw usageError('E_SECURITY_UNSUPPORTED', `The modem stores PSK or certificate credentials, not ${c.security}.`, 'Use --security psk or cert with --protocol nrf-at.')
    }
    if (c.pskIdentity?.includes('"') || c.endpoint.includes('"')) throw usageError('E_AT_VALUE_INVALID', 'The PSK identity cannot hold a double quote in an AT command.', 'Pick another endpoint name or --psk-identity random.')
  }

  tagFor(mode: 'bootstrap' | 'direct'): number {
    return this.opts.secTag ?? (mode === 'bootstrap' ? NCS_BOOTSTRAP_TAG : NCS_SERVER_TAG)
  }

  async identify(link: ByteLink, timeouts: Timeouts, hooks: InjectionHooks, fallback?: Partial<DeviceIdentity>): Promise<DeviceIdentity> {
    const at = new AtPort(link, timeouts, hooks, undefined)
    try {
      const mode = await at.detect(timeouts.identify)
      await at.ok('AT+CMEE=1')
      const imei = imeiOf(await at.ok('AT+CGSN'))
      if (!imei) throw deviceError('E_AT_NO_IMEI', `${link.description}: AT+CGSN did not report a 15-digit IMEI.`, 'Check that this port is the modem\'s AT port (docs/nrf-at.md).')
      const fw = (await at.ok('AT+CGMR')).lines.find((l) => l !== '') ?? ''
      gate(fw, link.description)
      linkMode.set(link, { mode, imei })
      return { ...fallback, imei, firmware: fw.slice(0, 64), capabilities: ['keygen', `at-${mode}`] }
    } finally {
      at.dispose()
    }
  }

  async provision(link: ByteLink, plan: InjectionPlan, timeouts: Timeouts, hooks: InjectionHooks): Promise<InjectionResult> {
    const known = linkMode.get(link)
    const at = new AtPort(link, timeouts, hooks, known?.mode)
    const where = link.description
    try {
      if (!known) {
        await at.detect(timeouts.identify)
        await at.ok('AT+CMEE=1')
      }
      this.precheck(plan)
      const c = plan.credentials
      const tag = this.tagFor(c.mode)
      // credential writes need the modem offline (else CME 518); its previous state is restored afterwards
      const before = /\+CFUN: ?(\d)/.exec((await at.ok('AT+CFUN?')).lines.join('\n'))?.[1]
      await at.ok('AT+CFUN=4', timeouts.commit)
      hooks.onStep?.('write', `sec_tag ${tag}`)
      // re-provisioning: a type that exists refuses a write (CME 519), so the tag's old credentials go first
      const old = parseCmngList((await at.ok(`AT%CMNG=1,${tag}`)).lines, tag)
      for (const type of [...old.keys()].filter((t) => t <= CredType.PSK_ID)) await at.ok(`AT%CMNG=3,${tag},${type}`)

      const written = new Map<number, string>()
      let certificateDer: Uint8Array | undefined
      const put = async (type: number, text: string): Promise<void> => {
        await at.ok(cmngWrite(tag, type, text), timeouts.commit)
        written.set(type, text)
      }
      if (c.security === 'psk') {
        await put(CredType.PSK_ID, c.pskIdentity ?? c.endpoint)
        await put(CredType.PSK, Buffer.from(c.psk ?? []).toString('hex'))
      } else {
        let cert = c.certificateDer
        if (!c.privateKeyDer) {
          if (!plan.signCsr) throw usageError('E_LWM2M_CONFIG_INVALID', 'No private key and no CSR signer for certificate mode.', 'Pass --ca DIR (and --device-keygen for on-device keys).')
          hooks.onStep?.('keygen', `AT%KEYGEN sec_tag ${tag}`)
          const kg = await at.cmd(`AT%KEYGEN=${tag},2,0,"CN=${plan.endpoint}"`, Math.max(timeouts.commit, 20_000))
          if (!kg.ok) throw cmeError('AT%KEYGEN', kg, where)
          const csr = parseKeygen(kg.lines)
          if (!csr) throw deviceError('E_AT_NO_CSR', `${where}: AT%KEYGEN answered OK without a CSR.`, 'Check the modem firmware (AT%KEYGEN needs >= 1.3.0).')
          hooks.onStep?.('sign', `${csr.length}-byte CSR`)
          const signed = await plan.signCsr(normalizeEcdsaCsr(csr))
          cert = signed.certificateDer
          certificateDer = cert
        } else {
          await put(CredType.CLIENT_KEY, crlf(derToPem(c.privateKeyDer, 'PRIVATE KEY')))
        }
        if (!cert) throw usageError('E_LWM2M_CONFIG_INVALID', 'No device certificate to write.', 'Pass --ca DIR.')
        await put(CredType.CLIENT_CERT, crlf(derToPem(cert, 'CERTIFICATE')))
        if (c.serverCaDer) await put(CredType.ROOT_CA_CERT, crlf(derToPem(c.serverCaDer, 'CERTIFICATE')))
      }

      hooks.onStep?.('verify', `AT%CMNG=1,${tag}`)
      const list = parseCmngList((await at.ok(`AT%CMNG=1,${tag}`)).lines, tag)
      const digest = createHash('sha256')
      for (const [type, text] of [...written.entries()].sort((a, b) => a[0] - b[0])) {
        const got = list.get(type)
        // through the shell the PEM newlines went as `\n`: the modem may hold LF rather than CRLF text
        const want = [cmngDigest(text), ...(at.mode === 'shell' ? [cmngDigest(text.replace(/\r\n/g, '\n'))] : [])]
        if (got === undefined || !want.includes(got)) {
          throw new LwprovError('E_READBACK_MISMATCH', `${where}: sec_tag ${tag} type ${type} ${got === undefined ? 'is missing after the write' : `has SHA-256 ${shown(got.slice(0, 64))}, expected ${want[0]}`}.`, {
            exit: 'device',
            hint: 'The device is not verified. Re-run inject; if it repeats, check the modem firmware (SHA-256 digests need >= 1.3.2).',
            details: { secTag: tag, type },
          })
        }
        digest.update(`${tag},${type},${got}\n`)
      }
      if (certificateDer !== undefined) {
        // a key generated on the device is checked by presence (it never leaves the modem)
        if (!list.has(CredType.CLIENT_KEY)) throw new LwprovError('E_READBACK_MISMATCH', `${where}: the generated key is not in sec_tag ${tag}.`, { exit: 'device', hint: 'Re-run inject.' })
        digest.update(`${tag},${CredType.CLIENT_KEY},present\n`)
      }
      if (before !== undefined && before !== '4') await at.ok(`AT+CFUN=${before}`, timeouts.commit)
      hooks.onStep?.('done')
      // no device log in the result: through the shell the PSK written was echoed
      return { verified: true, readbackDigest: digest.digest('hex'), ...(certificateDer ? { certificateDer } : {}) }
    } finally {
      at.dispose()
    }
  }
}

/** Modem firmware ≥ 1.3.0 writes credentials; SHA-256 verification needs ≥ 1.3.2 (`ntn` builds are new enough). */
function gate(fw: string, where: string): void {
  const v = modemVersion(fw)
  if (v.ntn) return
  if (!v.version || !atLeast(v.version, [1, 3, 2])) {
    throw deviceError(
      'E_MODEM_FIRMWARE_OLD',
      `${where}: modem firmware ${shown(fw.slice(0, 64)) || '(unknown)'} cannot be verified: AT%CMNG=1 reports SHA-256 digests from 1.3.2 on (credentials need >= 1.3.0).`,
      'Update the modem firmware (nRF9160: mfw 1.3.2 or later; nRF91x1: 2.0.0 or later), then re-run (docs/nrf-at.md).',
    )
  }
}
