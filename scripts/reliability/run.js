#!/usr/bin/env node
// `npm run reliability`: tries lwprov adversarially and prints one table of figures — what was tried, how often, and
// what went wrong. RELIABILITY_QUICK=1 is the short form (same categories, smaller counts) that `npm test` runs.
// RELIABILITY_ONLY=faults,fuzz runs some categories; RELIABILITY_SEED repeats the random choices of a run;
// RELIABILITY_KEEP=1 keeps the work directory. Exits 1 when any figure has a failure. Not timing-sensitive: timeouts
// only catch hangs.
import 'reflect-metadata'

import { chmodSync, rmSync } from 'node:fs'

import { Figure, QUICK, SEED, killChildren, plain, tempDir, watchProcessArgs } from './lib.js'

const CATEGORIES = ['badinput', 'faults', 'kill', 'concurrency', 'fuzz', 'secrets']
const only = process.env.RELIABILITY_ONLY?.split(',').map((s) => s.trim())
const selected = CATEGORIES.filter((c) => !only || only.includes(c) || (c === 'secrets' && only.includes('secrets')))

const dir = tempDir('lwprov-reliability-')
// every category's directories (and the temporaries of the processes it starts) live under this one, removed at the end
process.env.LWPROV_RELIABILITY_DIR = dir
// the PostgreSQL server runs as the postgres user when we are root: it must reach its directory inside
chmodSync(dir, 0o755)
const ctx = {
  dir,
  /** Directories the suite wrote to (all scanned for secrets at the end). */
  written: [dir],
  /** Files that are --include-secrets outputs (they may hold secrets). */
  secretOutputs: new Set(),
  /** Files the suite itself made as test input (e.g. openssl keys for `ca import`): not lwprov's output, not scanned. */
  inputs: [],
  /** Manifests the suite wrote → their master key (hex; default env's): their secrets are exported for the scan. */
  manifests: new Map(),
  env: {
    LWPROV_CA_PASSPHRASE: 'reliability-passphrase-0973',
    LWPROV_MASTER_KEY: 'c3'.repeat(32),
    HOME: `${dir}/home`,
    XDG_CONFIG_HOME: `${dir}/home/.config`,
    XDG_STATE_HOME: `${dir}/home/.local/state`,
    XDG_DATA_HOME: `${dir}/home/.local/share`,
    TMPDIR: dir,
  },
}
const stopWatch = watchProcessArgs()
// Interrupted: no simulator or CLI process of the suite outlives it, and its directory goes too.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killChildren()
    if (process.env.RELIABILITY_KEEP !== '1') rmSync(dir, { recursive: true, force: true })
    process.exit(130)
  })
}
const t0 = Date.now()
process.stdout.write(`lwprov reliability (${QUICK ? 'quick form' : 'full form'}, seed ${SEED}) — working in ${dir}\n`)

const figures = []
for (const c of selected) {
  const started = Date.now()
  process.stderr.write(`… ${c}\n`)
  try {
    const mod = await import(`./${c === 'badinput' ? 'bad-input' : c}.js`)
    const figs = await mod.run(ctx)
    figures.push(...figs)
  } catch (e) {
    const f = new Figure(c, 'the category itself')
    f.fail(`could not run: ${plain(e?.stack ?? e).split('\n').slice(0, 4).join(' | ')}`)
    figures.push(f)
  }
  process.stderr.write(`  ${c}: ${Math.round((Date.now() - started) / 1000)}s\n`)
}
stopWatch()

// The table: one row per figure.
const rows = figures.map((f) => ({
  figure: f.category,
  tried: f.tried,
  n: String(f.n),
  wrong: String(f.failures.length),
  what: f.failures.length === 0 ? (f.notes.join('; ') || 'nothing') : `${f.failures.slice(0, 3).map(plain).join('; ')}${f.failures.length > 3 ? `; … ${f.failures.length - 3} more` : ''}`,
}))
const head = { figure: 'figure', tried: 'what was tried', n: 'runs', wrong: 'wrong', what: 'what went wrong' }
const w = (k) => Math.max(head[k].length, ...rows.map((r) => r[k].length))
const line = (r) => `| ${r.figure.padEnd(w('figure'))} | ${r.tried.padEnd(w('tried'))} | ${r.n.padStart(w('n'))} | ${r.wrong.padStart(w('wrong'))} | ${r.what} |`
process.stdout.write(`\n${line(head)}\n| ${'-'.repeat(w('figure'))} | ${'-'.repeat(w('tried'))} | ${'-'.repeat(w('n') - 1)}: | ${'-'.repeat(w('wrong') - 1)}: | --- |\n`)
for (const r of rows) process.stdout.write(`${line(r)}\n`)
const bad = figures.filter((f) => f.failures.length > 0)
for (const f of bad) {
  process.stdout.write(`\n${f.category} — ${f.tried}: ${f.failures.length} wrong\n`)
  for (const x of f.failures.slice(0, Number(process.env.RELIABILITY_SHOW ?? 20))) process.stdout.write(`  - ${plain(x)}\n`)
}
const total = figures.reduce((s, f) => s + f.n, 0)
process.stdout.write(`\nreliability: ${total} runs in ${figures.length} figures, ${bad.length === 0 ? 'nothing went wrong' : `${bad.reduce((s, f) => s + f.failures.length, 0)} wrong`} (${Math.round((Date.now() - t0) / 1000)}s)\n`)
killChildren()
if (process.env.RELIABILITY_KEEP !== '1') rmSync(dir, { recursive: true, force: true })
process.exit(bad.length === 0 ? 0 : 1)
