import { describe, expect, it } from 'vitest'

import { generatePsk, randomPskIdentity } from '../../../src/core/pki/index.js'

describe('PSKs', () => {
  it('generates distinct secrets of the requested length', () => {
    const a = generatePsk(32)
    const b = generatePsk(32)
    expect(a).toHaveLength(32)
    expect(generatePsk(16)).toHaveLength(16)
    expect(a.equals(b)).toBe(false)
  })

  it('refuses secrets shorter than 16 bytes', () => {
    expect(() => generatePsk(15)).toThrow(expect.objectContaining({ code: 'E_PSK_TOO_SHORT', exitCode: 2 }))
    expect(() => generatePsk(0)).toThrow(expect.objectContaining({ code: 'E_PSK_TOO_SHORT' }))
    expect(() => generatePsk(16.5)).toThrow(expect.objectContaining({ code: 'E_PSK_TOO_SHORT' }))
  })

  it('makes random base64url identities', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => randomPskIdentity()))
    expect(ids.size).toBe(1000)
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/)
  })
})
