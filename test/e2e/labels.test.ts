/**
 * Labels end to end through bin/run.js: every QR of every output is decoded (PDF via pdftoppm + jsQR per label cell,
 * PNG directly, ZPL structurally and from the bytes a loopback "printer" received), and every decoded claim code is
 * checked against the salted hash the manifest stored.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'

import { afterAll, describe, expect, it } from 'vitest'

import { builtinLayouts, loadLayout } from '../../src/core/labels/layout.js'
import { decodePayload } from '../../src/core/labels/payload.js'
import type { ManifestRecord, ManifestStore } from '../../src/core/manifest/types.js'
import { verifyClaimCode } from '../../src/core/station/claim-code.js'
import { runCli, tempDir } from '../helpers/cli.js'
import { cleanupSims, startSim } from '../helpers/pty.js'
import { decodePng, decodeSheet, pdfPages, readPng } from '../helpers/qr.js'

const dir = tempDir('lwprov-e2e-labels-')
const env = { LWPROV_MASTER_KEY: randomBytes(32).toString('hex') }
const creds = ['--mode', 'direct', '--security', 'psk', '--server', 'coaps://lwm2m.example.com:5684']

async function rowsOf(db: string, batch: string): Promise<Map<string, ManifestRecord>> {
  const { openManifest } = (await import('../../src/core/manifest/open.js')) as { openManifest: (l: string) => Promise<ManifestStore> }
  const store = await openManifest(db)
  const out = new Map<string, ManifestRecord>()
  for await (const r of store.list({ batch })) out.set(r.endpoint, r)
  await store.close()
  return out
}

async function createBatch(db: string, name: string, count: number, extra: string[]) {
  const r = await runCli(['batch', 'create', '--name', name, '--count', String(count), '--endpoint', `urn:dev:os:320973-${name}-{seq:04}`, ...creds, '--claim-codes', ...extra, '--manifest', db, '--json'], { env })
  return r
}

/** Every decoded payload names a reserved endpoint, in order, and its claim code verifies against the stored hash. */
async function expectClaimsVerify(db: string, batch: string, texts: string[], endpoints: string[]) {
  const rows = await rowsOf(db, batch)
  const decoded = texts.map((t) => decodePayload(t)!)
  expect(decoded.map((d) => d.endpoint)).toEqual(endpoints)
  for (const d of decoded) {
    expect(d.claim).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/)
    expect(verifyClaimCode(d.claim!, rows.get(d.endpoint)!.claimHash!)).toBe(true)
  }
  // and a wrong code does not
  expect(verifyClaimCode('0000-0000-0000', rows.get(endpoints[0]!)!.claimHash!)).toBe(false)
}

/** A loopback "printer": records every connection's bytes. */
async function fakePrinter(): Promise<{ url: string; jobs: Buffer[]; server: Server }> {
  const jobs: Buffer[] = []
  const server = createServer((sock) => {
    const chunks: Buffer[] = []
    sock.on('data', (d) => chunks.push(d))
    sock.on('end', () => {
      jobs.push(Buffer.concat(chunks))
      sock.end()
    })
  })
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  const port = (server.address() as { port: number }).port
  servers.push(server)
  return { url: `tcp://127.0.0.1:${port}`, jobs, server }
}
const servers: Server[] = []

afterAll(async () => {
  for (const s of servers) s.close()
  await cleanupSims()
})

describe('labels (e2e)', () => {
  it('batch create --labels x.pdf: a 0600 A4 sheet whose 30 QR codes decode, in order, to endpoint + a claim code that verifies', async () => {
    const db = join(dir, 'pdf.db')
    const pdf = join(dir, 'wo.pdf')
    const r = await createBatch(db, 'WOPDF', 30, ['--labels', pdf])
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.result).toMatchObject({ labels: pdf, labelFormat: 'pdf', reserved: 30 })
    expect(statSync(pdf).mode & 0o777).toBe(0o600)
    const layout = loadLayout('a4-3x8')
    const pages = pdfPages(pdf)
    expect(pages).toHaveLength(2)
    const cells = pages.flatMap((p) => decodeSheet(p, layout))
    expect(cells.slice(30).every((c) => c === undefined)).toBe(true)
    const texts = cells.slice(0, 30) as string[]
    await expectClaimsVerify(db, 'WOPDF', texts, r.json.result.endpoints)
    // the codes on the labels are the ones the run showed once
    expect(texts.map((t) => decodePayload(t)!.claim)).toEqual(r.json.result.claimCodes.map((c: { claimCode: string }) => c.claimCode))
  })

  it('lwprov labels reprints a batch in every built-in layout without claim codes', async () => {
    const db = join(dir, 'reprint.db')
    const r = await createBatch(db, 'WOREP', 5, [])
    expect(r.code, r.stderr).toBe(0)
    for (const name of builtinLayouts()) {
      const out = join(dir, `reprint-${name}.pdf`)
      const p = await runCli(['labels', '--batch', 'WOREP', '--out', out, '--label-layout', name, '--manifest', db, '--json'], { env })
      expect(p.code, p.stderr).toBe(0)
      expect(p.json.result).toMatchObject({ labels: 5, format: 'pdf', layout: name })
      const layout = loadLayout(name)
      const cells = pdfPages(out).flatMap((pg) => decodeSheet(pg, layout))
      const texts = cells.filter((c) => c !== undefined)
      expect(texts, name).toEqual(r.json.result.endpoints.map((e: string) => `LW1;E:${e}`))
    }
  })

  it('PNG: one 0600 image per device in a new directory; each QR decodes and its claim code verifies', async () => {
    const db = join(dir, 'png.db')
    const out = join(dir, 'png-labels/')
    const r = await createBatch(db, 'WOPNG', 4, ['--labels', out])
    expect(r.code, r.stderr).toBe(0)
    const files = readdirSync(out).sort()
    expect(files).toEqual(r.json.result.endpoints.map((e: string) => `${e.replace(/:/g, '%3A')}.png`))
    expect(statSync(out).mode & 0o777).toBe(0o700)
    const texts = files.map((f) => {
      expect(statSync(join(out, f)).mode & 0o777).toBe(0o600)
      return decodePng(readPng(join(out, f)))!
    })
    await expectClaimsVerify(db, 'WOPNG', texts, r.json.result.endpoints)
  })

  it('ZPL to a networked printer: the bytes it received hold one ^BQ label per device whose claim codes verify; reprints match the .zpl file', async () => {
    const db = join(dir, 'zpl.db')
    const printer = await fakePrinter()
    const r = await createBatch(db, 'WOZPL', 6, ['--printer', printer.url])
    expect(r.code, r.stderr).toBe(0)
    expect(printer.jobs).toHaveLength(1)
    const zpl = printer.jobs[0]!.toString('latin1')
    const labels = zpl.split('^XZ\n').filter((x) => x.trim())
    expect(labels).toHaveLength(6)
    for (const l of labels) {
      expect(l.startsWith('^XA\n')).toBe(true)
      expect(l.match(/\^BQN,2,\d+\^FDMA,/g)).toHaveLength(1)
    }
    const texts = labels.map((l) => /\^FDMA,([^^]*)\^FS/.exec(l)![1]!)
    await expectClaimsVerify(db, 'WOZPL', texts, r.json.result.endpoints)
    // the claim code is also printed as text
    for (const t of texts) expect(zpl).toContain(`^FH^FD${decodePayload(t)!.claim}^FS`)

    const file = join(dir, 'reprint.zpl')
    const f = await runCli(['labels', '--batch', 'WOZPL', '--label-format', 'zpl', '--out', file, '--manifest', db], { env })
    expect(f.code, f.stderr).toBe(0)
    const p = await runCli(['labels', '--batch', 'WOZPL', '--printer', printer.url, '--manifest', db, '--json'], { env })
    expect(p.code, p.stderr).toBe(0)
    expect(printer.jobs).toHaveLength(2)
    expect(printer.jobs[1]!.equals(readFileSync(file))).toBe(true)
    expect(readFileSync(file, 'latin1').match(/\^BQ/g)).toHaveLength(6)
    expect(readFileSync(file, 'latin1')).not.toMatch(/;C:/)
  })

  it('--claim-url puts the URL in the QR', async () => {
    const db = join(dir, 'url.db')
    const out = join(dir, 'url.pdf')
    const r = await createBatch(db, 'WOURL', 2, ['--labels', out, '--claim-url', 'https://claim.example.com/?c={claim}'])
    expect(r.code, r.stderr).toBe(0)
    const texts = pdfPages(out).flatMap((p) => decodeSheet(p, loadLayout('a4-3x8'))).filter(Boolean)
    expect(texts).toEqual(r.json.result.claimCodes.map((c: { claimCode: string }) => `https://claim.example.com/?c=${c.claimCode}`))
  })

  it('refuses before anything is recorded: an existing labels file (without --force), an unreachable printer, an unknown format', async () => {
    const db = join(dir, 'refuse.db')
    const existing = join(dir, 'existing.pdf')
    writeFileSync(existing, 'keep me')
    const a = await createBatch(db, 'WOREF', 2, ['--labels', existing])
    expect(a.code).toBe(2)
    expect(a.json.error.code).toBe('E_OUTPUT_EXISTS')
    expect(readFileSync(existing, 'utf8')).toBe('keep me')
    const dead = await fakePrinter()
    await new Promise((res) => dead.server.close(res))
    const b = await createBatch(db, 'WOREF', 2, ['--printer', dead.url])
    expect(b.code).toBe(5)
    expect(b.json.error.code).toBe('E_PRINTER_UNREACHABLE')
    const c = await createBatch(db, 'WOREF', 2, ['--labels', join(dir, 'labels.txt')])
    expect(c.json.error.code).toBe('E_LABEL_FORMAT_UNKNOWN')
    // the output is checked before the manifest is even opened: nothing was recorded anywhere
    expect(existsSync(db)).toBe(false)
    // with --force the file is replaced, still 0600
    const d = await createBatch(db, 'WOREF', 2, ['--labels', existing, '--force'])
    expect(d.code, d.stderr).toBe(0)
    expect(statSync(existing).mode & 0o777).toBe(0o600)
    expect(readFileSync(existing).subarray(0, 5).toString()).toBe('%PDF-')
    // never the manifest, not even with --force
    const before = readFileSync(db)
    const m = await createBatch(db, 'WOMAN', 2, ['--labels', db, '--label-format', 'pdf', '--force'])
    expect(m.json.error.code).toBe('E_OUTPUT_PROTECTED')
    expect(readFileSync(db).equals(before)).toBe(true)
  })

  it('station --labels-per-device DIR writes a PNG for each device as it verifies (endpoint + serial in the QR)', async () => {
    const db = join(dir, 'station.db')
    const sim = await startSim({ protocol: 'lwprov', serial: 'LBLSIM-0001', link: join(dir, 'st-p0') })
    const b = await runCli(['batch', 'create', '--name', 'WOST', '--count', '2', '--endpoint', 'urn:dev:os:320973-ST{seq:03}', '--manifest', db], { env })
    expect(b.code, b.stderr).toBe(0)
    const out = join(dir, 'station-labels')
    const r = await runCli(['station', '--ports', sim.link!, '--protocol', 'lwprov', '--batch', 'WOST', '--count', '1', ...creds, '--labels-per-device', out, '--manifest', db, '--json'], {
      env,
      timeoutMs: 60_000,
    })
    expect(r.code, r.stderr + r.stdout).toBe(0)
    const endpoint = r.json.result.endpoints[0] as string
    expect(readdirSync(out)).toEqual([`${endpoint.replace(/:/g, '%3A')}.png`])
    expect(decodePayload(decodePng(readPng(join(out, readdirSync(out)[0]!)))!)).toEqual({ version: 1, endpoint, serial: 'LBLSIM-0001' })
  })
})
