// Fuzz: (1) per protocol, whole injections against simulated devices whose replies are mutated on the way to the host
// (bit flips, random bytes, truncation, duplication, insertion) until ≥ N mutated replies were delivered: 0 crashes
// (an error outside lwprov's coded ones, or a bug-family code), 0 hangs, 0 verified rows the device does not hold;
// (2) every decoder (CBOR, SenML-CBOR, TLV, lwprov frames and messages, FTCD frames, FCC responses) fed random bytes
// and mutations of real inputs in a worker thread, watched for hangs.
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'

import { LwprovError } from '../../dist/core/errors.js'
import { FtcdScanner } from '../../dist/core/inject/fcc/frame.js'
import { FrameScanner } from '../../dist/core/inject/lwprov/codec.js'
import { injectOne } from '../../dist/core/inject/session.js'
import { decodeSenmlCbor } from '../../dist/core/lwm2m/senml.js'
import { encodeConfigTlv } from '../../dist/core/lwm2m/tlv.js'
import { openManifest } from '../../dist/core/manifest/open.js'
import { MASTER_KEY, PROTOCOLS, deviceFor, deviceHolds } from './devices.js'
import { Figure, QUICK, SEED, plain, rng, tempDir, watchdog } from './lib.js'
import { mutate } from './mutate.js'

const REPLIES = QUICK ? 150 : 10_000
const DECODER_INPUTS = QUICK ? 1_000 : 10_000
const LANES = 32
const HANG_MS = 120_000
const FUZZ_TIMEOUTS = { identify: 800, frame: 300, commit: 800, total: 30_000 }

async function seedsFrom(dir) {
  const store = await openManifest(join(dir, 'seeds.db'), { migrate: true })
  const l = await deviceFor('lwprov', { serial: 'SEED-L', store, timeouts: {}, record: true, dir })
  await injectOne(l.opts())
  const f = await deviceFor('fcc', { serial: 'SEED-F', store, timeouts: {}, record: true, dir })
  await injectOne(f.opts())
  await store.close()
  const frames = (chunks) => {
    const s = new FrameScanner()
    return chunks.flatMap((c) => s.push(c)).filter((e) => e.kind === 'frame').map((e) => e.frame.payload)
  }
  const ftcd = (chunks, kind) => {
    const s = new FtcdScanner(kind === 'request' ? { kind, deviceTokenScan: true } : { kind })
    return chunks.flatMap((c) => s.push(c)).filter((e) => e.type === 'frame').map((e) => e.payload)
  }
  const senml = l.links.stored.at(-1)
  const tlv = encodeConfigTlv(decodeSenmlCbor(senml))
  const fccPayloads = [...ftcd(f.links.deviceChunks, 'response'), ...ftcd(f.links.hostChunks, 'request')]
  return {
    cbor: [senml, ...f.links.stored, ...fccPayloads],
    senml: [senml],
    tlv: [tlv.security, tlv.server],
    lwprovFrames: [Buffer.concat(l.links.deviceChunks), Buffer.concat(l.links.hostChunks)],
    lwprovPayloads: [...frames(l.links.deviceChunks), ...frames(l.links.hostChunks)],
    fccReplies: [Buffer.concat(f.links.deviceChunks)],
    fccRequests: [Buffer.concat(f.links.hostChunks)],
    fccPayloads,
  }
}

function decoders(seeds) {
  return new Promise((resolve) => {
    const w = new Worker(new URL('./decoders-worker.js', import.meta.url), { workerData: { count: DECODER_INPUTS, seed: SEED, seeds } })
    const results = []
    let current = 'start'
    let timer
    const arm = () => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        w.terminate()
        resolve({ results, hung: `no progress for ${HANG_MS / 1000}s after ${current}` })
      }, HANG_MS)
    }
    arm()
    w.on('message', (m) => {
      if (m.result) {
        results.push(m.result)
        current = m.progress
        arm()
      }
      if (m.done) {
        clearTimeout(timer)
        w.terminate()
        resolve({ results })
      }
    })
    w.on('error', (e) => {
      clearTimeout(timer)
      resolve({ results, crashed: `${e.name}: ${e.message}` })
    })
  })
}

async function sessions(ctx, protocol, dir, fig) {
  const r = rng(SEED + (protocol === 'lwprov' ? 1 : 2))
  let mutated = 0
  let next = 0
  const okEndpoints = new Set()
  const lane = async (l) => {
    const store = await openManifest(join(dir, `fuzz-${protocol}-${l}.db`), { migrate: true })
    if (l < 2) ctx.manifests.set(join(dir, `fuzz-${protocol}-${l}.db`), MASTER_KEY.toString('hex'))
    try {
      while (mutated < REPLIES) {
        const i = next++
        const mut = (b) => (r() < (protocol === 'fcc' ? 1 : 0.3) ? mutate(b, r) : b)
        const dev = await deviceFor(protocol, { serial: `Z${protocol === 'lwprov' ? 'L' : 'F'}${i}`, mutate: mut, store, timeouts: FUZZ_TIMEOUTS, dir })
        const o = await watchdog(
          injectOne(dev.opts()).then(
            (ok) => ({ ok }),
            (err) => ({ err }),
          ),
          HANG_MS,
        )
        mutated += dev.links.mutated
        const what = `${protocol} session ${i} (${dev.links.mutated} mutated replies)`
        if (o.hung) fig.fail(`${what}: hang`)
        else if (o.err && (!(o.err instanceof LwprovError) || o.err.exitCode === 1)) fig.fail(`${what}: crashed: ${plain(o.err.code ?? o.err.name)}: ${plain(o.err.message).slice(0, 120)}`)
        else if (o.ok) {
          const row = await store.get(o.ok.endpoint)
          okEndpoints.add(`${l}/${o.ok.endpoint}`)
          if (row?.status !== 'verified' || !deviceHolds(protocol, dev.links, row)) fig.fail(`${what}: false verified`)
          else fig.ok()
        } else fig.ok()
      }
      for await (const row of store.list()) {
        if (row.status === 'verified' && !okEndpoints.has(`${l}/${row.endpoint}`)) fig.finding(`${protocol}: row ${plain(row.endpoint)} is verified although its injection failed`)
      }
    } finally {
      await store.close()
    }
  }
  await Promise.all(Array.from({ length: LANES }, (_, l) => lane(l)))
  return mutated
}

export async function run(ctx) {
  const dir = tempDir('lwprov-rel-fuzz-')
  ctx.written.push(dir)
  const figs = []
  for (const protocol of PROTOCOLS) {
    const fig = new Figure('fuzz', `${protocol}: whole injections with mutated device replies (≥ ${REPLIES} mutated replies)`)
    const n = await sessions(ctx, protocol, dir, fig)
    fig.tried = `${protocol}: ${n} mutated device replies over ${fig.n} injections (flips, random bytes, truncation, insertion)`
    figs.push(fig)
  }
  const seeds = await seedsFrom(dir)
  const d = await decoders(seeds)
  const fig = new Figure('fuzz', `every decoder fed random and mutated input (${DECODER_INPUTS} each)`)
  for (const res of d.results) {
    fig.n += res.n - res.crashes.length
    for (const c of res.crashes) fig.fail(`${res.name}: ${c || 'another crash'}`)
  }
  if (d.hung) fig.finding(`hang: ${d.hung}`)
  if (d.crashed) fig.finding(`worker crashed: ${d.crashed}`)
  fig.tried = `${d.results.length} decoders (CBOR ×2, SenML-CBOR, TLV ×3, lwprov frames + messages, FTCD frames ×2, FCC responses) × ${DECODER_INPUTS} random/mutated inputs`
  figs.push(fig)
  return figs
}
