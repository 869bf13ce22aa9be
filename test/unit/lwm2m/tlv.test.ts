/**
 * OMA-TLV vectors derived by hand from OMA-TS-LightweightM2M-Core 1.1 §7.4.3 (type byte layout below) — not
 * produced by the encoder under test.
 *
 *   type byte = TT I LL SSS
 *     TT  (bits 7-6): 00 object instance, 01 resource instance, 10 multiple resource, 11 resource with value
 *     I   (bit 5)   : identifier width, 0 = 8 bits, 1 = 16 bits
 *     LL  (bits 4-3): length field, 00 none (SSS is the length), 01 8-bit, 10 16-bit, 11 24-bit
 *     SSS (bits 2-0): value length when LL = 00
 */
import fs from 'node:fs'
import path from 'node:path'

import { describe, expect, it } from 'vitest'

import { LwprovError } from '../../../src/core/errors.js'
import {
  buildLwm2mConfig,
  decodeConfigTlv,
  decodeObjectTlv,
  decodeSenmlCbor,
  decodeTlv,
  decodeTlvValue,
  encodeConfigTlv,
  encodeObjectTlv,
  encodeTlv,
  encodeTlvValue,
  type Lwm2mConfig,
  type TlvEntry,
} from '../../../src/core/lwm2m/index.js'

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')
// A verbatim copy of the shared vectors/senml lives in ./fixtures/senml so the tests run anywhere (CI has no
// /work/shared); LWPROV_VECTORS=<vectors root> points them at another copy.
const VEC = process.env.LWPROV_VECTORS ? path.join(process.env.LWPROV_VECTORS, 'senml') : path.join(import.meta.dirname, 'fixtures', 'senml')

describe('TLV entries (hand-derived)', () => {
  const cases: [string, TlvEntry[], string][] = [
    // Resource 0 with 1-byte value 0x01: TT=11 I=0 LL=00 SSS=001 -> 1100 0001 = C1; id 00; value 01.
    ['resource, 8-bit id, length in type byte', [{ type: 'resource', id: 0, value: hex('01') }], 'C1 00 01'],
    // Empty value: 11 0 00 000 = C0; id 04; no value bytes.
    ['resource with empty value', [{ type: 'resource', id: 4, value: hex('') }], 'C0 04'],
    // 7 bytes still fit SSS: 11 0 00 111 = C7.
    ['7-byte value in SSS', [{ type: 'resource', id: 1, value: hex('01020304050607') }], 'C7 01 01020304050607'],
    // OMA TS example, Device /3/0/0 "Open Mobile Alliance" (20 bytes): 11 0 01 000 = C8; id 00; len 14 (20).
    [
      'TS example: 20-byte string, 8-bit length',
      [{ type: 'resource', id: 0, value: Buffer.from('Open Mobile Alliance') }],
      'C8 00 14 4F70656E204D6F62696C6520416C6C69616E6365',
    ],
    // OMA TS example, Device /3/0/6 Available Power Sources {0: 1, 1: 5}:
    //   resource instances 01 0 00 001 = 41: "41 00 01", "41 01 05"; multiple resource holding 6 bytes:
    //   10 0 00 110 = 86; id 06.
    [
      'TS example: multiple resource with resource instances',
      [{ type: 'multipleResource', id: 6, children: [{ type: 'resourceInstance', id: 0, value: hex('01') }, { type: 'resourceInstance', id: 1, value: hex('05') }] }],
      '86 06 41 00 01 41 01 05',
    ],
    // 16-bit id 0x0100, 8-byte value: 11 1 01 000 = E8; id 01 00; len 08.
    ['16-bit identifier', [{ type: 'resource', id: 256, value: hex('0001020304050607') }], 'E8 0100 08 0001020304050607'],
    // Resource instance 16-bit id 0x1234, 1 byte: 01 1 00 001 = 61; id 12 34.
    ['resource instance, 16-bit id', [{ type: 'resourceInstance', id: 0x1234, value: hex('ff') }], '61 1234 ff'],
    // Object instance 1 holding "C1 00 01" (3 bytes): 00 0 00 011 = 03; id 01.
    ['object instance, length in type byte', [{ type: 'objectInstance', id: 1, children: [{ type: 'resource', id: 0, value: hex('01') }] }], '03 01 C1 00 01'],
  ]
  it.each(cases)('%s', (_name, entries, want) => {
    expect(encodeTlv(entries).toString('hex')).toBe(hex(want).toString('hex'))
    expect(decodeTlv(hex(want))).toEqual(entries)
  })

  it('16-bit length: 300 bytes -> 11 0 10 000 = D0, len 01 2C', () => {
    const v = Buffer.alloc(300, 0xaa)
    const b = encodeTlv([{ type: 'resource', id: 5, value: v }])
    expect(b.subarray(0, 4).toString('hex')).toBe('d005012c')
    expect(b.length).toBe(304)
    expect(decodeTlv(b)).toEqual([{ type: 'resource', id: 5, value: v }])
  })

  it('24-bit length: 65536 bytes -> 11 0 11 000 = D8, len 01 00 00; 16-bit id + 24-bit length = F8', () => {
    const v = Buffer.alloc(65536, 1)
    expect(encodeTlv([{ type: 'resource', id: 3, value: v }]).subarray(0, 5).toString('hex')).toBe('d803010000')
    const b = encodeTlv([{ type: 'resource', id: 0xabcd, value: v }])
    expect(b.subarray(0, 6).toString('hex')).toBe('f8abcd010000')
    expect(decodeTlv(b)).toEqual([{ type: 'resource', id: 0xabcd, value: v }])
  })

  it('boundary: 255 bytes uses an 8-bit length, 256 a 16-bit one', () => {
    expect(encodeTlv([{ type: 'resource', id: 0, value: Buffer.alloc(255) }]).subarray(0, 3).toString('hex')).toBe('c800ff')
    expect(encodeTlv([{ type: 'resource', id: 0, value: Buffer.alloc(256) }]).subarray(0, 4).toString('hex')).toBe('d0000100')
    expect(encodeTlv([{ type: 'resource', id: 0, value: Buffer.alloc(8) }]).subarray(0, 3).toString('hex')).toBe('c80008')
  })

  it('decoder accepts non-shortest forms (8-bit length field for 1 byte, 16-bit id 0x0000)', () => {
    // 11 1 01 000 = E8; id 00 00; len 01; value 2A
    expect(decodeTlv(hex('E8 0000 01 2A'))).toEqual([{ type: 'resource', id: 0, value: hex('2a') }])
  })

  it.each([
    ['truncated value', 'C2 00 01'],
    ['truncated header', 'C8 00'],
    ['length beyond input', 'D0 00 01 00 00'],
    ['object instance inside object instance', '02 01 00 00'],
    ['resource inside multiple resource', '83 06 C1 00 01'],
  ])('rejects %s with E_TLV_INVALID', (_n, h) => {
    expect(() => decodeTlv(hex(h))).toThrow(LwprovError)
    try {
      decodeTlv(hex(h))
    } catch (e) {
      expect((e as LwprovError).code).toBe('E_TLV_INVALID')
    }
  })
})

describe('TLV values (hand-derived)', () => {
  it.each([
    // signed integers: shortest of 1, 2, 4, 8 bytes, two's complement
    [0, '00'],
    [127, '7f'],
    [128, '0080'],
    [-1, 'ff'],
    [-128, '80'],
    [-129, 'ff7f'],
    [300, '012c'],
    [32767, '7fff'],
    [32768, '00008000'],
    [86400, '00015180'],
    [2147483647, '7fffffff'],
    [2147483648, '0000000080000000'],
    [-2147483649, 'ffffffff7fffffff'],
  ])('integer %d -> %s', (v, h) => {
    expect(Buffer.from(encodeTlvValue('integer', v)).toString('hex')).toBe(h)
    expect(decodeTlvValue('integer', hex(h))).toBe(v)
  })

  it('unsigned uses unsigned widths: 128 -> 80, 255 -> ff, 256 -> 0100, 65536 -> 00010000', () => {
    expect(Buffer.from(encodeTlvValue('unsigned', 128)).toString('hex')).toBe('80')
    expect(Buffer.from(encodeTlvValue('unsigned', 255)).toString('hex')).toBe('ff')
    expect(Buffer.from(encodeTlvValue('unsigned', 256)).toString('hex')).toBe('0100')
    expect(Buffer.from(encodeTlvValue('unsigned', 65536)).toString('hex')).toBe('00010000')
    expect(decodeTlvValue('unsigned', hex('ff'))).toBe(255)
  })

  it('boolean, string, opaque', () => {
    expect(Buffer.from(encodeTlvValue('boolean', true)).toString('hex')).toBe('01')
    expect(Buffer.from(encodeTlvValue('boolean', false)).toString('hex')).toBe('00')
    expect(decodeTlvValue('boolean', hex('01'))).toBe(true)
    expect(() => decodeTlvValue('boolean', hex('02'))).toThrow(/one byte 0 or 1/)
    expect(Buffer.from(encodeTlvValue('string', 'U')).toString('hex')).toBe('55')
    expect(() => decodeTlvValue('string', hex('ff'))).toThrow(/UTF-8/)
    expect(() => decodeTlvValue('integer', hex('000000'))).toThrow(/3 bytes/)
    expect(() => encodeTlvValue('integer', 'x')).toThrow(LwprovError)
  })
})

const psk01 = {
  endpoint: 'lwprov-psk-0001',
  mode: 'direct' as const,
  security: 'psk' as const,
  serverUri: 'coaps://127.0.0.1:5684',
  psk: hex('7bfd46dbef9969c2176e43a90440a623'),
  shortServerId: 1,
  lifetime: 300,
  binding: 'U',
  notificationStoring: false,
}

describe('TLV of full configurations', () => {
  it('vector 01 as TLV, byte for byte (hand-derived)', () => {
    const cfg = buildLwm2mConfig(psk01, { emptyServerPublicKey: 'omit' })
    const { security, server } = encodeConfigTlv(cfg)
    // /1/1: C1 00 01            SSID 1 (11 0 00 001, id 0, 1 byte)
    //       C2 01 01 2C         lifetime 300 = 0x012C (2 bytes, signed 300 > 127)
    //       C1 06 00            notification storing false
    //       C1 07 55            binding "U"
    //       = 13 bytes -> object instance 00 0 01 000 = 08, id 01, len 0D
    expect(server.toString('hex')).toBe(hex('08 01 0D C1 00 01 C2 01 01 2C C1 06 00 C1 07 55').toString('hex'))
    // /0/1: C8 00 16 "coaps://127.0.0.1:5684" (22 bytes)    25
    //       C1 01 00    bootstrap false                      3
    //       C1 02 00    mode 0 (PSK)                         3
    //       C8 03 0F "lwprov-psk-0001" (15 bytes)            18
    //       C8 05 10 <16-byte key>                           19
    //       C1 0A 01    SSID 1                               3
    //       = 71 = 0x47 -> 08 01 47
    const want = [
      '08 01 47',
      'C8 00 16',
      Buffer.from('coaps://127.0.0.1:5684').toString('hex'),
      'C1 01 00',
      'C1 02 00',
      'C8 03 0F',
      Buffer.from('lwprov-psk-0001').toString('hex'),
      'C8 05 10 7bfd46dbef9969c2176e43a90440a623',
      'C1 0A 01',
    ].join('')
    expect(security.toString('hex')).toBe(hex(want).toString('hex'))
    expect(decodeConfigTlv({ security, server })).toEqual(cfg)
  })

  it('bootstrap-only: empty /1 payload; an empty /0/0/4 is written as C0 04', () => {
    const cfg = buildLwm2mConfig({ ...psk01, mode: 'bootstrap', serverUri: 'coaps://127.0.0.1:5784' }, { emptyServerPublicKey: 'write' })
    const { security, server } = encodeConfigTlv(cfg)
    expect(server.length).toBe(0)
    expect(security.includes(hex('C0 04'))).toBe(true)
    expect(decodeConfigTlv({ security, server })).toEqual(cfg)
  })

  it.each(['01-direct-psk-16', '02-direct-psk-32', '03-bootstrap-psk', '04-direct-cert-pkcs8', '05-direct-cert-sec1-ca', '07-direct-psk-16-basename'])(
    'round-trips the %s configuration (certificates need 16-bit lengths)',
    (id) => {
      const cfg = decodeSenmlCbor(fs.readFileSync(path.join(VEC, id, 'payload.cbor')))
      const tlv = encodeConfigTlv(cfg)
      expect(decodeConfigTlv(tlv)).toEqual(cfg)
    },
  )

  it('several instances in IID order, 16-bit IIDs and every optional resource', () => {
    const cfg: Lwm2mConfig = {
      security: [
        { ...buildLwm2mConfig(psk01).security[0]!, iid: 300, shortServerId: 2 },
        {
          ...buildLwm2mConfig({ ...psk01, mode: 'bootstrap' }).security[0]!,
          clientHoldOffTime: 5,
          bootstrapServerAccountTimeout: 0,
          matchingType: 1,
          sni: 'lwm2m.example.com',
          certificateUsage: 3,
        },
      ],
      server: [
        {
          iid: 7,
          shortServerId: 2,
          lifetime: 86400,
          defaultMinimumPeriod: 1,
          defaultMaximumPeriod: 60,
          disableTimeout: 86400,
          notificationStoring: true,
          binding: 'UQ',
          bootstrapOnRegistrationFailure: true,
          communicationRetryCount: 5,
        },
      ],
    }
    const tlv = encodeConfigTlv(cfg)
    // /0/300 starts with object instance, 16-bit id: 00 1 LL... ; its header id bytes are 01 2C
    const back = decodeConfigTlv(tlv)
    expect(back.security.map((s) => s.iid)).toEqual([0, 300])
    expect(back).toEqual({ security: [...cfg.security].sort((a, b) => a.iid - b.iid), server: cfg.server })
    expect(encodeObjectTlv(back, 1).equals(tlv.server)).toBe(true)
  })

  it('rejects what the client would: missing mandatory resource, unsupported resource, duplicates', () => {
    // /1/1 without resource 6: C1 00 01, C2 01 01 2C, C1 07 55 = 10 bytes -> 08 01 0A
    expect(() => decodeObjectTlv(1, hex('08 01 0A C1 00 01 C2 01 01 2C C1 07 55'))).toThrow(/missing Notification Storing/)
    // /1/1/13 Registration Priority Order: C1 0D 00
    expect(() => decodeObjectTlv(1, hex('08 01 10 C1 00 01 C2 01 01 2C C1 06 00 C1 07 55 C1 0D 00'))).toThrow(/Registration Priority Order is not supported/)
    expect(() => decodeObjectTlv(1, hex('C1 00 01'))).toThrow(/object instances/)
    const srv = '08 01 0D C1 00 01 C2 01 01 2C C1 06 00 C1 07 55'
    expect(() => decodeObjectTlv(1, hex(srv + srv))).toThrow(/instance appears twice/)
    // resource 1 twice: C2 01 01 2C repeated -> 17 bytes = 0x11
    expect(() => decodeObjectTlv(1, hex('08 01 11 C1 00 01 C2 01 01 2C C2 01 01 2C C1 06 00 C1 07 55'))).toThrow(/resource appears twice/)
  })
})
