#!/usr/bin/env node
// Simulator start-up: from spawning `lwprov sim --link … --json` to its ready line, against `lwprov --version` (the
// CLI's own start-up) in the same run. Target: well under a second (the demo and the tests start several at once).
// What it costs beyond the CLI's start-up: importing the simulator and device code, and the python3 PTY helper.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const RUN = join(ROOT, 'bin', 'run.js')
const RUNS = Number(process.env.LWPROV_BENCH_RUNS ?? 9)
const dir = mkdtempSync(join(tmpdir(), 'lwprov-bench-sim-'))
const env = { ...process.env, NO_COLOR: '1' }

/** ms until the simulator printed its ready line; it is then stopped and waited for. */
function simReady(i) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const p = spawn(process.execPath, [RUN, 'sim', '--protocol', 'lwprov', '--link', join(dir, `dev${i}`), '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let ms
    p.stdout.on('data', (d) => {
      out += d
      if (ms === undefined && out.includes('\n')) {
        ms = Number(process.hrtime.bigint() - t0) / 1e6
        p.kill('SIGTERM')
      }
    })
    p.stderr.on('data', (d) => (err += d))
    p.on('exit', () => (ms === undefined ? reject(new Error(`sim exited before ready: ${err}`)) : resolve(ms)))
  })
}

try {
  const sims = []
  const versions = []
  for (let i = 0; i < RUNS + 1; i++) {
    const t0 = process.hrtime.bigint()
    const v = spawnSync(process.execPath, [RUN, '--version'], { env, stdio: 'ignore' })
    if (v.status !== 0) throw new Error('--version failed')
    const vms = Number(process.hrtime.bigint() - t0) / 1e6
    const sms = await simReady(i)
    if (i > 0) {
      versions.push(vms)
      sims.push(sms)
    }
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
  const s = median(sims)
  const v = median(versions)
  console.log(`sim: lwprov --version ${v.toFixed(0)} ms (median of ${RUNS})`)
  console.log(`sim: lwprov sim ready ${s.toFixed(0)} ms = ${(s / v).toFixed(2)}x --version (target < 1000 ms)${s < 1000 ? '' : ' MISSED'}`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
