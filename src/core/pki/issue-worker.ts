/**
 * Worker-thread entry for device issuing (see issue.ts). Receives chunks of requests, replies with one packed,
 * transferred buffer per chunk: structured-cloning thousands of small pooled Buffers would copy their whole 8 KiB
 * backing pools each time.
 */
import { parentPort, workerData } from 'node:worker_threads'

import { DeviceIssuer, finish, type DeviceProfileSpec, type DeviceRequest } from './issue-core.js'

export interface ChunkRequest {
  id: number
  reqs: DeviceRequest[]
}

export interface ChunkReply {
  id: number
  error?: string
  /** certificate DER and PKCS#8 key DER of each device, back to back. */
  pack?: Uint8Array
  /** [certLen, keyLen] per device. */
  lens?: Int32Array
  serials?: string[]
  fingerprints?: string[]
  pems?: string[]
}

const spec = (workerData as { spec: DeviceProfileSpec }).spec
// A token CA: this thread's own PKCS#11 session (loaded only then, so file-key workers never load the native module).
const tokenSign = spec.token
  ? await import('./pkcs11.js').then(({ TokenSigner }) => {
      const s = new TokenSigner(spec.token!)
      s.useKeyType(spec.token!.keyType)
      return (tbs: Buffer) => s.sign(tbs)
    })
  : undefined
const issuer = new DeviceIssuer(spec, tokenSign)

parentPort?.on('message', (msg: ChunkRequest) => {
  try {
    const out = issuer.issueMany(msg.reqs)
    const lens = new Int32Array(out.length * 2)
    let total = 0
    out.forEach((o, i) => {
      lens[2 * i] = o.certificateDer.length
      lens[2 * i + 1] = o.privateKeyDer!.length
      total += o.certificateDer.length + o.privateKeyDer!.length
    })
    const pack = Buffer.allocUnsafeSlow(total)
    let off = 0
    const serials: string[] = []
    const fingerprints: string[] = []
    const pems: string[] = []
    for (const o of out) {
      off += o.certificateDer.copy(pack, off)
      off += o.privateKeyDer!.copy(pack, off)
      const f = finish(o.certificateDer)
      serials.push(o.serialHex)
      fingerprints.push(f.fingerprint)
      pems.push(f.certificatePem)
    }
    const reply: ChunkReply = { id: msg.id, pack, lens, serials, fingerprints, pems }
    parentPort!.postMessage(reply, [pack.buffer as ArrayBuffer, lens.buffer as ArrayBuffer])
  } catch (error) {
    parentPort!.postMessage({ id: msg.id, error: error instanceof Error ? error.message : String(error) } satisfies ChunkReply)
  }
})
