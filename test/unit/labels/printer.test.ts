import { mkdtempSync, readdirSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'

import { afterAll, describe, expect, it } from 'vitest'

import { connectPrinter, parsePrinterUrl } from '../../../src/adapters/label-printer.js'
import { LwprovError } from '../../../src/core/errors.js'
import type { PrinterConnection } from '../../../src/core/labels/output.js'
import { perDeviceLabels } from '../../../src/core/labels/per-device.js'

const servers: Server[] = []
afterAll(() => {
  for (const s of servers) s.close()
})

async function recorder(): Promise<{ url: string; jobs: Buffer[] }> {
  const jobs: Buffer[] = []
  const server = createServer((sock) => {
    const chunks: Buffer[] = []
    sock.on('data', (d) => chunks.push(d))
    sock.on('end', () => {
      jobs.push(Buffer.concat(chunks))
      sock.end()
    })
  })
  servers.push(server)
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  return { url: `tcp://127.0.0.1:${(server.address() as { port: number }).port}`, jobs }
}

describe('label printer adapter', () => {
  it('parses tcp://HOST[:PORT] (9100 by default) and refuses anything else', () => {
    expect(parsePrinterUrl('tcp://zebra-1')).toEqual({ host: 'zebra-1', port: 9100 })
    expect(parsePrinterUrl('tcp://10.0.0.5:6101')).toEqual({ host: '10.0.0.5', port: 6101 })
    expect(parsePrinterUrl('tcp://[::1]:9100')).toEqual({ host: '::1', port: 9100 })
    for (const bad of ['http://x', 'tcp://', 'tcp://x:0', 'tcp://x:99999', 'tcp://a b']) {
      expect(() => parsePrinterUrl(bad)).toThrow(LwprovError)
    }
  })

  it('delivers every byte before close resolves; an unreachable printer is E_PRINTER_UNREACHABLE', async () => {
    const p = await recorder()
    const conn = await connectPrinter(p.url)
    const big = '^XA\n'.repeat(50_000)
    conn.stream.write(big)
    await conn.close()
    await expect.poll(() => p.jobs.length).toBe(1)
    expect(p.jobs[0]!.toString()).toBe(big)
    const dead = createServer()
    await new Promise<void>((res) => dead.listen(0, '127.0.0.1', res))
    const port = (dead.address() as { port: number }).port
    await new Promise((res) => dead.close(res))
    const e = await connectPrinter(`tcp://127.0.0.1:${port}`).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(LwprovError)
    expect((e as LwprovError).code).toBe('E_PRINTER_UNREACHABLE')
    expect((e as LwprovError).exitCode).toBe(5)
  })
})

describe('per-device labels (station hook)', () => {
  it('prints one ZPL label per verified device to the printer, in order', async () => {
    const p = await recorder()
    const warnings: string[] = []
    const labels = perDeviceLabels(p.url, { connect: (u) => connectPrinter(u), warn: (t) => warnings.push(t) })
    labels.onVerified({ endpoint: 'urn:dev:os:1', serial: 'SN1' })
    labels.onVerified({ endpoint: 'urn:dev:os:2', serial: 'SN2' })
    expect(await labels.flush()).toBe(2)
    await expect.poll(() => p.jobs.length).toBe(2)
    expect(p.jobs.map((j) => /\^FDMA,([^^]*)\^FS/.exec(j.toString())![1])).toEqual(['LW1;E:urn:dev:os:1;S:SN1', 'LW1;E:urn:dev:os:2;S:SN2'])
    expect(warnings).toEqual([])
  })

  it('a failed print warns and the next device still gets its label', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'per-device-'))
    const warnings: string[] = []
    let n = 0
    const connect = async (): Promise<PrinterConnection> => {
      if (n++ === 0) throw new LwprovError('E_PRINTER_UNREACHABLE', 'printer off')
      const stream = new PassThrough()
      stream.resume()
      return { stream, close: async () => undefined, destroy: () => undefined }
    }
    const viaPrinter = perDeviceLabels('tcp://printer:9100', { connect, warn: (t) => warnings.push(t) })
    viaPrinter.onVerified({ endpoint: 'a' })
    viaPrinter.onVerified({ endpoint: 'b' })
    expect(await viaPrinter.flush()).toBe(1)
    expect(warnings).toEqual(['No label for a: printer off'])
    const toDir = perDeviceLabels(join(dir, 'png'), { warn: (t) => warnings.push(t) })
    toDir.onVerified({ endpoint: 'urn:dev:os:9' })
    expect(await toDir.flush()).toBe(1)
    expect(readdirSync(join(dir, 'png'))).toEqual(['urn%3Adev%3Aos%3A9.png'])
  })
})
