// Worker thread of the decoder fuzz: feeds every decoder random bytes and mutations of real inputs (workerData.seeds),
// posts progress after each decoder so the parent's watchdog can tell a hang from slowness, and posts the crashes:
// any exception that is not the decoder's own controlled error (LwprovError / MessageError).
import { parentPort, workerData } from 'node:worker_threads'

import { decodeCbor, decodeCborPrefix } from '../../dist/core/cbor.js'
import { LwprovError } from '../../dist/core/errors.js'
import { FtcdScanner } from '../../dist/core/inject/fcc/frame.js'
import { parseFccResponse } from '../../dist/core/inject/fcc/protocol.js'
import { FrameScanner } from '../../dist/core/inject/lwprov/codec.js'
import * as msg from '../../dist/core/inject/lwprov/messages.js'
import { decodeSenmlCbor } from '../../dist/core/lwm2m/senml.js'
import { decodeConfigTlv, decodeObjectTlv, decodeTlv } from '../../dist/core/lwm2m/tlv.js'
import { mutate } from './mutate.js'
import { rng } from './lib.js'

const { count, seed, seeds } = workerData
const r = rng(seed)
const b = (x) => Buffer.from(x)
const S = Object.fromEntries(Object.entries(seeds).map(([k, v]) => [k, v.map(b)]))

/** A scanner fed one input in random chunks (and reset between inputs, as a new session would be). */
const scan = (make) => {
  const s = make()
  return (input) => {
    let o = 0
    while (o < input.length) {
      const n = 1 + Math.floor(r() * 64)
      s.push(input.subarray(o, o + n))
      o += n
    }
  }
}

const DECODERS = [
  ['CBOR decode', (x) => decodeCbor(x), S.cbor],
  ['CBOR decode (prefix)', (x) => decodeCborPrefix(x), S.cbor],
  ['SenML-CBOR decode', (x) => decodeSenmlCbor(x), S.senml],
  ['LwM2M TLV decode', (x) => decodeTlv(x), S.tlv],
  ['LwM2M TLV objects /0 /1', (x) => (r() < 0.5 ? decodeObjectTlv(0, x) : decodeObjectTlv(1, x)), S.tlv],
  ['LwM2M TLV config', (x) => decodeConfigTlv({ security: x, server: x.subarray(Math.floor(x.length / 2)) }), S.tlv],
  ['lwprov frame scanner', scan(() => new FrameScanner()), S.lwprovFrames],
  ['lwprov messages (HELLO, ACK, ERROR, DIGEST, CSR…)', (x) => {
    for (const f of [msg.decodeDeviceHello, msg.decodeBegin, msg.decodeData, msg.decodeAck, msg.decodeError, msg.decodeDigest, msg.decodeKeygen, msg.decodeCsrRead, msg.decodeCsrData, msg.parseTlv]) {
      try {
        f(x)
      } catch (e) {
        if (!(e instanceof msg.MessageError) && !(e instanceof LwprovError)) throw e
      }
    }
  }, S.lwprovPayloads],
  ['FCC/FTCD frame scanner (responses)', scan(() => new FtcdScanner({ kind: 'response' })), S.fccReplies],
  ['FCC/FTCD frame scanner (requests)', scan(() => new FtcdScanner({ kind: 'request', deviceTokenScan: true })), S.fccRequests],
  ['FCC response parse', (x) => parseFccResponse(x), S.fccPayloads],
]

const results = []
for (const [name, fn, seedList] of DECODERS) {
  const res = { name, n: 0, crashes: [] }
  for (let i = 0; i < count; i++) {
    // half random bytes (random lengths), half mutations of real inputs
    const input = i % 2 === 0 || !seedList?.length ? Buffer.from(Array.from({ length: Math.floor(r() * (r() < 0.9 ? 64 : 2048)) }, () => Math.floor(r() * 256))) : mutate(seedList[i % seedList.length], r)
    res.n++
    try {
      fn(input)
    } catch (e) {
      if (!(e instanceof LwprovError) && !(e instanceof msg.MessageError)) {
        if (res.crashes.length < 5) res.crashes.push(`${e?.name ?? 'throw'}: ${String(e?.message ?? e).slice(0, 100)} (input ${input.subarray(0, 24).toString('hex')}…)`)
        else res.crashes.push('')
      }
    }
  }
  results.push(res)
  parentPort.postMessage({ progress: name, result: res })
}
parentPort.postMessage({ done: true })
