#!/usr/bin/env node
// Manifest throughput: 1,000,000 endpoints allocated ({seq} ranges) and inserted in SQLite (target >= 50,000/s) and
// PostgreSQL (reported; a throwaway cluster from /usr/lib/postgresql/15/bin, skipped with a reason if missing), and
// a 1,000,000-row CSV export through the real CLI, streamed, with its peak RSS (target < 200 MB) measured in the
// child process. `LWPROV_BENCH_ROWS` scales the row count down for a quick look.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const ROOT = join(here, '..')

if (process.argv[2] === '--child-export') {
  // Child: run the CLI in-process so its own peak RSS is what we report; the CSV goes to stdout (/dev/null).
  const { execute } = await import('@oclif/core')
  await import('reflect-metadata')
  process.on('exit', () => process.stderr.write(`MAXRSS_KB=${process.resourceUsage().maxRSS}\n`))
  await execute({ dir: join(ROOT, 'bin', 'run.js'), args: ['manifest', 'export', '--format', 'csv', '--manifest', process.argv[3]] })
} else {
  await main()
}

async function main() {
  const { openManifest } = await import('../dist/core/manifest/open.js')
  const N = Number(process.env.LWPROV_BENCH_ROWS ?? 1_000_000)
  const CHUNK = 10_000
  const blob = randomBytes(1 + 12 + 16 + 5 + 32) // a sealed 32-byte PSK is 66 bytes
  const template = 'urn:dev:os:320973-BENCH{seq:07}'
  const rows = (first, n) =>
    Array.from({ length: n }, (_, i) => {
      const endpoint = `urn:dev:os:320973-BENCH${String(first + i).padStart(7, '0')}`
      return {
        endpoint,
        batch: 'bench',
        mode: 'direct',
        security: 'psk',
        serverUri: 'coaps://lwm2m.example.com:5684',
        status: 'generated',
        pskIdentity: endpoint,
        secret: blob,
        shortServerId: 1,
        lifetime: 86400,
        binding: 'U',
        developer: false,
        template,
        seq: first + i,
      }
    })
  async function fill(store) {
    const t0 = process.hrtime.bigint()
    for (let done = 0; done < N; done += CHUNK) {
      const n = Math.min(CHUNK, N - done)
      const first = await store.allocateSeq(template, n)
      await store.insertMany(rows(first, n))
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9
    const count = await store.count()
    if (count !== N) throw new Error(`expected ${N} rows, found ${count}`)
    return N / s
  }

  const dir = mkdtempSync(join(tmpdir(), 'lwprov-bench-manifest-'))
  chmodSync(dir, 0o755) // the postgres user must reach its data directory inside
  try {
    const db = join(dir, 'm.db')
    const sqlite = await openManifest(db)
    const rate = await fill(sqlite)
    await sqlite.close()
    console.log(`manifest: sqlite endpoints allocated+inserted/s ${Math.round(rate)} (${N} rows, target >= 50000)`)

    const { maxRssMb, seconds } = await exportRss(db)
    console.log(`manifest: csv export of ${N} rows ${seconds.toFixed(1)} s, ${Math.round(N / seconds)} rows/s, peak RSS ${maxRssMb.toFixed(0)} MB (target < 200)`)

    await safeWriteOverhead(db, dir)

    const pgBin = '/usr/lib/postgresql/15/bin'
    if (!existsSync(join(pgBin, 'initdb'))) {
      console.log(`manifest: postgres skipped: ${pgBin}/initdb not found (apt-get install postgresql-15)`)
    } else {
      const cluster = startPg(pgBin, dir)
      try {
        const pg = await openManifest(cluster.url)
        const prate = await fill(pg)
        await pg.close()
        console.log(`manifest: postgres endpoints allocated+inserted/s ${Math.round(prate)} (${N} rows, reported)`)
      } finally {
        cluster.stop()
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The same CSV export to a file through the safe-output helper (temp + O_EXCL + rename, secrets registry) and through
 * a plain fs stream, alternated so load drift hits both alike; the median ratio is the helper's cost (target <= 1.05).
 */
async function safeWriteOverhead(db, dir) {
  const { createWriteStream } = await import('node:fs')
  const { exportManifest, fileTarget, streamTarget } = await import('../dist/core/manifest/export/index.js')
  const { openManifest } = await import('../dist/core/manifest/open.js')
  const store = await openManifest(db, { readonly: true, create: false })
  const times = { safe: [], raw: [] }
  try {
    for (let i = 0; i < 3; i++) {
      for (const kind of ['safe', 'raw']) {
        const out = join(dir, `overhead-${kind}-${i}.csv`)
        const t0 = process.hrtime.bigint()
        if (kind === 'safe') await exportManifest(store, 'csv', {}, fileTarget(out))
        else {
          const ws = createWriteStream(out, { mode: 0o600 })
          await exportManifest(store, 'csv', {}, streamTarget(ws))
          await new Promise((res, rej) => ws.end((e) => (e ? rej(e) : res())))
        }
        times[kind].push(Number(process.hrtime.bigint() - t0) / 1e9)
        rmSync(out, { force: true })
      }
    }
  } finally {
    await store.close()
  }
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
  console.log(`manifest: csv export to a file, safe-output helper ${med(times.safe).toFixed(2)} s vs plain stream ${med(times.raw).toFixed(2)} s: ratio ${(med(times.safe) / med(times.raw)).toFixed(3)} (target <= 1.05)`)
}

function exportRss(db) {
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint()
    const c = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child-export', db], { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    c.stderr.on('data', (d) => (err += d))
    c.on('close', (code) => {
      const m = /MAXRSS_KB=(\d+)/.exec(err)
      if (code !== 0 || !m) return rej(new Error(`export child failed (${code}): ${err.slice(0, 500)}`))
      res({ maxRssMb: Number(m[1]) / 1024, seconds: Number(process.hrtime.bigint() - t0) / 1e9 })
    })
  })
}

/** A throwaway cluster like test/helpers/pg.ts (as the postgres user when we are root). */
function startPg(bin, base) {
  const root = process.getuid?.() === 0
  const dir = join(base, 'pg')
  const data = join(dir, 'data')
  mkdirSync(data, { recursive: true })
  if (root) {
    // as test/helpers/pg.ts: make the account when the binaries came without it
    if (spawnSync('id', ['-u', 'postgres'], { stdio: 'ignore' }).status !== 0) {
      spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { stdio: 'ignore' })
    }
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }))
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }))
    for (const d of [dir, data]) chownSync(d, uid, gid)
  }
  const as = (cmd, args) => (root ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' }))
  const init = as(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'])
  if (init.status !== 0) throw new Error(`initdb: ${init.stderr}`)
  let port = 0
  for (let i = 0; i < 5 && !port; i++) {
    const p = 20000 + Math.floor(Math.random() * 20000)
    // durable settings (fsync on) so the figure is what a real server gives, minus network latency
    const r = as(join(bin, 'pg_ctl'), ['-D', data, '-o', `-p ${p} -k ${dir} -c listen_addresses=127.0.0.1`, '-l', join(dir, 'pg.log'), '-w', 'start'])
    if (r.status === 0) port = p
  }
  if (!port) throw new Error(`postgres did not start: ${existsSync(join(dir, 'pg.log')) ? readFileSync(join(dir, 'pg.log'), 'utf8').slice(-300) : ''}`)
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']),
  }
}
