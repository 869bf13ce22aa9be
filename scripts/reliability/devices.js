// Simulated devices behind the fault wrapper, over in-memory links (each connect() a freshly booted device, like
// re-opening a port; bytes cross asynchronously as over a wire), and the injection options for each protocol.
// `mutate` (fuzz) rewrites device→host chunks after the fault layer.
import 'reflect-metadata'

import { X509Certificate, createHash } from 'node:crypto'
import { join } from 'node:path'

import { transportError } from '../../dist/core/errors.js'
import { FaultPlan, FaultSession } from '../../dist/core/inject/faults.js'
import { FccProtocol, FccSimDevice } from '../../dist/core/inject/fcc/index.js'
import { LwprovProtocol, LwprovSimDevice } from '../../dist/core/inject/lwprov/index.js'
import { decodeCbor } from '../../dist/core/cbor.js'
import { DEFAULT_PROFILE } from '../../dist/core/model.js'
import { createCa, loadCa, writeCaDir } from '../../dist/core/pki/index.js'

export const MASTER_KEY = Buffer.alloc(32, 7)
const AID = '0123456789abcdef0123456789abcdef'
const INFO = { manufacturer: 'Acme', modelNumber: 'M1', deviceType: 'sensor', hardwareVersion: '1.0', memoryTotalKb: 512 }

/** In-memory links to one simulated device; `stored` is its flash (what it committed, last wins). */
export function simLinks(make, { serial, fault, mutate, record } = {}) {
  const plan = new FaultPlan(fault)
  const res = {
    stored: [],
    sessions: 0,
    hostBytes: 0,
    deviceBytes: 0,
    mutated: 0,
    /** With `record`: the chunks each way (fuzz seeds). */
    hostChunks: [],
    deviceChunks: [],
    connect: async () => {
      res.sessions++
      const dataL = new Set()
      const closeL = new Set()
      let closed = false
      const pending = []
      const close = (err) => {
        if (closed) return
        closed = true
        session.end()
        for (const l of closeL) l(err)
      }
      const device = make({ serial, ...plan.deviceFlags(), store: (b) => res.stored.push(Buffer.from(b)) })
      const deliver = (b) => {
        if (closed) return
        if (dataL.size === 0) pending.push(b)
        for (const l of dataL) l(b)
      }
      const session = new FaultSession(device, plan, {
        send: (b) =>
          setImmediate(() => {
            res.deviceBytes += b.length
            if (record) res.deviceChunks.push(Buffer.from(b))
            const m = mutate ? mutate(b) : b
            if (m !== b) res.mutated++
            deliver(m)
          }),
        hangup: () => setImmediate(() => close(transportError('E_LINK_CLOSED', `mem://${serial}: device hung up`, 'retry'))),
      })
      device.onDisconnect?.(() => setImmediate(() => close()))
      return {
        description: `mem://${serial}`,
        write: async (data) => {
          if (closed) throw transportError('E_LINK_CLOSED', `mem://${serial}: closed`, 'retry')
          const copy = Buffer.from(data)
          res.hostBytes += copy.length
          if (record) res.hostChunks.push(copy)
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
    },
  }
  return res
}

let caP
/** A factory CA and a server CA (for FCC), made once per process. */
export function fixtures(dir) {
  caP ??= (async () => {
    const created = await createCa({ name: 'Reliability CA', keyType: 'ec-p256', days: 3650 })
    const caDir = join(dir, 'fault-ca')
    writeCaDir(caDir, created, 'reliability-passphrase-0001')
    const ca = await loadCa(caDir, 'reliability-passphrase-0001')
    const sca = await createCa({ name: 'Reliability Server CA', keyType: 'ec-p256', days: 3650 })
    return { ca, serverCaDer: Buffer.from(new X509Certificate(sca.certPem).raw) }
  })()
  return caP
}

export const PROTOCOLS = ['lwprov', 'fcc']

/**
 * A device of `protocol` with `serial` (and an optional fault / reply mutator), and the injectOne options for it.
 * lwprov: direct PSK, the endpoint from the device's serial; FCC: Izuma bootstrap certificate (the factory CA signs).
 */
export async function deviceFor(protocol, { serial, fault, mutate, record, store, timeouts, retries = 0, dir }) {
  if (protocol === 'lwprov') {
    const links = simLinks((o) => new LwprovSimDevice(o), { serial, fault, mutate, record })
    const opts = (extra = {}) => ({
      connect: links.connect,
      protocol: new LwprovProtocol(),
      store,
      profile: { ...DEFAULT_PROFILE, mode: 'direct', security: 'psk', serverUri: 'coaps://lwm2m.example.com:5684' },
      masterKey: MASTER_KEY,
      endpoint: 'rel-{serial}',
      timeouts,
      retries,
      retryDelayMs: 10,
      ...extra,
    })
    return { links, opts, endpoint: `rel-${serial}` }
  }
  const { ca, serverCaDer } = await fixtures(dir)
  const links = simLinks((o) => new FccSimDevice({ ...o, transport: 'tcp' }), { serial, fault, mutate, record })
  const endpoint = `relfcc${serial.toLowerCase().replace(/[^a-z0-9]/g, '')}`
  const opts = (extra = {}) => ({
    connect: links.connect,
    protocol: new FccProtocol(),
    store,
    ca,
    profile: { ...DEFAULT_PROFILE, mode: 'bootstrap', security: 'cert', serverUri: `coaps://bootstrap.example.com:5684?aid=${AID}`, serverCaDer },
    deviceInfo: { ...INFO, serialNumber: serial },
    identity: { serial },
    masterKey: MASTER_KEY,
    endpoint,
    timeouts,
    retries,
    retryDelayMs: 10,
    ...extra,
  })
  return { links, opts, endpoint }
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex')

/** All byte strings inside a decoded CBOR value. */
function byteStrings(v, out = []) {
  if (v instanceof Uint8Array) out.push(Buffer.from(v))
  else if (Array.isArray(v)) for (const x of v) byteStrings(x, out)
  else if (v instanceof Map) for (const x of v.values()) byteStrings(x, out)
  else if (v && typeof v === 'object') for (const x of Object.values(v)) byteStrings(x, out)
  return out
}

/**
 * Whether what the device holds is what a `verified` row records: lwprov — the stored payload's SHA-256 is the
 * recorded read-back digest; FCC — the device's stored configuration holds the certificate the row fingerprints.
 */
export function deviceHolds(protocol, links, row) {
  const last = links.stored.at(-1)
  if (!last) return false
  if (protocol === 'lwprov') return sha256(last) === row.readbackDigest
  const fp = String(row.fingerprint ?? '').replace(/:/g, '').toLowerCase()
  if (!fp) return false
  let doc
  try {
    doc = decodeCbor(last)
  } catch {
    return false
  }
  return byteStrings(doc).some((b) => sha256(b) === fp)
}
