// kill -9 at random points of station, inject, credentials generate and a secrets export (manifest export
// --include-secrets): after each kill `manifest verify` must find the ledger consistent, the next run must succeed
// and leave no lwprov temporary file behind, and no device may hold two rows (nothing lost, nothing duplicated).
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

import { BIN, Figure, QUICK, ROOT, SEED, argvSeen, outputs, plain, psArgs, rng, runCli, tempDir, track } from './lib.js'

const POINTS = QUICK ? 3 : 20
const TEMP_RE = /^\..+\.lwprov-tmp-\d+-[0-9a-f]{8}$/
const PSK = ['--mode', 'direct', '--security', 'psk', '--server', 'coaps://127.0.0.1:5684']

/** Starts a CLI process and SIGKILLs it after `ms` (or lets it finish first); resolves when it is gone. */
function killAfter(args, env, ms) {
  return new Promise((res) => {
    const child = track(spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] }))
    argvSeen.add(psArgs(child.pid))
    let text = ''
    child.stdout.on('data', (d) => (text += d))
    child.stderr.on('data', (d) => (text += d))
    const t = setTimeout(() => child.kill('SIGKILL'), ms)
    child.on('close', (code, signal) => {
      clearTimeout(t)
      outputs.push({ label: `kill: ${args.slice(0, 2).join(' ')}`, text })
      res({ killed: signal === 'SIGKILL', code })
    })
  })
}

/** `lwprov sim …` until its ready line; returns {link, stop}. */
function startSim(args, env) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(process.execPath, [BIN, 'sim', ...args, '--json'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] }))
    let out = ''
    let err = ''
    const stop = () =>
      new Promise((r) => {
        if (child.exitCode !== null || child.signalCode !== null) return r()
        child.once('exit', () => r())
        child.kill('SIGTERM')
        setTimeout(() => child.kill('SIGKILL'), 3000).unref()
      })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`sim not ready: ${err.slice(0, 200)}`))
    }, 60_000)
    child.stderr.on('data', (d) => (err += d))
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('\n') && timer) {
        clearTimeout(timer)
        try {
          resolve({ link: JSON.parse(out.split('\n')[0]).result.link, stop })
        } catch (e) {
          reject(e)
        }
      }
    })
    child.on('exit', (c) => {
      outputs.push({ label: 'kill: sim', text: out + err })
      clearTimeout(timer)
      reject(new Error(`sim exited ${c}: ${err.slice(0, 200)}`))
    })
  })
}

/** lwprov temporaries left anywhere under `dir`. */
function temps(dir) {
  const found = []
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f)
      if (statSync(p).isDirectory()) walk(p)
      else if (TEMP_RE.test(f)) found.push(p)
    }
  }
  if (existsSync(dir)) walk(dir)
  return found
}

export async function run(ctx) {
  const K = tempDir('lwprov-rel-kill-')
  ctx.written.push(K)
  const env = ctx.env
  const r = rng(SEED + 7)
  const ca = join(K, 'ca')
  const must = async (args, what) => {
    const x = await runCli(args, { env, label: `kill setup: ${what}`, timeoutMs: 600_000 })
    if (x.code !== 0) throw new Error(`${what} failed (${x.code}): ${x.stderr.slice(0, 300)}`)
    return x
  }
  await must(['ca', 'create', '--name', 'Kill CA', '--out', ca], 'ca create')
  const figs = []

  /** One command's kill points. `prep(i)` → {args, after(killed) → failure string | undefined}. */
  const series = async (name, tried, prep, clean) => {
    const fig = new Figure('kill -9', tried)
    // the window to kill in: one clean run's duration
    const t0 = Date.now()
    await clean()
    const window = Math.max(300, Date.now() - t0)
    for (let i = 0; i < POINTS; i++) {
      const p = await prep(i)
      const at = Math.floor(r() * window * 1.1)
      const k = await killAfter(p.args, env, at)
      const v = await runCli(['manifest', 'verify', '--manifest', p.manifest, ...(p.verifyArgs ?? []), '--json'], { env, label: 'kill: verify' })
      const wrong = []
      if (v.code !== 0) wrong.push(`manifest verify exit ${v.code}: ${plain(v.json?.error?.code ?? v.stderr.split('\n')[0]).slice(0, 120)}`)
      const next = await p.after(k)
      if (next) wrong.push(next)
      const left = temps(K)
      if (left.length) wrong.push(`temporary file left after the next run: ${left[0].replace(K, '.')}`)
      if (wrong.length) fig.fail(`${name} killed at ${at} ms${k.killed ? '' : ' (had already ended)'}: ${wrong.join('; ')}`)
      else fig.ok()
    }
    figs.push(fig)
  }

  // credentials generate (certificates: the CA signs, so a run lasts long enough to be cut anywhere)
  const mg = join(K, 'gen.db')
  await series(
    'generate',
    `credentials generate (100 certificates) killed at ${POINTS} random points → manifest verify, next run, no temp file`,
    (i) => ({
      manifest: mg,
      verifyArgs: ['--ca', ca],
      args: ['credentials', 'generate', '--count', '100', '--endpoint', `kg${i}-{seq}`, '--mode', 'direct', '--security', 'cert', '--server', 'coaps://127.0.0.1:5684', '--ca', ca, '--manifest', mg],
      after: async () => {
        const n = await runCli(['credentials', 'generate', '--count', '1', '--endpoint', `kgn${i}-{seq}`, ...PSK, '--manifest', mg, '--json'], { env, label: 'kill: next generate' })
        return n.code === 0 ? undefined : `next run exit ${n.code}: ${plain(n.json?.error?.code ?? n.stderr.slice(0, 100))}`
      },
    }),
    () => must(['credentials', 'generate', '--count', '100', '--endpoint', 'kg-clean-{seq}', '--mode', 'direct', '--security', 'cert', '--server', 'coaps://127.0.0.1:5684', '--ca', ca, '--manifest', mg], 'clean generate'),
  )

  // a secrets export of 3,000 rows
  const me = join(K, 'exp.db')
  await must(['credentials', 'generate', '--count', QUICK ? '500' : '3000', '--endpoint', 'ke-{seq}', ...PSK, '--manifest', me], 'export rows')
  const outDir = join(K, 'exports')
  mkdirSync(outDir, { recursive: true })
  await series(
    'secrets export',
    `manifest export --include-secrets (${QUICK ? 500 : 3000} rows) killed at ${POINTS} random points → next export removes the leftover`,
    (i) => {
      const out = join(outDir, `killed-${i}.json`)
      const next = join(outDir, `next-${i}.json`)
      ctx.secretOutputs.add(out)
      ctx.secretOutputs.add(next)
      return {
        manifest: me,
        args: ['manifest', 'export', '--format', 'json', '--include-secrets', '--out', out, '--manifest', me],
        after: async () => {
          if (existsSync(out)) {
            try {
              JSON.parse(readFileSync(out, 'utf8'))
            } catch {
              return 'a truncated export is in place'
            }
          }
          const n = await runCli(['manifest', 'export', '--format', 'json', '--include-secrets', '--out', next, '--manifest', me, '--json'], { env, label: 'kill: next export' })
          return n.code === 0 ? undefined : `next export exit ${n.code}`
        },
      }
    },
    () => must(['manifest', 'export', '--format', 'json', '--include-secrets', '--out', join(outDir, 'window.json'), '--manifest', me], 'clean export').then(() => ctx.secretOutputs.add(join(outDir, 'window.json'))),
  )

  // inject: one simulated device per point, paced at 9600 baud
  const mi = join(K, 'inj.db')
  const sims = []
  try {
    await series(
      'inject',
      `inject (lwprov sim, 9600 baud) killed at ${POINTS} random points → verify, the re-run verifies, one row per device`,
      async (i) => {
        const serial = `KI-${SEED}-${i}`
        const sim = await startSim(['--protocol', 'lwprov', '--link', join(K, `ki-${i}`), '--serial', serial, '--baud', '9600'], env)
        sims.push(sim)
        const args = ['inject', '--port', sim.link, '--protocol', 'lwprov', '--endpoint', 'ki-{serial}', ...PSK, '--manifest', mi]
        return {
          manifest: mi,
          args,
          after: async () => {
            const n = await runCli([...args, '--json'], { env, label: 'kill: next inject' })
            await sim.stop()
            // already verified before the kill: a re-run is (correctly) a serial collision
            if (n.code !== 0 && n.json?.error?.code !== 'E_SERIAL_COLLISION') return `re-run exit ${n.code}: ${plain(n.json?.error?.code ?? n.stderr.slice(0, 100))}`
            const s = await runCli(['manifest', 'list', '--manifest', mi, '--json'], { env, label: 'kill: list' })
            const rows = (s.json?.result ?? []).filter((x) => x.deviceId === serial)
            if (rows.length !== 1) return `${rows.length} rows for device ${serial}`
            if (rows[0].status !== 'verified') return `device ${serial} ended ${rows[0].status}`
            return undefined
          },
        }
      },
      async () => {
        const sim = await startSim(['--protocol', 'lwprov', '--link', join(K, 'ki-clean'), '--serial', `KI-CLEAN-${SEED}`, '--baud', '9600'], env)
        sims.push(sim)
        await must(['inject', '--port', sim.link, '--protocol', 'lwprov', '--endpoint', 'ki-{serial}', ...PSK, '--manifest', mi], 'clean inject')
        await sim.stop()
      },
    )

    // station: a work order, 2 renewing simulated devices
    const ms = join(K, 'sta.db')
    const per = 3
    await must(['batch', 'create', '--name', 'WO-KS', '--count', String((POINTS + 2) * per * 2), '--endpoint', 'ks-{seq:05}', '--manifest', ms], 'station work order')
    const ports = []
    for (let d = 0; d < 2; d++) {
      const sim = await startSim(['--protocol', 'lwprov', '--link', join(K, `ks-p${d}`), '--serial', `KS${d}-${SEED}-00000`, '--renew', '--baud', '9600'], env)
      sims.push(sim)
      ports.push(sim.link)
    }
    const stationArgs = ['station', '--ports', ports.join(','), '--protocol', 'lwprov', '--batch', 'WO-KS', '--count', String(per), ...PSK, '--manifest', ms]
    await series(
      'station',
      `station (2 renewing sims, ${per} devices a run) killed at ${POINTS} random points → verify, no name twice`,
      () => ({
        manifest: ms,
        args: stationArgs,
        after: async () => {
          const s = await runCli(['manifest', 'list', '--manifest', ms, '--batch', 'WO-KS', '--json'], { env, label: 'kill: list' })
          const claimed = (s.json?.result ?? []).filter((x) => x.deviceId)
          if (new Set(claimed.map((x) => x.deviceId)).size !== claimed.length) return 'a device holds two names'
          return undefined
        },
      }),
      () => must([...stationArgs, '--json'], 'clean station'),
    )
    // the last run completes: all names claimed so far are verified or kept with their device
    const fin = await runCli([...stationArgs, '--json'], { env, label: 'kill: final station' })
    if (fin.code !== 0) figs.at(-1).finding(`the station run after the kills exited ${fin.code}: ${plain(fin.json?.error?.code ?? fin.stderr.slice(0, 120))}`)
  } finally {
    await Promise.all(sims.map((s) => s.stop()))
  }
  for (const m of [mg, me, mi, join(K, 'sta.db')]) ctx.manifests.set(m, undefined)
  return figs
}
