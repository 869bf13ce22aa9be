import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll, describe, expect, it } from 'vitest'

import { parseServiceFile, resolvePgUrl } from '../../../src/core/manifest/pg-service.js'

const dir = mkdtempSync(join(tmpdir(), 'lwprov-pgsvc-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const file = join(dir, 'pg_service.conf')
writeFileSync(file, ['# stations of line 3', '[line3]', 'host=db.factory.lan', 'port=5433', 'dbname=lwprov', 'user=station', 'password=s3cr=t pw', '', '[sock]', 'host=/run/postgresql', 'dbname=m'].join('\n'))
const env = { PGSERVICEFILE: file, PGSYSCONFDIR: dir, HOME: dir }

describe('PostgreSQL connection services (pg_service.conf)', () => {
  it('parses sections, comments and values holding "="', () => {
    expect(parseServiceFile('[a]\nx=1=2\n# c\n[b]\ny = 3').get('a')).toEqual({ x: '1=2' })
  })

  it('fills the empty parts of the URL from ?service= or PGSERVICE; the URL wins where it is explicit', () => {
    const u = new URL(resolvePgUrl('postgres:///?service=line3', env))
    expect([u.hostname, u.port, u.pathname, u.username, decodeURIComponent(u.password), u.searchParams.has('service')]).toEqual(['db.factory.lan', '5433', '/lwprov', 'station', 's3cr=t pw', false])
    const v = new URL(resolvePgUrl('postgres://other@127.0.0.1/x', { ...env, PGSERVICE: 'line3' }))
    expect([v.hostname, v.port, v.pathname, v.username, decodeURIComponent(v.password)]).toEqual(['127.0.0.1', '5433', '/x', 'other', 's3cr=t pw'])
  })

  it('a socket directory becomes the host parameter', () => {
    const u = new URL(resolvePgUrl('postgres:///?service=sock', env))
    expect([u.hostname, u.searchParams.get('host'), u.pathname]).toEqual(['', '/run/postgresql', '/m'])
  })

  it('no service: the URL unchanged; an unknown service is a usage error naming the files', () => {
    expect(resolvePgUrl('postgres://u@h/db', env)).toBe('postgres://u@h/db')
    expect(() => resolvePgUrl('postgres:///?service=nope', env)).toThrow(expect.objectContaining({ code: 'E_PG_SERVICE', exitCode: 2 }))
  })
})
