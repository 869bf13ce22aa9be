import { Writable } from 'node:stream'

import { describe, expect, it } from 'vitest'

import { loadLayout } from '../../../src/core/labels/layout.js'
import type { LabelData } from '../../../src/core/labels/payload.js'
import { renderPdf } from '../../../src/core/labels/pdf.js'

/** A slow sink: each chunk is acknowledged only on the next turn of the event loop. */
function slowSink() {
  const s = { bytes: 0, chunks: 0 }
  const stream = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _enc, cb) {
      s.bytes += chunk.length
      s.chunks++
      setImmediate(cb)
    },
  })
  return { s, stream }
}

describe('PDF label sheets', () => {
  it('streams: pages reach the output while labels are still being produced, and the producer waits for a slow sink', async () => {
    const { s, stream } = slowSink()
    let seenAtHalf = -1
    let produced = 0
    async function* labels(): AsyncIterable<LabelData> {
      for (let i = 0; i < 3000; i++) {
        if (i === 1500) seenAtHalf = s.bytes
        produced++
        yield { endpoint: `urn:dev:os:320973-S${String(i).padStart(6, '0')}`, claim: '7K3M-Q9XD-2HTB', batch: 'WO', seq: i }
      }
    }
    const n = await renderPdf(labels(), loadLayout('a4-3x8'), stream)
    expect(n).toBe(3000)
    expect(produced).toBe(3000)
    // halfway through, the sink had half the document minus at most the renderer's 1 MiB backlog (+ a page and the
    // sink's own buffer): the PDF is not accumulated in memory
    // (3000 labels are ~3.9 MB: a renderer that buffered the document would be ~1.9 MB behind here)
    expect(seenAtHalf).toBeGreaterThan(0)
    expect(s.bytes / 2 - seenAtHalf).toBeLessThan(1.25 * 2 ** 20)
    expect(s.chunks).toBeGreaterThan(100)
    await new Promise<void>((res) => stream.end(res))
  })

  it('fills the layout grid page by page (24 per A4 3x8 page, 40 per 4x10, 1 per roll label)', async () => {
    for (const [name, perPage] of [['a4-3x8', 24], ['a4-4x10', 40], ['roll-50x25', 1]] as const) {
      const chunks: Buffer[] = []
      const sink = new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) })
      await renderPdf(
        Array.from({ length: 50 }, (_, i) => ({ endpoint: `ep${i}` })),
        loadLayout(name),
        sink,
      )
      const pdf = Buffer.concat(chunks).toString('latin1')
      expect(pdf.startsWith('%PDF-')).toBe(true)
      expect(pdf.match(/\/Type \/Page\b/g), name).toHaveLength(Math.ceil(50 / perPage))
    }
  })
})
