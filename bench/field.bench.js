// field-device benchmark: per-device injection wall time for zephyr-shell, nrf-at and mcumgr through the real
// serialport binding into `lwprov sim` over a PTY paced to 115200 baud in both directions, certificate bootstrap account
// with a server CA. Two ratios, both reported: wall time / wire time of the bytes the protocol really sent (its own
// traffic: commands, escapes, echo-paced typing, base64 framing), and wall time / wire time of the credential payload
// (the SenML-CBOR of the same account, the baseline of inject.bench.js). Anjay's factory provisioning waits 15 s
// without data before it applies the file (firmware behaviour): measured once, apart, with the simulator's default.
// Run `npx tsc -p tsconfig.json` first (npm run bench does).
import 'reflect-metadata'

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { openSerialLink } from '../dist/adapters/serial-link.js'
import { startSimulator } from '../dist/adapters/sim-runner.js'
import { protocolByName } from '../dist/core/inject/index.js'
import { openManifest } from '../dist/core/manifest/open.js'
import { injectOne } from '../dist/core/inject/session.js'
import { DEFAULT_PROFILE } from '../dist/core/model.js'
import { buildLwm2mConfig, encodeSenmlCbor } from '../dist/core/lwm2m/index.js'
import { createCa, loadCa, writeCaDir } from '../dist/core/pki/index.js'

const BAUD = 115200
const DEVICES = Number(process.env.FIELD_BENCH_DEVICES ?? 5)
const TARGET = 2

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwprov-bench-field-'))
const made = await createCa({ name: 'Bench CA', keyType: 'ec-p256', days: 3650 })
writeCaDir(path.join(dir, 'ca'), made, 'bench-passphrase-0001')
const ca = await loadCa(path.join(dir, 'ca'), 'bench-passphrase-0001')
const serverCa = await createCa({ name: 'Bench Server CA', keyType: 'ec-p256', days: 3650 })
const { X509Certificate } = await import('node:crypto')
const serverCaDer = Buffer.from(new X509Certificate(serverCa.certPem).raw)
const store = await openManifest(path.join(dir, 'bench.db'), { migrate: true })
const profile = { ...DEFAULT_PROFILE, mode: 'bootstrap', security: 'cert', serverUri: 'coaps://bootstrap.example.com:5684', serverCaDer }
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ms = (bytes) => (bytes * 10 * 1000) / BAUD

/** Injects `n` devices (plus 1 warm-up) on one renewing simulator; returns medians. */
let runs = 0
async function run(name, { n = DEVICES, deviceOptions = {}, protocolOptions = {} } = {}) {
  const tag = `${name}-r${runs++}`
  const walls = []
  const sent = []
  const recv = []
  const payloads = []
  for (let i = 0; i < n + 1; i++) {
    // a new board per device (started outside the measurement)
    const sim = await startSimulator({ protocol: name, link: path.join(dir, `${tag}-${i}`), baud: BAUD, paceReplies: true, serial: `B-${tag}-${i}`, deviceOptions })
    try {
      const count = { tx: 0, rx: 0 }
      let creds
      const t0 = performance.now()
      await injectOne({
        connect: async () => {
          const l = await openSerialLink(sim.link)
          l.onData((c) => (count.rx += c.length))
          return { description: l.description, write: (d) => ((count.tx += d.length), l.write(d)), onData: (f) => l.onData(f), onClose: (f) => l.onClose(f), flushInput: () => l.flushInput(), close: () => l.close() }
        },
        protocol: protocolByName(name, protocolOptions),
        store,
        ca,
        profile,
        endpoint: `bench-${tag}-${String(i).padStart(4, '0')}`,
        retries: 0,
        hooks: process.env.DEBUG_FIELD ? { onStep: (st, d) => console.error(i, st, d ?? ''), onRetry: (a, e) => console.error('retry', a, e.message) } : {},
        generate: async (eps, p, o) => {
          const { generateCredentialSets } = await import('../dist/core/credentials/generate.js')
          const out = await generateCredentialSets(eps, p, o)
          creds = out[0]
          return out
        },
      })
      const wall = performance.now() - t0
      if (i === 0) continue
      walls.push(wall)
      sent.push(count.tx)
      recv.push(count.rx)
      payloads.push(encodeSenmlCbor(buildLwm2mConfig(creds)).length)
    } finally {
      await sim.close()
    }
  }
  return { wall: median(walls), tx: median(sent), rx: median(recv), payload: median(payloads) }
}

const rows = []
try {
  rows.push(['zephyr-shell', await run('zephyr-shell')])
  rows.push(['zephyr-shell (no -crc32, hex dumps)', await run('zephyr-shell', { deviceOptions: { crc32: false } })])
  rows.push(['nrf-at (raw AT)', await run('nrf-at')])
  rows.push(['nrf-at (at shell)', await run('nrf-at', { deviceOptions: { shell: true } })])
  rows.push(['mcumgr (littlefs, fs hash)', await run('mcumgr', { deviceOptions: { anjay: false }, protocolOptions: { smpPath: '/lfs/provision.cbor' } })])
  rows.push(['mcumgr (Anjay, 15 s end-of-file wait)', await run('mcumgr', { n: 1 })])
} finally {
  await store.close()
  fs.rmSync(dir, { recursive: true, force: true })
}
for (const [name, r] of rows) {
  // full duplex: the wire is busy for the longer direction
  const own = ms(Math.max(r.tx, r.rx))
  console.log(
    `field ${name}: median ${r.wall.toFixed(0)} ms; sent ${r.tx} B, received ${r.rx} B (wire ${own.toFixed(0)} ms) -> wall/own-wire ${(r.wall / own).toFixed(2)}; ` +
      `credential payload ${r.payload} B (wire ${ms(r.payload).toFixed(0)} ms) -> wall/payload-wire ${(r.wall / ms(r.payload)).toFixed(2)} (target <= ${TARGET} for certificates)`,
  )
}
