// station benchmark: devices per minute through the real station runner + inject session + serialport binding on
// PTYs, with simulated devices paced at 115200 baud that renew (new serial, new PTY) after each provisioning.
// One port, then 8 ports in parallel, in the same run; the ratio is the parallel speed-up (target >= 7x).
// Run `npx tsc -p tsconfig.json` first (npm run bench does).
import 'reflect-metadata'

import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { openSerialLink } from '../dist/adapters/serial-link.js'
import { portIdentity, probe } from '../dist/cli/station-ports.js'
import { LwprovProtocol } from '../dist/core/inject/lwprov/index.js'
import { injectOne } from '../dist/core/inject/session.js'
import { openManifest } from '../dist/core/manifest/open.js'
import { createCa, loadCa, writeCaDir } from '../dist/core/pki/index.js'
import { DEFAULT_PROFILE } from '../dist/core/model.js'
import { createWorkOrder } from '../dist/core/station/batch.js'
import { runStation } from '../dist/core/station/runner.js'

const PER_PORT = Number(process.env.STATION_BENCH_PER_PORT ?? 20)
const BAUD = 115200
const dir = mkdtempSync(join(tmpdir(), 'lwprov-bench-station-'))
const masterKey = Buffer.alloc(32, 9)
// Certificate credentials by default (what a production line injects: ~1 KB over the wire); STATION_BENCH_SECURITY=psk
// for the small-payload case.
const SECURITY = process.env.STATION_BENCH_SECURITY ?? 'cert'
const profile = { ...DEFAULT_PROFILE, mode: 'direct', security: SECURITY, serverUri: 'coaps://lwm2m.example.com:5684' }
let ca

/** A factory CA written to disk and loaded the way `--ca DIR` does. */
async function loadBenchCa() {
  const made = await createCa({ name: 'Bench Station CA', keyType: 'ec-p256', days: 3650 })
  await writeCaDir(join(dir, 'ca'), made, 'bench-passphrase')
  return loadCa(join(dir, 'ca'), 'bench-passphrase')
}

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js')

/**
 * A simulated device in its own process (`lwprov sim --renew --baud 115200`), as real devices are not in the
 * station's event loop; resolves at its ready line.
 */
function startSim(link, serial) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, 'sim', '--protocol', 'lwprov', '--link', link, '--serial', serial, '--renew', '--baud', String(BAUD), '--json'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    let out = ''
    proc.stdout.on('data', (d) => {
      out += d
      if (out.includes('\n')) resolve({ close: () => new Promise((r) => (proc.once('exit', r), proc.kill('SIGTERM'))) })
    })
    proc.once('exit', (code) => reject(new Error(`sim ${serial} exited ${code}`)))
  })
}

async function measure(ports, label, perPort = PER_PORT) {
  const store = await openManifest(join(dir, `${label}.db`), { migrate: true })
  const sims = []
  const links = []
  for (let i = 0; i < ports; i++) {
    const link = join(dir, `${label}-p${i}`)
    sims.push(await startSim(link, `B${label}${i}-00000`))
    links.push(link)
  }
  const count = ports * perPort
  await createWorkOrder(store, { name: `WO-${label}`, count, template: `urn:dev:os:320973-B${label}{seq:05}`, now: new Date() })
  const protocol = new LwprovProtocol()
  const r = await runStation({
    ports: links,
    count,
    connect: (p) => openSerialLink(p, { baud: BAUD }),
    portIdentity: async (p) => portIdentity(p),
    probeDevice: (p) => probe(protocol, p, BAUD),
    inject: (_p, connect, hooks) => injectOne({ connect, protocol, store, profile, masterKey, ...(ca ? { ca } : {}), batch: `WO-${label}`, station: 'bench', retries: 1, hooks }),
  })
  for (const s of sims) await s.close()
  const verified = await store.count({ batch: `WO-${label}`, status: 'verified' })
  await store.close()
  if (verified !== count || r.failed > 0) throw new Error(`${label}: ${verified}/${count} verified, ${r.failed} failed: ${JSON.stringify(r.failures.slice(0, 3))}`)
  return (verified / r.elapsedMs) * 60_000
}

try {
  if (SECURITY === 'cert') ca = await loadBenchCa()
  // Warm-up (JIT, first certificate, prepared statements) so the 1-port figure is not charged for it; then each
  // configuration twice, alternating, keeping the faster: other load on a shared machine only ever slows a run down.
  await measure(1, 'warm', 3)
  const one = Math.max(await measure(1, 'one'), await measure(1, 'one2'))
  const eight = Math.max(await measure(8, 'eight'), await measure(8, 'eight2'))
  const ratio = eight / one
  console.log(`station: devices/min on 1 port ${one.toFixed(0)} (115200 baud, ${SECURITY}, ${PER_PORT} devices)`)
  console.log(`station: devices/min on 8 ports ${eight.toFixed(0)} (${8 * PER_PORT} devices)`)
  console.log(`station: 8-port speed-up ${ratio.toFixed(2)}x (target >= 7)`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
