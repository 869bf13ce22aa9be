/**
 * A throwaway PostgreSQL cluster for tests and benches: `initdb` + `pg_ctl` from the Debian postgresql-15 package,
 * in a temp directory on a loopback port, trust auth. PostgreSQL refuses to run as root, so when we are root
 * (CI) the server runs as the `postgres` user via `runuser` in a directory chowned to it.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const PG_BIN = process.env.LWPROV_PG_BIN ?? '/usr/lib/postgresql/15/bin'

export interface PgCluster {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string
  port: number
  dir: string
  /** A fresh database on the cluster; returns its URL. */
  createDatabase(name: string): string
  stop(): void
}

export function pgAvailable(): boolean {
  return existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl'))
}

function asPostgres(cmd: string, args: string[], root: boolean) {
  return root ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' })
}

/**
 * PostgreSQL binaries can be installed without the `postgres` account (a container image, a copied tree): as root,
 * make the system user the server must run as instead of failing with `id: 'postgres': no such user`.
 */
export function ensurePostgresUser(): void {
  if (spawnSync('id', ['-u', 'postgres'], { stdio: 'ignore' }).status === 0) return
  const r = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { encoding: 'utf8' })
  if (r.status !== 0 && spawnSync('id', ['-u', 'postgres'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`the PostgreSQL server must run as user postgres, and creating it failed: ${r.stderr || r.error?.message}`)
  }
}

/** Starts a cluster (a few seconds). Throws with the server log when it cannot. */
export function startPgCluster(): PgCluster {
  if (!pgAvailable()) throw new Error(`PostgreSQL binaries not found in ${PG_BIN}: install postgresql-15 (.ci/run does)`)
  const root = process.getuid?.() === 0
  const dir = mkdtempSync(join(tmpdir(), 'lwprov-pg-'))
  chmodSync(dir, 0o755)
  const data = join(dir, 'data')
  const run = join(dir, 'run')
  execFileSync('mkdir', ['-p', data, run])
  if (root) {
    ensurePostgresUser()
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    for (const d of [dir, data, run]) chownSync(d, uid, gid)
  }
  const init = asPostgres(join(PG_BIN, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'], root)
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`)
  let port = 0
  for (let attempt = 0; attempt < 5 && !port; attempt++) {
    const p = 20000 + Math.floor(Math.random() * 20000)
    const st = asPostgres(
      join(PG_BIN, 'pg_ctl'),
      ['-D', data, '-o', `-p ${p} -k ${run} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200`, '-l', join(run, 'pg.log'), '-w', '-t', '60', 'start'],
      root,
    )
    if (st.status === 0) port = p
  }
  if (!port) {
    const log = existsSync(join(run, 'pg.log')) ? readFileSync(join(run, 'pg.log'), 'utf8').split('\n').slice(-5).join('\n') : ''
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`postgres did not start: ${log}`)
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  let stopped = false
  return {
    url,
    port,
    dir,
    createDatabase(name: string) {
      const r = spawnSync(join(PG_BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-qc', `CREATE DATABASE "${name}"`], { encoding: 'utf8' })
      if (r.status !== 0) throw new Error(`CREATE DATABASE ${name}: ${r.stderr}`)
      return `postgres://postgres@127.0.0.1:${port}/${name}`
    },
    stop() {
      if (stopped) return
      stopped = true
      asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], root)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
