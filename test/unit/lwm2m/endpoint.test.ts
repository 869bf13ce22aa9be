import { describe, expect, it } from 'vitest'

import { LwprovError } from '../../../src/core/errors.js'
import {
  assertTemplateCanProduce,
  luhnValid,
  parseEndpointTemplate,
  validateEndpointName,
} from '../../../src/core/lwm2m/endpoint.js'

const code = (fn: () => unknown): string => {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(LwprovError)
    expect((e as LwprovError).hint).toBeTruthy()
    return (e as LwprovError).code
  }
  return 'OK'
}
const err = (fn: () => unknown): LwprovError => {
  try {
    fn()
  } catch (e) {
    return e as LwprovError
  }
  throw new Error('expected an error')
}

describe('validateEndpointName', () => {
  it.each([
    ['lwprov-psk-0001', 'plain'],
    ['anjay-zephyr-demo-490154203237518', 'plain'],
    ['A'.repeat(64), 'plain'],
    ['urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6', 'uuid'],
    ['urn:imei:490154203237518', 'imei'],
    ['urn:imei-msisdn:490154203237518-15555550100', 'imei-msisdn'],
    ['urn:esn:80a1B2c3', 'esn'],
    ['urn:meid:A0000012345678', 'meid'],
    ['urn:dev:mac:0024befffe804ff1', 'dev'],
    ['urn:dev:mac:0024be804ff1', 'dev'],
    ['urn:dev:mac:0024befffe804ff1_port1', 'dev'],
    ['urn:dev:ow:10e2073a01080063', 'dev'],
    ['urn:dev:org:32473-foo', 'dev'],
    ['urn:dev:os:32473-123456', 'dev'],
    ['urn:dev:os:320973-0973BA000007', 'dev'], // TS style; also decimal
    ['urn:dev:os:00A0C9-SN-12', 'dev'], // TS-style hex OUI, deliberately accepted
    ['urn:dev:ops:32473-Refrigerator-5002', 'dev'],
    ['urn:dev:ops:32473-Refrigerator-5002-rev.2', 'dev'], // serial may contain '-'
    ['urn:dev:ops:0A1B2C-Modem.v2-ABC123', 'dev'],
    ['urn:dev:example:new-1-2', 'dev'],
    ['urn:gsma:imei:49015420-323751-8', 'urn'],
  ])('accepts %s (%s)', (name, kind) => {
    expect(validateEndpointName(name)).toBe(kind)
  })

  it.each([
    ['', /empty/],
    ['A'.repeat(65), /65 characters, more than 64/],
    ['ep 1', /whitespace at position 3/],
    ['ep\t1', /whitespace/],
    ['ep\u00001', /control character/],
    ['épée', /non-ASCII/],
    ['ep{1}', /"\{"/],
    ['ep#1', /"#"/],
    ['ep%41', /"%"/],
    ['URN:UUID:f81d4fae-7dec-11d0-a765-00a0c91e6bf6', /lowercase/],
    ['urn:uuid:F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6', /UUID hex must be lowercase/],
    ['urn:uuid:f81d4fae7dec11d0a76500a0c91e6bf6', /8-4-4-4-12/],
    ['urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf', /8-4-4-4-12/],
    ['urn:imei:49015420323751', /not 15 digits/],
    ['urn:imei:490154203237519', /Luhn/],
    ['urn:imei:49015420323751X', /not 15 digits/],
    ['urn:imei-msisdn:490154203237518', /MSISDN/],
    ['urn:esn:80a1b2c', /8 hex/],
    ['urn:meid:a000001234567g', /14 hex/],
    ['urn:dev:mac:0024BEFFFE804FF1', /lowercase/],
    ['urn:dev:mac:00:24:be:ff:fe:80', /hex digit pairs/],
    ['urn:dev:mac:0024bef', /pairs/],
    ['urn:dev:mac:0024befffe', /6 \(EUI-48\) or 8 \(EUI-64\)/],
    ['urn:dev:ow:10E2', /lowercase/],
    ['urn:dev:os:32473', /needs <number>-<serial>/],
    ['urn:dev:os:32473-', /empty serial/],
    ['urn:dev:os:0123-SN1', /neither a decimal enterprise number/],
    ['urn:dev:os:ACME-SN1', /neither a decimal/],
    ['urn:dev:ops:32473-Refrigerator', /<number>-<product>-<serial>/],
    ['urn:dev:ops:32473-Re!frig-5002', /product "Re!frig"/],
    ['urn:dev:os:32473-SN/1', /serial "SN\/1"/],
    ['urn:dev:mac:0024befffe804ff1_', /component/],
    ['urn:dev:Foo:bar', /subtype "Foo"/],
    ['urn:dev:', /empty namespace-specific/],
    ['urn:uuid', /urn:<namespace>/],
    ['urn:x:abc', /namespace identifier/],
  ])('rejects %j', (name, why) => {
    const e = err(() => validateEndpointName(name))
    expect(e.code).toBe('E_ENDPOINT_INVALID')
    expect(e.exitCode).toBe(2)
    expect(e.message).toMatch(why)
    expect(e.hint).toBeTruthy()
  })

  it('Luhn', () => {
    expect(luhnValid('490154203237518')).toBe(true)
    expect(luhnValid('356938035643809')).toBe(true)
    expect(luhnValid('356938035643808')).toBe(false)
    expect(luhnValid('79927398713')).toBe(true)
  })
})

describe('parseEndpointTemplate', () => {
  const now = new Date('2026-11-24T23:59:59Z')
  let counter = 0
  const random = (n: number) => Buffer.alloc(n, ++counter)

  it('{seq:06} zero pads and keeps wider numbers whole', () => {
    const t = parseEndpointTemplate('urn:dev:os:320973-0973BA{seq:06}')
    expect(t).toMatchObject({ hasSeq: true, seqWidth: 6, isTemplate: true, deviceFields: [], seqKey: 'urn:dev:os:320973-0973BA{seq:06}' })
    expect(t.render({ seq: 7, now, random })).toBe('urn:dev:os:320973-0973BA000007')
    expect(t.render({ seq: 1234567, now, random })).toBe('urn:dev:os:320973-0973BA1234567')
    expect(parseEndpointTemplate('ep-{seq}').render({ seq: 42, now, random })).toBe('ep-42')
    expect(parseEndpointTemplate('ep-{seq}').seqWidth).toBe(0)
  })

  it('{uuid} is a lowercase v4 UUID and a valid urn:uuid', () => {
    const t = parseEndpointTemplate('urn:uuid:{uuid}')
    const name = t.render({ now, random: () => Buffer.from('00112233445566778899aabbccddeeff', 'hex') })
    expect(name).toBe('urn:uuid:00112233-4455-4677-8899-aabbccddeeff')
    expect(validateEndpointName(name)).toBe('uuid')
  })

  it('{hex:N}, {date} (UTC)', () => {
    expect(parseEndpointTemplate('ep-{hex:8}').render({ now, random: (n) => Buffer.alloc(n, 0xab) })).toBe('ep-abababab')
    expect(parseEndpointTemplate('ep-{hex:3}').render({ now, random: (n) => Buffer.alloc(n, 0xab) })).toBe('ep-aba')
    const d = parseEndpointTemplate('lot-{date}-{seq:04}')
    expect(d.render({ seq: 3, now, random })).toBe('lot-20261124-0003')
  })

  it('device placeholders', () => {
    const t = parseEndpointTemplate('urn:dev:mac:{mac}')
    expect(t.deviceFields).toEqual(['mac'])
    expect(t.isTemplate).toBe(true)
    expect(t.render({ now, random, device: { mac: '00:24:BE:FF:FE:80:4F:F1' } })).toBe('urn:dev:mac:0024befffe804ff1')
    expect(parseEndpointTemplate('urn:imei:{imei}').render({ now, random, device: { imei: '490154203237518' } })).toBe('urn:imei:490154203237518')
    expect(parseEndpointTemplate('{serial}-{imei}-{serial}').deviceFields).toEqual(['serial', 'imei'])
    // the rendered name is validated: a bad IMEI from the device is caught
    expect(code(() => parseEndpointTemplate('urn:imei:{imei}').render({ now, random, device: { imei: '490154203237519' } }))).toBe('E_ENDPOINT_INVALID')
    expect(code(() => t.render({ now, random }))).toBe('E_TEMPLATE_DEVICE_FIELD')
  })

  it('literal names and {date} alone cannot produce distinct names', () => {
    const lit = parseEndpointTemplate('lwprov-psk-0001')
    expect(lit).toMatchObject({ isTemplate: false, hasPlaceholders: false, hasSeq: false })
    expect(lit.render({ now, random })).toBe('lwprov-psk-0001')
    expect(() => assertTemplateCanProduce(lit, 1)).not.toThrow()
    const e = err(() => assertTemplateCanProduce(lit, 5))
    expect(e.code).toBe('E_TEMPLATE_NOT_UNIQUE')
    expect(e.message).toMatch(/single name, so --count 5/)
    expect(e.hint).toMatch(/\{seq:06\}/)
    expect(code(() => assertTemplateCanProduce(parseEndpointTemplate('ep-{date}'), 2))).toBe('E_TEMPLATE_NOT_UNIQUE')
    expect(() => assertTemplateCanProduce(parseEndpointTemplate('ep-{hex:8}'), 2)).not.toThrow()
  })

  it.each([
    ['ep-{foo}', /unknown placeholder \{foo\}/],
    ['ep-{SEQ}', /unknown placeholder/],
    ['ep-{seq', /unbalanced "\{"/],
    ['ep-seq}', /unbalanced "\}"/],
    ['ep-{{seq}}', /unbalanced/],
    ['ep-{seq:6}', /leading 0/],
    ['ep-{hex:0}', /1\.\.32/],
    ['ep-{hex:33}', /1\.\.32/],
    ['ep-{}', /unknown placeholder \{\}/],
    ['ep {seq}', /whitespace/],
    ['', /empty/],
    [`${'x'.repeat(30)}{uuid}`, /at least 66 characters/],
  ])('rejects %j with E_TEMPLATE_INVALID and a hint listing the placeholders', (t, why) => {
    const e = err(() => parseEndpointTemplate(t))
    expect(e.code).toBe('E_TEMPLATE_INVALID')
    expect(e.message).toMatch(why)
    expect(e.hint).toBeTruthy()
    if (/unknown|unbalanced/.test(e.message)) expect(e.hint).toMatch(/\{seq:06\}.*\{uuid\}.*\{hex:8\}.*\{date\}.*\{imei\}.*\{mac\}.*\{serial\}/)
  })

  it('renderText renders without endpoint-name validation (e.g. serial numbers)', () => {
    const t = parseEndpointTemplate('SN {seq:06}'.replace(' ', '-'))
    expect(t.renderText({ seq: 5, now, random })).toBe('SN-000005')
    const long = parseEndpointTemplate(`${'x'.repeat(60)}{seq}`)
    expect(long.renderText({ seq: 123456, now, random })).toHaveLength(66)
    // render/renderText do not depend on `this`: destructuring keeps working
    const { render } = parseEndpointTemplate('ep-{seq}')
    expect(render({ seq: 1, now, random })).toBe('ep-1')
  })

  it('an invalid literal name fails at parse time', () => {
    expect(code(() => parseEndpointTemplate('urn:imei:490154203237519'))).toBe('E_ENDPOINT_INVALID')
  })

  it('{seq} without a number is refused at render time', () => {
    expect(code(() => parseEndpointTemplate('ep-{seq}').render({ now, random }))).toBe('E_TEMPLATE_INVALID')
  })

  it('a rendered name longer than 64 characters is refused', () => {
    const t = parseEndpointTemplate(`${'x'.repeat(60)}{seq}`)
    expect(t.render({ seq: 1234, now, random })).toHaveLength(64)
    expect(code(() => t.render({ seq: 12345, now, random }))).toBe('E_ENDPOINT_INVALID')
  })
})
