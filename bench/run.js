#!/usr/bin/env node
// Runs every bench/*.bench.js in its own process (so one area's memory or worker threads cannot skew another's) and
// prints their lines. `npm run bench` builds first. Filter with an argument: `npm run bench -- pki`.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const filter = process.argv[2]
const benches = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js') && (!filter || f.includes(filter)))
  .sort()
let failed = 0
for (const f of benches) {
  process.stdout.write(`\n== ${f}\n`)
  const r = spawnSync(process.execPath, ['--expose-gc', join(here, f)], { stdio: 'inherit' })
  if (r.status !== 0) {
    failed++
    process.stdout.write(`!! ${f} exited with ${r.status ?? r.signal}\n`)
  }
}
process.exitCode = failed ? 1 : 0
