import { describe, expect, it } from 'vitest'

import { applyPolicyUpdate, enforcePolicy, precheckInjectPolicy } from '../../../src/core/manifest/policy.js'
import type { ManifestPolicy } from '../../../src/core/manifest/types.js'
import { lwprovFailure } from '../../helpers/errors.js'

const codeOf = (fn: () => unknown) => {
  try {
    fn()
  } catch (e) {
    return (e as { code: string; exitCode: number }).code + '/' + (e as { exitCode: number }).exitCode
  }
  return undefined
}

describe('manifest policy', () => {
  it('updates merge, validate and clear', () => {
    const p = applyPolicyUpdate({}, { requireWorkOrder: true, minPskBytes: 32, allowedServers: ['coaps://a:5684', 'coaps://a:5684'], endpointPattern: 'x-[0-9]+', maxCertDays: 365 })
    expect(p).toEqual({ requireWorkOrder: true, minPskBytes: 32, allowedServers: ['coaps://a:5684'], endpointPattern: 'x-[0-9]+', maxCertDays: 365 })
    expect(applyPolicyUpdate(p, { requireWorkOrder: false, endpointPattern: '' })).toEqual({ minPskBytes: 32, allowedServers: ['coaps://a:5684'], maxCertDays: 365 })
    expect(applyPolicyUpdate(p, { clear: true, minPskBytes: 16 })).toEqual({ minPskBytes: 16 })
    for (const u of [{ minPskBytes: 8 }, { allowedServers: ['http://x'] }, { endpointPattern: '(' }, { maxCertDays: 999999999 }]) {
      expect(codeOf(() => applyPolicyUpdate({}, u)), JSON.stringify(u)).toMatch(/^E_(POLICY_INVALID|DAYS_INVALID)\/2$/)
    }
  })

  it('enforces each rule on what the request says', () => {
    const p: ManifestPolicy = { requireWorkOrder: true, minPskBytes: 32, allowedServers: ['coaps://a:5684'], endpointPattern: 'x-[0-9]+', maxCertDays: 365 }
    expect(codeOf(() => enforcePolicy(p, { via: 'inject', jit: true, endpoints: ['x-1'] }))).toBe('E_WORK_ORDER_REQUIRED/2')
    expect(codeOf(() => enforcePolicy(p, { via: 'inject', jit: false, endpoints: ['x-1'] }))).toBeUndefined()
    expect(codeOf(() => enforcePolicy(p, { via: 'inject', security: 'psk', pskBytes: 16 }))).toBe('E_POLICY_VIOLATION/2')
    expect(codeOf(() => enforcePolicy(p, { via: 'inject', security: 'psk', pskBytes: 32 }))).toBeUndefined()
    expect(codeOf(() => enforcePolicy(p, { via: 'inject', serverUri: 'coaps://evil:5684' }))).toBe('E_POLICY_VIOLATION/2')
    expect(codeOf(() => enforcePolicy(p, { via: 'inject', endpoints: ['x-1', 'y-2'] }))).toBe('E_POLICY_VIOLATION/2')
    // The pattern is anchored: a matching prefix is not enough.
    expect(codeOf(() => enforcePolicy(p, { via: 'inject', endpoints: ['x-1z'] }))).toBe('E_POLICY_VIOLATION/2')
    expect(codeOf(() => enforcePolicy(p, { via: 'inject', security: 'cert', days: 366 }))).toBe('E_POLICY_VIOLATION/2')
    expect(codeOf(() => enforcePolicy({}, { via: 'inject', jit: true, security: 'psk', pskBytes: 16, serverUri: 'coap://x', endpoints: ['any'], days: 99999 }))).toBeUndefined()
  })

  it('the inject pre-check refuses just-in-time names before any device, and accepts reserved rows', async () => {
    const rows = new Map([['wo-1', { endpoint: 'wo-1' }]])
    const store = { getPolicy: async () => ({ requireWorkOrder: true }), get: async (e: string) => rows.get(e) } as never
    const profile = { security: 'psk', pskBytes: 32, serverUri: 'coaps://a:5684', days: 10 }
    expect((await lwprovFailure(precheckInjectPolicy(store, { via: 'inject', endpoint: 'x-{serial}', profile }))).code).toBe('E_WORK_ORDER_REQUIRED')
    expect((await lwprovFailure(precheckInjectPolicy(store, { via: 'inject', endpoint: 'new-name', profile }))).code).toBe('E_WORK_ORDER_REQUIRED')
    await expect(precheckInjectPolicy(store, { via: 'inject', endpoint: 'wo-1', profile })).resolves.toEqual({ requireWorkOrder: true })
    await expect(precheckInjectPolicy(store, { via: 'station', batch: 'WO-1', profile })).resolves.toBeDefined()
  })
})
