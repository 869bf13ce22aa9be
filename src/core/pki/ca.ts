/**
 * Factory CAs: create (root or intermediate), write to / load from a CA directory, import an existing CA, describe.
 *
 * A CA directory holds `ca.pem` (the CA certificate), `chain.pem` (this CA up to its root, leaf first) and
 * `ca.key.pem` (its key as encrypted PKCS#8: PBKDF2-SHA256 600,000 iterations + AES-256-CBC, mode 0600). Defaults follow Izuma's CA requirements
 * (izuma-fcc.md §11): EC P-256, basicConstraints CA:true, keyUsage digitalSignature + keyCertSign + cRLSign,
 * 35 years, chains of at most 5 certificates.
 */
import { createCipheriv, createPrivateKey, pbkdf2Sync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto'
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'

import { conflictError, cryptoError, LwprovError, usageError } from '../errors.js'
import { protectPath, writeOutputFileSync } from '../fs/safe-write.js'
import { akiValue, basicConstraintsValue, buildName, buildTbs, extension, KU_CA, OID_EXT, parseRawCertificate, readSki, skiValue } from './cert.js'
import { bitString, children, intDer, nullDer, octetString, oid, readTlv, seq } from './der.js'
import { generateKey, isKeyType, keyTypeOf, schemeForKeyType, signatureSchemeFor, subjectKeyId, type KeyType } from './keys.js'
import { formatPkcs11Uri, parsePkcs11Uri, resolveModule, signerMatches, TokenSigner, type Pkcs11Uri } from './pkcs11.js'
import type { CaSigner, LoadedCa } from './types.js'
import { checkDays } from '../validate/bounds.js'
import { identityProblem } from '../validate/identity.js'
import { shown } from '../validate/escape.js'
import { derToPem, isPem, pemBlocks, randomSerial, sha256Colon, sha256Hex } from './util.js'

/** 35 years (izuma-fcc.md §11 recommends 35-year CAs). */
export const DEFAULT_CA_DAYS = 12_784
/** A root allows three intermediates below it: root + 3 + device = Izuma's 5-certificate chain limit. */
export const DEFAULT_ROOT_PATH_LEN = 3
/** An intermediate by default signs devices only. */
export const DEFAULT_INTERMEDIATE_PATH_LEN = 0
/** Izuma accepts chains (CA bundle) of at most this many certificates. */
export const MAX_CHAIN = 5

export const CA_FILES = { cert: 'ca.pem', chain: 'chain.pem', key: 'ca.key.pem', tokenKey: 'ca.key.uri' } as const
/** Sub-directory of a CA directory holding the certificates of the CAs it signed (public; for building chains). */
export const ISSUED_DIR = 'issued'

/**
 * Keeps a copy of an intermediate's certificate in its parent's directory (`issued/<sha256>.pem`), as a CA keeps what
 * it signs: `manifest verify --ca ROOT` then builds the chain of devices issued under the intermediate. A new file
 * only (never an overwrite); returns a warning instead of failing when the parent directory is read-only.
 */
export function recordIssuedCa(parentDir: string, certPem: string, childDir: string): string | undefined {
  const der = pemBlocks(certPem).find((b) => b.label === 'CERTIFICATE')?.der
  if (!der) return undefined
  const dir = join(parentDir, ISSUED_DIR)
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 })
    writeFileSync(join(dir, `${sha256Hex(der)}.pem`), derToPem(der, 'CERTIFICATE'), { flag: 'wx', mode: 0o644 })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return undefined
    return `Could not keep a copy of the new CA certificate in ${dir} (${(e as NodeJS.ErrnoException).code ?? 'error'}): pass --ca ${join(childDir, CA_FILES.chain)} to manifest verify for devices it issues.`
  }
  return undefined
}

export interface CreateCaOptions {
  /** Subject CN. */
  name: string
  keyType: KeyType
  /** Validity in days (DEFAULT_CA_DAYS = 35 years); an intermediate is clamped to its parent's notAfter. */
  days: number
  /** basicConstraints pathLenConstraint; default 3 for a root, 0 for an intermediate. */
  pathLen?: number
  org?: string
  orgUnit?: string
  /** Two-letter ISO 3166 country code. */
  country?: string
  /** Sign with this CA instead of self-signing. */
  parent?: LoadedCa
  now?: Date
  /** A key generated elsewhere (in a PKCS#11 token): its public key and its signer. No key is generated here then. */
  key?: { spki: Buffer; signer: CaSigner }
  /** Fixed notAfter (a delegated line CA); overrides `days`, still clamped to the parent's. */
  notAfter?: Date
}

/** A CA in memory, before it is written to a directory. */
export interface CreatedCa {
  certPem: string
  /** Unencrypted PKCS#8 DER: encrypt it (writeCaDir) and drop it. Empty for a token key. */
  keyPkcs8Der: Buffer
  /** This CA up to its root, PEM, leaf first. */
  chainPem: string
  /** Things the caller should tell the user (e.g. validity clamped to the parent's). */
  warnings: string[]
}

const DAY = 86_400_000

function validateCaOptions(o: CreateCaOptions): void {
  if (!isKeyType(o.keyType)) throw usageError('E_CA_KEY_TYPE', `Unknown CA key type "${String(o.keyType)}".`, 'Use ec-p256 (Izuma), ec-p384, rsa-2048 or rsa-3072.')
  // Subject fields are identity fields (validate/identity.ts): printable, bounded, one documented character set — an
  // escape sequence or a newline + "CN=…" never reaches a certificate subject or a terminal.
  const nameProblem = identityProblem(o.name)
  if (nameProblem) {
    throw usageError('E_CA_NAME_INVALID', `The CA name (subject CN) "${shown(o.name)}" is refused: ${nameProblem}.`, 'Pass --name "Factory Line 1 CA": 1..64 letters, digits, space and . _ - : / + # @ ( ) ,')
  }
  checkDays(o.days)
  if (o.pathLen !== undefined && (!Number.isInteger(o.pathLen) || o.pathLen < 0 || o.pathLen > MAX_CHAIN - 2)) {
    throw usageError('E_CA_PATHLEN', `Path length must be 0..${MAX_CHAIN - 2} (got ${o.pathLen}).`, `Izuma accepts chains of at most ${MAX_CHAIN} certificates.`)
  }
  if (o.country !== undefined && !/^[A-Z]{2}$/.test(o.country)) {
    throw usageError('E_CA_COUNTRY_INVALID', `Country must be a two-letter ISO 3166 code (got "${o.country}").`, 'Pass e.g. --country FI.')
  }
  for (const [flag, v] of [['--org', o.org], ['--org-unit', o.orgUnit]] as const) {
    const problem = v === undefined ? undefined : identityProblem(v)
    if (problem) throw usageError('E_CA_NAME_INVALID', `${flag} "${shown(v!)}" is refused: ${problem}.`, `Use 1..64 letters, digits, space and . _ - : / + # @ ( ) , in ${flag}.`)
  }
}

/** The certificates of a --chain PEM file, each one parsed: an unreadable file or a block that is no certificate is refused. */
function readChainFile(path: string): Buffer[] {
  let text: string
  try {
    text = readFileSync(path, 'latin1')
  } catch (error) {
    throw new LwprovError('E_CERT_UNREADABLE', `Cannot read the chain file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`, { hint: 'Check the --chain path.', cause: error })
  }
  let ders: Buffer[]
  try {
    ders = pemBlocks(text).filter((b) => b.label === 'CERTIFICATE').map((b) => b.der)
    for (const d of ders) new X509Certificate(d)
  } catch (error) {
    throw new LwprovError('E_CERT_UNREADABLE', `${path} holds a CERTIFICATE block that is not an X.509 certificate.`, { hint: 'Pass a PEM file with the CA issuers (leaf first) with --chain.', cause: error })
  }
  if (ders.length === 0) throw new LwprovError('E_CERT_UNREADABLE', `${path} holds no PEM certificate.`, { hint: 'Pass a PEM file with the CA issuers (leaf first) with --chain.' })
  return ders
}

/**
 * Creates a CA: a self-signed root, or an intermediate signed by `parent`. basicConstraints CA:true (critical) with a
 * path length, keyUsage digitalSignature + keyCertSign + cRLSign (critical), SKI, AKI, random positive 16-byte serial,
 * validity from one minute before `now`.
 */
export async function createCa(opts: CreateCaOptions): Promise<CreatedCa> {
  validateCaOptions(opts)
  const warnings: string[] = []
  const parent = opts.parent
  let pathLen = opts.pathLen ?? (parent ? DEFAULT_INTERMEDIATE_PATH_LEN : DEFAULT_ROOT_PATH_LEN)
  if (parent) {
    if (parent.pathLen !== undefined && parent.pathLen < 1) {
      throw conflictError('E_CA_PATHLEN_PARENT', `The parent CA "${parent.subject}" has path length 0: it may sign device certificates only.`, 'Sign the new CA with a CA whose --path-len is at least 1, e.g. the root.')
    }
    if (parent.pathLen !== undefined && pathLen > parent.pathLen - 1) {
      if (opts.pathLen !== undefined) {
        throw conflictError('E_CA_PATHLEN_PARENT', `Path length ${pathLen} exceeds what the parent allows (${parent.pathLen - 1}).`, `Pass --path-len ${parent.pathLen - 1} or less.`)
      }
      pathLen = parent.pathLen - 1
    }
    if (parent.chainDer.length + 1 > MAX_CHAIN - 1) {
      warnings.push(`The CA chain will have ${parent.chainDer.length + 1} certificates; with the device certificate that exceeds Izuma's limit of ${MAX_CHAIN}.`)
    }
  }
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000) * 1000
  let notBefore = now - 60_000
  let notAfter = opts.notAfter ? Math.floor(opts.notAfter.getTime() / 1000) * 1000 : now + opts.days * DAY
  if (notAfter <= now) throw usageError('E_DATE_INVALID', `The CA would expire at ${new Date(notAfter).toISOString()}, before now.`, 'Pass a --not-after date in the future.')
  if (parent) {
    notBefore = Math.max(notBefore, parent.notBefore.getTime())
    if (notAfter > parent.notAfter.getTime()) {
      // Creating a default intermediate under a default root always trims a few seconds: not worth a warning.
      if (notAfter - parent.notAfter.getTime() > DAY) warnings.push(`Validity shortened to the parent CA's notAfter (${parent.notAfter.toISOString()}).`)
      notAfter = parent.notAfter.getTime()
    }
  }

  const generated = opts.key ? undefined : generateKey(opts.keyType)
  const spki = opts.key?.spki ?? generated!.publicKey.export({ type: 'spki', format: 'der' })
  const keyId = subjectKeyId(spki)
  const subject = buildName({ country: opts.country, org: opts.org, orgUnit: opts.orgUnit, commonName: opts.name })
  const signer: CaSigner = parent?.signer ?? opts.key?.signer ?? fileSigner(generated!.privateKey)
  const scheme = signer.scheme
  const tbs = buildTbs({
    serial: randomSerial(16, randomBytes(16)),
    signatureAlgorithm: scheme.algorithmDer,
    issuer: parent?.subjectDer ?? subject,
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
    subject,
    spki,
    extensions: [
      extension(OID_EXT.basicConstraints, true, basicConstraintsValue(true, pathLen)),
      extension(OID_EXT.keyUsage, true, KU_CA),
      extension(OID_EXT.subjectKeyIdentifier, false, skiValue(keyId)),
      extension(OID_EXT.authorityKeyIdentifier, false, akiValue(parent?.keyId ?? keyId)),
    ],
  })
  const der = signWithCa(tbs, signer)
  const certPem = derToPem(der, 'CERTIFICATE')
  const chainPem = certPem + (parent ? parent.chainDer.map((d) => derToPem(d, 'CERTIFICATE')).join('') : '')
  return { certPem, keyPkcs8Der: generated ? generated.privateKey.export({ type: 'pkcs8', format: 'der' }) : Buffer.alloc(0), chainPem, warnings }
}

/** A signer for a key held in memory (a decrypted CA key file). */
export function fileSigner(key: KeyObject): CaSigner {
  const scheme = signatureSchemeFor(key)
  return { scheme, sign: (data) => sign(scheme.hash, data, { key, dsaEncoding: 'der' }) }
}

/** Signs a TBSCertificate (or TBSCertList) with a CA signer and wraps it: SEQUENCE { tbs, algorithm, BIT STRING sig }. */
export function signWithCa(tbs: Buffer, signer: CaSigner): Buffer {
  return seq(tbs, signer.scheme.algorithmDer, bitString(signer.sign(tbs)))
}

/** Opens a session on the token key `uri` names, for `keyType` (its curve). Errors: see pkcs11.ts. */
export function tokenSigner(uri: Pkcs11Uri, module: string, pin: string, keyType: string): CaSigner & { token: NonNullable<CaSigner['token']>; session: TokenSigner } {
  const token = {
    module,
    ...(uri.token !== undefined ? { token: uri.token } : {}),
    ...(uri.slotId !== undefined ? { slotId: uri.slotId } : {}),
    ...(uri.object !== undefined ? { object: uri.object } : {}),
    ...(uri.id !== undefined ? { id: uri.id.toString('hex') } : {}),
    pin,
    keyType,
  }
  const session = new TokenSigner(token)
  // '' = not known yet (adopting a key): the curve is set once the certificate is read
  if (keyType !== '') session.useKeyType(keyType)
  const scheme = schemeForKeyType(keyType || 'ec-p256')
  return { scheme, sign: (d) => session.sign(d), token, session, close: () => session.close() }
}

function checkPassphrase(passphrase: string): void {
  if (passphrase.length === 0) {
    throw usageError('E_CA_PASSPHRASE_MISSING', 'The CA key passphrase is empty.', 'Set LWPROV_CA_PASSPHRASE or pass --passphrase-file with a non-empty passphrase.')
  }
}

/** Shortest passphrase accepted for a NEW CA key (existing keys still open with whatever they were made with). */
export const MIN_NEW_PASSPHRASE = 12

/** Refuses a passphrase too short to protect a new CA key (`E_CA_PASSPHRASE_WEAK`). */
export function checkNewPassphrase(passphrase: string): void {
  checkPassphrase(passphrase)
  if ([...passphrase].length < MIN_NEW_PASSPHRASE) {
    throw usageError(
      'E_CA_PASSPHRASE_WEAK',
      `The passphrase for the new CA key has ${[...passphrase].length} characters; at least ${MIN_NEW_PASSPHRASE} are needed.`,
      `Use ${MIN_NEW_PASSPHRASE} or more characters, e.g. four random words, or \`openssl rand -base64 18\` kept in a password manager.`,
    )
  }
}

/** PBKDF2-HMAC-SHA256 iterations for new CA keys (OWASP 2023 guidance; OpenSSL's default is 2048). */
export const CA_KEY_PBKDF2_ITERATIONS = 600_000

/**
 * Encrypts a PKCS#8 key as PKCS#8 PBES2 (PBKDF2-HMAC-SHA256, CA_KEY_PBKDF2_ITERATIONS, AES-256-CBC), PEM
 * "ENCRYPTED PRIVATE KEY": the standard format OpenSSL and Node read, with a work factor Node's own export cannot set.
 */
export function encryptCaKey(pkcs8Der: Uint8Array, passphrase: string, iterations = CA_KEY_PBKDF2_ITERATIONS): string {
  const salt = randomBytes(16)
  const iv = randomBytes(16)
  const key = pbkdf2Sync(Buffer.from(passphrase, 'utf8'), salt, iterations, 32, 'sha256')
  const c = createCipheriv('aes-256-cbc', key, iv)
  const encrypted = Buffer.concat([c.update(pkcs8Der), c.final()])
  const der = seq(
    seq(
      oid('1.2.840.113549.1.5.13'), // PBES2
      seq(
        seq(oid('1.2.840.113549.1.5.12'), seq(octetString(salt), intDer(iterations), seq(oid('1.2.840.113549.2.9'), nullDer()))), // PBKDF2, hmacWithSHA256
        seq(oid('2.16.840.1.101.3.4.1.42'), octetString(iv)), // aes256-CBC
      ),
    ),
    octetString(encrypted),
  )
  return derToPem(der, 'ENCRYPTED PRIVATE KEY')
}

/**
 * Checks that `dir` can receive a CA (before any expensive or interactive work) and returns the file paths.
 * Errors: `E_CA_OUT_INVALID` (not a directory), `E_CA_EXISTS` (conflict: already holds a CA). An existing CA is never
 * replaced, `force` or not: its key signed every certificate already issued. `force` is kept for compatibility.
 */
export function checkCaDirFree(dir: string, force: boolean): { cert: string; chain: string; key: string } {
  void force
  const files = { cert: join(dir, CA_FILES.cert), chain: join(dir, CA_FILES.chain), key: join(dir, CA_FILES.key) }
  const all = { ...files, tokenKey: join(dir, CA_FILES.tokenKey) }
  if (!existsSync(dir)) {
    // Fail before any passphrase prompt or key generation when a parent is a file (`--out some.pem/ca`).
    for (let p = dirname(resolve(dir)); ; p = dirname(p)) {
      if (existsSync(p)) {
        if (!statSync(p).isDirectory()) throw outInvalid(dir, 'ENOTDIR')
        break
      }
      if (dirname(p) === p) break
    }
    return files
  }
  if (lstatSync(dir).isSymbolicLink()) throw usageError('E_OUTPUT_SYMLINK', `${dir} is a symbolic link; lwprov does not write through links.`, 'Pass --out the real directory, or a new one.', { path: dir })
  if (!statSync(dir).isDirectory()) throw usageError('E_CA_OUT_INVALID', `${dir} exists and is not a directory.`, 'Pass --out with a new or existing directory.')
  const existing = Object.values(all).filter((f) => existsSync(f))
  if (existing.length > 0) {
    throw conflictError(
      'E_CA_EXISTS',
      `${dir} already holds a CA (${existing.map((f) => f.slice(dir.length + 1)).join(', ')}); lwprov never replaces a CA, not even with --force.`,
      'Choose another --out directory. To retire the old CA, move its directory away yourself: every certificate it issued depends on it.',
    )
  }
  return files
}

/**
 * Writes a CA directory: ca.pem, chain.pem and ca.key.pem (encrypted PKCS#8 PBES2, PBKDF2-SHA256 600,000 iterations,
 * AES-256-CBC, mode 0600), each created new through the safe-output helper. Creates the directory with mode 0700 if
 * needed. Refuses (`E_CA_EXISTS`, conflict) to touch an existing CA. Returns the paths written.
 */
export function writeCaDir(dir: string, ca: Pick<CreatedCa, 'certPem' | 'keyPkcs8Der' | 'chainPem'>, passphrase: string, opts: { force?: boolean } = {}): { cert: string; chain: string; key: string } {
  checkNewPassphrase(passphrase)
  const files = checkCaDirFree(dir, opts.force ?? false)
  const keyPem = encryptCaKey(ca.keyPkcs8Der, passphrase)
  let created: string | undefined
  try {
    if (!existsSync(dir)) created = mkdirSync(dir, { recursive: true, mode: 0o700 })
    // The key first, so a failure never leaves a certificate without its key.
    writeOutputFileSync(files.key, keyPem, { mode: 0o600 })
    writeOutputFileSync(files.cert, ca.certPem, { mode: 0o644 })
    writeOutputFileSync(files.chain, ca.chainPem, { mode: 0o644 })
  } catch (error) {
    // A directory this call created holds nothing anyone else wrote: remove the half-written CA with it.
    if (created) rmSync(created, { recursive: true, force: true })
    if (error instanceof LwprovError) throw error
    throw outInvalid(dir, (error as NodeJS.ErrnoException).code ?? 'error', error)
  }
  return files
}

/**
 * Writes a token CA directory: ca.pem, chain.pem and ca.key.uri, the PKCS#11 URI of the key (no PIN). No key
 * material is written: the key stays in the token. Same refusals as `writeCaDir`.
 */
export function writeTokenCaDir(dir: string, ca: Pick<CreatedCa, 'certPem' | 'chainPem'>, uri: Pkcs11Uri): { cert: string; chain: string; key: string } {
  const files = checkCaDirFree(dir, false)
  const key = join(dir, CA_FILES.tokenKey)
  let created: string | undefined
  try {
    if (!existsSync(dir)) created = mkdirSync(dir, { recursive: true, mode: 0o700 })
    writeOutputFileSync(key, `${formatPkcs11Uri(uri)}\n`, { mode: 0o644 })
    writeOutputFileSync(files.cert, ca.certPem, { mode: 0o644 })
    writeOutputFileSync(files.chain, ca.chainPem, { mode: 0o644 })
  } catch (error) {
    if (created) rmSync(created, { recursive: true, force: true })
    if (error instanceof LwprovError) throw error
    throw outInvalid(dir, (error as NodeJS.ErrnoException).code ?? 'error', error)
  }
  return { ...files, key }
}

/** Whether a CA directory's key is in a PKCS#11 token (it holds ca.key.uri). */
export function isTokenCaDir(dir: string): boolean {
  return existsSync(join(dir, CA_FILES.tokenKey))
}

/** The PKCS#11 URI a token CA directory records. */
export function tokenCaUri(dir: string): Pkcs11Uri {
  return parsePkcs11Uri(readText(dir, CA_FILES.tokenKey)!.trim())
}

/**
 * Loads a token CA directory: its certificate and a logged-in session on its key. `module` is the `--module` flag
 * (the URI's module-path wins; LWPROV_PKCS11_MODULE last). Errors as `loadCa`, plus E_PKCS11_* and
 * `E_CA_KEY_MISMATCH` when the token key does not sign for ca.pem.
 */
export async function loadTokenCa(dir: string, pin: string, module?: string): Promise<LoadedCa> {
  assertCaDir(dir)
  protectPath(dir, { dir: true })
  const uri = tokenCaUri(dir)
  const { certDer, chainDer, facts } = readCaCerts(dir)
  const signer = tokenSigner(uri, resolveModule(uri, module), pin, facts.keyType)
  if (!signerMatches(signer.session, rawSpki(certDer))) {
    signer.session.close()
    throw cryptoError('E_CA_KEY_MISMATCH', `The token key ${formatPkcs11Uri(uri)} does not belong to the certificate ${join(dir, CA_FILES.cert)}.`, 'Check object=/id= in ca.key.uri, and that the token is the right one.')
  }
  return loadedFrom(dir, certDer, chainDer, facts, signer)
}

const rawSpki = (certDer: Buffer): Buffer => parseRawCertificate(certDer).spki

function readCaCerts(dir: string): { certDer: Buffer; chainDer: Buffer[]; facts: CertFacts } {
  const certDer = certsIn(readText(dir, CA_FILES.cert)!, dir, CA_FILES.cert)[0]!
  const chainText = readText(dir, CA_FILES.chain, true)
  let chainDer = chainText === undefined ? [certDer] : certsIn(chainText, dir, CA_FILES.chain)
  if (!chainDer[0]!.equals(certDer)) chainDer = [certDer, ...chainDer]
  let facts: CertFacts
  try {
    facts = certFacts(certDer)
  } catch (error) {
    throw unreadable(dir, `${CA_FILES.cert} is not a valid certificate`, error)
  }
  if (!facts.isCa) throw usageError('E_CA_NOT_CA', `${join(dir, CA_FILES.cert)} is not a CA certificate (basicConstraints CA:true missing).`, 'Use a directory made by `lwprov ca create` or `lwprov ca import`.')
  return { certDer, chainDer, facts }
}

function loadedFrom(dir: string, certDer: Buffer, chainDer: Buffer[], facts: CertFacts, signer: CaSigner, privateKey?: KeyObject): LoadedCa {
  return {
    dir,
    certPem: derToPem(certDer, 'CERTIFICATE'),
    certDer,
    chainDer,
    ...(privateKey ? { privateKey } : {}),
    signer,
    subject: facts.subject,
    issuer: facts.issuer,
    subjectDer: facts.subjectDer,
    keyId: facts.keyId,
    keyType: facts.keyType,
    notBefore: facts.notBefore,
    notAfter: facts.notAfter,
    pathLen: facts.pathLen,
    fingerprint: sha256Hex(certDer),
  }
}

function outInvalid(dir: string, code: string, cause?: unknown): LwprovError {
  return new LwprovError('E_CA_OUT_INVALID', `Cannot write the CA to ${dir}: ${code}.`, { hint: 'Check --out and its permissions.', exit: 'usage', cause, details: { dir, code } })
}

function unreadable(dir: string, what: string, cause?: unknown): LwprovError {
  return new LwprovError('E_CA_UNREADABLE', `Cannot read the CA in ${dir}: ${what}.`, {
    hint: 'Run `lwprov ca create --name NAME --out DIR` first, or check the --ca directory.',
    exit: 'usage',
    cause,
  })
}

/** `--ca` must name the directory holding ca.pem/ca.key.pem: say whether it is missing or something else. */
function assertCaDir(dir: string): void {
  let st: ReturnType<typeof statSync>
  try {
    st = statSync(dir)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw unreadable(dir, code === 'ENOENT' || code === 'ENOTDIR' ? 'the directory does not exist' : `cannot open it (${code ?? 'error'})`, error)
  }
  if (!st.isDirectory()) {
    throw new LwprovError('E_CA_UNREADABLE', `Cannot read the CA in ${dir}: it is a file, not a directory.`, {
      hint: 'Pass --ca the directory that holds ca.pem and ca.key.pem (as made by `lwprov ca create --out DIR`), not a file.',
      exit: 'usage',
    })
  }
}

function readText(dir: string, file: string, optional = false): string | undefined {
  const p = join(dir, file)
  try {
    return readFileSync(p, 'latin1')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (optional && code === 'ENOENT') return undefined
    throw unreadable(dir, `${file} ${code === 'ENOENT' ? 'is missing' : `cannot be read (${code ?? 'error'})`}`, error)
  }
}

function certsIn(text: string, dir: string, file: string): Buffer[] {
  const certs = pemBlocks(text).filter((b) => b.label === 'CERTIFICATE').map((b) => b.der)
  if (certs.length === 0) throw unreadable(dir, `${file} holds no PEM certificate`)
  return certs
}

/** Facts about a CA certificate that do not need its key. */
interface CertFacts {
  x509: X509Certificate
  subject: string
  issuer: string
  subjectDer: Buffer
  keyId: Buffer
  isCa: boolean
  pathLen: number | undefined
  notBefore: Date
  notAfter: Date
  serialHex: string
  keyType: string
}

const dn = (s: string): string => s.split('\n').filter(Boolean).join(', ')

function certFacts(der: Buffer): CertFacts {
  const x509 = new X509Certificate(der)
  const rawCert = parseRawCertificate(der)
  const skiExt = rawCert.extensions.get(OID_EXT.subjectKeyIdentifier)
  const bc = rawCert.extensions.get(OID_EXT.basicConstraints)
  let isCa = false
  let pathLen: number | undefined
  if (bc) {
    const items = children(bc.value, readTlv(bc.value))
    for (const it of items) {
      if (it.tag === 0x01) isCa = bc.value[it.body] !== 0
      if (it.tag === 0x02) pathLen = Number.parseInt(bc.value.subarray(it.body, it.end).toString('hex') || '0', 16)
    }
  }
  return {
    x509,
    subject: dn(x509.subject),
    issuer: dn(x509.issuer),
    subjectDer: rawCert.subject,
    keyId: skiExt ? readSki(skiExt.value) : subjectKeyId(rawCert.spki),
    isCa,
    pathLen,
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    serialHex: x509.serialNumber.toLowerCase(),
    keyType: keyTypeOf(x509.publicKey),
  }
}

/**
 * Loads a CA directory and decrypts its key. Errors: `E_CA_UNREADABLE` (missing directory or files, damaged PEM),
 * `E_CA_PASSPHRASE` (wrong passphrase, exit 6), `E_CA_KEY_MISMATCH` (key does not belong to ca.pem, exit 6),
 * `E_CA_NOT_CA` (ca.pem is not a CA certificate).
 */
export async function loadCa(dir: string, passphrase: string): Promise<LoadedCa> {
  assertCaDir(dir)
  // no output of this run may land in a CA directory
  protectPath(dir, { dir: true })
  const certPemText = readText(dir, CA_FILES.cert)!
  if (isTokenCaDir(dir) && !existsSync(join(dir, CA_FILES.key))) {
    throw usageError('E_PKCS11_PIN_MISSING', `The CA in ${dir} keeps its key in a PKCS#11 token: it needs the token PIN, not a passphrase.`, 'Pass --pin-file FILE or set LWPROV_PKCS11_PIN.')
  }
  void certPemText
  const keyText = readText(dir, CA_FILES.key)!
  const { certDer, chainDer, facts } = readCaCerts(dir)
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey({ key: keyText, format: 'pem', passphrase })
  } catch (error) {
    if (/ENCRYPTED/.test(keyText)) {
      throw cryptoError('E_CA_PASSPHRASE', `Cannot decrypt the CA key in ${dir}: wrong passphrase (or a damaged key file).`, 'Check LWPROV_CA_PASSPHRASE or the --passphrase-file contents.', error)
    }
    throw unreadable(dir, `${CA_FILES.key} is not a readable private key`, error)
  }
  if (!facts.x509.checkPrivateKey(privateKey)) {
    throw cryptoError('E_CA_KEY_MISMATCH', `The key in ${join(dir, CA_FILES.key)} does not belong to the certificate ${join(dir, CA_FILES.cert)}.`, 'Restore the matching ca.key.pem, or re-import the CA with `lwprov ca import`.')
  }
  return loadedFrom(dir, certDer, chainDer, facts, fileSigner(privateKey), privateKey)
}

export interface ImportCaOptions {
  /** PEM or DER certificate; a PEM file may continue with the rest of the chain up to the root. */
  certPath: string
  /** PEM or DER key: PKCS#8 (plain or encrypted), SEC1 or PKCS#1 (legacy-encrypted PEM too). */
  keyPath: string
  /** Passphrase of an encrypted key. */
  keyPassphrase?: string
  /** Optional separate chain file (PEM), this CA's issuers up to the root. */
  chainPath?: string
}

function readKey(path: string, passphrase: string | undefined): KeyObject {
  let data: Buffer
  try {
    data = readFileSync(path)
  } catch (error) {
    throw new LwprovError('E_CA_KEY_UNREADABLE', `Cannot read key file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`, { hint: 'Check the --key path.', cause: error })
  }
  const bad = (error?: unknown): LwprovError =>
    new LwprovError('E_CA_KEY_UNREADABLE', `${path} is not a supported private key.`, { hint: 'Pass a PEM or DER key: PKCS#8, SEC1 (EC) or PKCS#1 (RSA).', cause: error })
  const missing = (): LwprovError =>
    usageError('E_CA_IMPORT_PASSPHRASE_MISSING', `${path} is encrypted and no passphrase was given for it.`, 'Set LWPROV_CA_IMPORT_PASSPHRASE to the existing key\'s passphrase.')
  const wrong = (error: unknown): LwprovError =>
    cryptoError('E_CA_PASSPHRASE', `Cannot decrypt ${path}: wrong passphrase.`, 'Check LWPROV_CA_IMPORT_PASSPHRASE.', error)
  if (isPem(data)) {
    const text = data.toString('latin1')
    const encrypted = /ENCRYPTED PRIVATE KEY|Proc-Type: *4,ENCRYPTED/.test(text)
    if (encrypted && !passphrase) throw missing()
    try {
      return createPrivateKey({ key: text, format: 'pem', ...(passphrase ? { passphrase } : {}) })
    } catch (error) {
      throw encrypted ? wrong(error) : bad(error)
    }
  }
  for (const type of ['pkcs8', 'sec1', 'pkcs1'] as const) {
    try {
      return createPrivateKey({ key: data, format: 'der', type })
    } catch {
      // try the next encoding
    }
  }
  // EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm SEQUENCE, encryptedData OCTET STRING }
  let encrypted = false
  try {
    const kids = children(data, readTlv(data))
    encrypted = kids.length === 2 && kids[0]!.tag === 0x30 && kids[1]!.tag === 0x04
  } catch {
    // not DER at all
  }
  if (!encrypted) throw bad()
  if (!passphrase) throw missing()
  try {
    return createPrivateKey({ key: data, format: 'der', type: 'pkcs8', passphrase })
  } catch (error) {
    throw wrong(error)
  }
}

/**
 * Adopts an existing CA: checks the certificate is a CA (basicConstraints CA:true, keyCertSign when keyUsage is
 * present) and that the key matches it, and returns it ready for `writeCaDir` (which re-encrypts the key).
 */
export async function importCa(opts: ImportCaOptions): Promise<CreatedCa> {
  const warnings: string[] = []
  let data: Buffer
  try {
    data = readFileSync(opts.certPath)
  } catch (error) {
    throw new LwprovError('E_CERT_UNREADABLE', `Cannot read certificate file ${opts.certPath}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`, { hint: 'Check the --cert path.', cause: error })
  }
  let chain: Buffer[] = isPem(data) ? pemBlocks(data.toString('latin1')).filter((b) => b.label === 'CERTIFICATE').map((b) => b.der) : [data]
  if (opts.chainPath !== undefined) chain = [...chain, ...readChainFile(opts.chainPath).filter((d) => !chain.some((c) => c.equals(d)))]
  const certDer = chain[0]
  let facts: CertFacts
  try {
    if (!certDer) throw new Error('no certificate')
    facts = certFacts(certDer)
  } catch (error) {
    throw new LwprovError('E_CERT_UNREADABLE', `${opts.certPath} is not a PEM or DER X.509 certificate.`, { hint: 'Pass the CA certificate with --cert.', cause: error })
  }
  if (!facts.isCa) {
    throw usageError('E_CA_NOT_CA', `${opts.certPath} is not a CA certificate (basicConstraints CA:true missing).`, 'Import the CA certificate that signs device certificates, not a device or server certificate.')
  }
  const ku = parseRawCertificate(certDer!).extensions.get(OID_EXT.keyUsage)
  if (ku) {
    const bits = ku.value[3] ?? 0
    if ((bits & 0x04) === 0) throw usageError('E_CA_NOT_CA', `${opts.certPath} may not sign certificates (keyUsage lacks keyCertSign).`, 'Import a CA whose keyUsage includes keyCertSign.')
  }
  const key = readKey(opts.keyPath, opts.keyPassphrase)
  if (!facts.x509.checkPrivateKey(key)) {
    throw cryptoError('E_CA_KEY_MISMATCH', `The key ${opts.keyPath} does not belong to the certificate ${opts.certPath}.`, 'Pass the private key of this CA certificate.')
  }
  signatureSchemeFor(key)
  if (facts.keyType !== 'ec-p256') warnings.push(`The CA key is ${facts.keyType}; Izuma requires EC P-256 CAs.`)
  if (facts.notAfter.getTime() < Date.now()) warnings.push(`The CA certificate expired on ${facts.notAfter.toISOString()}.`)
  if (chain.length > 1 || facts.subject !== facts.issuer) {
    const last = new X509Certificate(chain[chain.length - 1]!)
    if (last.subject !== last.issuer) warnings.push('The chain does not end in a self-signed root; add the issuers to the --cert file (PEM, leaf first).')
  }
  return {
    certPem: derToPem(certDer!, 'CERTIFICATE'),
    keyPkcs8Der: key.export({ type: 'pkcs8', format: 'der' }),
    chainPem: chain.map((d) => derToPem(d, 'CERTIFICATE')).join(''),
    warnings,
  }
}

/**
 * Adopts a key already in a token: its certificate comes from `certPath` (PEM, may continue with the chain) or
 * from the token (a certificate object with the key's label/id). Checks it is a CA and that the token key signs
 * for it. Returns what `writeTokenCaDir` needs.
 */
export async function importTokenCa(session: TokenSigner, opts: { certPath?: string; chainPath?: string }): Promise<Omit<CreatedCa, 'keyPkcs8Der'> & { keyType: string }> {
  let chain: Buffer[]
  if (opts.certPath !== undefined) {
    let data: Buffer
    try {
      data = readFileSync(opts.certPath)
    } catch (error) {
      throw new LwprovError('E_CERT_UNREADABLE', `Cannot read certificate file ${opts.certPath}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`, { hint: 'Check the --cert path.', cause: error })
    }
    chain = isPem(data) ? pemBlocks(data.toString('latin1')).filter((b) => b.label === 'CERTIFICATE').map((b) => b.der) : [data]
  } else {
    const fromToken = session.certificate()
    if (!fromToken) throw usageError('E_CERT_UNREADABLE', 'The token holds no certificate for this key.', 'Pass the CA certificate with --cert.')
    chain = [fromToken]
  }
  if (opts.chainPath !== undefined) {
    const extra = pemBlocks(readFileSync(opts.chainPath, 'latin1')).filter((b) => b.label === 'CERTIFICATE').map((b) => b.der)
    chain = [...chain, ...extra.filter((d) => !chain.some((c) => c.equals(d)))]
  }
  let facts: CertFacts
  try {
    if (!chain[0]) throw new Error('no certificate')
    facts = certFacts(chain[0])
  } catch (error) {
    throw new LwprovError('E_CERT_UNREADABLE', 'The CA certificate is not a PEM or DER X.509 certificate.', { hint: 'Pass the CA certificate with --cert.', cause: error })
  }
  if (!facts.isCa) throw usageError('E_CA_NOT_CA', 'The certificate is not a CA certificate (basicConstraints CA:true missing).', 'Adopt the key of a CA certificate.')
  session.useKeyType(facts.keyType)
  if (!signerMatches(session, rawSpki(chain[0]!))) {
    throw cryptoError('E_CA_KEY_MISMATCH', 'The token key does not belong to the CA certificate.', 'Check object=/id= in the URI, or pass the matching --cert.')
  }
  const warnings: string[] = []
  if (facts.notAfter.getTime() < Date.now()) warnings.push(`The CA certificate expired on ${facts.notAfter.toISOString()}.`)
  return { certPem: derToPem(chain[0]!, 'CERTIFICATE'), chainPem: chain.map((d) => derToPem(d, 'CERTIFICATE')).join(''), warnings, keyType: facts.keyType }
}

/** What `lwprov ca show` prints. */
export interface CaDescription {
  dir: string
  subject: string
  issuer: string
  selfSigned: boolean
  serialHex: string
  notBefore: string
  notAfter: string
  /** SHA-256 of the certificate DER, upper-case colon hex (as `openssl x509 -fingerprint -sha256`). */
  fingerprint: string
  keyType: string
  /** basicConstraints pathLenConstraint, null when unlimited. */
  pathLen: number | null
  /** Subjects from this CA up to the root. */
  chain: Array<{ subject: string; fingerprint: string }>
  files: { cert: string; chain: string; key: string }
  /** The PKCS#11 URI of a token-held key. */
  pkcs11?: string
}

/** Describes a CA directory without its passphrase. Error: `E_CA_UNREADABLE`. */
export function describeCa(dir: string): CaDescription {
  assertCaDir(dir)
  const certDer = certsIn(readText(dir, CA_FILES.cert)!, dir, CA_FILES.cert)[0]!
  const chainText = readText(dir, CA_FILES.chain, true)
  const chainDer = chainText === undefined ? [certDer] : certsIn(chainText, dir, CA_FILES.chain)
  let f: CertFacts
  try {
    f = certFacts(certDer)
  } catch (error) {
    throw unreadable(dir, `${CA_FILES.cert} is not a valid certificate`, error)
  }
  return {
    dir,
    subject: f.subject,
    issuer: f.issuer,
    selfSigned: f.subject === f.issuer,
    serialHex: f.serialHex,
    notBefore: f.notBefore.toISOString(),
    notAfter: f.notAfter.toISOString(),
    fingerprint: sha256Colon(certDer),
    keyType: f.keyType,
    pathLen: f.pathLen ?? null,
    chain: chainDer.map((d) => ({ subject: dn(new X509Certificate(d).subject), fingerprint: sha256Colon(d) })),
    files: { cert: join(dir, CA_FILES.cert), chain: join(dir, CA_FILES.chain), key: join(dir, isTokenCaDir(dir) ? CA_FILES.tokenKey : CA_FILES.key) },
    ...(isTokenCaDir(dir) ? { pkcs11: readText(dir, CA_FILES.tokenKey)!.trim() } : {}),
  }
}

/** The `--json` result of `ca create` / `ca import`. */
export interface CaResult {
  dir: string
  subject: string
  /** SHA-256, upper-case colon hex. */
  fingerprint: string
  keyType: string
  notAfter: string
  files: { cert: string; chain: string; key: string }
  /** The PKCS#11 URI of a token-held key. */
  pkcs11?: string
}

/** The summary of a CA directory that `ca create` and `ca import` report. */
export function caResult(d: CaDescription): CaResult {
  return { dir: d.dir, subject: d.subject, fingerprint: d.fingerprint, keyType: d.keyType, notAfter: d.notAfter, files: d.files, ...(d.pkcs11 ? { pkcs11: d.pkcs11 } : {}) }
}
