/**
 * Field devices end to end through the CLI: `lwprov sim --protocol zephyr-shell|nrf-at|mcumgr` processes on PTYs,
 * `lwprov inject` per protocol (PSK and certificates), `lwprov ports --probe` naming each protocol and device, and
 * one `lwprov station --protocol auto` run provisioning six mixed ports (two of each) with every row verified.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

import type { ManifestRecord, ManifestStore } from '../../src/core/manifest/types.js'
import { runCli, tempDir } from '../helpers/cli.js'
import { cleanupSims, spawnSim } from '../helpers/pty.js'

const dir = tempDir('lwprov-e2e-field-')
const env = { LWPROV_MASTER_KEY: randomBytes(32).toString('hex'), LWPROV_CA_PASSPHRASE: 'e2e-field-passphrase' }
const PROTOCOLS = ['zephyr-shell', 'nrf-at', 'mcumgr'] as const
// Anjay's 15 s end-of-file wait shortened for the test (the default is the firmware's)
const simArgs = (p: string, link: string) => ['--protocol', p, '--link', link, ...(p === 'mcumgr' ? ['--smp-idle-ms', '300'] : [])]

async function rowsOf(db: string): Promise<ManifestRecord[]> {
  const { openManifest } = (await import('../../src/core/manifest/open.js')) as { openManifest: (l: string) => Promise<ManifestStore> }
  const store = await openManifest(db)
  const out: ManifestRecord[] = []
  for await (const r of store.list({})) out.push(r)
  await store.close()
  return out
}

afterAll(async () => cleanupSims())

describe('field devices (e2e)', () => {
  it('inject: each protocol takes PSK and certificate credentials, verified', async () => {
    const db = join(dir, 'inject.db')
    const ca = join(dir, 'ca')
    const made = await runCli(['ca', 'create', '--name', 'Field E2E CA', '--out', ca, '--json'], { env, timeoutMs: 120_000 })
    expect(made.code).toBe(0)
    for (const p of PROTOCOLS) {
      for (const sec of ['psk', 'cert'] as const) {
        const link = join(dir, `${p}-${sec}`)
        await spawnSim(simArgs(p, link))
        const r = await runCli(
          ['inject', '--port', link, '--protocol', p, '--endpoint', `e2e-${p}-${sec}`, '--mode', 'direct', '--security', sec, '--psk-bytes', '16', '--server', 'coaps://127.0.0.1:5684', '--manifest', db, '--json', ...(sec === 'cert' ? ['--ca', ca] : [])],
          { env, timeoutMs: 120_000 },
        )
        expect(r.code, r.stderr).toBe(0)
        expect(r.json.result).toMatchObject({ endpoint: `e2e-${p}-${sec}`, status: 'verified', protocol: p })
      }
    }
    const rows = await rowsOf(db)
    expect(rows.filter((r) => r.status === 'verified')).toHaveLength(6)
  })

  it('ports --probe names the protocol and the device on each port', async () => {
    const links = PROTOCOLS.map((p) => join(dir, `probe-${p}`))
    for (const [i, p] of PROTOCOLS.entries()) await spawnSim([...simArgs(p, links[i]!), '--serial', `PROBE-${i}`])
    const r = await runCli(['ports', '--probe', ...links.flatMap((l) => ['--port', l]), '--json'], { env, timeoutMs: 60_000 })
    expect(r.code, r.stderr).toBe(0)
    const found = r.json.result as { path: string; protocol: string; serial?: string; imei?: string }[]
    expect(found.map((f) => f.protocol)).toEqual([...PROTOCOLS])
    expect(found[0]!.serial).toBe(Buffer.from('PROBE-0').toString('hex'))
    expect(found[1]!.imei).toMatch(/^\d{15}$/)
    expect(found[2]!.serial).toBe('anjay-zephyr-demo-PROBE-2')
  })

  it('station --protocol auto provisions six mixed ports (two of each protocol) in one run', async () => {
    const db = join(dir, 'station.db')
    const ports: string[] = []
    for (const p of [...PROTOCOLS, ...PROTOCOLS]) {
      const link = join(dir, `st-${ports.length}`)
      await spawnSim(simArgs(p, link))
      ports.push(link)
    }
    const r = await runCli(
      ['station', '--ports', ports.join(','), '--protocol', 'auto', '--endpoint', 'auto-{seq:03}', '--count', '6', '--mode', 'direct', '--security', 'psk', '--psk-bytes', '16', '--server', 'coaps://127.0.0.1:5684', '--manifest', db, '--yes', '--json'],
      { env, timeoutMs: 300_000 },
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.result.verified).toBe(6)
    const rows = await rowsOf(db)
    expect(rows.map((x) => x.status)).toEqual(Array(6).fill('verified'))
    expect(new Set(rows.map((x) => x.endpoint)).size).toBe(6)
  })
})
