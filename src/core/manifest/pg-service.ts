/**
 * libpq connection services (`pg_service.conf`) for the PostgreSQL manifest. node-postgres reads PGPASSWORD and
 * ~/.pgpass itself but not service files, so a station configured the libpq way (`PGSERVICE=line3`, or
 * `postgres:///?service=line3`) would otherwise need its password in the URL, where `ps` shows it.
 *
 * Lookup order as libpq: PGSERVICEFILE or ~/.pg_service.conf first, then PGSYSCONFDIR/pg_service.conf
 * (default /etc/postgresql-common). Values given in the URL win over the service's, as in libpq.
 */
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

import { usageError } from '../errors.js'

export type ServiceParams = Record<string, string>

/** Parses a pg_service.conf: `[name]` sections of `key=value` lines; `#` comments. */
export function parseServiceFile(text: string): Map<string, ServiceParams> {
  const out = new Map<string, ServiceParams>()
  let cur: ServiceParams | undefined
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const sec = /^\[(.+)\]$/.exec(line)
    if (sec) {
      cur = {}
      out.set(sec[1]!.trim(), cur)
      continue
    }
    const eq = line.indexOf('=')
    if (cur && eq > 0) cur[line.slice(0, eq).trim()] = line.slice(eq + 1).trim()
  }
  return out
}

function serviceFiles(env: NodeJS.ProcessEnv): string[] {
  const user = env.PGSERVICEFILE ?? join(env.HOME ?? homedir(), '.pg_service.conf')
  const sys = join(env.PGSYSCONFDIR ?? '/etc/postgresql-common', 'pg_service.conf')
  return [user, sys]
}

/** The parameters of service `name`, from the first file that defines it. */
export function lookupService(name: string, env: NodeJS.ProcessEnv = process.env): ServiceParams {
  const files = serviceFiles(env)
  for (const f of files) {
    if (!existsSync(f)) continue
    const s = parseServiceFile(readFileSync(f, 'utf8')).get(name)
    if (s) return s
  }
  throw usageError(
    'E_PG_SERVICE',
    `PostgreSQL service "${name}" is defined in no service file (looked in ${files.join(', ')}).`,
    'Add a [' + name + '] section with host, port, dbname, user (and password) to ~/.pg_service.conf, or set PGSERVICEFILE.',
  )
}

/**
 * The connection string to hand to node-postgres: `url` with its empty parts filled from the service named by its
 * `service` parameter or PGSERVICE. Without a service, `url` unchanged.
 */
export function resolvePgUrl(url: string, env: NodeJS.ProcessEnv = process.env): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return url
  }
  const name = u.searchParams.get('service') ?? env.PGSERVICE
  if (!name) return url
  const s = lookupService(name, env)
  u.searchParams.delete('service')
  // a socket directory cannot be a URL host: libpq's `host` query parameter carries it
  if (!u.hostname && s.host) {
    if (s.host.startsWith('/')) {
      if (!u.searchParams.has('host')) u.searchParams.set('host', s.host)
    } else u.hostname = s.host
  }
  if (!u.port && s.port) u.port = s.port
  if ((u.pathname === '' || u.pathname === '/') && s.dbname) u.pathname = `/${encodeURIComponent(s.dbname)}`
  if (!u.username && s.user) u.username = encodeURIComponent(s.user)
  if (!u.password && s.password) u.password = encodeURIComponent(s.password)
  for (const k of ['sslmode', 'application_name', 'connect_timeout']) if (s[k] && !u.searchParams.has(k)) u.searchParams.set(k, s[k]!)
  return u.toString()
}
