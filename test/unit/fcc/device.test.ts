import { describe, expect, it } from 'vitest'

import { cborToPlain, decodeCbor, encodeCbor } from '../../../src/core/cbor.js'
import { buildBundle, FccItem } from '../../../src/core/inject/fcc/bundle.js'
import { encodeFccResponse, FccDevice } from '../../../src/core/inject/fcc/device.js'
import { vectorDeviceCa } from './ca.js'
import { key, loadCases, requestPayload } from './vectors.js'

const responsePayload = (frame: Buffer) => frame.subarray(16, frame.length - 32)
const clock = () => new Date('2026-11-24T00:00:00Z')

describe('FccDevice (bundle handler model) against the captured vectors', () => {
  const cases = loadCases()
  for (const c of cases) {
    if (c.id === '09-corrupted-sha256') continue // frame-level, see sim tests
    it(`${c.id}: same ReturnStatus and byte-identical response map`, async () => {
      const dev = new FccDevice({ clock })
      const ca = await vectorDeviceCa()
      for (const [i, m] of c.messages.entries()) {
        let payload = requestPayload(m.request)
        if (c.id === '08-device-keygen-csr' && i === 1) {
          // The captured certificate belongs to the reference device's key; sign our device's CSR with the same CA
          // and subject and put it in place: everything else in message 2 is unchanged.
          const csr = dev.store.keys.get(FccItem.BootstrapDevicePrivateKey)
          expect(csr?.generated).toBe(true)
          const bundle = decodeCbor(payload) as Map<string, any>
          const certs = bundle.get('Certificates') as Array<Map<string, unknown>>
          certs[0]!.set('Data', await ca.sign(lastCsr!))
          payload = encodeCbor(bundle)
        }
        const r = await dev.handle(payload)
        expect(r.status).toBe(m.expectedReturnStatus)
        if (r.csrs) lastCsr = r.csrs[0]!.csrDer
        const ours = encodeFccResponse(r)
        const theirs = responsePayload(m.response!)
        if (r.csrs) {
          // The CSR differs (fresh key); everything else must match.
          const a = cborToPlain(decodeCbor(ours)) as any
          const b = cborToPlain(decodeCbor(theirs)) as any
          expect(a.Csrs[0].PrKN).toBe(b.Csrs[0].PrKN)
          expect(a.Csrs[0].Data.length).toBeGreaterThan(200)
          delete a.Csrs
          delete b.Csrs
          expect(a).toEqual(b)
          expect(ours[0]).toBe(0xbf)
        } else {
          expect(ours.toString('hex')).toBe(theirs.toString('hex'))
        }
      }
      expect(dev.keepAlive).toBe(!c.closedAfterLast)
    })
  }
})

let lastCsr: Buffer | undefined

describe('FccDevice checks', () => {
  const base = () => ({
    mode: 'bootstrap' as const,
    endpoint: 'test-ep-0001',
    serverUri: 'coaps://bootstrap.example.com:5684?aid=0123456789abcdef0123456789abcdef',
    serverCaDer: key('test-server-ca.cert.der'),
    certificateDer: key('device-0001-bootstrap.cert.der'),
    privateKeyDer: key('device-0001-bootstrap.key.pkcs8.der'),
    deviceInfo: { manufacturer: 'a', modelNumber: 'b', deviceType: 'c', hardwareVersion: 'd', serialNumber: 'e', memoryTotalKb: 1 },
    currentTime: 1795435200,
    sid: 's1',
  })
  const run = async (b: Record<string, unknown>) => new FccDevice({ clock }).handle(encodeCbor(b as never))

  it('accepts a good bundle and rejects booleans, pem, unknown groups, bad UTC offsets, wrong key', async () => {
    expect((await run(buildBundle(base()))).status).toBe(0)
    expect((await run({ ...buildBundle(base()), Verify: true })).status).toBe(20)
    const pem = buildBundle(base()) as any
    pem.Keys[0].Format = 'pem'
    expect((await run(pem)).status).toBe(37)
    expect((await run({ ...buildBundle(base()), Bogus: 1 })).status).toBe(23)
    expect((await run(buildBundle({ ...base(), deviceInfo: { ...base().deviceInfo, utcOffset: '+15:00' } }))).status).toBe(33)
    expect((await run(buildBundle({ ...base(), privateKeyDer: key('device-0003-ftc.key.sec1.der') }))).status).toBe(34)
    expect((await run(buildBundle({ ...base(), serverCaDer: undefined }))).item).toBe('mbed.BootstrapServerCACert')
  })

  it('needs SID and Verify: 0 with CsrReqs', async () => {
    const csr = { SchemeVersion: '0.0.1', SID: 'x', KpAlvSess: 1, CsrReqs: [{ PrKN: 'k', Subj: 'CN=x', MD: 1 }] }
    expect((await run(csr)).status).toBe(20)
    const r = await run({ ...csr, Verify: 0 })
    expect(r.status).toBe(0)
    expect(r.csrs).toHaveLength(1)
  })
})
