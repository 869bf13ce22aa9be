import { randomBytes } from 'node:crypto'

import { describe, expect, it } from 'vitest'

import { openSecrets, parseMasterKey, sealSecrets } from '../../../src/core/manifest/secrets.js'

const key = randomBytes(32)

describe('secrets', () => {
  it('round-trips a PSK and a private key', () => {
    const psk = randomBytes(32)
    const pk = randomBytes(138)
    const blob = sealSecrets(key, { psk, privateKeyDer: pk }, 'ep-1')
    expect(blob[0]).toBe(1)
    const s = openSecrets(key, blob, 'ep-1')
    expect(s.psk?.equals(psk)).toBe(true)
    expect(s.privateKeyDer?.equals(pk)).toBe(true)
  })

  it('never contains the plaintext, and uses a fresh IV each time', () => {
    const psk = randomBytes(16)
    const a = sealSecrets(key, { psk }, 'ep-1')
    const b = sealSecrets(key, { psk }, 'ep-1')
    expect(a.includes(psk)).toBe(false)
    expect(a.equals(b)).toBe(false)
    expect(a.length).toBe(1 + 12 + 16 + 5 + 16)
  })

  it('binds the blob to its endpoint (AAD), the key and the bytes', () => {
    const blob = sealSecrets(key, { psk: randomBytes(16) }, 'ep-1')
    expect(() => openSecrets(key, blob, 'ep-2')).toThrow(expect.objectContaining({ code: 'E_SECRET_UNSEALABLE' }))
    expect(() => openSecrets(randomBytes(32), blob, 'ep-1')).toThrow(expect.objectContaining({ code: 'E_SECRET_UNSEALABLE' }))
    const t = Buffer.from(blob)
    t[t.length - 1]! ^= 1
    expect(() => openSecrets(key, t, 'ep-1')).toThrow(expect.objectContaining({ code: 'E_SECRET_UNSEALABLE', exitCode: 6 }))
    const v = Buffer.from(blob)
    v[0] = 9
    expect(() => openSecrets(key, v, 'ep-1')).toThrow(expect.objectContaining({ code: 'E_SECRET_FORMAT' }))
  })

  it('opens an empty secret set', () => {
    expect(openSecrets(key, sealSecrets(key, {}, 'x'), 'x')).toEqual({})
  })

  it('parses master keys', () => {
    const hex = randomBytes(32).toString('hex')
    expect(parseMasterKey(` ${hex.toUpperCase()}\n`).toString('hex')).toBe(hex)
    for (const bad of ['', 'abc', hex.slice(2), `${hex}00`, `${hex.slice(2)}zz`]) {
      expect(() => parseMasterKey(bad)).toThrow(expect.objectContaining({ code: 'E_MASTER_KEY_INVALID', exitCode: 2 }))
    }
  })
})
