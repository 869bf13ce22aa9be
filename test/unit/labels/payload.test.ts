import { describe, expect, it } from 'vitest'

import { checkUrlTemplate, decodePayload, labelPayload, MAX_PAYLOAD_BYTES, plainPayload } from '../../../src/core/labels/payload.js'
import { qrMatrix } from '../../../src/core/labels/qr.js'
import { LwprovError } from '../../../src/core/errors.js'

function expectLwprovError(fn: () => unknown, code: string): void {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(LwprovError)
    expect((e as LwprovError).code).toBe(code)
    return
  }
  throw new Error(`expected ${code}`)
}

describe('label QR payload (LW1)', () => {
  it('encodes endpoint, serial and claim code in a fixed order and decodes them back', () => {
    const p = plainPayload({ endpoint: 'urn:dev:os:320973-0973WO000001', serial: 'SN-42', claim: '7K3M-Q9XD-2HTB' })
    expect(p).toBe('LW1;E:urn:dev:os:320973-0973WO000001;S:SN-42;C:7K3M-Q9XD-2HTB')
    expect(decodePayload(p)).toEqual({ version: 1, endpoint: 'urn:dev:os:320973-0973WO000001', serial: 'SN-42', claim: '7K3M-Q9XD-2HTB' })
    expect(plainPayload({ endpoint: 'ep1' })).toBe('LW1;E:ep1')
  })

  it('percent-encodes separators, ZPL command characters, spaces and non-ASCII, and round-trips them', () => {
    const d = { endpoint: 'a;b%c^d~e f', serial: 'ü\n' }
    const p = plainPayload(d)
    expect(p).toBe('LW1;E:a%3Bb%25c%5Ed%7Ee%20f;S:%C3%BC%0A')
    expect(p).toMatch(/^[\x21-\x7e]+$/)
    expect(p).not.toMatch(/[\^~]/)
    expect(decodePayload(p)).toMatchObject({ endpoint: d.endpoint, serial: d.serial })
  })

  it('rejects what is not an LW1 payload', () => {
    for (const t of ['LW2;E:x', 'E:x', 'LW1;S:x', 'LW1;C:x;E:y', 'LW1;E:x;E:y', 'LW1;E:%zz', 'https://x/']) expect(decodePayload(t)).toBeUndefined()
  })

  it('fills a URL template (URI-encoded, ~ escaped) and falls back to LW1 when a named value is missing', () => {
    const t = checkUrlTemplate('https://claim.example.com/?c={claim}&e={endpoint}')
    expect(labelPayload({ endpoint: 'urn:dev:os:1~2', claim: '7K3M-Q9XD-2HTB' }, t)).toBe('https://claim.example.com/?c=7K3M-Q9XD-2HTB&e=urn%3Adev%3Aos%3A1%7E2')
    expect(labelPayload({ endpoint: 'ep' }, t)).toBe('LW1;E:ep')
  })

  it('refuses URL templates that are not http(s), name no field or carry ZPL/control characters', () => {
    for (const bad of ['ftp://x/{claim}', 'https://x/', 'https://x/{claim}^FS', 'https://x/ {claim}', 'https://x/{nope}']) {
      expectLwprovError(() => checkUrlTemplate(bad), 'E_LABEL_URL_INVALID')
    }
  })

  it('a typical payload is a small QR (version <= 4 at level M); over-long ones are refused', () => {
    const p = labelPayload({ endpoint: 'urn:dev:os:320973-0973WO000001', claim: '7K3M-Q9XD-2HTB' })
    expect(p.length).toBeLessThanOrEqual(62)
    expect(qrMatrix(p).version).toBeLessThanOrEqual(4)
    expectLwprovError(() => labelPayload({ endpoint: 'x'.repeat(MAX_PAYLOAD_BYTES) }), 'E_LABEL_PAYLOAD_TOO_LONG')
  })
})
