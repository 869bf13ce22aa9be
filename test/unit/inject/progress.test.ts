/** Write progress follows the bytes as they go out, not one jump from 0 to the total at the end of the frame. */
import { describe, expect, it } from 'vitest'

import { LwprovProtocol, LwprovSimDevice } from '../../../src/core/inject/lwprov/index.js'
import { injectOne } from '../../../src/core/inject/session.js'
import { MASTER_KEY, profile } from './fixtures.js'
import { MemoryStore } from './memory-store.js'
import { simLinks } from './sim-link.js'

describe('write progress', () => {
  it('reports bytes written between 0 and the total, increasing, ending at the total', async () => {
    const links = simLinks((d) => new LwprovSimDevice(d), { serial: 'SN-PROG-1' })
    const progress: Array<[number, number]> = []
    await injectOne({
      connect: links.connect,
      protocol: new LwprovProtocol(),
      store: new MemoryStore(),
      profile: profile({ mode: 'direct', security: 'psk' }),
      masterKey: MASTER_KEY,
      endpoint: 'urn:dev:ops:32473-Prog-1',
      timeouts: { identify: 3000, frame: 3000, commit: 5000, total: 30_000 },
      hooks: { onProgress: (w, t) => progress.push([w, t]) },
    })
    const total = progress[0]![1]
    expect(total).toBeGreaterThan(100)
    expect(progress.every(([, t]) => t === total)).toBe(true)
    const written = progress.map(([w]) => w)
    expect(written[0]).toBe(0)
    expect(written.at(-1)).toBe(total)
    // Several intermediate values, never going back.
    expect(written.filter((w) => w > 0 && w < total).length).toBeGreaterThanOrEqual(2)
    for (let i = 1; i < written.length; i++) expect(written[i]!).toBeGreaterThanOrEqual(written[i - 1]!)
  })
})
