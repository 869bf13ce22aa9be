import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll, describe, expect, it } from 'vitest'

import { validateEndpointRequest } from '../../../src/core/credentials/endpoints.js'
import { csvField, csvUnguard } from '../../../src/core/manifest/export/rows.js'
import {
  checkBaud,
  checkCount,
  checkDays,
  checkDeviceIdentity,
  checkIdentityFlag,
  checkServerCa,
  csvSafe,
  MAX_COUNT,
  MAX_DAYS,
  parseDate,
  parseDuration,
  shown,
} from '../../../src/core/validate/index.js'

const codeOf = (fn: () => unknown): { code: string; exitCode: number } | undefined => {
  try {
    fn()
  } catch (e) {
    return { code: (e as { code: string }).code, exitCode: (e as { exitCode: number }).exitCode }
  }
  return undefined
}

describe('bounds', () => {
  it('counts: 1..MAX_COUNT, anything else a usage error', () => {
    expect(checkCount(1)).toBe(1)
    expect(checkCount(MAX_COUNT)).toBe(MAX_COUNT)
    expect(codeOf(() => checkCount(MAX_COUNT + 1))).toEqual({ code: 'E_COUNT_TOO_LARGE', exitCode: 2 })
    expect(codeOf(() => checkCount(99999999999999))).toEqual({ code: 'E_COUNT_TOO_LARGE', exitCode: 2 })
    for (const n of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(codeOf(() => checkCount(n))?.code).toBe('E_COUNT_INVALID')
  })

  it('--endpoints with --count or --start is a conflict; absurd counts are refused before anything else', () => {
    expect(codeOf(() => validateEndpointRequest({ hasNames: true, count: 5 }))).toEqual({ code: 'E_ENDPOINT_SOURCE', exitCode: 2 })
    expect(codeOf(() => validateEndpointRequest({ hasNames: true, start: 5 }))?.code).toBe('E_ENDPOINT_SOURCE')
    expect(codeOf(() => validateEndpointRequest({ hasNames: true, template: 'a-{seq}' }))?.code).toBe('E_ENDPOINT_SOURCE')
    expect(codeOf(() => validateEndpointRequest({ template: 'a-{seq}', count: 1e12 }))?.code).toBe('E_COUNT_TOO_LARGE')
    expect(codeOf(() => validateEndpointRequest({ template: 'a-{seq', count: 1 }))).toEqual({ code: 'E_TEMPLATE_INVALID', exitCode: 2 })
    expect(codeOf(() => validateEndpointRequest({ names: Array.from({ length: MAX_COUNT + 1 }, (_, i) => `n${i}`) }))?.code).toBe('E_COUNT_TOO_LARGE')
    expect(codeOf(() => validateEndpointRequest({ template: 'a-{seq}', count: 3 }))).toBeUndefined()
  })

  it('days, durations and dates are bounded', () => {
    expect(checkDays(MAX_DAYS)).toBe(MAX_DAYS)
    expect(codeOf(() => checkDays(999999999))).toEqual({ code: 'E_DAYS_INVALID', exitCode: 2 })
    expect(codeOf(() => checkDays(0))?.code).toBe('E_DAYS_INVALID')
    expect(parseDuration('90d', '--within')).toBe(90 * 86400e3)
    expect(parseDuration('2', '--within')).toBe(2 * 86400e3)
    for (const t of ['99999999999y', '101y', '1e9d', 'abc', '', '-1d']) expect(codeOf(() => parseDuration(t, '--within'))?.code, t).toBe('E_DURATION_INVALID')
    expect(parseDate('2026-12-01', '--expires-on').toISOString()).toBe('2026-12-01T00:00:00.000Z')
    expect(parseDate('2026-12-01T08:00:00Z', '--x').toISOString()).toBe('2026-12-01T08:00:00.000Z')
    for (const t of ['tomorrow', '99999-01-01', '1900-01-01', '2026-13-45', '']) expect(codeOf(() => parseDate(t, '--x'))?.code, t).toBe('E_DATE_INVALID')
    expect(codeOf(() => checkBaud(0))).toEqual({ code: 'E_BAUD_INVALID', exitCode: 2 })
    expect(checkBaud(115200)).toBe(115200)
  })
})

describe('identity fields', () => {
  it('accepts ordinary serials, stations and account ids', () => {
    for (const v of ['SIM-0001', 'line 3/station A', '0123456789abcdef0123456789abcdef', 'sn:00:11:22', 'a@b.c', 'x(1),y#2+z']) expect(checkIdentityFlag(v, '--x')).toBe(v)
  })

  it('refuses control characters, DN/CSV syntax, non-ASCII and overlong values with the flag named', () => {
    for (const v of ["x\nCN=someone-else", 'st\u001b[2J', 'a=b', 'a;b', 'a"b', "a'b", 'a\\b', 'ä', 'x'.repeat(65), ' padded', '', 'a\u202eb']) {
      const e = codeOf(() => checkIdentityFlag(v, '--account-id'))
      expect(e, JSON.stringify(v)).toEqual({ code: 'E_IDENTITY_INVALID', exitCode: 2 })
    }
  })

  it('a device reporting an invalid identity is a device error (exit 4); absent values pass', () => {
    expect(codeOf(() => checkDeviceIdentity('EVIL\u001b[2J', 'serial', '/dev/x'))).toEqual({ code: 'E_DEVICE_IDENTITY_INVALID', exitCode: 4 })
    expect(checkDeviceIdentity(undefined, 'serial', '/dev/x')).toBeUndefined()
    expect(checkDeviceIdentity('SIM-1', 'serial', '/dev/x')).toBe('SIM-1')
  })
})

describe('escaping', () => {
  it('shown() makes every terminal control visible and leaves printable text alone', () => {
    expect(shown('EVIL\u001b[2J\u001b[1;1H')).toBe('EVIL\\x1b[2J\\x1b[1;1H')
    expect(shown('a\nb\rc\u0007\u009b\u007f')).toBe('a\\x0ab\\x0dc\\x07\\x9b\\x7f')
    expect(shown('rtl\u202eexe.txt')).toBe('rtl\\u{202e}exe.txt')
    expect(shown('urn:dev:ops:Ärger-✓')).toBe('urn:dev:ops:Ärger-✓')
    expect(shown(null)).toBe('')
    expect(shown('x\u001by')).not.toMatch(/\u001b/)
  })

  it('CSV cells that a spreadsheet would evaluate are neutralised, and import takes the guard off', () => {
    for (const v of ['=HYPERLINK("x")', '+1', '-2+3', '@SUM(A1)', '\tx', '\rx']) {
      expect(csvSafe(v).startsWith("'")).toBe(true)
      const field = csvField(v)
      const cell = field.startsWith('"') ? field.slice(1, -1).replace(/""/g, '"') : field
      expect(csvUnguard(cell)).toBe(v)
    }
    expect(csvField('plain')).toBe('plain')
    expect(csvField(-5)).toBe('-5') // numbers are data, not text a user typed
    const pem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'
    expect(csvField(pem)).toBe(`"${pem}"`)
  })
})

describe('--server-ca', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lwprov-srvca-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const make = (name: string, ca: boolean, days: number) => {
    const key = join(dir, `${name}.key`)
    const crt = join(dir, `${name}.pem`)
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt, '-subj', `/CN=${name}`, '-days', String(days), '-addext', `basicConstraints=critical,CA:${ca ? 'TRUE' : 'FALSE'}`], { stdio: 'ignore' })
    const pem = readFileSync(crt, 'latin1')
    return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64')
  }

  it('garbage and DER-looking blobs are not certificates', () => {
    expect(codeOf(() => checkServerCa(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]), 2, 'x.der', new Date()))).toEqual({ code: 'E_SERVER_CA_INVALID', exitCode: 2 })
    expect(codeOf(() => checkServerCa(Buffer.from('not a cert'), 3, 'x.der', new Date()))?.code).toBe('E_SERVER_CA_INVALID')
  })

  it('usage 0/2 need CA:TRUE, usage 1/3 take any certificate; subject and expiry are reported', () => {
    const ca = make('Server Root', true, 30)
    const leaf = make('server.example.com', false, 30)
    const info = checkServerCa(ca, 2, 'ca.pem', new Date())
    expect(info).toMatchObject({ isCa: true, expired: false })
    expect(info.subject).toContain('CN=Server Root')
    expect(codeOf(() => checkServerCa(leaf, 2, 'leaf.pem', new Date()))).toEqual({ code: 'E_SERVER_CA_NOT_CA', exitCode: 2 })
    expect(codeOf(() => checkServerCa(leaf, 0, 'leaf.pem', new Date()))?.code).toBe('E_SERVER_CA_NOT_CA')
    expect(checkServerCa(leaf, 3, 'leaf.pem', new Date()).isCa).toBe(false)
    expect(checkServerCa(leaf, 1, 'leaf.pem', new Date()).isCa).toBe(false)
    expect(checkServerCa(ca, 2, 'ca.pem', new Date(Date.now() + 60 * 86400e3)).expired).toBe(true)
  })
})
