#!/usr/bin/env node
// Labels: 10,000 labels as one PDF (A4 3x8 sheets, 417 pages) through the real CLI (`lwprov labels --batch … --out
// x.pdf`, rows streamed from the manifest), target < 30 s, and the same 10,000 labels with claim codes rendered by
// the core renderer. Each run is a child process whose peak RSS is reported; the 1,000-label run beside it shows the
// memory does not grow with the label count (streamed). `LWPROV_BENCH_LABELS` scales the count.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const ROOT = join(here, '..')
const N = Number(process.env.LWPROV_BENCH_LABELS ?? 10_000)
const TARGET_S = 30

if (process.argv[2] === '--child-cli') {
  const { execute } = await import('@oclif/core')
  process.on('exit', () => process.stderr.write(`MAXRSS_KB=${process.resourceUsage().maxRSS}\n`))
  await execute({ dir: join(ROOT, 'bin', 'run.js'), args: ['labels', '--batch', 'BENCH', '--out', process.argv[4], '--manifest', process.argv[3]] })
} else if (process.argv[2] === '--child-core') {
  const { createWriteStream } = await import('node:fs')
  const { renderPdf } = await import('../dist/core/labels/pdf.js')
  const { loadLayout } = await import('../dist/core/labels/layout.js')
  const { generateClaimCode } = await import('../dist/core/station/claim-code.js')
  const n = Number(process.argv[3])
  const out = createWriteStream(process.argv[4])
  function* labels() {
    for (let i = 0; i < n; i++) yield { endpoint: `urn:dev:os:320973-BENCH${String(i).padStart(6, '0')}`, claim: generateClaimCode(), batch: 'BENCH', seq: i }
  }
  await renderPdf(labels(), loadLayout('a4-3x8'), out)
  await new Promise((res) => out.end(res))
  process.stderr.write(`MAXRSS_KB=${process.resourceUsage().maxRSS}\n`)
} else {
  await main()
}

function child(args, nodeFlags = []) {
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint()
    const c = spawn(process.execPath, [...nodeFlags, fileURLToPath(import.meta.url), ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    c.stderr.on('data', (d) => (err += d))
    c.on('error', rej)
    c.on('close', (code) => {
      const s = Number(process.hrtime.bigint() - t0) / 1e9
      const m = /MAXRSS_KB=(\d+)/.exec(err)
      if (code !== 0 || !m) return rej(new Error(`child ${args[0]} exited ${code}: ${err.slice(-400)}`))
      res({ s, rssMb: Number(m[1]) / 1024 })
    })
  })
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'lwprov-bench-labels-'))
  let failed = false
  try {
    const db = join(dir, 'm.db')
    const env = { ...process.env, LWPROV_MASTER_KEY: '00'.repeat(32) }
    const c = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), 'batch', 'create', '--name', 'BENCH', '--count', String(N), '--endpoint', 'urn:dev:os:320973-BENCH{seq:06}', '--manifest', db], { env, encoding: 'utf8' })
    if (c.status !== 0) throw new Error(`batch create failed: ${c.stderr}`)
    const cli = await child(['--child-cli', db, join(dir, 'cli.pdf')])
    const size = statSync(join(dir, 'cli.pdf')).size / 1e6
    const ok = cli.s < TARGET_S
    failed ||= !ok
    console.log(`labels: ${N} labels as one PDF via \`lwprov labels\`: ${cli.s.toFixed(1)} s (${Math.round(N / cli.s)}/s, target < ${TARGET_S} s ${ok ? 'OK' : 'MISSED'}), ${size.toFixed(1)} MB, peak RSS ${cli.rssMb.toFixed(0)} MB`)
    const big = await child(['--child-core', String(N), join(dir, 'big.pdf')])
    console.log(`labels: core renderer, ${N} labels with claim codes: ${big.s.toFixed(1)} s, peak RSS ${big.rssMb.toFixed(0)} MB (V8 collects lazily)`)
    // Bounded memory, shown the strict way: the same run inside a 48 MB JavaScript heap. A renderer that kept pages
    // (or let the PDF pile up in memory) would die with "heap out of memory" well before 10,000 labels.
    let capped
    try {
      capped = await child(['--child-core', String(N), join(dir, 'capped.pdf')], ['--max-old-space-size=48'])
    } catch (e) {
      failed = true
      console.log(`labels: ${N} labels in a 48 MB heap FAILED (memory grows with the count): ${e.message.slice(0, 200)}`)
    }
    if (capped) console.log(`labels: ${N} labels in a 48 MB JS heap: OK (${capped.s.toFixed(1)} s, peak RSS ${capped.rssMb.toFixed(0)} MB): memory bounded, the PDF is streamed`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  process.exitCode = failed ? 1 : 0
}
