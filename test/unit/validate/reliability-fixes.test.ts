/**
 * The classes of bad input `npm run reliability` found accepted, refused where they are validated: impossible calendar
 * dates, CA subject fields outside the identity set, duplicate / mis-addressed / policy-breaking imports, and an
 * endpoint pattern checked before a {seq} counter advances.
 */
import { randomBytes } from 'node:crypto'

import { describe, expect, it } from 'vitest'

import { generateBatch } from '../../../src/core/credentials/batch.js'
import { importRecords, toImportRecords } from '../../../src/core/manifest/import.js'
import { precheckTemplatePattern } from '../../../src/core/manifest/policy.js'
import { parseEndpointTemplate } from '../../../src/core/lwm2m/endpoint.js'
import { DEFAULT_PROFILE } from '../../../src/core/model.js'
import { createCa } from '../../../src/core/pki/index.js'
import { parseDate } from '../../../src/core/validate/index.js'
import { MemoryStore } from '../inject/memory-store.js'

const codeOf = async (fn: () => unknown): Promise<string | undefined> => {
  try {
    await fn()
  } catch (e) {
    return (e as { code: string }).code
  }
  return undefined
}

describe('dates are days of the calendar', () => {
  it.each(['2026-02-30', '2026-02-29', '2099-04-31', '2026-13-01', '2026-00-10', '2026-01-00', '2026-06-31T08:00:00Z'])('%s is refused', async (d) => {
    expect(await codeOf(() => parseDate(d, '--activates-on'))).toBe('E_DATE_INVALID')
  })
  it.each(['2028-02-29', '2026-12-31', '2026-04-30T23:59:59Z'])('%s is accepted', (d) => {
    expect(parseDate(d, '--since').toISOString().slice(0, 10)).toBe(d.slice(0, 10))
  })
})

describe('CA subject fields are identity fields', () => {
  it.each([
    ['an escape sequence in the name', { name: 'CA\u001b[2J' }],
    ['a newline and a DN in the name', { name: 'A\nCN=evil' }],
    ['an escape sequence in --org', { name: 'CA', org: 'o\u001b[1m' }],
    ['an over-long --org-unit', { name: 'CA', orgUnit: 'x'.repeat(65) }],
  ])('%s is E_CA_NAME_INVALID', async (_what, o) => {
    expect(await codeOf(() => createCa({ keyType: 'ec-p256', days: 30, ...o }))).toBe('E_CA_NAME_INVALID')
  })
})

describe('manifest import', () => {
  const row = (endpoint: string, extra: Record<string, unknown> = {}) => ({ endpoint, status: 'generated', security: 'nosec', server: 'coap://127.0.0.1:5683', ...extra })

  it('refuses an endpoint twice in the file as E_DUPLICATE_IN_INPUT, a bad server URI and a bad batch name as E_IMPORT_INVALID', async () => {
    expect(await codeOf(() => toImportRecords([row('a-1'), row('a-1')], {}))).toBe('E_DUPLICATE_IN_INPUT')
    expect(await codeOf(() => toImportRecords([row('a-1', { server: 'http://x.example.com' })], {}))).toBe('E_IMPORT_INVALID')
    expect(await codeOf(() => toImportRecords([row('a-1', { batch: 'b\u001b[2J' })], {}))).toBe('E_IMPORT_INVALID')
    expect(await codeOf(() => toImportRecords([row('a-1')], { batch: 'b c' }))).toBe('E_BATCH_NAME_INVALID')
  })

  it('enforces the minimum PSK length and require-work-order, writing nothing', async () => {
    const key = randomBytes(32)
    const psk = (n: number) => row('p-1', { security: 'psk', server: 'coaps://127.0.0.1:5684', pskIdentity: 'p-1', pskKeyHex: 'ab'.repeat(n) })
    const store = new MemoryStore()
    await store.setPolicy({ minPskBytes: 32 })
    expect(await codeOf(() => importRecords(store, toImportRecords([psk(16)], { masterKey: key })))).toBe('E_POLICY_VIOLATION')
    expect(store.rows.size).toBe(0)
    await importRecords(store, toImportRecords([psk(32)], { masterKey: key }))
    expect(store.rows.size).toBe(1)
    const wo = new MemoryStore()
    await wo.setPolicy({ requireWorkOrder: true })
    expect(await codeOf(() => importRecords(wo, toImportRecords([row('j-1')], {})))).toBe('E_WORK_ORDER_REQUIRED')
    expect(wo.rows.size).toBe(0)
  })
})

describe('the endpoint pattern is checked before a {seq} counter advances', () => {
  it('precheckTemplatePattern refuses a template the pattern cannot match, accepts one it does', () => {
    const now = new Date()
    const policy = { endpointPattern: '^pat-[0-9]+$' }
    expect(() => precheckTemplatePattern(policy, 'credentials generate', parseEndpointTemplate('g-{seq}'), { count: 5, now })).toThrow(expect.objectContaining({ code: 'E_POLICY_VIOLATION' }))
    expect(() => precheckTemplatePattern(policy, 'credentials generate', parseEndpointTemplate('pat-{seq:04}'), { count: 5, now })).not.toThrow()
  })

  it('credentials generate: refused with the counter untouched', async () => {
    const store = new MemoryStore()
    await store.setPolicy({ endpointPattern: '^pat-[0-9]+$' })
    const profile = { ...DEFAULT_PROFILE, mode: 'direct' as const, security: 'nosec' as const, serverUri: 'coap://127.0.0.1:5683' }
    expect(await codeOf(() => generateBatch(store, { template: 'g-{seq}', count: 3 }, profile, { batch: 'b', now: new Date() }))).toBe('E_POLICY_VIOLATION')
    // the next allocation of that template still starts at 1
    expect(await store.allocateSeq('g-{seq}', 1)).toBe(1)
  })
})
