#!/usr/bin/env node
// CLI start-up against a bare `node -e 0` measured in the same run (targets: --version and --help <= 3.5x,
// `manifest show` <= 5x). Runs are interleaved so load on a shared machine hits every command alike; the median of
// LWPROV_BENCH_RUNS (default 15) wall-clock runs is compared. Technicians and CI scripts call lwprov thousands of times.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const RUN = join(ROOT, 'bin', 'run.js')
const RUNS = Number(process.env.LWPROV_BENCH_RUNS ?? 15)
const dir = mkdtempSync(join(tmpdir(), 'lwprov-bench-startup-'))
try {
  const manifest = join(dir, 'm.db')
  const env = { ...process.env, NO_COLOR: '1' }
  const made = spawnSync(process.execPath, [RUN, 'credentials', 'generate', '--count', '1', '--endpoint', 'bench-startup-{seq}', '--mode', 'direct', '--security', 'nosec', '--server', 'coap://127.0.0.1:5683', '--manifest', manifest], { env })
  if (made.status !== 0) throw new Error(`could not make a manifest: ${made.stderr}`)
  const cases = {
    'node -e 0': ['-e', '0'],
    '--version': [RUN, '--version'],
    '--help': [RUN, '--help'],
    'manifest show': [RUN, 'manifest', 'show', 'bench-startup-1', '--manifest', manifest],
  }
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]))
  for (let i = 0; i < RUNS + 1; i++) {
    for (const [name, args] of Object.entries(cases)) {
      const t0 = process.hrtime.bigint()
      const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      if (r.status !== 0) throw new Error(`${name} exited ${r.status}: ${r.stderr}`)
      if (i > 0) times[name].push(ms) // the first round warms the file cache
    }
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
  const base = median(times['node -e 0'])
  const targets = { '--version': 3.5, '--help': 3.5, 'manifest show': 5 }
  console.log(`startup: node -e 0 ${base.toFixed(0)} ms (median of ${RUNS})`)
  for (const [name, target] of Object.entries(targets)) {
    const m = median(times[name])
    console.log(`startup: lwprov ${name} ${m.toFixed(0)} ms = ${(m / base).toFixed(2)}x node (target <= ${target}x)${m / base <= target ? '' : ' MISSED'}`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
