import { createHash, randomBytes } from 'node:crypto'

import { describe, expect, it } from 'vitest'

import { buildAppend, entryHash, publicKeyB64, signingKeyFromMasterKey, verifyAudit } from '../../../src/core/manifest/audit.js'
import { signDetached, verifyDetached } from '../../../src/core/manifest/signing.js'

const mk = randomBytes(32)
const key = signingKeyFromMasterKey(mk)

describe('manifest signing key', () => {
  it('is derived deterministically from the master key, and differs for another key', () => {
    expect(publicKeyB64(signingKeyFromMasterKey(Buffer.from(mk)))).toBe(publicKeyB64(key))
    expect(publicKeyB64(signingKeyFromMasterKey(randomBytes(32)))).not.toBe(publicKeyB64(key))
  })
})

describe('detached JWS over an export', () => {
  const payload = Buffer.from('endpoint,status\nhsm-001,verified\n')

  it('verifies the file it was made for and names the signer', () => {
    const jws = signDetached(payload, '/tmp/x/devices.csv', key, 'ns-1', new Date('2026-01-02T03:04:05Z'))
    expect(jws.split('.')[1]).toBe('')
    const v = verifyDetached(payload, jws)
    expect(v.publicKey).toBe(publicKeyB64(key))
    expect(v.header.lwprov).toMatchObject({ manifest: 'ns-1', file: 'devices.csv', signedAt: '2026-01-02T03:04:05.000Z' })
  })

  it('refuses an altered file, a forged header and garbage with E_EXPORT_SIGNATURE (exit 6)', () => {
    const jws = signDetached(payload, 'devices.csv', key, 'ns-1')
    const altered = Buffer.from(payload.toString().replace('verified', 'verifieD'))
    expect(() => verifyDetached(altered, jws)).toThrow(expect.objectContaining({ code: 'E_EXPORT_SIGNATURE', exitCode: 6 }))
    // a header rewritten to the altered file's digest no longer matches the signature
    const [h, , sig] = jws.trim().split('.')
    const header = JSON.parse(Buffer.from(h!, 'base64url').toString())
    header.lwprov.sha256 = createHash('sha256').update(altered).digest('hex')
    const forged = `${Buffer.from(JSON.stringify(header)).toString('base64url')}..${sig}`
    expect(() => verifyDetached(altered, forged)).toThrow(expect.objectContaining({ code: 'E_EXPORT_SIGNATURE' }))
    expect(() => verifyDetached(payload, 'not a jws')).toThrow(expect.objectContaining({ code: 'E_EXPORT_SIGNATURE' }))
  })
})

describe('audit chain (pure)', () => {
  const ctx = { station: 's', operator: 'o', signingKey: key }
  const chain = () => {
    const a = buildAppend(undefined, [{ action: 'issued', subject: 'b', details: { count: 2 } }, { action: 'injected', subject: 'e1' }], ctx)
    const b = buildAppend(a.entries[1], [{ action: 'verified', subject: 'e1' }], ctx)
    return { entries: [...a.entries, ...b.entries], checkpoints: [a.checkpoint!, b.checkpoint!] }
  }

  it('chains entries and signs each append head', () => {
    const { entries, checkpoints } = chain()
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3])
    expect(entries[1]!.prevHash).toBe(entries[0]!.hash)
    expect(entries.every((e) => entryHash(e) === e.hash)).toBe(true)
    expect(checkpoints.map((c) => c.seq)).toEqual([2, 3])
    expect(verifyAudit(entries, checkpoints, publicKeyB64(key), publicKeyB64(key))).toMatchObject({ ok: true, signedThrough: 3, warnings: [] })
  })

  it('without a key the chain is written unsigned and verify warns about the uncovered entries', () => {
    const a = buildAppend(undefined, [{ action: 'x', subject: 'y' }], { station: 's', operator: 'o' })
    expect(a.checkpoint).toBeUndefined()
    const v = verifyAudit(a.entries, [], undefined, undefined)
    expect(v.ok).toBe(true)
    expect(v.warnings.join()).toMatch(/not covered by a signed checkpoint/)
  })

  it('rejects checkpoints signed by another key (a forger re-signing a rewritten chain)', () => {
    const { entries, checkpoints } = chain()
    const other = signingKeyFromMasterKey(randomBytes(32))
    const forged = buildAppend(undefined, [{ action: 'issued', subject: 'b', details: { count: 2 } }], { ...ctx, signingKey: other })
    const v = verifyAudit(entries, [forged.checkpoint!, ...checkpoints.slice(1)], publicKeyB64(key), publicKeyB64(key))
    expect(v.ok).toBe(false)
    expect(v.broken?.reason).toMatch(/invalid signature|another key/)
  })
})
