/**
 * `manifest` commands end to end on the built CLI: list / show / export / migrate, verify (clean and tampered),
 * import (all-or-nothing, duplicates named, secrets sealed), expiring.
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, watch, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import Database from 'better-sqlite3'
import { beforeAll, describe, expect, it } from 'vitest'

import { openManifest } from '../../src/core/manifest/open.js'
import { SQLITE_SCHEMA_VERSION } from '../../src/core/manifest/sqlite.js'
import { sealSecrets } from '../../src/core/manifest/secrets.js'
import type { NewManifestRecord } from '../../src/core/manifest/types.js'
import { BIN, ROOT, runCli, tempDir } from '../helpers/cli.js'

const dir = tempDir('lwprov-e2e-manifest-')
const env = { LWPROV_CA_PASSPHRASE: 'e2e-manifest-pass', LWPROV_MASTER_KEY: randomBytes(32).toString('hex') }
const db = join(dir, 'm.db')
const m = ['--manifest', db]

async function ok(args: string[], opts: { env?: Record<string, string> } = {}) {
  const r = await runCli(args, { env: { ...env, ...opts.env } })
  expect(r.code, `${args.join(' ')}\n${r.stderr}${r.stdout}`).toBe(0)
  return r
}

describe('manifest commands (e2e)', () => {
  beforeAll(async () => {
    await ok(['ca', 'create', '--name', 'Manifest E2E CA', '--out', join(dir, 'ca'), '--json'])
    await ok(['ca', 'create', '--name', 'Foreign CA', '--out', join(dir, 'foreign'), '--json'])
    await ok(['credentials', 'generate', '--count', '5', '--endpoint', 'mf-cert-{seq:03}', '--mode', 'bootstrap', '--security', 'cert', '--server', 'coaps://bs.example.com:5684', '--ca', join(dir, 'ca'), '--batch', 'certs', ...m, '--json'])
    await ok(['credentials', 'generate', '--count', '3', '--endpoint', 'mf-psk-{seq:03}', '--mode', 'direct', '--security', 'psk', '--server', 'coaps://lwm2m.example.com:5684', '--batch', 'psks', ...m, '--json'])
  })

  it('creates the manifest 0600 and lists / shows rows', async () => {
    expect(statSync(db).mode & 0o777).toBe(0o600)
    const list = await ok(['manifest', 'list', ...m, '--batch', 'psks', '--json'])
    expect(list.json.result.map((r: any) => r.endpoint)).toEqual(['mf-psk-001', 'mf-psk-002', 'mf-psk-003'])
    expect(list.json.result[0].secret).toBeUndefined()
    const human = await ok(['manifest', 'list', ...m, '--status', 'generated', '--limit', '2'])
    expect(human.stdout).toMatch(/^ENDPOINT\s+STATUS\s+BATCH\s+SECURITY\s+MODE\s+UPDATED/)
    expect(human.stdout.trim().split('\n')).toHaveLength(3)
    const show = await ok(['manifest', 'show', 'mf-psk-002', ...m, '--json'])
    expect(show.json.result).toMatchObject({ endpoint: 'mf-psk-002', status: 'generated', security: 'psk', hasSecret: true })
    expect(show.json.result.secret).toBeUndefined()
    const missing = await runCli(['manifest', 'show', 'nope', ...m, '--json'], { env })
    expect(missing.code).toBe(2)
    expect(missing.json.error.code).toBe('E_ENDPOINT_NOT_FOUND')
    expect((await ok(['manifest', 'migrate', ...m, '--json'])).json.result.version).toBe(SQLITE_SCHEMA_VERSION)
  })

  it('exports json as a bare array on stdout, csv with digest to a file', async () => {
    const j = await ok(['manifest', 'export', '--format', 'json', ...m])
    const rows = JSON.parse(j.stdout)
    expect(rows).toHaveLength(8)
    expect(rows[0]).toMatchObject({ endpoint: 'mf-cert-001', security: 'cert', mode: 'bootstrap', server: 'coaps://bs.example.com:5684', batch: 'certs' })
    expect(rows[0].certificate).toContain('BEGIN CERTIFICATE')
    const out = join(dir, 'all.csv')
    await ok(['manifest', 'export', '--format', 'csv', '--out', out, '--digest', '--status', 'generated', ...m])
    expect(readFileSync(out, 'utf8').split('\r\n')[0]).toMatch(/^endpoint,status,security,mode,server,/)
    expect(readFileSync(`${out}.sha256`, 'utf8')).toMatch(/^[0-9a-f]{64} {2}all\.csv\n$/)
    const env2 = await ok(['manifest', 'export', '--format', 'json', '--batch', 'psks', '--json', ...m])
    expect(env2.json.status).toBe(0)
    expect(env2.json.result).toHaveLength(3)
  })

  it('verify passes on a clean manifest, fails on an edited fingerprint, a duplicate name and a foreign certificate', async () => {
    const clean = await ok(['manifest', 'verify', '--ca', join(dir, 'ca'), ...m, '--json'])
    expect(clean.json.result).toMatchObject({ ok: true, certificates: 5, chainChecked: true })

    const foreign = await runCli(['manifest', 'verify', '--ca', join(dir, 'foreign'), ...m, '--json'], { env })
    expect(foreign.code).toBe(3)
    expect(foreign.json.error.code).toBe('E_MANIFEST_INVALID')
    expect(foreign.json.error.details.report.problems.filter((p: any) => p.code === 'CERT_FOREIGN')).toHaveLength(5)

    const t = join(dir, 'tampered.db')
    writeFileSync(t, readFileSync(db))
    const raw = new Database(t)
    raw.prepare("UPDATE endpoints SET fingerprint = ? WHERE endpoint = 'mf-cert-002'").run('00'.repeat(32))
    // drop the UNIQUE constraint the way a hand edit would, then duplicate a name
    raw.exec('CREATE TABLE e2 AS SELECT * FROM endpoints; DROP TABLE endpoints; ALTER TABLE e2 RENAME TO endpoints;')
    raw.exec("CREATE TEMP TABLE d AS SELECT * FROM endpoints WHERE endpoint = 'mf-psk-001'; UPDATE d SET id = id + 1000; INSERT INTO endpoints SELECT * FROM d;")
    raw.prepare("UPDATE endpoints SET status = 'verified' WHERE endpoint = 'mf-psk-003'").run()
    raw.close()
    const bad = await runCli(['manifest', 'verify', '--ca', join(dir, 'ca'), '--manifest', t, '--json'], { env })
    expect(bad.code).toBe(3)
    const codes = bad.json.error.details.report.problems.map((p: any) => `${p.code}:${p.endpoint}`).sort()
    expect(codes).toEqual(['DUPLICATE_NAME:mf-psk-001', 'FINGERPRINT_MISMATCH:mf-cert-002', 'NO_READBACK:mf-psk-003'])
    const human = await runCli(['manifest', 'verify', '--ca', join(dir, 'ca'), '--manifest', t], { env })
    expect(human.code).toBe(3)
    expect(human.stderr).toContain('FINGERPRINT_MISMATCH')
  })

  it('imports all-or-nothing, names duplicates, seals secrets', async () => {
    const exp = await ok(['manifest', 'export', '--format', 'json', '--include-secrets', '--batch', 'psks', ...m])
    const rows = JSON.parse(exp.stdout)
    const psk = rows[0].pskKeyHex
    expect(psk).toMatch(/^[0-9a-f]{64}$/)
    const file = join(dir, 'ledger.json')
    writeFileSync(file, exp.stdout)
    const db2 = join(dir, 'm2.db')
    const r = await ok(['manifest', 'import', '--format', 'json', file, '--manifest', db2, '--json'])
    expect(r.json.result.imported).toBe(3)
    expect(readFileSync(db2).includes(Buffer.from(psk, 'hex'))).toBe(false)
    expect(readFileSync(db2, 'latin1').includes(psk)).toBe(false)
    const back = JSON.parse((await ok(['manifest', 'export', '--format', 'json', '--include-secrets', '--manifest', db2])).stdout)
    expect(back[0].pskKeyHex).toBe(psk)
    // one new name + one existing: nothing written, the existing one named
    const csv = `endpoint,status,security,mode,server\nmf-new-1,generated,nosec,direct,coap://x:5683\nmf-psk-002,generated,nosec,direct,coap://x:5683\n`
    writeFileSync(join(dir, 'dup.csv'), csv)
    const dup = await runCli(['manifest', 'import', '--format', 'csv', join(dir, 'dup.csv'), '--manifest', db2, '--json'], { env })
    expect(dup.code).toBe(3)
    expect(dup.json.error.code).toBe('E_DUPLICATE_ENDPOINT')
    expect(dup.json.error.message).toContain('mf-psk-002')
    const count = await ok(['manifest', 'list', '--manifest', db2, '--json'])
    expect(count.json.result).toHaveLength(3)
  })

  it('lists certificates expiring within a period', async () => {
    const none = await ok(['manifest', 'expiring', '--within', '90d', ...m, '--json'])
    expect(none.json.result).toEqual([])
    const all = await ok(['manifest', 'expiring', '--within', '20y', ...m, '--json'])
    expect(all.json.result.map((e: any) => e.endpoint)).toHaveLength(5)
    expect(all.json.result[0].daysLeft).toBeGreaterThan(3000)
  })

  it('reports a file that is not a manifest and a refused PostgreSQL connection with codes', async () => {
    writeFileSync(join(dir, 'junk.db'), 'x'.repeat(4096))
    const junk = await runCli(['manifest', 'list', '--manifest', join(dir, 'junk.db'), '--json'], { env })
    expect(junk.json.error.code).toBe('E_NOT_A_MANIFEST')
    expect(readFileSync(join(dir, 'junk.db'), 'utf8')).toBe('x'.repeat(4096))
    const pg = await runCli(['manifest', 'list', '--manifest', 'postgres://u:hunter22@127.0.0.1:1/db'], { env })
    expect(pg.code).toBe(5)
    expect(pg.stderr).toContain('E_MANIFEST_CONNECT')
    expect(pg.stderr + pg.stdout).not.toContain('hunter22')
  })

  it('read-only commands refuse a missing manifest instead of creating an empty one', async () => {
    const typo = join(dir, 'typo.db')
    const cmds = [
      ['manifest', 'list'],
      ['manifest', 'show', 'mf-psk-001'],
      ['manifest', 'export', '--format', 'json'],
      ['manifest', 'verify'],
      ['manifest', 'expiring'],
      ['batch', 'list'],
      ['batch', 'status', 'WO-1'],
    ]
    for (const c of cmds) {
      const r = await runCli([...c, '--manifest', typo, '--json'], { env })
      expect(r.code, c.join(' ')).toBe(2)
      expect(r.json.error.code).toBe('E_MANIFEST_NOT_FOUND')
      expect(r.json.error.message).toContain(typo)
      expect(r.json.error.hint).toMatch(/--manifest/)
      expect(existsSync(typo), c.join(' ')).toBe(false)
    }
    const human = await runCli(['manifest', 'verify', '--manifest', typo], { env })
    expect(human.code).toBe(2)
    expect(human.stdout).toBe('')
    expect(human.stderr).toContain('E_MANIFEST_NOT_FOUND')
    // an empty file is not a manifest: a read-only command refuses it and leaves it empty
    writeFileSync(join(dir, 'empty.db'), '')
    const empty = await runCli(['manifest', 'list', '--manifest', join(dir, 'empty.db'), '--json'], { env })
    expect([empty.code, empty.json.error.code]).toEqual([2, 'E_NOT_A_MANIFEST'])
    expect(statSync(join(dir, 'empty.db')).size).toBe(0)
  })

  it('a wrong master key fails before any export output; a mid-stream failure is reported on stderr', async () => {
    const wrong = { LWPROV_MASTER_KEY: randomBytes(32).toString('hex') }
    const j = await runCli(['manifest', 'export', '--format', 'json', '--include-secrets', '--json', ...m], { env: { ...env, ...wrong } })
    expect(j.code).toBe(6)
    expect(j.json).toMatchObject({ status: 6, error: { code: 'E_SECRET_UNSEALABLE' } })
    const csv = await runCli(['manifest', 'export', '--format', 'csv', '--include-secrets', ...m], { env: { ...env, ...wrong } })
    expect(csv.code).toBe(6)
    expect(csv.stdout).toBe('')
    expect(csv.stderr).toContain('E_SECRET_UNSEALABLE')

    // the first sealed row opens, a later one does not (sealed for another endpoint): every row is checked before the
    // first byte, so stdout carries only the error envelope, never half an export
    const t = join(dir, 'midstream.db')
    writeFileSync(t, readFileSync(db))
    const raw = new Database(t)
    raw.prepare("UPDATE endpoints SET secret = (SELECT secret FROM endpoints WHERE endpoint = 'mf-psk-001') WHERE endpoint = 'mf-psk-002'").run()
    raw.close()
    const mid = await runCli(['manifest', 'export', '--format', 'json', '--include-secrets', '--batch', 'psks', '--json', '--manifest', t], { env })
    expect(mid.code).toBe(6)
    expect(mid.json).toMatchObject({ status: 6, error: { code: 'E_SECRET_UNSEALABLE' } })
    expect(mid.json.error.message).toContain('mf-psk-002')
    expect(mid.stdout).not.toContain('"result"')
    const plain = await runCli(['manifest', 'export', '--format', 'json', '--include-secrets', '--batch', 'psks', '--manifest', t], { env })
    expect(plain.code).toBe(6)
    expect(plain.stdout).toBe('')
  })

  it('--out under a file is a usage error naming the path and errno', async () => {
    const file = join(dir, 'a-file')
    writeFileSync(file, 'x')
    for (const [format, out] of [
      ['csv', join(file, 'x.csv')],
      ['pem', file],
      ['pem', join(file, 'certs')],
    ] as const) {
      const r = await runCli(['manifest', 'export', '--format', format, '--out', out, ...m, '--json'], { env })
      expect(r.code, `${format} ${out}`).toBe(2)
      // refused before any row is read, by the safe-output helper, naming the path and the errno
      expect(r.json.error.code, JSON.stringify(r.json.error)).toMatch(/^E_OUTPUT_(WRITE|NOT_A_DIRECTORY)$/)
      expect(r.json.error.message).toMatch(/a-file/)
      expect(r.json.error.details.errno).toMatch(/E(NOTDIR|EXIST)/)
      expect(r.json.error.hint).toMatch(/output|--out/)
    }
    expect(readFileSync(file, 'utf8')).toBe('x')
  })

  it('--include-secrets to a terminal warns; to a pipe the user named it does not', async () => {
    const cmd = `"${process.execPath}" "${BIN}" manifest export --format json --include-secrets --batch psks --manifest "${db}"`
    // `script` gives the command a pseudo-terminal as stdout (and merges stderr into it)
    const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, env: { ...process.env, ...env, NO_COLOR: '1' }, encoding: 'utf8' })
    expect(tty.status, tty.stdout).toBe(0)
    expect(tty.stdout).toMatch(/secrets are being printed to the terminal/)
    const piped = await runCli(['manifest', 'export', '--format', 'json', '--include-secrets', '--batch', 'psks', ...m], { env })
    expect(piped.code).toBe(0)
    expect(piped.stderr).not.toMatch(/printed to the terminal/)
    expect(JSON.parse(piped.stdout)[0].pskKeyHex).toMatch(/^[0-9a-f]+$/)
  })

  describe('with a big manifest', () => {
    const big = join(dir, 'big.db')
    beforeAll(async () => {
      const key = Buffer.from(env.LWPROV_MASTER_KEY, 'hex')
      const store = await openManifest(big)
      const rows: NewManifestRecord[] = []
      for (let i = 0; i < 200_000; i++) {
        const ep = `big-${String(i).padStart(6, '0')}`
        rows.push({ endpoint: ep, batch: 'big', mode: 'direct', security: 'psk', serverUri: 'coaps://x.example.com:5684', status: 'generated', pskIdentity: ep, developer: false, secret: sealSecrets(key, { psk: randomBytes(16) }, ep) })
      }
      await store.insertMany(rows)
      await store.close()
    }, 120_000)

    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      it(`${sig} during --include-secrets --out removes the plaintext temp file`, async () => {
        const out = join(dir, `sig-${sig}`)
        mkdirSync(out)
        const child = spawn(process.execPath, [BIN, 'manifest', 'export', '--format', 'csv', '--include-secrets', '--out', join(out, 'x.csv'), '--manifest', big], {
          cwd: ROOT,
          env: { ...process.env, ...env, NO_COLOR: '1' },
          stdio: 'ignore',
        })
        // the safe-output helper's temporary: `.x.csv.lwprov-tmp-PID-RAND`
        const w = watch(out)
        await new Promise<void>((res) => {
          const check = () => readdirSync(out).some((f) => f.startsWith(`.x.csv.lwprov-tmp-${child.pid}-`)) && res()
          w.on('change', check)
          check()
        })
        w.close()
        const code = await new Promise<number | null>((res) => {
          child.on('exit', (c) => res(c))
          child.kill(sig)
        })
        expect(code).toBe(sig === 'SIGINT' ? 130 : 143)
        expect(readdirSync(out)).toEqual([])
      }, 60_000)
    }

    it('`export | head -1` ends quietly with exit 0', async () => {
      const r = await new Promise<{ status: string; stdout: string; stderr: string }>((res) => {
        const sh = spawn('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BIN}" manifest export --format csv --manifest "${big}" | head -1; echo "ps=\${PIPESTATUS[*]}" >&2`], { cwd: ROOT, env: { ...process.env, ...env } })
        let stdout = ''
        let stderr = ''
        sh.stdout.on('data', (d) => (stdout += d))
        sh.stderr.on('data', (d) => (stderr += d))
        sh.on('close', () => res({ status: stderr.match(/ps=(.*)/)?.[1] ?? '', stdout, stderr: stderr.replace(/ps=.*\n?/, '') }))
      })
      expect(r.status).toBe('0 0')
      expect(r.stdout).toMatch(/^endpoint,status,security,/)
      expect(r.stdout.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toBe('')
    }, 60_000)
  })
})
