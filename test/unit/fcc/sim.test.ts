import { describe, expect, it } from 'vitest'

import { cborToPlain, decodeCbor, encodeCbor } from '../../../src/core/cbor.js'
import { FccItem } from '../../../src/core/inject/fcc/bundle.js'
import { encodeRequest, FtcdScanner } from '../../../src/core/inject/fcc/frame.js'
import { FccSimDevice } from '../../../src/core/inject/fcc/sim.js'
import { vectorDeviceCa } from './ca.js'
import { loadCases, requestPayload, withBytes } from './vectors.js'

const clock = () => new Date('2026-11-24T00:00:00Z')

function capture(sim: FccSimDevice) {
  const out: Buffer[] = []
  let disconnects = 0
  sim.onSend((b) => out.push(b))
  sim.onDisconnect(() => disconnects++)
  return {
    take: () => Buffer.concat(out.splice(0)),
    get disconnects() {
      return disconnects
    },
  }
}

describe('FccSimDevice answers the captured requests like the reference device (TCP)', () => {
  for (const c of loadCases()) {
    it(c.id, async () => {
      const sim = new FccSimDevice({ serial: 'SIM-1', transport: 'tcp', clock })
      const cap = capture(sim)
      const ca = await vectorDeviceCa()
      let csr: Buffer | undefined
      for (const [i, m] of c.messages.entries()) {
        let req = m.request
        if (c.id === '08-device-keygen-csr' && i === 1) {
          // Our simulated device generated its own key: sign its CSR (same CA and subject) in place of the capture.
          const bundle = decodeCbor(requestPayload(req)) as Map<string, any>
          bundle.get('Certificates')[0].set('Data', await ca.sign(csr!))
          req = encodeRequest(encodeCbor(bundle))
        }
        sim.receive(req)
        await sim.idle()
        const resp = cap.take()
        if (!m.response) {
          expect(resp.length).toBe(0) // case 09: closed without a byte
          continue
        }
        const ev = new FtcdScanner({ kind: 'response' }).push(resp)
        expect(ev).toHaveLength(1)
        const f = ev[0]!
        if (f.type !== 'frame') throw new Error('no frame')
        expect(f.signatureOk).toBe(true)
        const map = cborToPlain(decodeCbor(f.payload)) as any
        expect(map.ReturnStatus).toBe(m.expectedReturnStatus)
        if (map.Csrs) {
          csr = map.Csrs[0].Data
          const expected = withBytes(m.map!, m.mapBytesPaths) as any
          delete expected.Csrs
          delete map.Csrs
          expect(map).toEqual(expected)
        } else {
          // Byte-identical frame, trailer included.
          expect(resp.toString('hex')).toBe(m.response.toString('hex'))
        }
      }
      expect(cap.disconnects).toBe(c.closedAfterLast ? 1 : 0)
    })
  }
})

describe('FccSimDevice on a serial line', () => {
  const good = loadCases()[0]!.messages[0]!.request

  it('prints [FCC] trace text before its frame and answers a bad SHA-256 with the 12-byte frame', async () => {
    const lines: string[] = []
    const sim = new FccSimDevice({ serial: 'SIM-2', clock, log: (l) => lines.push(l) })
    const cap = capture(sim)
    sim.reset()
    sim.receive(Buffer.concat([Buffer.from('garbage\r\n'), good]))
    await sim.idle()
    const s = new FtcdScanner({ kind: 'response' })
    const ev = s.push(cap.take())
    expect(s.log).toContain('[BOOT]')
    expect(s.log).toContain('[FCC] bundle processed: FCC_STATUS_SUCCESS (0)')
    expect(ev.filter((e) => e.type === 'frame')).toHaveLength(1)
    expect(lines.some((l) => l.includes('SIM-2'))).toBe(true)

    const bad = loadCases().find((c) => c.id === '09-corrupted-sha256')!.messages[0]!.request
    sim.receive(bad)
    await sim.idle()
    const ev2 = new FtcdScanner({ kind: 'response' }).push(cap.take()).filter((e) => e.type !== 'log')
    expect(ev2).toEqual([{ type: 'error-frame', status: 8 }])
  })

  it('refuse rejects every bundle; corruptDigest breaks the trailer; store gets snapshots', async () => {
    const snaps: Buffer[] = []
    const sim = new FccSimDevice({ serial: 'x', clock, refuse: true, store: (b) => snaps.push(b) })
    const cap = capture(sim)
    for (let i = 0; i < 2; i++) {
      sim.receive(good)
      await sim.idle()
      const f = new FtcdScanner({ kind: 'response' }).push(cap.take()).find((e) => e.type === 'frame')
      if (f?.type !== 'frame') throw new Error('no frame')
      expect((decodeCbor(f.payload) as Map<string, unknown>).get('ReturnStatus')).toBe(16)
    }
    expect(snaps).toHaveLength(0) // nothing committed

    const sim2 = new FccSimDevice({ serial: 'y', clock, corruptDigest: true, store: (b) => snaps.push(b) })
    const cap2 = capture(sim2)
    sim2.receive(good)
    await sim2.idle()
    const f2 = new FtcdScanner({ kind: 'response' }).push(cap2.take()).find((e) => e.type === 'frame')
    expect(f2).toMatchObject({ type: 'frame', signatureOk: false })
    const last = decodeCbor(snaps[snaps.length - 1]!) as Map<string, Map<string, unknown>>
    expect(last.get('ConfigParams')!.get(FccItem.EndpointName)).toBe('test-ep-0001')
  })

  it('reset drops a half-received frame', async () => {
    const sim = new FccSimDevice({ serial: 'z', clock, transport: 'tcp' })
    const cap = capture(sim)
    sim.receive(good.subarray(0, 100))
    sim.reset()
    sim.receive(good)
    await sim.idle()
    expect(new FtcdScanner({ kind: 'response' }).push(cap.take())).toHaveLength(1)
  })
})
