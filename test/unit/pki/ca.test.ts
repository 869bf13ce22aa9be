import { createPrivateKey, generateKeyPairSync } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import * as x509 from '@peculiar/x509'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { checkCaDirFree, createCa, describeCa, importCa, issueDeviceCertificates, loadCa, pemBlocks, writeCaDir } from '../../../src/core/pki/index.js'
import { makeCa, PASS, tempDir } from './helpers.js'

let dir: string
let cleanup: () => void
beforeEach(() => ({ dir, cleanup } = tempDir()))
afterEach(() => cleanup())

const parse = (pem: string): x509.X509Certificate => new x509.X509Certificate(pem)

describe('createCa', () => {
  it('makes a self-signed root with the CA profile Izuma asks for', async () => {
    const now = new Date(Date.UTC(2026, 0, 1))
    const ca = await createCa({ name: 'Acme Root CA', keyType: 'ec-p256', days: 12_784, org: 'Acme Oy', orgUnit: 'Factory', country: 'FI', now })
    const c = parse(ca.certPem)
    expect(c.subject).toBe('C=FI, O=Acme Oy, OU=Factory, CN=Acme Root CA')
    expect(c.issuer).toBe(c.subject)
    expect(await c.verify({ publicKey: c, signatureOnly: true })).toBe(true)
    expect(c.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } })
    const bc = c.getExtension(x509.BasicConstraintsExtension)!
    expect(bc).toMatchObject({ ca: true, pathLength: 3, critical: true })
    const ku = c.getExtension(x509.KeyUsagesExtension)!
    expect(ku.critical).toBe(true)
    expect(ku.usages).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign)
    const ski = c.getExtension(x509.SubjectKeyIdentifierExtension)!
    expect(c.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(ski.keyId)
    expect(c.notBefore.getTime()).toBe(now.getTime() - 60_000)
    expect(c.notAfter.getTime()).toBe(now.getTime() + 12_784 * 86_400_000)
    const serial = Buffer.from(c.serialNumber, 'hex')
    expect(serial).toHaveLength(16)
    expect(serial[0]! & 0x80).toBe(0)
    expect(serial[0]).not.toBe(0)
    expect(ca.chainPem).toBe(ca.certPem)
    expect(createPrivateKey({ key: ca.keyPkcs8Der, format: 'der', type: 'pkcs8' }).asymmetricKeyDetails?.namedCurve).toBe('prime256v1')
  })

  it('signs an intermediate with its parent, chains it and defaults its path length to 0', async () => {
    const root = await makeCa(dir, 'root')
    const inter = await createCa({ name: 'Line 1 CA', keyType: 'ec-p384', days: 365, parent: root })
    const c = parse(inter.certPem)
    const r = parse(root.certPem)
    expect(c.issuer).toBe(r.subject)
    expect(await c.verify({ publicKey: r, signatureOnly: true })).toBe(true)
    expect(c.getExtension(x509.BasicConstraintsExtension)).toMatchObject({ ca: true, pathLength: 0 })
    expect(c.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(r.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId)
    expect(pemBlocks(inter.chainPem).map((b) => parse(b.pem).subject)).toEqual(['CN=Line 1 CA', 'CN=root'])
  })

  it('clamps an intermediate to its parent and enforces path lengths', async () => {
    const root = await makeCa(dir, 'root', { days: 100, pathLen: 1 })
    const inter = await createCa({ name: 'i', keyType: 'ec-p256', days: 1000, parent: root })
    expect(parse(inter.certPem).notAfter.getTime()).toBe(root.notAfter.getTime())
    expect(inter.warnings.join()).toMatch(/shortened/)
    await expect(createCa({ name: 'i', keyType: 'ec-p256', days: 10, parent: root, pathLen: 1 })).rejects.toMatchObject({ code: 'E_CA_PATHLEN_PARENT', exitCode: 3 })
    writeCaDir(join(dir, 'i'), inter, PASS)
    const leafCa = await loadCa(join(dir, 'i'), PASS)
    await expect(createCa({ name: 'j', keyType: 'ec-p256', days: 10, parent: leafCa })).rejects.toMatchObject({ code: 'E_CA_PATHLEN_PARENT' })
  })

  it('supports RSA CAs', async () => {
    const ca = await createCa({ name: 'RSA CA', keyType: 'rsa-2048', days: 10 })
    const c = parse(ca.certPem)
    expect(c.signatureAlgorithm).toMatchObject({ name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } })
    expect(await c.verify({ publicKey: c, signatureOnly: true })).toBe(true)
  })

  it('validates its options', async () => {
    await expect(createCa({ name: '', keyType: 'ec-p256', days: 1 })).rejects.toMatchObject({ code: 'E_CA_NAME_INVALID' })
    await expect(createCa({ name: 'x', keyType: 'ec-p256', days: 0 })).rejects.toMatchObject({ code: 'E_DAYS_INVALID' })
    await expect(createCa({ name: 'x', keyType: 'ec-p256', days: 1, country: 'Finland' })).rejects.toMatchObject({ code: 'E_CA_COUNTRY_INVALID' })
    await expect(createCa({ name: 'x', keyType: 'ec-p256', days: 1, pathLen: 9 })).rejects.toMatchObject({ code: 'E_CA_PATHLEN' })
  })
})

describe('CA directories', () => {
  it('writes an encrypted 0600 key in a 0700 directory and loads it back', async () => {
    const ca = await createCa({ name: 'Root', keyType: 'ec-p256', days: 30 })
    const out = join(dir, 'new', 'root')
    const files = writeCaDir(out, ca, PASS)
    expect(statSync(out).mode & 0o777).toBe(0o700)
    expect(statSync(files.key).mode & 0o777).toBe(0o600)
    const keyPem = readFileSync(files.key, 'utf8')
    expect(keyPem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/)
    expect(keyPem).not.toContain(Buffer.from(ca.keyPkcs8Der).toString('base64').slice(0, 40))
    const loaded = await loadCa(out, PASS)
    expect(loaded.certPem).toBe(ca.certPem)
    expect(loaded.chainDer).toHaveLength(1)
    expect(loaded.subject).toBe('CN=Root')
    expect(loaded.keyType).toBe('ec-p256')
    expect(loaded.pathLen).toBe(3)
    expect(loaded.privateKey!.export({ type: 'pkcs8', format: 'der' }).equals(ca.keyPkcs8Der)).toBe(true)
  })

  it('never overwrites a CA, not even with force (its key signed everything already issued)', async () => {
    const ca = await createCa({ name: 'Root', keyType: 'ec-p256', days: 30 })
    writeCaDir(join(dir, 'r'), ca, PASS)
    const key = readFileSync(join(dir, 'r', 'ca.key.pem'))
    expect(() => writeCaDir(join(dir, 'r'), ca, PASS)).toThrow(expect.objectContaining({ code: 'E_CA_EXISTS', exitCode: 3 }))
    expect(() => writeCaDir(join(dir, 'r'), ca, PASS, { force: true })).toThrow(expect.objectContaining({ code: 'E_CA_EXISTS', exitCode: 3 }))
    expect(readFileSync(join(dir, 'r', 'ca.key.pem')).equals(key)).toBe(true)
    expect(statSync(join(dir, 'r', 'ca.key.pem')).mode & 0o777).toBe(0o600)
  })

  it('encrypts new keys with PBKDF2-SHA256 at 600,000 iterations and refuses short passphrases for new CAs', async () => {
    const ca = await createCa({ name: 'Root', keyType: 'ec-p256', days: 30 })
    expect(() => writeCaDir(join(dir, 'short'), ca, 'eleven-char')).toThrow(expect.objectContaining({ code: 'E_CA_PASSPHRASE_WEAK', exitCode: 2, hint: expect.stringContaining('12') }))
    expect(existsSync(join(dir, 'short'))).toBe(false)
    writeCaDir(join(dir, 'kdf'), ca, PASS)
    const pem = readFileSync(join(dir, 'kdf', 'ca.key.pem'), 'utf8')
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64')
    // PBES2 → PBKDF2 params: the iteration count is DER INTEGER 600000 = 02 03 09 27 c0
    expect(der.includes(Buffer.from([0x02, 0x03, 0x09, 0x27, 0xc0]))).toBe(true)
    expect(der.includes(Buffer.from('060960864801650304012a', 'hex'))).toBe(true) // aes256-CBC
    expect((await loadCa(join(dir, 'kdf'), PASS)).certDer.length).toBeGreaterThan(0)
    await expect(loadCa(join(dir, 'kdf'), 'not-the-passphrase')).rejects.toMatchObject({ code: 'E_CA_PASSPHRASE' })
  })

  it('reports an --out it cannot write as E_CA_OUT_INVALID (usage), before and while writing', async () => {
    const ca = await createCa({ name: 'Root', keyType: 'ec-p256', days: 30 })
    writeFileSync(join(dir, 'plain'), 'x')
    const under = join(dir, 'plain', 'ca')
    expect(() => checkCaDirFree(under, false)).toThrow(expect.objectContaining({ code: 'E_CA_OUT_INVALID', exitCode: 2, details: { dir: under, code: 'ENOTDIR' } }))
    let err: unknown
    try {
      writeCaDir(under, ca, PASS)
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({ code: 'E_CA_OUT_INVALID', exitCode: 2, hint: 'Check --out and its permissions.' })
    expect((err as Error).message).toBe(`Cannot write the CA to ${under}: ENOTDIR.`)
    // A write failing inside an existing directory (ca.pem is a directory here) is reported the same way.
    const fresh = join(dir, 'new', 'ca')
    const blocked = join(dir, 'blocked')
    mkdirSync(join(blocked, 'ca.pem'), { recursive: true })
    expect(() => writeCaDir(blocked, ca, PASS, { force: true })).toThrow(expect.objectContaining({ code: 'E_CA_EXISTS' }))
    expect(existsSync(blocked)).toBe(true)
    writeCaDir(fresh, ca, PASS)
    expect(existsSync(join(fresh, 'ca.key.pem'))).toBe(true)
  })

  it('tells a missing --ca from one that is a file', async () => {
    await expect(loadCa(join(dir, 'nope'), PASS)).rejects.toMatchObject({ code: 'E_CA_UNREADABLE', message: expect.stringContaining('the directory does not exist') })
    writeFileSync(join(dir, 'ca.pem'), 'x')
    const attempts: Array<() => unknown> = [() => describeCa(join(dir, 'ca.pem')), () => loadCa(join(dir, 'ca.pem'), PASS)]
    for (const f of attempts) {
      const e: unknown = await Promise.resolve().then(f).catch((x: unknown) => x)
      expect(e).toMatchObject({ code: 'E_CA_UNREADABLE', exitCode: 2, hint: expect.stringContaining('not a file') })
      expect((e as Error).message).toContain('is a file, not a directory')
      expect((e as Error).message).not.toContain('does not exist')
    }
  })

  it('reports a wrong passphrase, a missing CA and a mismatched key with distinct codes', async () => {
    await makeCa(dir, 'root')
    await expect(loadCa(join(dir, 'root'), 'wrong')).rejects.toMatchObject({ code: 'E_CA_PASSPHRASE', exitCode: 6 })
    await expect(loadCa(join(dir, 'nope'), PASS)).rejects.toMatchObject({ code: 'E_CA_UNREADABLE', hint: expect.stringContaining('lwprov ca create') })
    mkdirSync(join(dir, 'empty'))
    await expect(loadCa(join(dir, 'empty'), PASS)).rejects.toMatchObject({ code: 'E_CA_UNREADABLE' })
    await makeCa(dir, 'other')
    writeFileSync(join(dir, 'root', 'ca.key.pem'), readFileSync(join(dir, 'other', 'ca.key.pem')))
    await expect(loadCa(join(dir, 'root'), PASS)).rejects.toMatchObject({ code: 'E_CA_KEY_MISMATCH', exitCode: 6 })
  })

  it('describes a CA without its passphrase', async () => {
    const root = await makeCa(dir, 'root', { org: 'Acme' })
    await makeCa(dir, 'line', { parent: root })
    const d = describeCa(join(dir, 'line'))
    expect(d).toMatchObject({ subject: 'CN=line', issuer: 'O=Acme, CN=root', selfSigned: false, keyType: 'ec-p256', pathLen: 0 })
    expect(d.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    expect(d.chain.map((c) => c.subject)).toEqual(['CN=line', 'O=Acme, CN=root'])
    expect(() => describeCa(join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'E_CA_UNREADABLE' }))
  })
})

describe('importCa', () => {
  async function material(keyType: 'ec-p256' | 'rsa-2048' = 'ec-p256') {
    const ca = await createCa({ name: 'Imported', keyType, days: 30 })
    const key = createPrivateKey({ key: ca.keyPkcs8Der, format: 'der', type: 'pkcs8' })
    const certDer = pemBlocks(ca.certPem)[0]!.der
    return { ca, key, certDer }
  }

  it.each([
    ['PKCS#8 PEM', (k: ReturnType<typeof createPrivateKey>) => k.export({ type: 'pkcs8', format: 'pem' }), undefined],
    ['SEC1 PEM', (k: ReturnType<typeof createPrivateKey>) => k.export({ type: 'sec1', format: 'pem' }), undefined],
    ['SEC1 DER', (k: ReturnType<typeof createPrivateKey>) => k.export({ type: 'sec1', format: 'der' }), undefined],
    ['encrypted PKCS#8 PEM', (k: ReturnType<typeof createPrivateKey>) => k.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'old' }), 'old'],
    ['encrypted PKCS#8 DER', (k: ReturnType<typeof createPrivateKey>) => k.export({ type: 'pkcs8', format: 'der', cipher: 'aes-128-cbc', passphrase: 'old' }), 'old'],
    ['legacy encrypted SEC1 PEM', (k: ReturnType<typeof createPrivateKey>) => k.export({ type: 'sec1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'old' }), 'old'],
  ])('imports an EC key as %s and a DER certificate', async (_name, encode, passphrase) => {
    const { key, certDer } = await material()
    writeFileSync(join(dir, 'ca.der'), certDer)
    writeFileSync(join(dir, 'key'), encode(key))
    const imported = await importCa({ certPath: join(dir, 'ca.der'), keyPath: join(dir, 'key'), keyPassphrase: passphrase })
    writeCaDir(join(dir, 'out'), imported, 'new-pass-long-enough')
    const loaded = await loadCa(join(dir, 'out'), 'new-pass-long-enough')
    expect(loaded.certDer.equals(certDer)).toBe(true)
    expect(readFileSync(join(dir, 'out', 'ca.key.pem'), 'utf8')).toMatch(/ENCRYPTED PRIVATE KEY/)
  })

  it('imports an RSA PKCS#1 DER key', async () => {
    const { ca, key } = await material('rsa-2048')
    writeFileSync(join(dir, 'ca.pem'), ca.certPem)
    writeFileSync(join(dir, 'key.der'), key.export({ type: 'pkcs1', format: 'der' }))
    const imported = await importCa({ certPath: join(dir, 'ca.pem'), keyPath: join(dir, 'key.der') })
    expect(imported.warnings.join()).toMatch(/P-256/)
  })

  it('asks for the passphrase of an encrypted key and rejects a wrong one', async () => {
    const { ca, key } = await material()
    writeFileSync(join(dir, 'ca.pem'), ca.certPem)
    writeFileSync(join(dir, 'key.pem'), key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'old' }))
    await expect(importCa({ certPath: join(dir, 'ca.pem'), keyPath: join(dir, 'key.pem') })).rejects.toMatchObject({ code: 'E_CA_IMPORT_PASSPHRASE_MISSING', hint: expect.stringContaining('LWPROV_CA_IMPORT_PASSPHRASE') })
    await expect(importCa({ certPath: join(dir, 'ca.pem'), keyPath: join(dir, 'key.pem'), keyPassphrase: 'nope' })).rejects.toMatchObject({ code: 'E_CA_PASSPHRASE', exitCode: 6 })
  })

  it('rejects a non-CA certificate and a key of another CA', async () => {
    const root = await makeCa(dir, 'root')
    const [dev] = await issueDeviceCertificates(root, [{ endpoint: 'dev-1' }], { days: 1 })
    writeFileSync(join(dir, 'dev.pem'), dev!.certificatePem)
    writeFileSync(join(dir, 'dev.key'), dev!.privateKeyDer)
    await expect(importCa({ certPath: join(dir, 'dev.pem'), keyPath: join(dir, 'dev.key') })).rejects.toMatchObject({ code: 'E_CA_NOT_CA' })
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey
    writeFileSync(join(dir, 'other.pem'), other.export({ type: 'pkcs8', format: 'pem' }))
    await expect(importCa({ certPath: join(dir, 'root', 'ca.pem'), keyPath: join(dir, 'other.pem') })).rejects.toMatchObject({ code: 'E_CA_KEY_MISMATCH', exitCode: 6 })
    await expect(importCa({ certPath: join(dir, 'missing.pem'), keyPath: join(dir, 'other.pem') })).rejects.toMatchObject({ code: 'E_CERT_UNREADABLE' })
    expect(existsSync(join(dir, 'out'))).toBe(false)
  })

  it('keeps a chain that follows the certificate in a PEM file', async () => {
    const root = await makeCa(dir, 'root')
    const line = await makeCa(dir, 'line', { parent: root })
    const imported = await importCa({ certPath: join(dir, 'line', 'chain.pem'), keyPath: join(dir, 'line', 'ca.key.pem'), keyPassphrase: PASS })
    expect(pemBlocks(imported.chainPem)).toHaveLength(2)
    expect(imported.certPem).toBe(line.certPem)
  })
})
