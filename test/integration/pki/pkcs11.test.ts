/**
 * CA keys in a real PKCS#11 module (SoftHSM2): key generation in the token, the key really not extractable, root and
 * intermediate CAs signed through the token, issuing inline and in worker threads (compiled build, a session per
 * worker), and the coded errors: wrong PIN (exit 6), missing token, missing module, bad URI.
 */
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { SOFTHSM_MODULE, startSoftHsm, type SoftHsm } from '../../helpers/softhsm.js'
import { tempDir } from '../../helpers/cli.js'

type Pki = typeof import('../../../src/core/pki/index.js')
const distIndex = fileURLToPath(new URL('../../../dist/core/pki/index.js', import.meta.url))
let pki: Pki
let hsm: SoftHsm
const dir = tempDir('lwprov-pkcs11-')
const PIN = '87654321'

beforeAll(async () => {
  expect(existsSync(distIndex), 'dist/ is missing: run `npm run build` first').toBe(true)
  expect(existsSync(SOFTHSM_MODULE), `SoftHSM2 module missing at ${SOFTHSM_MODULE} (Debian: apt-get install softhsm2)`).toBe(true)
  hsm = startSoftHsm()
  hsm.initToken('Factory', PIN)
  pki = (await import(pathToFileURL(distIndex).href)) as Pki
})
afterAll(() => pki?.finalizeModules())

/** `fn` must throw an lwprov error (from dist/, so matched by shape) with this code and exit code. */
function expectLwprovError(fn: () => unknown, code: string, exit: number): void {
  let err: unknown
  try {
    fn()
  } catch (e) {
    err = e
  }
  expect(err, `expected ${code}`).toMatchObject({ code, exitCode: exit })
}

const uri = (object: string) => pki.parsePkcs11Uri(`pkcs11:token=Factory;object=${object}`)

describe('PKCS#11 URIs', () => {
  it('parses token, object, id and module-path, and refuses a PIN in the URI', async () => {
    const u = pki.parsePkcs11Uri('pkcs11:token=My%20Token;object=line3-ca;id=%01%ff?module-path=/usr/lib/x.so')
    expect(u).toEqual({ token: 'My Token', object: 'line3-ca', id: Buffer.from([1, 255]), modulePath: '/usr/lib/x.so' })
    expect(pki.parsePkcs11Uri(pki.formatPkcs11Uri(u))).toEqual(u)
    expectLwprovError(() => pki.parsePkcs11Uri('pkcs11:token=T;object=k;pin-value=1234'), 'E_PKCS11_URI_INVALID', 2)
    expectLwprovError(() => pki.parsePkcs11Uri('token=T;object=k'), 'E_PKCS11_URI_INVALID', 2)
    expectLwprovError(() => pki.parsePkcs11Uri('pkcs11:object=k'), 'E_PKCS11_URI_INVALID', 2)
  })
})

describe('token CAs (SoftHSM2)', () => {
  it('generates a sensitive, non-extractable key in the token and self-signs a root with it', async () => {
    const s = pki.tokenSigner(uri('root-ca'), SOFTHSM_MODULE, PIN, 'ec-p256')
    const key = s.session.generate('ec-p256')
    expect(s.session.keyAttributes()).toEqual({ sensitive: true, extractable: false, valueReadable: false })
    const ca = await pki.createCa({ name: 'HSM Root', keyType: 'ec-p256', days: 3650, key: { spki: key.spki, signer: s } })
    expect(ca.keyPkcs8Der.length).toBe(0)
    pki.writeTokenCaDir(join(dir, 'root'), ca, { ...uri('root-ca'), id: key.id, modulePath: SOFTHSM_MODULE })
    s.session.close()
    expect(readdirSync(join(dir, 'root')).sort()).toEqual(['ca.key.uri', 'ca.pem', 'chain.pem'])
    for (const f of readdirSync(join(dir, 'root'))) expect(readFileSync(join(dir, 'root', f), 'latin1')).not.toMatch(/PRIVATE KEY/)
    const x = new X509Certificate(readFileSync(join(dir, 'root', 'ca.pem')))
    expect(x.verify(x.publicKey)).toBe(true)
    // a second key under the same label is refused
    const again = pki.tokenSigner(uri('root-ca'), SOFTHSM_MODULE, PIN, 'ec-p256')
    expectLwprovError(() => again.session.generate('ec-p256'), 'E_PKCS11_KEY_EXISTS', 2)
    again.session.close()
  })

  it('issues device certificates through the token, inline and in worker threads, that OpenSSL verifies', async () => {
    const ca = await pki.loadTokenCa(join(dir, 'root'), PIN)
    expect(ca.privateKey).toBeUndefined()
    expect(ca.signer.token).toMatchObject({ module: SOFTHSM_MODULE, token: 'Factory', object: 'root-ca' })
    const few = await pki.issueDeviceCertificates(ca, [{ endpoint: 'hsm-1' }], { days: 30 })
    const many = await pki.issueDeviceCertificates(ca, Array.from({ length: 600 }, (_, i) => ({ endpoint: `hsm-w${i}` })), { days: 30, workers: 2 })
    expect(many.map((c) => c.endpoint)).toEqual(Array.from({ length: 600 }, (_, i) => `hsm-w${i}`))
    const caX = new X509Certificate(ca.certDer)
    for (const c of [...few, ...many]) expect(new X509Certificate(c.certificateDer).verify(caX.publicKey)).toBe(true)
    writeFileSync(join(dir, 'dev.pem'), many[599]!.certificatePem)
    execFileSync('openssl', ['verify', '-CAfile', join(dir, 'root', 'ca.pem'), join(dir, 'dev.pem')])
    ca.signer.close?.()
  })

  it('signs an intermediate (line CA) whose key is in the token too, and adopts an existing token key (import)', async () => {
    const root = await pki.loadTokenCa(join(dir, 'root'), PIN)
    const s = pki.tokenSigner(uri('line-ca'), SOFTHSM_MODULE, PIN, 'ec-p256')
    const key = s.session.generate('ec-p256')
    const line = await pki.createCa({ name: 'Line 1', keyType: 'ec-p256', days: 365, parent: root, key: { spki: key.spki, signer: s } })
    writeFileSync(join(dir, 'line.pem'), line.certPem)
    execFileSync('openssl', ['verify', '-CAfile', join(dir, 'root', 'ca.pem'), join(dir, 'line.pem')])
    s.session.close()
    const adopt = pki.tokenSigner(uri('line-ca'), SOFTHSM_MODULE, PIN, '')
    const imported = await pki.importTokenCa(adopt.session, { certPath: join(dir, 'line.pem') })
    expect(imported.keyType).toBe('ec-p256')
    // the wrong certificate for this key
    await expect(pki.importTokenCa(adopt.session, { certPath: join(dir, 'root', 'ca.pem') })).rejects.toMatchObject({ code: 'E_CA_KEY_MISMATCH', exitCode: 6 })
    adopt.session.close()
    root.signer.close?.()
  })

  it('reports a wrong PIN (exit 6), a missing token (exit 5), a missing key and a missing module with codes', async () => {
    await expect(pki.loadTokenCa(join(dir, 'root'), '00000000')).rejects.toMatchObject({ code: 'E_PKCS11_PIN', exitCode: 6 })
    expectLwprovError(() => pki.tokenSigner(pki.parsePkcs11Uri('pkcs11:token=Nowhere;object=x'), SOFTHSM_MODULE, PIN, 'ec-p256'), 'E_PKCS11_TOKEN_NOT_FOUND', 5)
    const s = pki.tokenSigner(uri('no-such-key'), SOFTHSM_MODULE, PIN, 'ec-p256')
    expectLwprovError(() => s.session.sign(Buffer.from('x')), 'E_PKCS11_KEY_NOT_FOUND', 2)
    s.session.close()
    expectLwprovError(() => pki.resolveModule(uri('x'), join(dir, 'nope.so')), 'E_PKCS11_MODULE_MISSING', 2)
    expectLwprovError(() => pki.resolveModule(uri('x'), undefined, ''), 'E_PKCS11_MODULE_MISSING', 2)
  })
})
