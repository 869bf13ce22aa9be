/**
 * CA keys held in a PKCS#11 token (an HSM, a smart card, SoftHSM2): RFC 7512 URIs, key generation inside the token
 * (sensitive, never extractable), and signing through it. pkcs11js is loaded lazily so that commands without a token
 * never load the native module.
 *
 * One `TokenSigner` is one PKCS#11 session. Issuing workers each open their own session on the same process-wide
 * Cryptoki instance: `C_Initialize` and `C_Login` report "already initialized / logged in" after the first thread,
 * which is the expected state, and only the main thread ever finalizes.
 */
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'

import { LwprovError, usageError } from '../errors.js'
import { seq } from './der.js'
import type { KeyType } from './keys.js'

/** Where a token key is: the parts of an RFC 7512 URI lwprov uses. */
export interface Pkcs11Uri {
  /** Token label (`token=`). */
  token?: string
  /** Key label (`object=`). */
  object?: string
  /** Key id bytes (`id=`, percent-encoded). */
  id?: Buffer
  /** `slot-id=`. */
  slotId?: number
  /** Query `module-path=`. */
  modulePath?: string
}

/** Everything a thread needs to sign with a token key (structured-clone friendly). */
export interface TokenRef {
  module: string
  token?: string
  slotId?: number
  object?: string
  /** Hex key id. */
  id?: string
  pin: string
}

const pct = (s: string): string => decodeURIComponent(s)
/** Percent-decoding to bytes (an id is binary, not UTF-8). */
function pctBytes(s: string): Buffer {
  const out: number[] = []
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%') {
      const h = s.slice(i + 1, i + 3)
      if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new Error('bad escape')
      out.push(Number.parseInt(h, 16))
      i += 2
    } else out.push(...Buffer.from(s[i]!, 'utf8'))
  }
  return Buffer.from(out)
}

/** Parses `pkcs11:token=Factory;object=line3-ca?module-path=/usr/lib/…`. Error: `E_PKCS11_URI_INVALID`. */
export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  const bad = (why: string): LwprovError =>
    usageError('E_PKCS11_URI_INVALID', `Not a usable PKCS#11 URI (${why}): ${uri.slice(0, 200)}`, "Write it as 'pkcs11:token=Factory;object=line3-ca' (RFC 7512).")
  if (!uri.startsWith('pkcs11:')) throw bad('it must start with pkcs11:')
  const [path = '', query = ''] = uri.slice(7).split('?', 2)
  const out: Pkcs11Uri = {}
  try {
    for (const part of path.split(';').filter(Boolean)) {
      const eq = part.indexOf('=')
      if (eq < 0) throw bad(`"${part}" has no value`)
      const k = part.slice(0, eq)
      const v = part.slice(eq + 1)
      if (k === 'token') out.token = pct(v)
      else if (k === 'object') out.object = pct(v)
      else if (k === 'id') out.id = pctBytes(v)
      else if (k === 'slot-id') out.slotId = Number.parseInt(v, 10)
      else if (k === 'pin-value') throw bad('a PIN never goes in the URI or a flag; use --pin-file or LWPROV_PKCS11_PIN')
    }
    for (const part of query.split('&').filter(Boolean)) {
      const eq = part.indexOf('=')
      const k = part.slice(0, eq)
      const v = part.slice(eq + 1)
      if (k === 'module-path') out.modulePath = pct(v)
      else if (k === 'pin-value') throw bad('a PIN never goes in the URI or a flag; use --pin-file or LWPROV_PKCS11_PIN')
    }
  } catch (e) {
    if (e instanceof LwprovError) throw e
    throw bad('bad percent-encoding')
  }
  if (out.token === undefined && out.slotId === undefined) throw bad('name the token with token=LABEL')
  if (out.object === undefined && out.id === undefined) throw bad('name the key with object=LABEL or id=')
  return out
}

const enc = (s: string): string => encodeURIComponent(s).replace(/%20/g, '%20')

/** The URI of a token key, as recorded in a CA directory (no PIN). */
export function formatPkcs11Uri(u: Pkcs11Uri): string {
  const path: string[] = []
  if (u.token !== undefined) path.push(`token=${enc(u.token)}`)
  if (u.slotId !== undefined) path.push(`slot-id=${u.slotId}`)
  if (u.object !== undefined) path.push(`object=${enc(u.object)}`)
  if (u.id !== undefined) path.push(`id=${[...u.id].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')}`)
  return `pkcs11:${path.join(';')}${u.modulePath ? `?module-path=${enc(u.modulePath)}` : ''}`
}

/** The module: the URI's module-path, else `--module`, else LWPROV_PKCS11_MODULE. Error: `E_PKCS11_MODULE_MISSING`. */
export function resolveModule(uri: Pkcs11Uri, flag: string | undefined, env: string | undefined = process.env.LWPROV_PKCS11_MODULE): string {
  const m = uri.modulePath ?? flag ?? (env || undefined)
  if (m === undefined) {
    throw usageError('E_PKCS11_MODULE_MISSING', 'No PKCS#11 module given.', 'Pass --module /usr/lib/softhsm/libsofthsm2.so, set LWPROV_PKCS11_MODULE, or add ?module-path=… to the URI.')
  }
  if (!existsSync(m)) {
    throw usageError('E_PKCS11_MODULE_MISSING', `The PKCS#11 module ${m} does not exist.`, 'Check --module / LWPROV_PKCS11_MODULE (SoftHSM2 on Debian: /usr/lib/softhsm/libsofthsm2.so from package libsofthsm2).')
  }
  return m
}

// PKCS#11 constants (pkcs11t.h): kept here so the types do not depend on the native module being loadable.
const CKO_PUBLIC_KEY = 2
const CKO_PRIVATE_KEY = 3
const CKO_CERTIFICATE = 1
const CKK_EC = 3
const CKA = { CLASS: 0x0, TOKEN: 0x1, PRIVATE: 0x2, LABEL: 0x3, VALUE: 0x11, KEY_TYPE: 0x100, ID: 0x102, SENSITIVE: 0x103, SIGN: 0x108, VERIFY: 0x10a, EXTRACTABLE: 0x162, NEVER_EXTRACTABLE: 0x164, ALWAYS_SENSITIVE: 0x165, EC_PARAMS: 0x180, EC_POINT: 0x181 } as const
const CKM_EC_KEY_PAIR_GEN = 0x1040
const CKM_ECDSA = 0x1041
const CKU_USER = 1
const CKF_SERIAL_SESSION = 4
const CKF_RW_SESSION = 2
const CKF_OS_LOCKING_OK = 2

const CURVES: Record<string, { params: Buffer; size: number; spkiPrefix: Buffer; hash: 'sha256' | 'sha384' }> = {
  'ec-p256': {
    params: Buffer.from('06082a8648ce3d030107', 'hex'),
    size: 32,
    spkiPrefix: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
    hash: 'sha256',
  },
  'ec-p384': {
    params: Buffer.from('06052b81040022', 'hex'),
    size: 48,
    spkiPrefix: Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex'),
    hash: 'sha384',
  },
}

type Handle = Buffer
interface Native {
  PKCS11: new () => Pkcs11Api
}
interface Pkcs11Api {
  load(path: string): void
  C_Initialize(o?: { flags?: number }): void
  C_Finalize(): void
  C_GetSlotList(present: boolean): Handle[]
  C_GetTokenInfo(slot: Handle): { label: string }
  C_OpenSession(slot: Handle, flags: number): Handle
  C_CloseSession(s: Handle): void
  C_Login(s: Handle, type: number, pin: string): void
  C_Logout(s: Handle): void
  C_FindObjectsInit(s: Handle, t: Array<{ type: number; value?: unknown }>): void
  C_FindObjects(s: Handle, max: number): Handle[]
  C_FindObjectsFinal(s: Handle): void
  C_GetAttributeValue(s: Handle, o: Handle, t: Array<{ type: number }>): Array<{ type: number; value?: Buffer }>
  C_GenerateKeyPair(s: Handle, m: { mechanism: number }, pub: Array<{ type: number; value: unknown }>, priv: Array<{ type: number; value: unknown }>): { privateKey: Handle; publicKey: Handle }
  C_SignInit(s: Handle, m: { mechanism: number }, k: Handle): void
  C_Sign(s: Handle, data: Buffer, out: Buffer): Buffer
}

let native: Native | undefined
function loadNative(): Native {
  native ??= createRequire(import.meta.url)('pkcs11js') as Native
  return native
}

const ckr = (e: unknown): string => (e instanceof Error ? e.message.split(':')[0]!.trim() : String(e))

/** Opened modules, one Cryptoki instance per module path and thread. */
const modules = new Map<string, Pkcs11Api>()
/** The PIN this thread logged in with, per module. */
const loggedIn = new Map<string, string>()

function openModule(path: string): Pkcs11Api {
  let api = modules.get(path)
  if (api) return api
  api = new (loadNative().PKCS11)()
  try {
    api.load(path)
  } catch (error) {
    throw new LwprovError('E_PKCS11_MODULE_MISSING', `Cannot load the PKCS#11 module ${path}: ${ckr(error)}.`, { hint: 'Pass the path of a PKCS#11 shared library with --module.', cause: error })
  }
  try {
    api.C_Initialize({ flags: CKF_OS_LOCKING_OK })
  } catch (error) {
    // another thread of this process initialized it
    if (!/ALREADY_INITIALIZED/.test(ckr(error))) throw pkcs11Failure('initialize the module', error)
  }
  modules.set(path, api)
  return api
}

function pkcs11Failure(what: string, error: unknown): LwprovError {
  return new LwprovError('E_PKCS11', `PKCS#11: cannot ${what}: ${ckr(error)}.`, { hint: 'Check the token and the module.', cause: error, exit: 'crypto' })
}

/** Strips the blank padding PKCS#11 puts after labels. */
const trimLabel = (s: string): string => s.replace(/[\s\0]+$/, '')

/** One logged-in session on the token a reference names. */
export class TokenSigner {
  private readonly api: Pkcs11Api
  private readonly session: Handle
  private keyHandle: Handle | undefined
  private curve: (typeof CURVES)[string] | undefined

  constructor(private readonly ref: Omit<TokenRef, 'pin'> & { pin: string }) {
    this.api = openModule(ref.module)
    const slot = this.findSlot()
    try {
      this.session = this.api.C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
    } catch (error) {
      throw pkcs11Failure('open a session', error)
    }
    this.login(ref.pin, true)
  }

  /**
   * Logs in. Login state belongs to the whole process, so "already logged in" is normal for a second session (a
   * worker); but when this thread logged in with another PIN, the new PIN is checked by logging in again.
   */
  private login(pin: string, retry: boolean): void {
    try {
      this.api.C_Login(this.session, CKU_USER, pin)
      loggedIn.set(this.ref.module, pin)
    } catch (error) {
      const code = ckr(error)
      if (/USER_ALREADY_LOGGED_IN/.test(code)) {
        const prev = loggedIn.get(this.ref.module)
        if (prev === undefined || prev === pin || !retry) return
        try {
          this.api.C_Logout(this.session)
        } catch {
          // logged out already
        }
        loggedIn.delete(this.ref.module)
        return this.login(pin, false)
      }
      this.close()
      if (/PIN_INCORRECT|PIN_LEN_RANGE|PIN_INVALID/.test(code)) {
        throw new LwprovError('E_PKCS11_PIN', `The token "${this.ref.token ?? this.ref.slotId}" refused the PIN (${code}).`, {
          hint: 'Check --pin-file / LWPROV_PKCS11_PIN. Several wrong PINs lock the token.',
          cause: error,
          exit: 'crypto',
        })
      }
      if (/PIN_LOCKED/.test(code)) throw new LwprovError('E_PKCS11_PIN', `The token "${this.ref.token ?? this.ref.slotId}" is locked (${code}).`, { hint: 'Have the security officer unlock the user PIN.', cause: error, exit: 'crypto' })
      throw pkcs11Failure('log in', error)
    }
  }

  private findSlot(): Handle {
    let slots: Handle[]
    try {
      slots = this.api.C_GetSlotList(true)
    } catch (error) {
      throw pkcs11Failure('list slots', error)
    }
    const labels: string[] = []
    for (const s of slots) {
      const label = trimLabel(this.api.C_GetTokenInfo(s).label)
      labels.push(label)
      if (this.ref.slotId !== undefined ? s.readUInt32LE(0) === this.ref.slotId : label === this.ref.token) return s
    }
    throw new LwprovError('E_PKCS11_TOKEN_NOT_FOUND', `No token ${this.ref.token !== undefined ? `labelled "${this.ref.token}"` : `in slot ${this.ref.slotId}`} in ${this.ref.module}.`, {
      hint: `Tokens present: ${labels.filter(Boolean).map((l) => `"${l}"`).join(', ') || 'none'}. Check token= in the URI (and SOFTHSM2_CONF for SoftHSM2).`,
      exit: 'transport',
    })
  }

  private find(cls: number): Handle[] {
    const t: Array<{ type: number; value?: unknown }> = [{ type: CKA.CLASS, value: cls }]
    if (this.ref.object !== undefined) t.push({ type: CKA.LABEL, value: this.ref.object })
    if (this.ref.id !== undefined) t.push({ type: CKA.ID, value: Buffer.from(this.ref.id, 'hex') })
    this.api.C_FindObjectsInit(this.session, t)
    try {
      return this.api.C_FindObjects(this.session, 2)
    } finally {
      this.api.C_FindObjectsFinal(this.session)
    }
  }

  /** Whether a private key with this label/id already exists in the token. */
  hasKey(): boolean {
    return this.find(CKO_PRIVATE_KEY).length > 0
  }

  private key(): Handle {
    if (this.keyHandle) return this.keyHandle
    const keys = this.find(CKO_PRIVATE_KEY)
    if (keys.length === 0) {
      throw usageError('E_PKCS11_KEY_NOT_FOUND', `No private key ${this.ref.object !== undefined ? `labelled "${this.ref.object}"` : `with id ${this.ref.id}`} in token "${this.ref.token ?? ''}".`, 'Check object=/id= in the URI, or create the key with `lwprov ca create --pkcs11`.')
    }
    if (keys.length > 1) throw usageError('E_PKCS11_KEY_NOT_FOUND', `Several private keys match ${this.ref.object ?? this.ref.id} in the token.`, 'Add id= to the URI to pick one.')
    this.keyHandle = keys[0]!
    return this.keyHandle
  }

  /** Generates an EC key pair in the token: token object, private, sensitive, never extractable. Returns its SPKI. */
  generate(keyType: KeyType): { spki: Buffer; id: Buffer } {
    const curve = CURVES[keyType]
    if (!curve) throw usageError('E_CA_KEY_TYPE', `A token CA key must be ec-p256 or ec-p384 (got ${keyType}).`, 'Pass --key-type ec-p256.')
    if (this.hasKey()) {
      throw usageError('E_PKCS11_KEY_EXISTS', `The token already holds a key labelled "${this.ref.object}".`, 'Choose another object= label, or adopt the existing key with `lwprov ca import --pkcs11`.')
    }
    const id = this.ref.id !== undefined ? Buffer.from(this.ref.id, 'hex') : randomBytes(8)
    const label = this.ref.object ?? id.toString('hex')
    let pair: { privateKey: Handle; publicKey: Handle }
    try {
      pair = this.api.C_GenerateKeyPair(
        this.session,
        { mechanism: CKM_EC_KEY_PAIR_GEN },
        [
          { type: CKA.TOKEN, value: true },
          { type: CKA.VERIFY, value: true },
          { type: CKA.EC_PARAMS, value: curve.params },
          { type: CKA.LABEL, value: label },
          { type: CKA.ID, value: id },
        ],
        [
          { type: CKA.TOKEN, value: true },
          { type: CKA.PRIVATE, value: true },
          { type: CKA.SENSITIVE, value: true },
          { type: CKA.EXTRACTABLE, value: false },
          { type: CKA.SIGN, value: true },
          { type: CKA.KEY_TYPE, value: CKK_EC },
          { type: CKA.LABEL, value: label },
          { type: CKA.ID, value: id },
        ],
      )
    } catch (error) {
      throw pkcs11Failure('generate the key', error)
    }
    this.keyHandle = pair.privateKey
    this.curve = curve
    return { spki: this.spkiOf(pair.publicKey, curve), id }
  }

  private spkiOf(pub: Handle, curve: (typeof CURVES)[string]): Buffer {
    const [pt] = this.api.C_GetAttributeValue(this.session, pub, [{ type: CKA.EC_POINT }])
    let point = pt!.value!
    // CKA_EC_POINT is a DER OCTET STRING around the uncompressed point (some tokens give the raw point)
    if (point[0] === 0x04 && point.length !== 1 + 2 * curve.size) point = point.subarray(point[1]! & 0x80 ? 2 + (point[1]! & 0x7f) : 2)
    return Buffer.concat([curve.spkiPrefix, point])
  }

  /** The public key in the token next to the private key (same label/id), as SPKI; undefined when there is none. */
  publicKeySpki(): Buffer | undefined {
    const pubs = this.find(CKO_PUBLIC_KEY)
    if (pubs.length !== 1) return undefined
    const [params] = this.api.C_GetAttributeValue(this.session, pubs[0]!, [{ type: CKA.EC_PARAMS }])
    const curve = Object.values(CURVES).find((c) => c.params.equals(params!.value!))
    return curve ? this.spkiOf(pubs[0]!, curve) : undefined
  }

  /** The certificate stored in the token with the same label/id (DER), if any. */
  certificate(): Buffer | undefined {
    const certs = this.find(CKO_CERTIFICATE)
    if (certs.length === 0) return undefined
    return this.api.C_GetAttributeValue(this.session, certs[0]!, [{ type: CKA.VALUE }])[0]!.value
  }

  /** The key's protection attributes, as the token reports them (for tests and `ca show`). */
  keyAttributes(): { sensitive: boolean; extractable: boolean; valueReadable: boolean } {
    const k = this.key()
    const a = this.api.C_GetAttributeValue(this.session, k, [{ type: CKA.SENSITIVE }, { type: CKA.EXTRACTABLE }])
    let valueReadable = true
    try {
      this.api.C_GetAttributeValue(this.session, k, [{ type: CKA.VALUE }])
    } catch {
      valueReadable = false
    }
    return { sensitive: a[0]!.value![0] === 1, extractable: a[1]!.value![0] === 1, valueReadable }
  }

  /** Sets the curve from a known key type (when the key was not generated in this session). */
  useKeyType(keyType: string): void {
    const c = CURVES[keyType]
    if (!c) throw usageError('E_CA_KEY_UNSUPPORTED', `Token CA keys of type ${keyType} are not supported.`, 'Use an EC P-256 or P-384 key in the token.')
    this.curve = c
  }

  /** Signs `data` (hashing it here, CKM_ECDSA in the token) and returns a DER ECDSA-Sig-Value. */
  sign(data: Buffer): Buffer {
    const curve = this.curve
    if (!curve) throw new Error('TokenSigner: key type not set')
    const digest = createHash(curve.hash).update(data).digest()
    let raw: Buffer
    try {
      this.api.C_SignInit(this.session, { mechanism: CKM_ECDSA }, this.key())
      raw = this.api.C_Sign(this.session, digest, Buffer.alloc(2 * curve.size))
    } catch (error) {
      if (error instanceof LwprovError) throw error
      throw pkcs11Failure('sign', error)
    }
    const r = raw.subarray(0, curve.size)
    const s = raw.subarray(curve.size)
    return seq(uint(r), uint(s))
  }

  close(): void {
    try {
      this.api.C_CloseSession(this.session)
    } catch {
      // already closed
    }
  }
}

/** A DER INTEGER from unsigned big-endian bytes. */
function uint(b: Buffer): Buffer {
  let i = 0
  while (i < b.length - 1 && b[i] === 0) i++
  let v = b.subarray(i)
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v])
  return Buffer.concat([Buffer.from([0x02, v.length]), v])
}

/** True when `signer` signs for the public key in `spkiDer` (a test signature, verified here). */
export function signerMatches(signer: TokenSigner, spkiDer: Buffer): boolean {
  const probe = randomBytes(32)
  const key = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' })
  const hash = key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'sha384' : 'sha256'
  try {
    return verify(hash, probe, { key, dsaEncoding: 'der' }, signer.sign(probe))
  } catch {
    return false
  }
}

/** Finalizes every module this thread opened (main thread, at exit). */
export function finalizeModules(): void {
  for (const api of modules.values()) {
    try {
      api.C_Finalize()
    } catch {
      // nothing to do
    }
  }
  modules.clear()
  loggedIn.clear()
}
