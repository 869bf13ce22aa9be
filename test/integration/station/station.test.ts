/**
 * The station runner over real PTYs and the real serialport binding: simulated devices that renew after each
 * provisioning (a new serial on a new PTY), a work order, and the real inject session.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

import { openSerialLink } from '../../../src/adapters/serial-link.js'
import { portIdentity, probe } from '../../../src/cli/station-ports.js'
import { LwprovProtocol } from '../../../src/core/inject/lwprov/index.js'
import { injectOne } from '../../../src/core/inject/session.js'
import type { ManifestStore } from '../../../src/core/manifest/types.js'
import { createWorkOrder } from '../../../src/core/station/batch.js'
import { runStation, type StationEvent } from '../../../src/core/station/runner.js'
import { cleanupSims, startSim, tempDir } from '../../helpers/pty.js'
import { MASTER_KEY, profile } from '../../unit/inject/fixtures.js'
import { openTestStore } from '../inject/store.js'

let store: ManifestStore
beforeAll(async () => {
  store = await openTestStore(tempDir('lwprov-station-'))
})
afterEach(async () => cleanupSims())
afterAll(async () => store.close())

async function bench(n: number, prefix: string) {
  const dir = tempDir()
  const stored = new Map<string, number>()
  const sims = []
  for (let i = 0; i < n; i++) {
    const s = await startSim({ protocol: 'lwprov', serial: `${prefix}${i}-0000`, renew: true, link: `${dir}/p${i}` })
    s.sim.on('stored', ({ serial }: { serial: string }) => stored.set(serial, (stored.get(serial) ?? 0) + 1))
    sims.push(s)
  }
  return { ports: sims.map((s) => s.link!), stored }
}

describe('station over PTYs', () => {
  it('provisions a work order across 4 renewing devices in parallel: exact count, distinct names', async () => {
    const { ports, stored } = await bench(4, 'IT')
    await createWorkOrder(store, { name: 'WO-IT-1', count: 12, template: 'urn:dev:os:320973-IT{seq:04}', now: new Date() })
    const protocol = new LwprovProtocol()
    const p = profile({ mode: 'direct', security: 'psk' })
    const events: StationEvent[] = []
    const r = await runStation({
      ports,
      count: 10,
      connect: (port) => openSerialLink(port),
      portIdentity: async (port) => portIdentity(port),
      probeDevice: (port) => probe(protocol, port, 115200),
      onEvent: (e) => events.push(e),
      inject: (_port, connect, hooks) => injectOne({ connect, protocol, store, profile: p, masterKey: MASTER_KEY, batch: 'WO-IT-1', station: 'it', retries: 1, hooks }),
    })
    expect(r.failures).toEqual([])
    expect(r.verified).toBe(10)
    expect(new Set(r.endpoints).size).toBe(10)
    expect(await store.count({ batch: 'WO-IT-1', status: 'verified' })).toBe(10)
    expect(await store.count({ batch: 'WO-IT-1', status: 'reserved' })).toBe(2)
    const rows = []
    for await (const row of store.list({ batch: 'WO-IT-1', status: 'verified' })) rows.push(row)
    // Every verified row belongs to a distinct device that really stored its credentials once.
    expect(new Set(rows.map((x) => x.deviceId)).size).toBe(10)
    for (const row of rows) expect(stored.get(row.deviceId!)).toBe(1)
    expect(new Set(events.filter((e) => e.type === 'verified').map((e) => e.port)).size).toBeGreaterThan(1)
  })
})
