/**
 * In-memory `ByteLink`s to simulated devices behind the fault wrapper: each `connect()` is a new session with a
 * freshly booted device, like re-opening a port. Bytes cross asynchronously, as they would over a wire.
 */
import { transportError } from '../../../src/core/errors.js'
import { FaultPlan, FaultSession, type FaultSpec, type SimDevice, type SimDeviceOptions } from '../../../src/core/inject/faults.js'
import type { ByteLink } from '../../../src/core/inject/types.js'

export interface SimLinks {
  connect(): Promise<ByteLink>
  /** Payloads the devices stored (all sessions). */
  stored: Buffer[]
  sessions: number
  /** Whether the fault struck in each session. */
  struck: boolean[]
}

export function simLinks(make: (o: SimDeviceOptions) => SimDevice, o: { serial?: string; fault?: FaultSpec } = {}): SimLinks {
  const plan = new FaultPlan(o.fault)
  const res: SimLinks = {
    stored: [],
    sessions: 0,
    struck: [],
    connect: async () => {
      const idx = res.sessions++
      res.struck[idx] = false
      const dataL = new Set<(b: Buffer) => void>()
      const closeL = new Set<(e?: Error) => void>()
      let closed = false
      const pending: Buffer[] = []
      const close = (err?: Error) => {
        if (closed) return
        closed = true
        session.end()
        for (const l of closeL) l(err)
      }
      const device = make({ serial: o.serial ?? 'MEM-0001', ...plan.deviceFlags(), store: (b) => res.stored.push(Buffer.from(b)) })
      const session: FaultSession = new FaultSession(device, plan, {
        send: (b) =>
          setImmediate(() => {
            if (closed) return
            if (dataL.size === 0) pending.push(b)
            for (const l of dataL) l(b)
          }),
        hangup: () => setImmediate(() => close(transportError('E_LINK_CLOSED', 'mem: device hung up', 'retry'))),
        note: () => {
          res.struck[idx] = true
        },
      })
      device.onDisconnect?.(() => setImmediate(() => close()))
      const link: ByteLink = {
        description: `mem://${o.serial ?? 'MEM-0001'}`,
        write: async (data) => {
          if (closed) throw transportError('E_LINK_CLOSED', 'mem: closed', 'retry')
          const copy = Buffer.from(data)
          setImmediate(() => {
            if (!closed) session.receive(copy)
          })
        },
        onData: (l) => {
          dataL.add(l)
          for (const b of pending.splice(0)) l(b)
          return () => dataL.delete(l)
        },
        onClose: (l) => {
          closeL.add(l)
          return () => closeL.delete(l)
        },
        flushInput: async () => {
          pending.length = 0
        },
        close: async () => close(),
      }
      return link
    },
  }
  return res
}
