import { describe, expect, it } from 'vitest'

import { LwprovError } from '../../../src/core/errors.js'
import type { ByteLink } from '../../../src/core/inject/types.js'
import { runStation, type StationEvent, type StationOptions } from '../../../src/core/station/runner.js'

/** Ports whose device "renews" after each session: a new node and a new serial, like `lwprov sim --renew`. */
function fakeBench(ports: string[], o: { fail?: (n: number) => LwprovError | undefined; names?: number; delayMs?: number } = {}) {
  const gen = new Map(ports.map((p) => [p, 0]))
  let next = 0
  let calls = 0
  const issued: string[] = []
  const link = { description: 'x' } as unknown as ByteLink
  const opts: StationOptions = {
    ports,
    pollMs: 1,
    connect: async () => link,
    portIdentity: async (p) => (gen.has(p) ? `${p}#${gen.get(p)}` : undefined),
    inject: async (port, connect, hooks) => {
      await connect()
      const n = calls++
      const deviceId = `${port}-dev${gen.get(port)}`
      hooks.onIdentity({ capabilities: [], serial: deviceId }, deviceId)
      await new Promise((r) => setTimeout(r, o.delayMs ?? 2))
      try {
        if (hooks.signal.aborted) throw new LwprovError('E_INTERRUPTED', 'interrupted', { exit: 'interrupted' })
        const err = o.fail?.(n)
        if (err) throw err
        if (o.names !== undefined && next >= o.names) {
          throw new LwprovError('E_BATCH_EXHAUSTED', 'no names left', { exit: 'conflict' })
        }
        const endpoint = `ep-${next++}`
        hooks.onEndpoint(endpoint)
        hooks.onStep('write', '100 bytes')
        hooks.onProgress(100, 100)
        issued.push(endpoint)
        return { endpoint, deviceId }
      } finally {
        // The device leaves after its session either way; the next one appears on a new node.
        setTimeout(() => gen.set(port, gen.get(port)! + 1), 3)
      }
    },
  }
  return { opts, issued, calls: () => calls }
}

describe('station runner', () => {
  it('stops at exactly --count verified devices across parallel ports, never starting more', async () => {
    const b = fakeBench(['/p0', '/p1', '/p2'])
    const events: StationEvent[] = []
    const r = await runStation({ ...b.opts, count: 10, onEvent: (e) => events.push(e) })
    expect(r.verified).toBe(10)
    expect(new Set(r.endpoints).size).toBe(10)
    expect(b.calls()).toBe(10)
    expect(r.stopReason).toBe('count')
    const ports = new Set(events.filter((e) => e.type === 'verified').map((e) => e.port))
    expect(ports.size).toBe(3)
    expect(events.some((e) => e.type === 'progress')).toBe(true)
  })

  it('frees the slot of a failed device and reports the reason', async () => {
    const b = fakeBench(['/a', '/b'], { fail: (n) => (n % 3 === 1 ? new LwprovError('E_READBACK_MISMATCH', 'digest differs', { exit: 'device' }) : undefined) })
    const r = await runStation({ ...b.opts, count: 6 })
    expect(r.verified).toBe(6)
    expect(r.failed).toBeGreaterThan(0)
    expect(r.failures[0]).toMatchObject({ code: 'E_READBACK_MISMATCH', reason: 'digest differs' })
    expect(r.failures[0]!.port).toMatch(/^\/[ab]$/)
    expect(b.calls()).toBe(6 + r.failed)
  })

  it('does one device per port without --count / --continuous', async () => {
    const b = fakeBench(['/a', '/b', '/c', '/d'])
    const r = await runStation(b.opts)
    expect(r.verified).toBe(4)
    expect(r.stopReason).toBe('done')
  })

  it('stops every port when the work order runs out of names', async () => {
    const b = fakeBench(['/a', '/b', '/c'], { names: 7 })
    const r = await runStation({ ...b.opts, continuous: true })
    // Devices already in progress when the names ran out are finished, not cut off.
    expect(r.verified).toBe(7)
    expect(r.stopReason).toBe('exhausted')
    expect(r.failed).toBe(0)
  })

  it('ends the run on a configuration error', async () => {
    const b = fakeBench(['/a'])
    await expect(
      runStation({
        ...b.opts,
        count: 3,
        beforeDevice: () => {
          throw new LwprovError('E_BATCH_EXPIRED', 'expired', { exit: 'conflict' })
        },
      }),
    ).rejects.toMatchObject({ code: 'E_BATCH_EXPIRED' })
  })

  it('waits for a missing port and gives up in one-shot mode', async () => {
    const b = fakeBench(['/a'])
    const r = await runStation({ ...b.opts, ports: ['/a', '/missing'], appearTimeoutMs: 30 })
    expect(r.verified).toBe(1)
    expect(r.failures).toEqual([expect.objectContaining({ port: '/missing', code: 'E_PORT_NOT_FOUND' })])
  })

  it('moves on when a probe finds a different device on an unchanged port node', async () => {
    let serial = 0
    const link = { description: 'x' } as unknown as ByteLink
    const r = await runStation({
      ports: ['/jig'],
      count: 3,
      pollMs: 1,
      probeAfterMs: 5,
      connect: async () => link,
      portIdentity: async () => 'same-node',
      probeDevice: async () => `S${serial}`,
      inject: async () => {
        const d = `S${serial}`
        setTimeout(() => serial++, 10)
        return { endpoint: `ep-${d}`, deviceId: d }
      },
    })
    expect(r.endpoints).toEqual(['ep-S0', 'ep-S1', 'ep-S2'])
  })

  it('reports devices cut off by Ctrl-C', async () => {
    const b = fakeBench(['/a', '/b'], { delayMs: 200 })
    const ctl = new AbortController()
    const run = runStation({ ...b.opts, continuous: true, signal: ctl.signal })
    await new Promise((r) => setTimeout(r, 50))
    ctl.abort()
    const r = await run
    expect(r.stopReason).toBe('interrupted')
    expect(r.failures.map((f) => f.code)).toEqual(['E_INTERRUPTED', 'E_INTERRUPTED'])
  })

  it('returns promptly after Ctrl-C even when a port never finishes (stuck close or probe)', async () => {
    const b = fakeBench(['/a', '/b'], { delayMs: 5 })
    const inject = b.opts.inject
    const ctl = new AbortController()
    // /b's session ignores the signal and never settles, like a serial close that never calls back.
    const run = runStation({
      ...b.opts,
      continuous: true,
      interruptGraceMs: 50,
      signal: ctl.signal,
      inject: (port, connect, hooks) => (port === '/b' ? new Promise<never>(() => {}) : inject(port, connect, hooks)),
    })
    await new Promise((r) => setTimeout(r, 30))
    ctl.abort()
    // Without the grace period this never resolves and the test times out.
    const r = await run
    expect(r.stopReason).toBe('interrupted')
    expect(r.failures).toContainEqual(expect.objectContaining({ port: '/b', code: 'E_INTERRUPTED' }))
  })

  it('stops on abort and picks up ports found by discovery', async () => {
    const b = fakeBench(['/a', '/b'])
    const ctl = new AbortController()
    const events: StationEvent[] = []
    const run = runStation({ ...b.opts, ports: ['/a'], continuous: true, discover: async () => ['/a', '/b'], discoverMs: 5, signal: ctl.signal, onEvent: (e) => events.push(e) })
    await new Promise((r) => setTimeout(r, 150))
    ctl.abort()
    const r = await run
    expect(r.stopReason).toBe('interrupted')
    expect(events.some((e) => e.type === 'port-added' && e.port === '/b')).toBe(true)
    expect(r.verified).toBeGreaterThan(2)
  })
})
