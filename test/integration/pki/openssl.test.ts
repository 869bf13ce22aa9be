// Device certificates and CAs checked by OpenSSL itself (the acceptance criterion), and CAs made by OpenSSL imported.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { createCa, importCa, issueDeviceCertificates, loadCa, writeCaDir, type LoadedCa } from '../../../src/core/pki/index.js'

const PASS = 'integration-passphrase'
let dir: string
let root: LoadedCa
let line: LoadedCa

const openssl = (...args: string[]): string => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lwprov-pki-int-'))
  writeCaDir(join(dir, 'root'), await createCa({ name: 'Integration Root CA', keyType: 'ec-p256', days: 12_784, org: 'Acme', country: 'FI' }), PASS)
  root = await loadCa(join(dir, 'root'), PASS)
  writeCaDir(join(dir, 'line'), await createCa({ name: 'Integration Line CA', keyType: 'ec-p256', days: 12_784, parent: root }), PASS)
  line = await loadCa(join(dir, 'line'), PASS)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('OpenSSL agrees', () => {
  it('verifies 200 device certificates through root + intermediate, CN = endpoint, extensions present, serials distinct', async () => {
    const reqs = Array.from({ length: 200 }, (_, i) => ({ endpoint: `urn:dev:os:320973-0973BA${String(i).padStart(6, '0')}`, ...(i % 2 ? { accountId: '016f0a2b3c4d' } : {}) }))
    const certs = await issueDeviceCertificates(line, reqs, { days: 3650 })
    mkdirSync(join(dir, 'c'))
    const files = certs.map((c, i) => {
      const f = join(dir, 'c', `${i}.pem`)
      writeFileSync(f, c.certificatePem)
      return f
    })
    const out = openssl('verify', '-CAfile', join(dir, 'root', 'ca.pem'), '-untrusted', join(dir, 'line', 'ca.pem'), ...files)
    expect(out.trim().split('\n').filter((l) => l.endsWith(': OK'))).toHaveLength(200)
    const serials = new Set<string>()
    for (const [i, f] of files.entries()) {
      if (i % 20 === 0) {
        const text = openssl('x509', '-in', f, '-noout', '-text')
        expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/)
        expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/)
        expect(text).toMatch(/X509v3 Extended Key Usage:\s*\n\s+TLS Web Client Authentication/)
        expect(text).toMatch(/X509v3 Subject Key Identifier/)
        expect(text).toMatch(/X509v3 Authority Key Identifier/)
        expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/)
        expect(text).toMatch(/NIST CURVE: P-256/)
      }
      const subject = openssl('x509', '-in', f, '-noout', '-subject', '-nameopt', 'multiline')
      expect(subject).toMatch(new RegExp(`commonName\\s+= ${reqs[i]!.endpoint}\\n`))
      if (i % 2) expect(subject).toMatch(/organizationalUnitName\s+= 016f0a2b3c4d/)
      serials.add(openssl('x509', '-in', f, '-noout', '-serial'))
    }
    expect(serials.size).toBe(200)
    // The private key matches: OpenSSL derives the same public key from it.
    writeFileSync(join(dir, 'k0.der'), certs[0]!.privateKeyDer)
    const fromKey = openssl('pkey', '-inform', 'DER', '-in', join(dir, 'k0.der'), '-pubout')
    const fromCert = openssl('x509', '-in', files[0]!, '-noout', '-pubkey')
    expect(fromKey).toBe(fromCert)
  })

  it('shows the CA profile and decrypts the CA key with the passphrase', () => {
    const text = openssl('x509', '-in', join(dir, 'root', 'ca.pem'), '-noout', '-text')
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:3/)
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/)
    const lineText = openssl('x509', '-in', join(dir, 'line', 'ca.pem'), '-noout', '-text')
    expect(lineText).toMatch(/CA:TRUE, pathlen:0/)
    expect(openssl('verify', '-CAfile', join(dir, 'root', 'ca.pem'), join(dir, 'line', 'ca.pem'))).toMatch(/OK/)
    expect(openssl('pkey', '-in', join(dir, 'line', 'ca.key.pem'), '-passin', `pass:${PASS}`, '-noout', '-text')).toMatch(/ASN1 OID: prime256v1/)
    expect(() => openssl('pkey', '-in', join(dir, 'line', 'ca.key.pem'), '-passin', 'pass:wrong', '-noout')).toThrow()
  })
})

describe('importing a CA made by OpenSSL', () => {
  it.each([
    ['encrypted PKCS#8', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-aes-256-cbc', '-pass', 'pass:old-pass']],
    ['traditional encrypted EC', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout']],
  ])('imports an %s key and issues certificates OpenSSL accepts', async (kind, gen) => {
    const d = join(dir, `imp-${kind.replace(/\W+/g, '-')}`)
    mkdirSync(d)
    const key = join(d, 'ca.key')
    if (gen[0] === 'genpkey') {
      openssl(...gen, '-out', key)
    } else {
      openssl(...gen, '-out', join(d, 'plain.key'))
      openssl('ec', '-in', join(d, 'plain.key'), '-aes256', '-passout', 'pass:old-pass', '-out', key)
    }
    openssl('req', '-x509', '-new', '-key', key, '-passin', 'pass:old-pass', '-subj', '/CN=OpenSSL CA', '-days', '3650', '-outform', 'DER', '-out', join(d, 'ca.der'),
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature')
    const ca = await importCa({ certPath: join(d, 'ca.der'), keyPath: key, keyPassphrase: 'old-pass' })
    writeCaDir(join(d, 'out'), ca, PASS)
    const loaded = await loadCa(join(d, 'out'), PASS)
    const [c] = await issueDeviceCertificates(loaded, [{ endpoint: 'imported-dev' }], { days: 10 })
    writeFileSync(join(d, 'dev.pem'), c!.certificatePem)
    expect(openssl('verify', '-CAfile', join(d, 'out', 'ca.pem'), join(d, 'dev.pem'))).toMatch(/: OK/)
  })
})
