// Concurrency: 8 processes × 5,000 allocations at once against one manifest — half "next N" of one shared {seq}
// template, half explicit names — on SQLite (one file, WAL) and on PostgreSQL (a throwaway cluster, as
// test/helpers/pg.ts makes it): 0 failed processes, 0 duplicate names, {seq} numbers 1..N each exactly once.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'

import { openManifest } from '../../dist/core/manifest/open.js'
import { Figure, QUICK, atExit, plain, tempDir, track } from './lib.js'

const PROCS = 8
const PER_PROC = QUICK ? 300 : 5000
const CHUNK = 10
const WORKER = new URL('./alloc-worker.js', import.meta.url).pathname
const PG_BIN = process.env.LWPROV_PG_BIN ?? '/usr/lib/postgresql/15/bin'

function worker(location, mode, i) {
  return new Promise((res) => {
    const c = track(spawn(process.execPath, [WORKER, location, mode, String(i), String(PER_PROC), String(CHUNK)], { stdio: ['ignore', 'ignore', 'pipe'] }))
    let stderr = ''
    c.stderr.on('data', (d) => (stderr += d))
    c.on('close', (code) => res({ code, stderr }))
  })
}

async function hammer(location, fig) {
  const results = await Promise.all(Array.from({ length: PROCS }, (_, i) => worker(location, i % 2 === 0 ? 'seq' : 'names', i)))
  for (const r of results) if (r.code !== 0) fig.finding(`a process failed: ${plain(r.stderr.split('\n').find((l) => l.trim()) ?? `exit ${r.code}`).slice(0, 160)}`)
  const store = await openManifest(location)
  try {
    const names = new Set()
    const seqs = []
    let rows = 0
    for await (const r of store.list()) {
      rows++
      if (names.has(r.endpoint)) fig.finding(`duplicate endpoint ${r.endpoint}`)
      names.add(r.endpoint)
      if (r.seq !== null && r.seq !== undefined) seqs.push(r.seq)
    }
    fig.n = rows
    const want = PROCS * PER_PROC
    if (rows !== want) fig.finding(`${rows} rows, expected ${want} (lost allocations)`)
    seqs.sort((a, b) => a - b)
    const dupSeq = seqs.filter((s, i) => i > 0 && s === seqs[i - 1]).length
    if (dupSeq) fig.finding(`${dupSeq} duplicate {seq} numbers`)
    if (!seqs.every((s, i) => s === i + 1)) fig.finding('{seq} numbers are not exactly 1..N (a gap or a repeat)')
  } finally {
    await store.close()
  }
}

/** A throwaway cluster (trust auth, loopback, fsync off); as root the server runs as `postgres`. */
function startPg() {
  if (!existsSync(join(PG_BIN, 'initdb'))) throw new Error(`PostgreSQL binaries not found in ${PG_BIN} (install postgresql-15 or set LWPROV_PG_BIN)`)
  const root = process.getuid?.() === 0
  const as = (cmd, args) => (root ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' }))
  const dir = tempDir('lwprov-rel-pg-')
  chmodSync(dir, 0o755)
  const data = join(dir, 'data')
  const run = join(dir, 'run')
  mkdirSync(data)
  mkdirSync(run)
  if (root) {
    if (spawnSync('id', ['-u', 'postgres'], { stdio: 'ignore' }).status !== 0) spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'])
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    for (const d of [dir, data, run]) chownSync(d, uid, gid)
  }
  const init = as(join(PG_BIN, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'])
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`)
  let port = 0
  for (let attempt = 0; attempt < 5 && !port; attempt++) {
    const p = 20000 + Math.floor(Math.random() * 20000)
    const st = as(join(PG_BIN, 'pg_ctl'), ['-D', data, '-o', `-p ${p} -k ${run} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200`, '-l', join(run, 'pg.log'), '-w', '-t', '60', 'start'])
    if (st.status === 0) port = p
  }
  if (!port) {
    const log = existsSync(join(run, 'pg.log')) ? readFileSync(join(run, 'pg.log'), 'utf8').split('\n').slice(-5).join(' ') : ''
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`postgres did not start: ${log}`)
  }
  const psql = spawnSync(join(PG_BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-qc', 'CREATE DATABASE rel'], { encoding: 'utf8' })
  if (psql.status !== 0) throw new Error(`CREATE DATABASE: ${psql.stderr}`)
  return {
    url: `postgres://postgres@127.0.0.1:${port}/rel`,
    stop() {
      as(join(PG_BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'])
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export async function run(ctx) {
  const sq = new Figure('concurrency', `SQLite: ${PROCS} processes × ${PER_PROC} allocations at once (half {seq}, half names)`)
  const dir = tempDir('lwprov-rel-conc-')
  ctx.written.push(dir)
  await hammer(join(dir, 'conc.db'), sq)
  const pg = new Figure('concurrency', `PostgreSQL: ${PROCS} processes × ${PER_PROC} allocations at once (half {seq}, half names)`)
  let cluster
  try {
    cluster = startPg()
    atExit.add(cluster.stop)
    await hammer(cluster.url, pg)
  } catch (e) {
    pg.finding(`could not run: ${plain(e.message).slice(0, 200)}`)
  } finally {
    if (cluster) {
      atExit.delete(cluster.stop)
      cluster.stop()
    }
  }
  rmSync(dir, { recursive: true, force: true })
  return [sq, pg]
}
