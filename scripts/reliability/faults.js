// Faults: for each protocol, a device that hangs up / reboots / goes silent at spread host→device byte offsets, flips
// a bit of a reply byte at spread device→host offsets, refuses the credentials, or reports a wrong read-back digest.
// Every case: a first attempt (short timeouts, no retry) may end verified or failed — verified only if the device
// holds what the row records (else a false verified); then a clean retry must verify (else a lost endpoint); every
// attempt ends before the watchdog (else a hang); afterwards one row per device (else a duplicate).
import { join } from 'node:path'

import { LwprovError } from '../../dist/core/errors.js'
import { injectOne } from '../../dist/core/inject/session.js'
import { openManifest } from '../../dist/core/manifest/open.js'
import { MASTER_KEY, PROTOCOLS, deviceFor, deviceHolds } from './devices.js'
import { Figure, QUICK, plain, tempDir, watchdog } from './lib.js'

const OFFSETS = QUICK ? 8 : 50
const REFUSALS = QUICK ? 2 : 10
const LANES = 8
const HANG_MS = 180_000
// First attempts: short, so a silent device costs little; a slow machine only turns more of them into `failed`.
const SHORT = { identify: 1500, frame: 600, commit: 1500, total: 60_000 }
const DELAY_MS = 2500

function outcome(p) {
  return watchdog(
    p.then(
      (o) => ({ ok: o }),
      (e) => ({ err: e }),
    ),
    HANG_MS,
  )
}

/** One case: attempt with the fault, then a clean retry; findings go to `fig`. */
async function runCase(protocol, c, store, dir, fig) {
  const fault = { ...c.fault, once: true, ...(c.fault.kind === 'delay' ? { delayMs: DELAY_MS } : {}) }
  const dev = await deviceFor(protocol, { serial: c.serial, fault, store, timeouts: SHORT, dir })
  const what = `${protocol} ${c.name}`
  const first = await outcome(injectOne(dev.opts()))
  if (first.hung) return fig.fail(`${what}: hang (no end within ${HANG_MS / 1000}s)`)
  if (first.err && (!(first.err instanceof LwprovError) || first.err.exitCode === 1)) {
    return fig.fail(`${what}: crashed: ${plain(first.err.code ?? first.err.name)}: ${plain(first.err.message).slice(0, 120)}`)
  }
  let row = await store.get(dev.endpoint)
  if (row?.status === 'verified' && !deviceHolds(protocol, dev.links, row)) return fig.fail(`${what}: false verified (the device does not hold the recorded credentials)`)
  if (first.ok && row?.status !== 'verified') return fig.fail(`${what}: reported verified, manifest says ${row?.status}`)
  if (c.mustFail && first.ok) return fig.fail(`${what}: verified although the device ${c.mustFail}`)
  if (!first.ok) {
    const second = await outcome(injectOne(dev.opts({ timeouts: {}, retries: 2 })))
    if (second.hung) return fig.fail(`${what}: retry hung`)
    if (second.err) return fig.fail(`${what}: lost — the clean retry failed: ${plain(second.err.code)}: ${plain(second.err.message).slice(0, 120)}`)
    row = await store.get(dev.endpoint)
    if (row?.status !== 'verified' || !deviceHolds(protocol, dev.links, row)) return fig.fail(`${what}: retry reported verified, but the manifest/device disagree`)
  }
  fig.ok()
}

/** Host→device and device→host byte counts of one clean injection. */
async function measure(protocol, store, dir) {
  const dev = await deviceFor(protocol, { serial: `MEASURE-${protocol.toUpperCase()}`, store, timeouts: {}, dir })
  const o = await injectOne(dev.opts())
  if (o.status !== 'verified') throw new Error(`clean ${protocol} injection did not verify`)
  return { host: dev.links.hostBytes, device: dev.links.deviceBytes }
}

export async function run(ctx) {
  const figs = []
  for (const protocol of PROTOCOLS) {
    const dir = tempDir(`lwprov-rel-faults-${protocol}-`)
    ctx.written.push(dir)
    const m0 = await openManifest(join(dir, 'measure.db'), { migrate: true })
    const { host, device } = await measure(protocol, m0, ctx.dir)
    await m0.close()
    const spread = (total, i) => Math.floor(((total - 1) * i) / (OFFSETS - 1))
    const cases = []
    const P = protocol === 'lwprov' ? 'L' : 'F'
    for (const kind of ['drop', 'reset', 'delay']) {
      for (let i = 0; i < OFFSETS; i++) cases.push({ name: `${kind} at host byte ${spread(host, i)}/${host}`, serial: `${P}${kind.toUpperCase()}${i}`, fault: { kind, at: spread(host, i) } })
    }
    for (let i = 0; i < OFFSETS; i++) cases.push({ name: `bit flip at reply byte ${spread(device, i)}/${device}`, serial: `${P}FLIP${i}`, fault: { kind: 'corrupt', at: spread(device, i) } })
    for (let i = 0; i < REFUSALS; i++) cases.push({ name: 'refusal', serial: `${P}REFUSE${i}`, fault: { kind: 'refuse' }, mustFail: 'refused' })
    for (let i = 0; i < REFUSALS; i++) cases.push({ name: 'wrong read-back digest', serial: `${P}DIGEST${i}`, fault: { kind: 'corrupt' }, mustFail: 'reported a wrong digest' })
    // protocol v2's proof of possession: a device that stores nothing and echoes the digest it was sent
    if (protocol === 'lwprov') for (let i = 0; i < REFUSALS; i++) cases.push({ name: 'liar (stores nothing, echoes digests)', serial: `${P}LIAR${i}`, fault: { kind: 'liar' }, mustFail: 'stored nothing (a liar)' })

    const fig = new Figure(
      'faults',
      `${protocol} over the simulator: disconnect/reset/delay at ${OFFSETS} host byte offsets each, ${OFFSETS} reply bit flips, ${REFUSALS} refusals, ${REFUSALS} wrong digests${protocol === 'lwprov' ? `, ${REFUSALS} liars` : ''}`,
    )
    const lanes = Array.from({ length: LANES }, (_, l) => cases.filter((_, i) => i % LANES === l))
    await Promise.all(
      lanes.map(async (lane, l) => {
        const store = await openManifest(join(dir, `lane-${l}.db`), { migrate: true })
        ctx.manifests.set(join(dir, `lane-${l}.db`), MASTER_KEY.toString('hex'))
        try {
          for (const c of lane) await runCase(protocol, c, store, ctx.dir, fig)
          // one row per device, every device present
          const byDevice = new Map()
          for await (const r of store.list()) byDevice.set(r.deviceId, (byDevice.get(r.deviceId) ?? 0) + 1)
          for (const c of lane) {
            const n = byDevice.get(c.serial) ?? 0
            if (n === 0) fig.finding(`${protocol} ${c.name}: lost — no manifest row for device ${c.serial}`)
            if (n > 1) fig.finding(`${protocol} ${c.name}: duplicate — ${n} rows for device ${c.serial}`)
          }
        } finally {
          await store.close()
        }
      }),
    )
    figs.push(fig)
  }
  return figs
}
