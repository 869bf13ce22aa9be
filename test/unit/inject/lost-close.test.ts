/**
 * A device that hangs up while the host writes must fail the session, never leave it awaiting a promise nobody settles
 * (in the CLI that empties the event loop and Node exits with code 13 instead of 5). serialport behaves exactly like
 * the fakes here: a write or drain issued while the port is closing is queued until the next 'open', i.e. forever.
 */
import { SerialPortMock } from 'serialport'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { openSerialLink } from '../../../src/adapters/serial-link.js'
import { LinkBase } from '../../../src/adapters/link-base.js'
import { LwprovError, transportError } from '../../../src/core/errors.js'
import { LwprovProtocol, LwprovSimDevice } from '../../../src/core/inject/lwprov/index.js'
import { injectOne } from '../../../src/core/inject/session.js'
import type { ByteLink, InjectionPlan, ProvisioningProtocol } from '../../../src/core/inject/types.js'
import { MASTER_KEY, profile } from './fixtures.js'
import { MemoryStore } from './memory-store.js'

const HUNG = Symbol('hung')
/** Resolves to HUNG when `p` has not settled within `ms` (a real-time bound, not a timing assertion on speed). */
async function settles<T>(p: Promise<T>, ms = 3000): Promise<{ value?: T; error?: unknown } | typeof HUNG> {
  let t: ReturnType<typeof setTimeout> | undefined
  const hung = new Promise<typeof HUNG>((r) => (t = setTimeout(() => r(HUNG), ms)))
  try {
    return await Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), hung])
  } finally {
    clearTimeout(t)
  }
}

const TIMEOUTS = { identify: 2000, frame: 2000, commit: 4000, total: 20_000 }

/**
 * An in-memory link to a simulated lwprov device that hangs up once `dropAt` bytes were written. The write that
 * crosses the offset never settles (as serialport's does while the port closes); the close is announced right after.
 * `raw: true` bypasses LinkBase's close bookkeeping for that write, so only the protocol's own guard can save it.
 */
class HangUpLink extends LinkBase {
  readonly description = 'mem://hangup'
  private written = 0
  hungWrites = 0
  private readonly device = new LwprovSimDevice({ serial: 'HANG-0001' })

  constructor(
    private readonly dropAt: number,
    private readonly raw: boolean,
  ) {
    super()
    this.device.onSend((b) => setImmediate(() => !this.closed && this.emitData(Buffer.from(b))))
  }

  write(data: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(transportError('E_LINK_CLOSED', 'mem: closed', 'retry'))
    const before = this.written
    this.written += data.length
    if (this.written < this.dropAt) {
      const copy = Buffer.from(data)
      setImmediate(() => !this.closed && this.device.receive(copy))
      return Promise.resolve()
    }
    // The hang-up: this write is lost, the close follows.
    this.hungWrites++
    setImmediate(() => this.emitClose(transportError('E_LINK_CLOSED', `mem: device hung up at byte ${before}`, 'retry')))
    const never = new Promise<void>(() => undefined)
    return this.raw ? never : this.untilClosed<void>((resolve, reject) => void never.then(resolve, reject), (c) => c ?? new Error('closed'))
  }

  async close(): Promise<void> {
    this.emitClose()
  }
}

function plan(): InjectionPlan {
  return {
    endpoint: 'hangup-1',
    credentials: { endpoint: 'hangup-1', mode: 'direct', security: 'psk', serverUri: 'coaps://lwm2m.example.com:5684', psk: Buffer.alloc(16, 1), pskIdentity: 'hangup-1', shortServerId: 1, lifetime: 300, binding: 'U', notificationStoring: false },
    now: new Date(),
  }
}

describe('a close overlapping a write settles everything that waits', () => {
  for (const raw of [true, false]) {
    for (const dropAt of [1, 40, 70]) {
      it(`lwprov provision over a link that hangs up at byte ${dropAt} (${raw ? 'write never settles' : 'LinkBase settles the write'}): E_DEVICE_DISCONNECTED`, async () => {
        const link = new HangUpLink(dropAt, raw)
        const proto = new LwprovProtocol()
        const r = await settles(
          (async () => {
            await proto.identify(link, TIMEOUTS, {})
            return proto.provision(link, plan(), TIMEOUTS, {})
          })(),
        )
        expect(r, 'the session must not hang on the lost write').not.toBe(HUNG)
        const err = (r as { error?: unknown }).error
        expect(err).toBeInstanceOf(LwprovError)
        expect((err as LwprovError).exitCode).toBe(5)
        expect((err as LwprovError).code).toMatch(/^E_(DEVICE_DISCONNECTED|LINK_CLOSED)$/)
        expect(link.hungWrites).toBe(1)
      })
    }
  }

  it('injectOne over the hang-up link: exit-5 failure recorded, the row is failed', async () => {
    const store = new MemoryStore()
    const r = await settles(
      injectOne({
        connect: async () => new HangUpLink(70, true),
        protocol: new LwprovProtocol(),
        store,
        profile: profile({ mode: 'direct', security: 'psk' }),
        masterKey: MASTER_KEY,
        endpoint: 'hangup-2',
        retries: 0,
        timeouts: TIMEOUTS,
        retryDelayMs: 1,
      }),
    )
    expect(r).not.toBe(HUNG)
    expect((r as { error?: LwprovError }).error).toMatchObject({ exitCode: 5 })
    expect(await store.get('hangup-2')).toMatchObject({ status: 'failed' })
  })

  it('injectOne: a protocol stuck on a promise nobody settles still fails once the link closes (session safety net)', async () => {
    const link = new HangUpLink(Number.MAX_SAFE_INTEGER, true)
    const stuck: ProvisioningProtocol = {
      name: 'lwprov',
      identify: async () => ({ serial: 'HANG-0002', capabilities: [] }),
      provision: (l: ByteLink) => {
        setImmediate(() => void l.close())
        return new Promise(() => undefined)
      },
    }
    const r = await settles(
      injectOne({
        connect: async () => link,
        protocol: stuck,
        store: new MemoryStore(),
        profile: profile({ mode: 'direct', security: 'psk' }),
        masterKey: MASTER_KEY,
        endpoint: 'hangup-3',
        retries: 0,
        timeouts: TIMEOUTS,
        retryDelayMs: 1,
      }),
    )
    expect(r).not.toBe(HUNG)
    expect((r as { error?: LwprovError }).error).toMatchObject({ code: 'E_DEVICE_DISCONNECTED', exitCode: 5 })
  })
})

describe('Ctrl-C while the port is still opening', () => {
  it('closes a link that finishes opening after the abort (its handle would keep the process alive)', async () => {
    const link = new HangUpLink(Number.MAX_SAFE_INTEGER, true)
    let closed = false
    const close = link.close.bind(link)
    link.close = async () => {
      closed = true
      return close()
    }
    let opened!: (l: ByteLink) => void
    const ctl = new AbortController()
    const run = injectOne({
      connect: () => new Promise<ByteLink>((r) => (opened = r)),
      protocol: new LwprovProtocol(),
      store: new MemoryStore(),
      profile: profile({ mode: 'direct', security: 'psk' }),
      masterKey: MASTER_KEY,
      endpoint: 'abort-open-1',
      retries: 0,
      timeouts: TIMEOUTS,
      retryDelayMs: 1,
      hooks: { signal: ctl.signal },
    })
    await new Promise((r) => setImmediate(r))
    ctl.abort()
    const r = await settles(run)
    expect(r).not.toBe(HUNG)
    expect((r as { error?: LwprovError }).error).toMatchObject({ code: 'E_INTERRUPTED' })
    opened(link)
    await new Promise((r) => setImmediate(r))
    expect(closed).toBe(true)
  })
})

describe('LinkBase: close reaches every waiter', () => {
  class Bare extends LinkBase {
    readonly description = 'mem://bare'
    write(): Promise<void> {
      return this.untilClosed<void>(() => undefined, (c) => transportError('E_LINK_CLOSED', 'closed', 'retry', c))
    }
    async close(): Promise<void> {
      this.emitClose()
    }
    hangUp(err?: Error): void {
      this.emitClose(err)
    }
  }

  it('an operation in flight is rejected by the close; one started after the close is rejected at once', async () => {
    const l = new Bare()
    const w = l.write()
    l.hangUp(new Error('unplugged'))
    await expect(w).rejects.toMatchObject({ code: 'E_LINK_CLOSED' })
    await expect(l.write()).rejects.toMatchObject({ code: 'E_LINK_CLOSED' })
  })

  it('a close listener subscribed after the close still hears about it (with the close error)', async () => {
    const l = new Bare()
    const cause = new Error('unplugged')
    l.hangUp(cause)
    const heard = await settles(new Promise<Error | undefined>((r) => l.onClose(r)))
    expect(heard).toEqual({ value: cause })
  })
})

describe('SerialLink: a write overlapping serialport closing the port', () => {
  const PATH = '/dev/ttyMOCKHUP'
  beforeEach(() => SerialPortMock.binding.createPort(PATH, { record: true }))
  afterEach(() => SerialPortMock.binding.reset())

  it('a write issued while the port is closing (the hang-up was noticed, no close event yet) rejects E_LINK_CLOSED', async () => {
    const link = await openSerialLink(PATH, { portClass: SerialPortMock })
    const port = (link as unknown as { port: SerialPortMock }).port
    const closed = new Promise<void>((r) => port.once('close', () => r()))
    port.close() // what serialport does itself on a read error (device gone)
    const r = await settles(link.write(Buffer.from('DATA')))
    expect(r).not.toBe(HUNG)
    expect((r as { error?: unknown }).error).toMatchObject({ code: 'E_LINK_CLOSED', exitCode: 5 })
    await closed
    expect(link.isClosed).toBe(true)
  })

  it('a write in flight when the port starts closing settles (its drain would otherwise wait for a re-open)', async () => {
    const link = await openSerialLink(PATH, { portClass: SerialPortMock })
    const port = (link as unknown as { port: SerialPortMock }).port
    const w = link.write(Buffer.from('DATA'))
    port.close()
    const r = await settles(w)
    expect(r).not.toBe(HUNG)
    await expect(link.write(Buffer.from('x'))).rejects.toMatchObject({ code: 'E_LINK_CLOSED' })
  })
})
