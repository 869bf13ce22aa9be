import { describe, expect, it } from 'vitest'

import { parseEndpointList, resolveEndpoints } from '../../../src/core/credentials/endpoints.js'

/** An in-memory stand-in for the manifest's atomic `{seq}` counter. */
function fakeStore() {
  const next = new Map<string, number>()
  return {
    calls: [] as Array<[string, number, number | undefined]>,
    async allocateSeq(template: string, count: number, start?: number) {
      this.calls.push([template, count, start])
      const first = start ?? next.get(template) ?? 1
      next.set(template, Math.max(next.get(template) ?? 1, first + count))
      return first
    },
  }
}

const now = new Date(Date.UTC(2026, 10, 24, 12, 0, 0))
let counter = 0
const random = (n: number) => Buffer.alloc(n, ++counter)

describe('resolveEndpoints', () => {
  it('numbers {seq} templates from the store counter, zero-padded', async () => {
    const store = fakeStore()
    const a = await resolveEndpoints({ template: 'urn:dev:os:320973-AB{seq:06}', count: 3 }, store, now)
    expect(a.names).toEqual(['urn:dev:os:320973-AB000001', 'urn:dev:os:320973-AB000002', 'urn:dev:os:320973-AB000003'])
    expect(a.seqs).toEqual([1, 2, 3])
    expect(a.template).toBe('urn:dev:os:320973-AB{seq:06}')
    const b = await resolveEndpoints({ template: 'urn:dev:os:320973-AB{seq:06}', count: 2 }, store, now)
    expect(b.names[0]).toBe('urn:dev:os:320973-AB000004')
  })

  it('honours --start', async () => {
    const store = fakeStore()
    const r = await resolveEndpoints({ template: 'dev-{seq:03}', count: 2, start: 40 }, store, now)
    expect(r.names).toEqual(['dev-040', 'dev-041'])
    expect(store.calls).toEqual([['dev-{seq:03}', 2, 40]])
  })

  it('renders {hex}/{uuid} templates without touching the counter', async () => {
    const store = fakeStore()
    const r = await resolveEndpoints({ template: 'node-{hex:8}', count: 3 }, store, now, random)
    expect(new Set(r.names).size).toBe(3)
    expect(r.names.every((n) => /^node-[0-9a-f]{8}$/.test(n))).toBe(true)
    expect(store.calls).toHaveLength(0)
  })

  it('refuses a literal name with --count > 1, device placeholders, and --start without {seq}', async () => {
    const store = fakeStore()
    await expect(resolveEndpoints({ template: 'just-one', count: 5 }, store, now)).rejects.toMatchObject({ code: 'E_TEMPLATE_NOT_UNIQUE' })
    await expect(resolveEndpoints({ template: 'dev-{serial}', count: 1 }, store, now)).rejects.toMatchObject({ code: 'E_TEMPLATE_NEEDS_DEVICE' })
    await expect(resolveEndpoints({ template: 'dev-{hex:4}', count: 1, start: 3 }, store, now)).rejects.toMatchObject({ code: 'E_START_WITHOUT_SEQ' })
    expect(store.calls).toHaveLength(0)
  })

  it('validates and de-duplicates explicit names', async () => {
    const store = fakeStore()
    expect(parseEndpointList('a-1\n\n# comment\r\nb-2\n')).toEqual(['a-1', 'b-2'])
    await expect(resolveEndpoints({ names: ['a-1', 'a-1'] }, store, now)).rejects.toMatchObject({ code: 'E_DUPLICATE_IN_INPUT' })
    await expect(resolveEndpoints({ names: [] }, store, now)).rejects.toMatchObject({ code: 'E_ENDPOINTS_EMPTY' })
    await expect(resolveEndpoints({ names: ['has space'] }, store, now)).rejects.toMatchObject({ code: 'E_ENDPOINT_INVALID' })
    expect((await resolveEndpoints({ names: ['a-1', 'b-2'] }, store, now)).names).toEqual(['a-1', 'b-2'])
  })
})
