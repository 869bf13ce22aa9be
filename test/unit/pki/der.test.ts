import { describe, expect, it } from 'vitest'

import { children, derLength, dirString, intDer, oid, readTlv, timeDer, uintDer } from '../../../src/core/pki/der.js'

const hex = (b: Buffer): string => b.toString('hex')

describe('DER encoding', () => {
  it('encodes short and long lengths', () => {
    expect(hex(derLength(0))).toBe('00')
    expect(hex(derLength(127))).toBe('7f')
    expect(hex(derLength(128))).toBe('8180')
    expect(hex(derLength(256))).toBe('820100')
    expect(hex(derLength(70000))).toBe('83011170')
  })

  it('encodes OIDs (RFC 5280 examples)', () => {
    expect(hex(oid('2.5.4.3'))).toBe('0603550403')
    expect(hex(oid('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302')
    expect(hex(oid('1.3.6.1.5.5.7.3.2'))).toBe('06082b06010505070302')
  })

  it('encodes INTEGERs minimally and positive', () => {
    expect(hex(intDer(0))).toBe('020100')
    expect(hex(intDer(2))).toBe('020102')
    expect(hex(intDer(128))).toBe('02020080')
    expect(hex(uintDer(Buffer.from('0000ff', 'hex')))).toBe('020200ff')
    expect(hex(uintDer(Buffer.from('7f01', 'hex')))).toBe('02027f01')
  })

  it('uses UTCTime before 2050 and GeneralizedTime from 2050', () => {
    expect(timeDer(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 999))).toString('latin1', 2)).toBe('260102030405Z')
    expect(timeDer(new Date(Date.UTC(2026, 0, 2)))[0]).toBe(0x17)
    const g = timeDer(new Date(Date.UTC(2061, 10, 24, 8, 0, 0)))
    expect(g[0]).toBe(0x18)
    expect(g.toString('latin1', 2)).toBe('20611124080000Z')
  })

  it('picks PrintableString when possible, UTF8String otherwise', () => {
    expect(dirString('urn:dev:os:320973-0973BA000001')[0]).toBe(0x13)
    expect(dirString('dev_001')[0]).toBe(0x0c)
    expect(dirString('Mökki')[0]).toBe(0x0c)
    expect(dirString('Mökki').subarray(2).toString('utf8')).toBe('Mökki')
  })

  it('reads nested TLVs and rejects truncation', () => {
    const buf = Buffer.from('3006020101020102', 'hex')
    const top = readTlv(buf)
    expect(top).toMatchObject({ tag: 0x30, body: 2, end: 8 })
    expect(children(buf, top).map((c) => buf[c.body])).toEqual([1, 2])
    expect(() => readTlv(Buffer.from('3005020101', 'hex'))).toThrow(/truncated/)
  })
})
