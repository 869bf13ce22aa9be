import { describe, expect, it } from 'vitest'

import { cborToPlain, decodeCbor } from '../../../src/core/cbor.js'
import { encodeRequest, encodeResponse, FtcdScanner, ftcdStatusInfo, type FtcdEvent } from '../../../src/core/inject/fcc/frame.js'
import { loadCases, requestPayload, withBytes } from './vectors.js'

const frames = (events: FtcdEvent[]) => events.filter((e) => e.type !== 'log')

/** Feeds `bytes` in the given chunk sizes and returns all events. */
function feed(scanner: FtcdScanner, bytes: Buffer, cuts: number[]): FtcdEvent[] {
  const out: FtcdEvent[] = []
  let at = 0
  for (const n of cuts) {
    out.push(...scanner.push(bytes.subarray(at, at + n)))
    at += n
  }
  out.push(...scanner.push(bytes.subarray(at)))
  return out
}

function randomCuts(len: number, seed: number): number[] {
  let s = seed
  const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
  const cuts: number[] = []
  let total = 0
  while (total < len) {
    const n = 1 + Math.floor(rnd() * 40)
    cuts.push(n)
    total += n
  }
  return cuts
}

describe('FTCD framing', () => {
  const cases = loadCases()

  it('encodeRequest reproduces every captured request frame (except 09, corrupted on purpose)', () => {
    for (const c of cases) {
      for (const m of c.messages) {
        const ok = encodeRequest(requestPayload(m.request)).equals(m.request)
        expect(ok).toBe(c.id !== '09-corrupted-sha256')
      }
    }
  })

  it('encodeResponse reproduces every captured response frame', () => {
    for (const c of cases) {
      for (const m of c.messages) {
        if (!m.response) continue
        expect(encodeResponse(0, m.response.subarray(16, m.response.length - 32)).equals(m.response)).toBe(true)
      }
    }
  })

  it('the error frame is exactly 12 bytes', () => {
    const f = encodeResponse(8)
    expect(f.toString('hex')).toBe('6d62656470726f7608000000')
  })

  for (const c of cases) {
    c.messages.forEach((m, i) => {
      if (!m.response) return
      it(`${c.id} response ${i + 1}: one frame whole, byte by byte and in random splits`, () => {
        const splits = [[], Array<number>(m.response!.length).fill(1), randomCuts(m.response!.length, i + 7), randomCuts(m.response!.length, 99)]
        for (const cuts of splits) {
          const ev = frames(feed(new FtcdScanner({ kind: 'response' }), m.response!, cuts))
          expect(ev).toHaveLength(1)
          const f = ev[0]!
          expect(f.type).toBe('frame')
          if (f.type !== 'frame') return
          expect(f.signatureOk).toBe(true)
          expect(cborToPlain(decodeCbor(f.payload))).toEqual(withBytes(m.map!, m.mapBytesPaths))
          expect((cborToPlain(decodeCbor(f.payload)) as any).ReturnStatus).toBe(m.expectedReturnStatus)
        }
      })
    })
  }

  it('skips and keeps log text interleaved with frames, including near-miss tokens', () => {
    const resp = loadCases()[0]!.messages[0]!.response!
    const noise = Buffer.from('[BOOT] hello\r\nmbedpro mmbedprov? [FCC] waiting\r\nmbe')
    const stream = Buffer.concat([noise, resp, Buffer.from('[FCC] done\r\n'), resp])
    for (const cuts of [[], Array<number>(stream.length).fill(1), randomCuts(stream.length, 3)]) {
      const s = new FtcdScanner({ kind: 'response' })
      const ev = feed(s, stream, cuts)
      ev.push(...s.end())
      // "mmbedprov?" contains the token, but "? [F" is no transport status: it stays log text.
      expect(frames(ev)).toHaveLength(2)
      expect(frames(ev).every((e) => e.type === 'frame' && e.signatureOk)).toBe(true)
      expect(s.log).toContain('mmbedprov? [FCC] waiting')
      expect(s.log).toContain('[BOOT] hello')
      expect(s.log).toContain('[FCC] done')
    }
  })

  it('finds a frame right after a stray "m" (proper substring search, unlike the device)', () => {
    const resp = loadCases()[0]!.messages[0]!.response!
    const stream = Buffer.concat([Buffer.from('xxmm'), resp])
    const host = frames(new FtcdScanner({ kind: 'response' }).push(stream))
    expect(host).toHaveLength(1)
    const req = loadCases()[0]!.messages[0]!.request
    const dev = new FtcdScanner({ kind: 'request', deviceTokenScan: true })
    expect(frames(dev.push(Buffer.concat([Buffer.from('m'), req])))).toHaveLength(0)
    // ...while noise that does not end in a token prefix is skipped by the device too.
    const dev2 = new FtcdScanner({ kind: 'request', deviceTokenScan: true })
    expect(frames(dev2.push(Buffer.concat([Buffer.from('noise\r\n'), req])))).toHaveLength(1)
  })

  it('reports the 12-byte error frame and signature mismatches', () => {
    const s = new FtcdScanner({ kind: 'response' })
    expect(s.push(Buffer.concat([Buffer.from('log '), encodeResponse(8)]))).toEqual([
      { type: 'log', text: 'log ' },
      { type: 'error-frame', status: 8 },
    ])
    const good = encodeResponse(0, Buffer.from([0xa0]))
    good[good.length - 1]! ^= 0xff
    const ev = frames(s.push(good))
    expect(ev).toMatchObject([{ type: 'frame', signatureOk: false }])
  })

  it('rejects a zero length and resynchronises', () => {
    const s = new FtcdScanner({ kind: 'request' })
    const zero = Buffer.concat([Buffer.from('mbedprov'), Buffer.alloc(4)])
    const ev = frames(s.push(Buffer.concat([zero, encodeRequest(Buffer.from([0xa0]))])))
    expect(ev.map((e) => e.type)).toEqual(['bad-length', 'frame'])
  })

  it('keeps only the tail of a long log', () => {
    const s = new FtcdScanner({ kind: 'response', maxLog: 100 })
    for (let i = 0; i < 50; i++) s.push(Buffer.from(`line ${i} of a chatty device\r\n`))
    expect(s.log.length).toBe(100)
    expect(s.log.endsWith('line 49 of a chatty device\r\n')).toBe(true)
  })

  it('names transport statuses', () => {
    expect(ftcdStatusInfo(8).name).toBe('FTCD_COMM_INCONSISTENT_MESSAGE_SIGNATURE')
    expect(ftcdStatusInfo(0).name).toBe('FTCD_COMM_STATUS_SUCCESS')
    expect(ftcdStatusInfo(99).message).toMatch(/unknown/)
  })
})
