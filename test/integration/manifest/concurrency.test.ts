/**
 * The concurrency guarantee, across real processes: 8 processes × 5,000 allocations at once, half "next N" of one
 * shared {seq} template, half explicit names → 40,000 distinct rows, {seq} numbers 1..20,000 each exactly once,
 * 0 failed processes. On SQLite (one file, WAL) and on PostgreSQL (throwaway cluster).
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { openManifest } from '../../../src/core/manifest/open.js'
import { type PgCluster, startPgCluster } from '../../helpers/pg.js'

const ROOT = resolve(import.meta.dirname, '..', '..', '..')
// the reliability suite's concurrency worker, shared
const WORKER = join(import.meta.dirname, '..', '..', '..', 'scripts', 'reliability', 'alloc-worker.js')
const PROCS = 8
const PER_PROC = 5000
const CHUNK = 10

function runWorker(location: string, mode: string, i: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((res) => {
    const c = spawn(process.execPath, [WORKER, location, mode, String(i), String(PER_PROC), String(CHUNK)], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    c.stderr.on('data', (d) => (stderr += d))
    c.on('close', (code) => res({ code, stderr }))
  })
}

async function hammer(location: string) {
  const results = await Promise.all(Array.from({ length: PROCS }, (_, i) => runWorker(location, i % 2 === 0 ? 'seq' : 'names', i)))
  const failed = results.filter((r) => r.code !== 0)
  expect(failed.map((f) => f.stderr.split('\n').slice(0, 3).join(' '))).toEqual([])
  const store = await openManifest(location)
  try {
    const names = new Set<string>()
    const seqs: number[] = []
    let rows = 0
    for await (const r of store.list()) {
      rows++
      names.add(r.endpoint)
      if (r.seq !== null && r.seq !== undefined) seqs.push(r.seq)
    }
    expect(rows).toBe(PROCS * PER_PROC)
    expect(names.size).toBe(PROCS * PER_PROC)
    // no lost allocation: the shared template's numbers are exactly 1..20,000
    seqs.sort((a, b) => a - b)
    expect(seqs.length).toBe((PROCS / 2) * PER_PROC)
    expect(seqs.every((s, i) => s === i + 1)).toBe(true)
    expect(await store.allocateSeq('conc-{seq:06}', 1)).toBe((PROCS / 2) * PER_PROC + 1)
  } finally {
    await store.close()
  }
}

beforeAll(() => {
  // the workers run the compiled code; `npm test` builds first, a bare `vitest run` may not have
  if (!existsSync(join(ROOT, 'dist', 'core', 'manifest', 'open.js'))) {
    const b = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')], { encoding: 'utf8' })
    if (b.status !== 0) throw new Error(`build failed: ${b.stdout}`)
  }
})

describe('concurrent allocation across processes', () => {
  it('SQLite: 8 × 5,000 → 40,000 distinct, 0 failed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lwprov-conc-'))
    await hammer(join(dir, 'm.db'))
  }, 300_000)

  describe('PostgreSQL', () => {
    let cluster: PgCluster
    beforeAll(() => {
      cluster = startPgCluster()
    })
    afterAll(() => cluster?.stop())
    it('8 × 5,000 → 40,000 distinct, 0 failed', async () => {
      await hammer(cluster.createDatabase('conc'))
    }, 300_000)
  })
})
