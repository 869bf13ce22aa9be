import { describe, expect, it } from 'vitest'

import {
  CLAIM_ALPHABET,
  claimCheckSymbol,
  formatClaimCode,
  generateClaimCode,
  hashClaimCode,
  isValidClaimCode,
  normalizeClaimCode,
  verifyClaimCode,
} from '../../../src/core/station/claim-code.js'

describe('claim codes', () => {
  it('look like XXXX-XXXX-XXXX over the unambiguous alphabet', () => {
    for (let i = 0; i < 200; i++) {
      const c = generateClaimCode()
      expect(c).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/)
      expect(c).not.toMatch(/[ILOU]/)
      expect(isValidClaimCode(c)).toBe(true)
    }
  })

  it('accepts the Crockford look-alikes and lower case', () => {
    const c = generateClaimCode(() => Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))
    expect(c.slice(0, 4)).toBe('0123')
    expect(isValidClaimCode(c.toLowerCase().replace('0', 'o').replace('1', 'l'))).toBe(true)
    expect(normalizeClaimCode(' ab-cd i ')).toBe('ABCD1')
  })

  it('detects every single substitution and every adjacent transposition', () => {
    let substitutions = 0
    let transpositions = 0
    for (let k = 0; k < 60; k++) {
      const n = normalizeClaimCode(generateClaimCode())
      for (let i = 0; i < n.length; i++) {
        for (const c of CLAIM_ALPHABET) {
          if (c === n[i]) continue
          const bad = n.slice(0, i) + c + n.slice(i + 1)
          expect(isValidClaimCode(bad), `${n} → ${bad}`).toBe(false)
          substitutions++
        }
        if (i + 1 < n.length && n[i] !== n[i + 1]) {
          const swapped = n.slice(0, i) + n[i + 1] + n[i] + n.slice(i + 2)
          expect(isValidClaimCode(swapped), `${n} → ${swapped}`).toBe(false)
          transpositions++
        }
      }
    }
    expect(substitutions).toBe(60 * 12 * 31)
    expect(transpositions).toBeGreaterThan(500)
  })

  it('detects all transpositions of every symbol pair exhaustively', () => {
    for (const a of CLAIM_ALPHABET) {
      for (const b of CLAIM_ALPHABET) {
        if (a === b) continue
        const body = `Q7${a}${b}XYZ2K9M`
        const code = body + claimCheckSymbol(body)
        const swapped = `Q7${b}${a}XYZ2K9M` + claimCheckSymbol(body)
        expect(isValidClaimCode(code)).toBe(true)
        expect(isValidClaimCode(swapped)).toBe(false)
      }
    }
  })

  it('rejects wrong lengths and foreign characters', () => {
    expect(isValidClaimCode('ABCD-EFGH-JKM')).toBe(false)
    expect(isValidClaimCode('ABCD-EFGH-JKMNP')).toBe(false)
    expect(isValidClaimCode('ABCD-EFGH-JKU0')).toBe(false)
    expect(formatClaimCode('ABCDEFGHJKMN')).toBe('ABCD-EFGH-JKMN')
  })

  it('hashes with a per-code salt and verifies only the right code', () => {
    const code = generateClaimCode()
    const h1 = hashClaimCode(code)
    const h2 = hashClaimCode(code)
    expect(h1).not.toBe(h2)
    expect(h1).not.toContain(normalizeClaimCode(code))
    expect(verifyClaimCode(code, h1)).toBe(true)
    expect(verifyClaimCode(code.toLowerCase(), h2)).toBe(true)
    expect(verifyClaimCode(generateClaimCode(), h1)).toBe(false)
    expect(verifyClaimCode(code, 'sha1$x')).toBe(false)
  })
})
