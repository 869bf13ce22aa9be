// inject benchmark: per-device injection wall time (connect → identify → generate → write → commit → read-back →
// manifest verified) through the real serialport binding into `lwprov sim` over a PTY whose reads are paced to
// 115200 baud, divided by the wire time of the payload at that baud. The payload is the SenML-CBOR credential write
// (certificate bootstrap account with a server CA: the common factory case). Both numbers come from the same run.
// Run `npx tsc -p tsconfig.json` first (npm run bench does).
import 'reflect-metadata'

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { openSerialLink } from '../dist/adapters/serial-link.js'
import { startSimulator } from '../dist/adapters/sim-runner.js'
import { LwprovProtocol } from '../dist/core/inject/lwprov/index.js'
import { openManifest } from '../dist/core/manifest/open.js'
import { injectOne } from '../dist/core/inject/session.js'
import { DEFAULT_PROFILE } from '../dist/core/model.js'
import { createCa, loadCa, writeCaDir } from '../dist/core/pki/index.js'

const BAUD = 115200
const DEVICES = Number(process.env.INJECT_BENCH_DEVICES ?? 20)
const TARGET = 1.3

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwprov-bench-inject-'))
const made = await createCa({ name: 'Bench CA', keyType: 'ec-p256', days: 3650 })
writeCaDir(path.join(dir, 'ca'), made, 'bench-passphrase-0001')
const ca = await loadCa(path.join(dir, 'ca'), 'bench-passphrase-0001')
const serverCa = await createCa({ name: 'Bench Server CA', keyType: 'ec-p256', days: 3650 })
const { X509Certificate } = await import('node:crypto')
const serverCaDer = Buffer.from(new X509Certificate(serverCa.certPem).raw)
const store = await openManifest(path.join(dir, 'bench.db'), { migrate: true })
const profile = { ...DEFAULT_PROFILE, mode: 'bootstrap', security: 'cert', serverUri: 'coaps://bootstrap.example.com:5684', serverCaDer }

// --renew: after each provisioning the board is "unplugged" and the next one appears (new serial, new PTY).
const sim = await startSimulator({ protocol: 'lwprov', link: path.join(dir, 'dev'), baud: BAUD, serial: 'BENCH-0001', renew: true })
const ratios = []
const walls = []
let payload = 0
try {
  for (let i = 0; i < DEVICES + 2; i++) {
    let total = 0
    const tty = fs.readlinkSync(sim.link)
    const t0 = performance.now()
    await injectOne({
      connect: () => openSerialLink(sim.link),
      protocol: new LwprovProtocol(),
      store,
      ca,
      profile,
      endpoint: `bench-${String(i).padStart(4, '0')}`,
      retries: 0,
      hooks: { onProgress: (_w, t) => (total = t) },
    })
    const wall = performance.now() - t0
    // Wait (outside the measurement) for the next board to appear.
    for (let w = 0; w < 200 && (!fs.existsSync(sim.link) || fs.readlinkSync(sim.link) === tty); w++) await new Promise((r) => setTimeout(r, 5))
    // The first two warm up the JIT, the serialport binding and the SQLite statements.
    if (i < 2) continue
    payload = total
    const wire = (total * 10 * 1000) / BAUD
    walls.push(wall)
    ratios.push(wall / wire)
  }
} finally {
  await sim.close()
  await store.close()
  fs.rmSync(dir, { recursive: true, force: true })
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const wire = (payload * 10 * 1000) / BAUD
console.log(`inject: payload ${payload} bytes, wire time at ${BAUD} baud ${wire.toFixed(1)} ms, median injection ${median(walls).toFixed(1)} ms (${DEVICES} devices)`)
console.log(`inject: wall time / payload wire time ${median(ratios).toFixed(2)} (target <= ${TARGET})`)
