import { describe, expect, it } from 'vitest'

import { FaultPlan, FaultSession, parseFault, type SimDevice } from '../../../src/core/inject/faults.js'

/** A device that records what it got and echoes each chunk back. */
function echoDevice() {
  const got: Buffer[] = []
  let resets = 0
  let send: (b: Buffer) => void = () => {}
  const dev: SimDevice = {
    receive: (c) => {
      got.push(Buffer.from(c))
      send(Buffer.from(c))
    },
    onSend: (cb) => {
      send = cb
    },
    reset: () => {
      resets++
    },
  }
  return { dev, got: () => Buffer.concat(got), resets: () => resets }
}

function session(plan: FaultPlan, clock = { t: 0 }) {
  const d = echoDevice()
  const sent: Buffer[] = []
  let hangups = 0
  const s = new FaultSession(d.dev, plan, { send: (b) => sent.push(b), hangup: () => hangups++, now: () => clock.t })
  return { s, d, sent: () => Buffer.concat(sent), hangups: () => hangups }
}

const bytes = (n: number, from = 0) => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) & 0xff))

describe('parseFault', () => {
  it('accepts the five kinds and rejects the rest', () => {
    expect(parseFault('drop', 10, false)).toEqual({ kind: 'drop', at: 10, once: false })
    expect(parseFault(undefined, undefined, false)).toBeUndefined()
    expect(() => parseFault('explode', undefined, false)).toThrow(expect.objectContaining({ code: 'E_FAULT_INVALID' }))
    expect(() => parseFault(undefined, 4, false)).toThrow(expect.objectContaining({ code: 'E_FAULT_MISSING' }))
    expect(() => parseFault('drop', -1, false)).toThrow(expect.objectContaining({ code: 'E_FAULT_AT_INVALID' }))
  })
})

describe('FaultSession', () => {
  it('passes everything through without a fault', () => {
    const { s, d, sent } = session(new FaultPlan(undefined))
    s.receive(bytes(50))
    expect(d.got()).toEqual(bytes(50))
    expect(sent()).toEqual(bytes(50))
  })

  // Every split of the host stream must strike at the same byte.
  it.each([0, 1, 7, 33, 99])('drop at byte %i delivers exactly the bytes before it, whatever the chunking', (at) => {
    for (const chunk of [1, 5, 64, 200]) {
      const { s, d, hangups } = session(new FaultPlan({ kind: 'drop', at }))
      const data = bytes(100)
      for (let o = 0; o < data.length; o += chunk) s.receive(data.subarray(o, o + chunk))
      expect(d.got()).toEqual(data.subarray(0, at))
      expect(hangups()).toBe(1)
    }
  })

  it('reset reboots the device at the offset and keeps feeding it', () => {
    const { s, d } = session(new FaultPlan({ kind: 'reset', at: 10 }))
    s.receive(bytes(6))
    s.receive(bytes(8, 6))
    expect(d.resets()).toBe(1)
    expect(d.got()).toEqual(bytes(14))
  })

  it('delay swallows input and output until the silence is over', () => {
    const clock = { t: 0 }
    const { s, d, sent } = session(new FaultPlan({ kind: 'delay', at: 4, delayMs: 1000 }), clock)
    s.receive(bytes(10))
    expect(d.got()).toEqual(bytes(4))
    clock.t = 500
    s.receive(bytes(3))
    expect(d.got()).toEqual(bytes(4))
    clock.t = 1500
    s.receive(bytes(2, 50))
    expect(d.got().subarray(4)).toEqual(bytes(2, 50))
    expect(sent().length).toBe(6)
  })

  it('corrupt --fault-at flips one bit of that reply byte', () => {
    const { s, sent } = session(new FaultPlan({ kind: 'corrupt', at: 3 }))
    s.receive(bytes(8))
    const out = sent()
    expect(out[3]).toBe(3 ^ 1)
    expect(Buffer.concat([out.subarray(0, 3), out.subarray(4)])).toEqual(Buffer.concat([bytes(3), bytes(4, 4)]))
  })

  it('refuse and digest corruption are device flags, armed until the fault struck once with --fault-once', () => {
    const plan = new FaultPlan({ kind: 'refuse', once: true })
    expect(plan.deviceFlags()).toEqual({ refuse: true })
    const { s } = session(plan)
    s.receive(bytes(1))
    expect(plan.armed).toBe(false)
    expect(plan.deviceFlags()).toEqual({})
    expect(new FaultPlan({ kind: 'corrupt' }).deviceFlags()).toEqual({ corruptDigest: true })
  })

  it('liar is a device flag (lwprov sim: stores nothing, echoes digests, fakes the v2 proof) and counts as struck once data flows', () => {
    expect(parseFault('liar', undefined, false)).toEqual({ kind: 'liar', once: false })
    const plan = new FaultPlan({ kind: 'liar', once: true })
    expect(plan.deviceFlags()).toEqual({ liar: true })
    const { s } = session(plan)
    s.receive(bytes(1))
    expect(s.struck).toBe(true)
    expect(plan.deviceFlags()).toEqual({})
  })

  it('a fault repeats in every session unless once', () => {
    const every = new FaultPlan({ kind: 'drop', at: 2 })
    const once = new FaultPlan({ kind: 'drop', at: 2, once: true })
    for (let i = 0; i < 3; i++) {
      const a = session(every)
      a.s.receive(bytes(5))
      expect(a.hangups()).toBe(1)
      const b = session(once)
      b.s.receive(bytes(5))
      expect(b.hangups()).toBe(i === 0 ? 1 : 0)
    }
  })
})
