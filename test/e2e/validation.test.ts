/**
 * Bad input is refused up front through the real CLI: a coded usage error (exit 2) with a hint, no stack trace, and
 * nothing written — the manifest and the CA directory stay byte-identical, no file appears, no port is opened (the
 * inject cases name a port that does not exist: reaching it would be exit 5).
 */
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { runCli, tempDir } from '../helpers/cli.js'

const dir = tempDir('lwprov-e2e-validate-')
const env = { LWPROV_CA_PASSPHRASE: 'e2e-passphrase-validate', LWPROV_MASTER_KEY: 'ab'.repeat(32) }
const m = join(dir, 'm.db')
const ca = join(dir, 'ca')
const psk = ['--mode', 'direct', '--security', 'psk', '--server', 'coaps://127.0.0.1:5684', '--manifest', m]
const noPort = join(dir, 'no-such-port')

/** Hashes of every file under `dir` except SQLite's WAL/SHM side files (a reader may create those). */
function snapshot(): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f)
      if (statSync(p).isDirectory()) walk(p)
      else if (!/-(wal|shm)$/.test(f)) out[p] = createHash('sha256').update(readFileSync(p)).digest('hex')
    }
  }
  walk(dir)
  return out
}

beforeAll(async () => {
  const r = await runCli(['ca', 'create', '--name', 'Validate CA', '--out', ca, '--json'], { env })
  expect(r.code, r.stderr).toBe(0)
  const g = await runCli(['credentials', 'generate', '--count', '2', '--endpoint', 'ok-{seq}', ...psk, '--json'], { env })
  expect(g.code, g.stderr).toBe(0)
  writeFileSync(join(dir, 'names.txt'), Array.from({ length: 50 }, (_, i) => `n-${i}`).join('\n'))
  writeFileSync(join(dir, 'bad.pem'), '-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n')
  writeFileSync(join(dir, 'blob.der'), Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'leaf.key'), '-out', join(dir, 'leaf.pem'), '-subj', '/CN=server.example.com', '-days', '30', '-addext', 'basicConstraints=critical,CA:FALSE'], { stdio: 'ignore' })
  writeFileSync(join(dir, 'regular-file'), 'keep me')
}, 120_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const gen = ['credentials', 'generate']
const inj = ['inject', '--port', noPort, '--protocol', 'lwprov']
const cases: Array<[string, () => string[], string]> = [
  ['--endpoints FILE with --count', () => [...gen, '--endpoints', join(dir, 'names.txt'), '--count', '5', ...psk], 'E_ENDPOINT_SOURCE'],
  ['an absurd --count', () => [...gen, '--count', '99999999999999', '--endpoint', 'x-{seq}', ...psk], 'E_COUNT_TOO_LARGE'],
  ['--count above the maximum', () => [...gen, '--count', '100001', '--endpoint', 'x-{seq}', ...psk], 'E_COUNT_TOO_LARGE'],
  ['a malformed endpoint template', () => [...gen, '--count', '1', '--endpoint', 'x-{seq', ...psk], 'E_TEMPLATE_INVALID'],
  ['a --server-ca with invalid base64', () => [...gen, '--count', '1', '--endpoint', 's-{seq}', '--mode', 'direct', '--security', 'cert', '--server', 'coaps://127.0.0.1:5684', '--server-ca', join(dir, 'bad.pem'), '--ca', ca, '--manifest', m], 'E_SERVER_CA_INVALID'],
  ['a DER blob that is not a certificate', () => [...gen, '--count', '1', '--endpoint', 's-{seq}', '--mode', 'direct', '--security', 'cert', '--server', 'coaps://127.0.0.1:5684', '--server-ca', join(dir, 'blob.der'), '--ca', ca, '--manifest', m], 'E_SERVER_CA_INVALID'],
  ['a non-CA --server-ca as trust anchor (usage 2)', () => [...gen, '--count', '1', '--endpoint', 's-{seq}', '--mode', 'direct', '--security', 'cert', '--server', 'coaps://127.0.0.1:5684', '--server-ca', join(dir, 'leaf.pem'), '--ca', ca, '--manifest', m], 'E_SERVER_CA_NOT_CA'],
  ['--account-id with a newline and a DN', () => [...gen, '--count', '1', '--endpoint', 'a-{seq}', '--mode', 'direct', '--security', 'cert', '--server', 'coaps://127.0.0.1:5684', '--ca', ca, '--account-id', 'x\nCN=someone-else', '--manifest', m], 'E_IDENTITY_INVALID'],
  ['--days beyond 100 years', () => [...gen, '--count', '1', '--endpoint', 'd-{seq}', '--mode', 'direct', '--security', 'cert', '--server', 'coaps://127.0.0.1:5684', '--ca', ca, '--days', '999999999', '--manifest', m], 'E_DAYS_INVALID'],
  ['ca create --days 999999999', () => ['ca', 'create', '--name', 'Too Long', '--out', join(dir, 'ca-long'), '--days', '999999999'], 'E_DAYS_INVALID'],
  ['manifest expiring --within 99999999999y', () => ['manifest', 'expiring', '--within', '99999999999y', '--manifest', m], 'E_DURATION_INVALID'],
  ['manifest list --since year 99999', () => ['manifest', 'list', '--since', '99999-01-01', '--manifest', m], 'E_DATE_INVALID'],
  ['batch create --expires-on in the past', () => ['batch', 'create', '--name', 'WO-PAST', '--endpoint', 'p-{seq}', '--count', '2', '--expires-on', '2020-01-01', '--manifest', m], 'E_WINDOW_PAST'],
  ['batch create --count above the maximum', () => ['batch', 'create', '--name', 'WO-BIG', '--endpoint', 'b-{seq}', '--count', '99999999999', '--manifest', m], 'E_COUNT_TOO_LARGE'],
  ['inject with a malformed template', () => [...inj, '--endpoint', 'x-{serial', ...psk], 'E_TEMPLATE_INVALID'],
  ['inject --baud 0', () => [...inj, '--endpoint', 'x-{serial}', '--baud', '0', ...psk], 'E_BAUD_INVALID'],
  ['inject cert without --ca', () => [...inj, '--endpoint', 'x-{serial}', '--mode', 'direct', '--security', 'cert', '--server', 'coaps://127.0.0.1:5684', '--manifest', m], 'E_CA_REQUIRED'],
  ['inject --device-keygen with psk', () => [...inj, '--endpoint', 'x-{serial}', '--device-keygen', ...psk], 'E_KEYGEN_NEEDS_CERT'],
  ['inject --station with an escape sequence', () => [...inj, '--endpoint', 'x-{serial}', '--station', 'st\u001b[2J', ...psk], 'E_IDENTITY_INVALID'],
  ['station --baud 0', () => ['station', '--ports', noPort, '--protocol', 'lwprov', '--endpoint', 'x-{serial}', '--baud', '0', ...psk], 'E_BAUD_INVALID'],
  ['station --station with a newline', () => ['station', '--ports', noPort, '--protocol', 'lwprov', '--endpoint', 'x-{serial}', '--station', 'a\nb', ...psk], 'E_IDENTITY_INVALID'],
  ['sim --link at an existing regular file', () => ['sim', '--protocol', 'lwprov', '--link', join(dir, 'regular-file')], 'E_LINK_EXISTS'],
  ['sim --link in a missing directory', () => ['sim', '--protocol', 'lwprov', '--link', join(dir, 'missing', 'dev0')], 'E_LINK_INVALID'],
]

describe('bad input is refused up front (e2e)', () => {
  it.each(cases)('%s', async (_name, args, code) => {
    const before = snapshot()
    const r = await runCli([...args(), '--json'], { env })
    expect(r.code, r.stdout + r.stderr).toBe(2)
    expect(r.json?.status).toBe(2)
    expect(r.json.error.code).toBe(code)
    expect(r.json.error.hint).toBeTruthy()
    expect(r.stderr).not.toMatch(/\n\s+at .+\(.*:\d+:\d+\)|Traceback/)
    expect(snapshot()).toEqual(before)
    expect(existsSync(join(dir, 'ca-long'))).toBe(false)
  })

  it('a human run escapes what it quotes (no raw escape sequence reaches the terminal)', async () => {
    const r = await runCli([...inj, '--endpoint', 'x-{serial}', '--station', 'st\u001b[2J', ...psk], { env })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('E_IDENTITY_INVALID')
    expect(r.stderr).not.toContain('\u001b[2J')
    expect(r.stderr).toContain('\\x1b[2J')
  })
})
