import { describe, expect, it } from 'vitest'
import {
  FRAME_OVERHEAD,
  FrameScanner,
  FrameType,
  LogLineAssembler,
  MAX_PAYLOAD,
  SYNC,
  crc16,
  crc32,
  encodeFrame,
  type ScanEvent,
} from '../../../src/core/inject/lwprov/codec.js'
import fs from 'node:fs'
import { createHash, createHmac } from 'node:crypto'
import {
  decodeBegin,
  decodeDeviceHello,
  encodeAck,
  encodeBegin,
  encodeData,
  encodeDeviceHello,
  encodeError,
  encodeHostHello,
  encodeChallenge,
  encodeProof,
  ProofKind,
  parseTlv,
} from '../../../src/core/inject/lwprov/messages.js'

/** Deterministic PRNG so random-cut tests are reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

const frames = [
  encodeFrame({ type: FrameType.HELLO, seq: 1, payload: Buffer.from([1, 1, 1]) }),
  encodeFrame({ type: FrameType.DATA, seq: 2, payload: Buffer.alloc(300, 0xaa) }),
  encodeFrame({ type: FrameType.COMMIT, seq: 3 }),
  encodeFrame({ type: FrameType.ACK, seq: 255, payload: Buffer.concat([SYNC, SYNC]) }),
]
const noise = [
  Buffer.from('boot: lwprov receiver v1\r\n'),
  Buffer.from('[00001.010] <inf> net: link up\n'),
  Buffer.from('\x1b[32mI (42) app: ok\x1b[0m\r\n'),
  Buffer.from('LWP LWPV lwprov \xaa no sync here\n', 'latin1'),
  Buffer.alloc(0),
]
const stream = Buffer.concat([noise[0]!, frames[0]!, noise[1]!, frames[1]!, frames[2]!, noise[2]!, noise[3]!, frames[3]!, noise[1]!])

function scanAll(chunks: Buffer[], scanner = new FrameScanner()): { frames: { type: number; seq: number; payload: string }[]; noise: string; corrupt: ScanEvent[] } {
  const out = { frames: [] as { type: number; seq: number; payload: string }[], noise: '', corrupt: [] as ScanEvent[] }
  for (const c of chunks) {
    for (const ev of scanner.push(c)) {
      if (ev.kind === 'frame') out.frames.push({ type: ev.frame.type, seq: ev.frame.seq, payload: ev.frame.payload.toString('hex') })
      else if (ev.kind === 'noise') out.noise += ev.bytes.toString('latin1')
      else out.corrupt.push(ev)
    }
  }
  return out
}

const expectedFrames = [
  { type: FrameType.HELLO, seq: 1, payload: '010101' },
  { type: FrameType.DATA, seq: 2, payload: 'aa'.repeat(300) },
  { type: FrameType.COMMIT, seq: 3, payload: '' },
  { type: FrameType.ACK, seq: 255, payload: Buffer.concat([SYNC, SYNC]).toString('hex') },
]
const expectedNoise = Buffer.concat([noise[0]!, noise[1]!, noise[2]!, noise[3]!, noise[1]!]).toString('latin1')

describe('lwprov codec: checks', () => {
  it('CRC-32 and CRC-16 match their catalogue check values', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926)
    expect(crc16(Buffer.from('123456789'))).toBe(0x29b1)
  })

  it('lays out a frame as documented', () => {
    const f = encodeFrame({ type: FrameType.COMMIT, seq: 7, payload: Buffer.from('hi') })
    expect(f.length).toBe(FRAME_OVERHEAD + 2)
    expect(f.subarray(0, 10).toString('hex')).toBe('aa4c5750' + '01' + '04' + '07' + '00' + '0002')
    expect(f.readUInt16BE(10)).toBe(crc16(f, 0, 10))
    expect(f.readUInt32BE(14)).toBe(crc32(f, 4, 14))
  })
})

describe('lwprov codec: scanner splits', () => {
  it('all at once', () => {
    const r = scanAll([stream])
    expect(r.frames).toEqual(expectedFrames)
    expect(r.noise).toBe(expectedNoise)
    expect(r.corrupt).toEqual([])
  })

  it('byte by byte', () => {
    const r = scanAll([...stream].map((b) => Buffer.from([b])))
    expect(r.frames).toEqual(expectedFrames)
    expect(r.noise).toBe(expectedNoise)
    expect(r.corrupt).toEqual([])
  })

  it('every single cut point', () => {
    for (let i = 0; i <= stream.length; i++) {
      const r = scanAll([stream.subarray(0, i), stream.subarray(i)])
      expect(r.frames, `cut at ${i}`).toEqual(expectedFrames)
      expect(r.noise, `cut at ${i}`).toBe(expectedNoise)
    }
  })

  it('random cuts', () => {
    const rand = rng(42)
    for (let round = 0; round < 200; round++) {
      const chunks: Buffer[] = []
      let i = 0
      while (i < stream.length) {
        const n = 1 + Math.floor(rand() * 40)
        chunks.push(stream.subarray(i, i + n))
        i += n
      }
      const r = scanAll(chunks)
      expect(r.frames).toEqual(expectedFrames)
      expect(r.noise).toBe(expectedNoise)
    }
  })

  it('keeps a partial frame pending until the rest arrives', () => {
    const s = new FrameScanner()
    expect(s.push(frames[1]!.subarray(0, 100))).toEqual([])
    expect(s.pending).toBe(100)
    const evs = s.push(frames[1]!.subarray(100))
    expect(evs.map((e) => e.kind)).toEqual(['frame'])
    expect(s.pending).toBe(0)
  })
})

describe('lwprov codec: corruption', () => {
  it('a corrupted body CRC is reported with its seq, dropped silently, and the next frame still found', () => {
    const bad = Buffer.from(frames[1]!)
    bad[50] = bad[50]! ^ 0x01
    const r = scanAll([Buffer.concat([Buffer.from('log\n'), bad, frames[2]!])])
    expect(r.frames).toEqual([expectedFrames[2]])
    expect(r.corrupt).toEqual([{ kind: 'corrupt', reason: 'crc', type: FrameType.DATA, seq: 2 }])
    expect(r.noise).toBe('log\n')
  })

  it('a corrupted header is skipped and the frame after it found', () => {
    const bad = Buffer.from(frames[0]!)
    bad[6] = 9 // seq changed: header check fails
    const r = scanAll([Buffer.concat([bad, frames[2]!])])
    expect(r.frames).toEqual([expectedFrames[2]])
    expect(r.corrupt[0]).toEqual({ kind: 'corrupt', reason: 'header' })
  })

  it('an over-long length field is rejected at once instead of swallowing what follows', () => {
    const bad = Buffer.from(frames[2]!)
    bad.writeUInt16BE(MAX_PAYLOAD + 1, 8)
    bad.writeUInt16BE(crc16(bad, 0, 10), 10)
    const r = scanAll([Buffer.concat([bad, frames[0]!])])
    expect(r.corrupt[0]).toMatchObject({ kind: 'corrupt', reason: 'length' })
    expect(r.frames).toEqual([expectedFrames[0]])
    const small = new FrameScanner({ maxPayload: 16 })
    expect(scanAll([frames[1]!, frames[2]!], small).corrupt[0]).toMatchObject({ reason: 'length', seq: 2 })
  })

  it('a truncated frame followed by a complete one: the complete one is recovered', () => {
    const cut = frames[1]!.subarray(0, 40)
    for (const split of [1, 20, 40, 60]) {
      const all = Buffer.concat([cut, Buffer.from('reboot\r\n'), frames[0]!, Buffer.alloc(400, 0x20), frames[2]!])
      const r = scanAll([all.subarray(0, split), all.subarray(split)])
      expect(r.frames.map((f) => f.seq)).toContain(3)
    }
  })

  it('random single-bit flips never yield a frame with different content', () => {
    const rand = rng(7)
    for (let round = 0; round < 300; round++) {
      const bad = Buffer.from(stream)
      const pos = Math.floor(rand() * bad.length)
      bad[pos] = bad[pos]! ^ (1 << Math.floor(rand() * 8))
      const r = scanAll([bad])
      for (const f of r.frames) expect(expectedFrames).toContainEqual(f)
    }
  })
})

describe('lwprov messages', () => {
  it('device HELLO round-trips and skips unknown tags', () => {
    const h = { version: 1, maxFrame: 512, capabilities: 5, capacity: 8192, serial: 'SN1', imei: '490154203237518', mac: '02:00:00:00:00:01' }
    const enc = Buffer.concat([encodeDeviceHello(h), Buffer.from([0x7f, 2, 1, 2])])
    expect(decodeDeviceHello(enc)).toEqual(h)
    expect(parseTlv(enc).get(0x7f)).toEqual(Buffer.from([1, 2]))
    expect(() => decodeDeviceHello(Buffer.from([0x01, 5, 1]))).toThrow(/overruns/)
  })

  it('BEGIN round-trips', () => {
    const b = { total: 1234, sha256: Buffer.alloc(32, 7), format: 1, flags: 1 }
    expect(decodeBegin(encodeBegin(b))).toEqual(b)
  })
})

describe('log line assembler', () => {
  it('splits CR/LF/CRLF across chunks and strips colour codes', () => {
    const a = new LogLineAssembler()
    expect(a.push(Buffer.from('one\r'))).toEqual(['one'])
    expect(a.push(Buffer.from('\ntw'))).toEqual([])
    expect(a.push(Buffer.from('o\n\x1b[31mred\x1b[0m\nta'))).toEqual(['two', 'red'])
    expect(a.flush()).toEqual(['ta'])
  })
})

describe('docs/protocol.md appendix A', () => {
  it('the example frames in the spec are what the codec emits', () => {
    const doc = fs.readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8').replace(/\s+\|?\s*/g, ' ')
    const hex = (b: Buffer) => b.toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1 ')
    const empty = Buffer.from([0x80])
    const examples = [
      encodeFrame({ type: FrameType.HELLO, seq: 0x2a, payload: encodeHostHello(4096) }),
      encodeFrame({ type: FrameType.IDENTITY, seq: 0x2a, payload: encodeDeviceHello({ version: 1, maxFrame: 1024, capabilities: 5, capacity: 8192, serial: 'SN-0001' }) }),
      encodeFrame({ type: FrameType.BEGIN, seq: 0x2b, payload: encodeBegin({ total: 1, sha256: createHash('sha256').update(empty).digest(), format: 1, flags: 0 }) }),
      encodeFrame({ type: FrameType.ACK, seq: 0x2b, payload: encodeAck(FrameType.BEGIN) }),
      encodeFrame({ type: FrameType.DATA, seq: 0x2c, payload: encodeData(0, empty) }),
      encodeFrame({ type: FrameType.ERROR, seq: 0x2d, payload: encodeError(7, 'rejected') }),
    ]
    // protocol v2 (§11): CHALLENGE with nonce 00..1F for endpoint "ep-1", and the PROOF of a device that stored the
    // 1-byte payload 80 with the PSK 01×16: HMAC-SHA256(PSK, "lwprov-pop-v2" 00 | nonce | SHA-256(80) | 04 "ep-1").
    const nonce = Buffer.from(Array.from({ length: 32 }, (_, i) => i))
    const stored = createHash('sha256').update(empty).digest()
    const mac = createHmac('sha256', Buffer.alloc(16, 1)).update(Buffer.concat([Buffer.from('lwprov-pop-v2\0'), nonce, stored, Buffer.from([4]), Buffer.from('ep-1')])).digest()
    examples.push(
      encodeFrame({ type: FrameType.CHALLENGE, seq: 0x2e, payload: encodeChallenge(nonce, 'ep-1') }),
      encodeFrame({ type: FrameType.PROOF, seq: 0x2e, payload: encodeProof(ProofKind.hmacSha256, mac) }),
    )
    for (const f of examples) expect(doc).toContain(hex(f))
  })
})
