/**
 * A model of the device side of FCC: `fcc_bundle_handler` (izuma-fcc.md §5) storing items into an `FccItemStore`,
 * then the verification of §7, and the response map of §8. The simulated device (sim.ts) wraps it with framing and a
 * session; the host pre-check (verify.ts) runs it on an empty store in dry-run mode.
 *
 * It is strict where FCC is lax (exact group/field names, `Format` required) and reproduces FCC's observable
 * behaviour where the vectors pin it down: status codes, InfoMessage/WarningInfo text, SID echo only when read before
 * a failure, scheme checked first, CsrReqs last and only with SID and an explicit Verify: 0.
 */
import { createPublicKey, KeyObject, webcrypto, X509Certificate } from 'node:crypto'

// @peculiar/x509 needs the Reflect metadata API, loaded before it (not at CLI start-up: most commands never use it).
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'

import { CborTagged, decodeCbor, encodeCbor, type CborMap, type CborValue } from '../../cbor.js'
import { FCC_MAX_CSR_REQUESTS, FCC_MAX_KEYS_IN_MAP, FCC_SCHEME_VERSION, FccItem } from './bundle.js'
import { FccItemStore, infoMessage, type FccVerifyOptions, isP256, parsePrivateKeyDer, spkiDer, verifyDeviceConfiguration, type FccConfigValue } from './kcm.js'
import { FccStatus, type FccInfoEntry } from './status.js'

/** What the handler did with one bundle. */
export interface FccHandlerResult {
  /** `fcc_status_e` (ReturnStatus). */
  status: number
  /** Item named in the InfoMessage. */
  item: string
  /** lwprov's longer explanation (not sent by the device). */
  detail?: string
  /** SID, when the handler read it before finishing or failing. */
  sid?: string
  /** CSRs generated for CsrReqs. */
  csrs?: Array<{ keyName: string; csrDer: Buffer }>
  warnings: FccInfoEntry[]
  /** True when verification ran and passed. */
  verified: boolean
  /** The session continues after this message (KpAlvSess in force). */
  keepAlive: boolean
}

export interface FccDeviceOptions {
  /** Device clock before mbed.CurrentTime sets it (default: the host clock). */
  clock?: () => Date
  /** Host pre-check: never generate keys for CsrReqs. */
  dryRun?: boolean
  /** Passed to the verification (host pre-check before on-device key generation). */
  verify?: FccVerifyOptions
}

const ALLOWED = {
  Keys: new Set(['Name', 'Type', 'Format', 'Data']),
  Certificates: new Set(['Name', 'Format', 'Data', 'PrKN']),
  CertificateChains: new Set(['Name', 'Format', 'DataArray', 'PrKN']),
  ConfigParams: new Set(['Name', 'Data']),
  CsrReqs: new Set(['PrKN', 'Subj', 'MD', 'Ext', 'SM']),
}
/** Config items FCC truncates to a uint32. */
const UINT32_ITEMS = new Set<string>([FccItem.UseBootstrap, FccItem.MemoryTotalKB, FccItem.FirstToClaim])
const SIXTEEN_BYTE_ITEMS = new Set<string>([FccItem.ClassId, FccItem.VendorId])

class Failure {
  constructor(
    readonly status: number,
    readonly item: string,
    readonly detail?: string,
  ) {}
}
const failure = (status: number, item = '', detail?: string) => new Failure(status, item, detail)

const isMap = (v: CborValue): v is CborMap => v instanceof Map

/** The FCC bundle handler with its storage and keep-alive state. */
export class FccDevice {
  readonly store = new FccItemStore()
  /** KpAlvSess of the last fully read message: the session goes on after the response. */
  keepAlive = false
  private timeOffsetMs = 0
  private readonly clock: () => Date
  private readonly dryRun: boolean
  private readonly verifyOptions: FccVerifyOptions

  constructor(opts: FccDeviceOptions = {}) {
    this.clock = opts.clock ?? (() => new Date())
    this.dryRun = opts.dryRun ?? false
    this.verifyOptions = opts.verify ?? {}
  }

  /** Device time (mbed.CurrentTime, once sent, moves it). */
  now(): Date {
    return new Date(this.clock().getTime() + this.timeOffsetMs)
  }

  /** `fcc_storage_delete()` plus session reset. */
  wipe(): void {
    this.store.clear()
    this.keepAlive = false
  }

  /** Processes one bundle (the CBOR payload of a request frame). */
  async handle(bytes: Uint8Array): Promise<FccHandlerResult> {
    const r: FccHandlerResult = { status: 0, item: '', warnings: [], verified: false, keepAlive: this.keepAlive }
    try {
      await this.process(bytes, r)
    } catch (e) {
      if (!(e instanceof Failure)) throw e
      r.status = e.status
      r.item = e.item
      r.detail = e.detail
      r.csrs = undefined
    }
    r.keepAlive = this.keepAlive
    return r
  }

  private async process(bytes: Uint8Array, r: FccHandlerResult): Promise<void> {
    // Indefinite-length top maps are rejected by FCC's CBOR parser use.
    if (bytes[0] === 0xbf) throw failure(FccStatus.BUNDLE_ERROR, '', 'indefinite-length top map')
    let top: CborValue
    try {
      top = decodeCbor(bytes)
    } catch (e) {
      throw failure(FccStatus.BUNDLE_ERROR, '', `not one CBOR item: ${(e as Error).message}`)
    }
    if (!isMap(top)) throw failure(FccStatus.BUNDLE_ERROR, '', 'the bundle is not a CBOR map')
    if (top.size > FCC_MAX_KEYS_IN_MAP) throw failure(FccStatus.BUNDLE_ERROR, '', `the bundle has ${top.size} keys (max ${FCC_MAX_KEYS_IN_MAP})`)

    // The scheme is checked before any other key is read (so no SID echo on a wrong scheme).
    const sv = top.get('SchemeVersion')
    const scheme = typeof sv === 'string' ? sv : sv instanceof Uint8Array ? Buffer.from(sv).toString('utf8') : undefined
    if (scheme !== FCC_SCHEME_VERSION) throw failure(FccStatus.BUNDLE_INVALID_SCHEME, '', `SchemeVersion ${JSON.stringify(scheme ?? null)} is not "0.0.1"`)

    // Entropy and ROT first.
    if (top.has('Entropy')) this.secret(top.get('Entropy')!, 48, 'entropy', FccStatus.ENTROPY_ERROR)
    if (top.has('ROT')) this.secret(top.get('ROT')!, 16, 'rot', FccStatus.ROT_ERROR)

    let verify: number | undefined
    let disable: number | undefined
    let keepAlive: number | undefined
    for (const [k, v] of top) {
      if (typeof k !== 'string') throw failure(FccStatus.BUNDLE_ERROR, '', 'non-text group name')
      switch (k) {
        case 'SchemeVersion':
        case 'Entropy':
        case 'ROT':
        case 'CsrReqs':
          break
        case 'SID':
          if (typeof v !== 'string') throw failure(FccStatus.BUNDLE_ERROR, 'SID', 'SID must be a text string')
          r.sid = v
          break
        case 'Verify':
          verify = this.flag(v, k)
          break
        case 'Disable':
          disable = this.flag(v, k)
          break
        case 'KpAlvSess':
          keepAlive = this.flag(v, k)
          break
        case 'Keys':
          for (const e of this.entries(v, k)) this.key(e)
          break
        case 'Certificates':
          for (const e of this.entries(v, k)) this.certificate(e)
          break
        case 'CertificateChains':
          for (const e of this.entries(v, k)) this.chain(e)
          break
        case 'ConfigParams':
          for (const e of this.entries(v, k)) this.config(e)
          break
        default:
          throw failure(FccStatus.BUNDLE_INVALID_GROUP, k, `unknown group "${k}"`)
      }
    }

    const csrReqs = top.get('CsrReqs')
    if (csrReqs !== undefined) {
      if (r.sid === undefined || verify !== 0 || disable === 1)
        throw failure(FccStatus.BUNDLE_ERROR, '', 'CsrReqs needs SID, an explicit Verify: 0 and no Disable')
      r.csrs = await this.csrRequests(csrReqs)
    }

    if (disable === 1 && keepAlive === 1) throw failure(FccStatus.BUNDLE_INVALID_KEEP_ALIVE_SESSION_STATUS, '', 'Disable with KpAlvSess')
    // Only a fully read message changes the keep-alive state (vector 13: a failing message keeps the old one).
    this.keepAlive = keepAlive === 1

    if ((verify ?? 1) === 1) {
      const out = verifyDeviceConfiguration(this.store, this.now(), this.verifyOptions)
      r.warnings = out.warnings
      if (out.status !== 0) {
        // Warnings gathered so far travel with the failure.
        const f = failure(out.status, out.item, out.detail)
        r.status = f.status
        r.item = f.item
        r.detail = f.detail
        return
      }
      r.verified = true
    }
  }

  private flag(v: CborValue, name: string): number {
    // Booleans must be integers: CBOR true gets "General error:Verify".
    if (typeof v !== 'number' || (v !== 0 && v !== 1)) throw failure(FccStatus.BUNDLE_ERROR, name, `${name} must be the integer 0 or 1`)
    return v
  }

  private secret(v: CborValue, size: number, which: 'entropy' | 'rot', status: number): void {
    if (!(v instanceof Uint8Array) || v.length !== size) throw failure(status, '', `${which} must be ${size} bytes`)
    if (this.store[which]) throw failure(status, '', `${which} already set`)
    this.store[which] = Buffer.from(v)
  }

  private entries(v: CborValue, group: keyof typeof ALLOWED): CborMap[] {
    if (!Array.isArray(v)) throw failure(FccStatus.BUNDLE_ERROR, '', `${group} must be an array`)
    const allowed = ALLOWED[group]
    return v.map((e) => {
      if (!isMap(e)) throw failure(FccStatus.BUNDLE_ERROR, '', `${group} entries must be maps`)
      for (const f of e.keys()) {
        if (typeof f !== 'string' || !allowed.has(f)) throw failure(FccStatus.NOT_SUPPORTED, '', `field ${String(f)} is not supported in ${group}`)
      }
      return e
    })
  }

  private name(e: CborMap): string {
    const n = e.get('Name')
    if (typeof n !== 'string' || n.length === 0) throw failure(FccStatus.BUNDLE_ERROR, '', 'item without a Name')
    return n
  }

  private der(e: CborMap, name: string): Buffer {
    const f = e.get('Format')
    if (f === undefined) throw failure(FccStatus.BUNDLE_ERROR, name, 'missing Format')
    if (f !== 'der') throw failure(FccStatus.NOT_SUPPORTED, '', `Format ${JSON.stringify(f)} is not supported (only "der")`)
    const d = e.get('Data')
    if (!(d instanceof Uint8Array) || d.length === 0) throw failure(FccStatus.BUNDLE_ERROR, name, 'Data must be a non-empty byte string')
    return Buffer.from(d)
  }

  private fresh(name: string): void {
    if (this.store.has(name)) throw failure(FccStatus.KCM_FILE_EXIST_ERROR, name, `${name} is already stored`)
  }

  private key(e: CborMap): void {
    const name = this.name(e)
    const type = e.get('Type')
    if (type !== 'ECCPrivate' && type !== 'ECCPublic') throw failure(FccStatus.NOT_SUPPORTED, '', `key Type ${JSON.stringify(type)} is not supported`)
    const data = this.der(e, name)
    this.fresh(name)
    try {
      if (type === 'ECCPrivate') {
        const privateKey = parsePrivateKeyDer(data)
        if (!isP256(privateKey)) throw new Error('not P-256')
        this.store.keys.set(name, { privateKey, publicKey: createPublicKey(privateKey) })
      } else {
        const publicKey = createPublicKey({ key: data, format: 'der', type: 'spki' })
        if (!isP256(publicKey)) throw new Error('not P-256')
        this.store.keys.set(name, { publicKey })
      }
    } catch {
      throw failure(FccStatus.KCM_CRYPTO_ERROR, name, `${name} is not an EC P-256 key in DER`)
    }
  }

  private certificate(e: CborMap): void {
    const name = this.name(e)
    const data = this.der(e, name)
    this.fresh(name)
    let pub: KeyObject
    try {
      pub = new X509Certificate(data).publicKey
    } catch {
      throw failure(FccStatus.INVALID_CERTIFICATE, name, `${name} is not a DER X.509 certificate`)
    }
    this.checkPrKN(e, name, pub)
    this.store.certificates.set(name, data)
  }

  private chain(e: CborMap): void {
    const name = this.name(e)
    const f = e.get('Format')
    if (f !== 'der') throw failure(FccStatus.NOT_SUPPORTED, '', 'chains must be "der"')
    const arr = e.get('DataArray')
    if (!Array.isArray(arr) || arr.length === 0 || arr.length > 5 || !arr.every((c) => c instanceof Uint8Array))
      throw failure(FccStatus.BUNDLE_ERROR, name, 'DataArray must hold 1 to 5 DER certificates')
    this.fresh(name)
    const certs = arr.map((c) => Buffer.from(c as Uint8Array))
    let pub: KeyObject
    try {
      pub = new X509Certificate(certs[0]!).publicKey
      for (const c of certs.slice(1)) void new X509Certificate(c)
    } catch {
      throw failure(FccStatus.INVALID_CERTIFICATE, name, `${name} holds an invalid certificate`)
    }
    this.checkPrKN(e, name, pub)
    this.store.chains.set(name, certs)
  }

  private checkPrKN(e: CborMap, certName: string, pub: KeyObject): void {
    const prkn = e.get('PrKN')
    if (prkn === undefined) return
    if (typeof prkn !== 'string') throw failure(FccStatus.BUNDLE_ERROR, certName, 'PrKN must be text')
    const key = this.store.keys.get(prkn)
    if (!key) throw failure(FccStatus.ITEM_NOT_EXIST, prkn, `no key named ${prkn} on the device`)
    if (!spkiDer(key.publicKey).equals(spkiDer(pub)))
      throw failure(FccStatus.CERTIFICATE_PUBLIC_KEY_CORRELATION_ERROR, certName, `${certName} does not belong to the key ${prkn}`)
  }

  private config(e: CborMap): void {
    const name = this.name(e)
    const d = e.get('Data')
    let value: FccConfigValue
    if (typeof d === 'string') value = { type: 'text', value: d }
    else if (d instanceof Uint8Array) value = { type: 'bytes', value: Buffer.from(d) }
    else if ((typeof d === 'number' && Number.isInteger(d)) || typeof d === 'bigint') {
      const n = BigInt(d)
      value = n >= 0n ? { type: 'uint', value: n, size: 8 } : { type: 'int', value: n }
    } else if (d instanceof CborTagged && d.tag === 2 && d.value instanceof Uint8Array) {
      value = { type: 'uint', value: BigInt(`0x${Buffer.from(d.value).toString('hex') || '0'}`), size: 8 }
    } else throw failure(FccStatus.BUNDLE_ERROR, name, `${name}: unsupported Data type`)

    if (name === FccItem.CurrentTime) {
      // Sets the device's secure time; not stored.
      if (value.type !== 'uint') throw failure(FccStatus.BUNDLE_ERROR, name, 'mbed.CurrentTime must be an unsigned integer')
      this.timeOffsetMs = Number(value.value) * 1000 - this.clock().getTime()
      return
    }
    if (UINT32_ITEMS.has(name) && value.type === 'uint') value = { type: 'uint', value: value.value & 0xffffffffn, size: 4 }
    if (SIXTEEN_BYTE_ITEMS.has(name) && (value.type !== 'bytes' || value.value.length !== 16))
      throw failure(FccStatus.WRONG_ITEM_DATA_SIZE, name, `${name} must be 16 raw bytes`)
    this.fresh(name)
    this.store.config.set(name, value)
  }

  private async csrRequests(v: CborValue): Promise<Array<{ keyName: string; csrDer: Buffer }>> {
    if (!Array.isArray(v)) throw failure(FccStatus.BUNDLE_ERROR, '', 'CsrReqs must be an array')
    if (v.length > FCC_MAX_CSR_REQUESTS) throw failure(FccStatus.TOO_MANY_CSR_REQUESTS, '', `${v.length} CSR requests (max 5)`)
    const out: Array<{ keyName: string; csrDer: Buffer }> = []
    for (const e of this.entries(v, 'CsrReqs')) {
      const keyName = e.get('PrKN')
      const subj = e.get('Subj')
      const md = e.get('MD')
      if (typeof keyName !== 'string' || typeof subj !== 'string' || md !== 1) throw failure(FccStatus.BUNDLE_ERROR, '', 'CsrReqs entries need PrKN, Subj and MD: 1')
      const ext = e.get('Ext')
      const ku = isMap(ext) && typeof ext.get('KU') === 'number' ? (ext.get('KU') as number) : 0
      const eku = isMap(ext) && typeof ext.get('EKU') === 'number' ? (ext.get('EKU') as number) : 0
      this.fresh(keyName)
      if (this.dryRun) continue
      try {
        out.push({ keyName, csrDer: await this.generateCsr(keyName, subj, ku, eku) })
      } catch {
        throw failure(FccStatus.KCM_CRYPTO_ERROR, keyName, `could not generate a key and CSR for "${subj}"`)
      }
    }
    return out
  }

  /** Generates a P-256 key "on the device" (it stays in the store) and a DER PKCS#10 CSR for it. */
  private async generateCsr(keyName: string, subject: string, ku: number, eku: number): Promise<Buffer> {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
    const extensions: x509.Extension[] = []
    const kuFlags =
      (ku & 1 ? x509.KeyUsageFlags.digitalSignature : 0) |
      (ku & 2 ? x509.KeyUsageFlags.nonRepudiation : 0) |
      (ku & 4 ? x509.KeyUsageFlags.keyCertSign : 0) |
      (ku & 8 ? x509.KeyUsageFlags.keyAgreement : 0)
    if (kuFlags) extensions.push(new x509.KeyUsagesExtension(kuFlags))
    const ekuOids = [
      [1, '2.5.29.37.0'],
      [2, '1.3.6.1.5.5.7.3.1'],
      [4, '1.3.6.1.5.5.7.3.2'],
      [8, '1.3.6.1.5.5.7.3.3'],
      [16, '1.3.6.1.5.5.7.3.4'],
      [256, '1.3.6.1.5.5.7.3.8'],
      [512, '1.3.6.1.5.5.7.3.9'],
    ] as const
    const usages = ekuOids.filter(([bit]) => eku & bit).map(([, oid]) => oid)
    if (usages.length) extensions.push(new x509.ExtendedKeyUsageExtension(usages))
    const csr = await x509.Pkcs10CertificateRequestGenerator.create(
      { name: subject, keys, signingAlgorithm: alg, extensions },
      webcrypto as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[1],
    )
    const privateKey = KeyObject.from(keys.privateKey)
    this.store.keys.set(keyName, { privateKey, publicKey: createPublicKey(privateKey), generated: true })
    return Buffer.from(csr.rawData)
  }
}

/**
 * Encodes the device's response map (`encode_response_params`): an indefinite-length map with keys in the device's
 * fixed order — Csrs (definite array of indefinite maps), SchemeVersion, SID, ReturnStatus, InfoMessage, WarningInfo.
 */
export function encodeFccResponse(r: Pick<FccHandlerResult, 'status' | 'item' | 'sid' | 'csrs' | 'warnings'>): Buffer {
  const parts: Buffer[] = [Buffer.from([0xbf])]
  const pair = (k: string, v: CborValue) => parts.push(encodeCbor(k), encodeCbor(v))
  if (r.csrs) {
    parts.push(encodeCbor('Csrs'), arrayHead(r.csrs.length))
    for (const c of r.csrs) {
      parts.push(Buffer.from([0xbf]))
      pair('PrKN', c.keyName)
      pair('Data', c.csrDer)
      parts.push(Buffer.from([0xff]))
    }
  }
  pair('SchemeVersion', FCC_SCHEME_VERSION)
  if (r.sid !== undefined) pair('SID', r.sid)
  pair('ReturnStatus', r.status)
  pair('InfoMessage', infoMessage(r.status, r.item))
  if (r.warnings.length > 0) pair('WarningInfo', r.warnings.map((w) => `${w.prefix}:${w.item}\n`).join(''))
  parts.push(Buffer.from([0xff]))
  return Buffer.concat(parts)
}

function arrayHead(n: number): Buffer {
  // encodeCbor of an n-element array starts with the array head; take just the head.
  const full = encodeCbor(new Array<CborValue>(n).fill(0))
  return full.subarray(0, full.length - n)
}
