import { describe, expect, it } from 'vitest'

import { CborTagged, decodeCbor, decodeCborPrefix, encodeCbor } from '../../src/core/cbor.js'

// RFC 8949 Appendix A examples (the subset lwprov emits or must read).
const vectors: Array<[unknown, string]> = [
  [0, '00'],
  [23, '17'],
  [24, '1818'],
  [100, '1864'],
  [1000, '1903e8'],
  [1000000, '1a000f4240'],
  [1000000000000, '1b000000e8d4a51000'],
  [-1, '20'],
  [-10, '29'],
  [-1000, '3903e7'],
  [false, 'f4'],
  [true, 'f5'],
  [null, 'f6'],
  ['', '60'],
  ['IETF', '6449455446'],
  ['\u00fc', '62c3bc'],
  [[], '80'],
  [[1, [2, 3], [4, 5]], '8301820203820405'],
  [new Map<string | number, unknown>([[1, 2], [3, 4]]), 'a201020304'],
]

describe('cbor', () => {
  it.each(vectors)('encodes %j as RFC 8949 bytes', (value, hex) => {
    expect(encodeCbor(value as never).toString('hex')).toBe(hex)
    expect(decodeCbor(Buffer.from(hex, 'hex'))).toEqual(value)
  })

  it('encodes byte strings and plain objects in key order', () => {
    const b = encodeCbor({ b: Buffer.from([1, 2]), a: 1 })
    expect(b.toString('hex')).toBe('a2616242010261610' + '1')
  })

  it('decodes indefinite-length items, floats and tags', () => {
    expect(decodeCbor(Buffer.from('9f018202039f0405ffff', 'hex'))).toEqual([1, [2, 3], [4, 5]])
    expect(decodeCbor(Buffer.from('5f42010243030405ff', 'hex'))).toEqual(Buffer.from([1, 2, 3, 4, 5]))
    expect(decodeCbor(Buffer.from('f93c00', 'hex'))).toBe(1)
    expect(decodeCbor(Buffer.from('fb3ff199999999999a', 'hex'))).toBe(1.1)
    expect(decodeCbor(Buffer.from('d818456449455446', 'hex'))).toEqual(new CborTagged(24, Buffer.from('6449455446', 'hex')))
  })

  it('rejects trailing bytes, truncation and invalid UTF-8', () => {
    expect(() => decodeCbor(Buffer.from('0000', 'hex'))).toThrow(/trailing/)
    expect(() => decodeCbor(Buffer.from('6449', 'hex'))).toThrow(/truncated|exceeds/)
    expect(() => decodeCbor(Buffer.from('62c328', 'hex'))).toThrow(/UTF-8/)
    expect(decodeCborPrefix(Buffer.from('0102', 'hex'))).toEqual({ value: 1, length: 1 })
  })
})
