/**
 * Simulated devices for vitest: in-process (`startSim`, fast, events observable) or as the real CLI
 * (`spawnSim`: `node bin/run.js sim … --json`, needs a build). Both tear down with `stop()`; `cleanupSims()` in an
 * `afterAll`/`afterEach` stops any a test forgot.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/adapters/sim-runner.js'
import { BIN, ROOT } from './cli.js'

const running = new Set<{ stop(): Promise<void> }>()

/** A fresh temp directory (PTY links, manifests, stores). */
export function tempDir(prefix = 'lwprov-pty-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

/** True when socat is installed (CI installs it; the python3 engine works without). */
export function hasSocat(): boolean {
  return spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0
}

export interface InProcessSim {
  sim: Simulator
  /** PTY link path (PTY mode). */
  link?: string
  /** TCP port (TCP mode). */
  port?: number
  stop(): Promise<void>
}

/** Starts a simulator in this process; PTY mode unless `tcpPort` is given (link defaults to a temp path). */
export async function startSim(opts: Omit<SimulatorOptions, 'link'> & { link?: string; tcp?: boolean }): Promise<InProcessSim> {
  const { tcp, ...rest } = opts
  const link = tcp || rest.tcpPort !== undefined ? undefined : (rest.link ?? path.join(tempDir(), 'dev'))
  const sim = await startSimulator({ ...rest, ...(link === undefined ? { tcpPort: rest.tcpPort ?? 0 } : { link }) })
  const h: InProcessSim = {
    sim,
    ...(sim.link === undefined ? {} : { link: sim.link }),
    ...(sim.port === undefined ? {} : { port: sim.port }),
    stop: async () => {
      running.delete(h)
      await sim.close()
    },
  }
  running.add(h)
  return h
}

export interface SpawnedSim {
  proc: ChildProcessWithoutNullStreams
  /** The `result` of the ready line. */
  ready: { protocol: string; link?: string; port?: number; serial: string }
  stderr(): string
  stop(): Promise<void>
}

/** Runs `lwprov sim <args> --json` and resolves at its ready line. */
export function spawnSim(args: string[], timeoutMs = 20_000): Promise<SpawnedSim> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, 'sim', ...args, '--json'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } })
    let out = ''
    let err = ''
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error(`sim not ready in ${timeoutMs} ms: ${err}`))
    }, timeoutMs)
    const stop = async () => {
      running.delete(h)
      if (proc.exitCode !== null || proc.signalCode !== null) return
      await new Promise<void>((r) => {
        proc.once('exit', () => r())
        proc.kill('SIGTERM')
        setTimeout(() => proc.kill('SIGKILL'), 3000).unref()
      })
    }
    const h = { stop }
    running.add(h)
    proc.stderr.on('data', (d) => (err += d))
    proc.stdout.on('data', (d) => {
      out += d
      const nl = out.indexOf('\n')
      if (nl < 0) return
      clearTimeout(timer)
      try {
        const env = JSON.parse(out.slice(0, nl)) as { status: number; result: SpawnedSim['ready'] }
        resolve({ proc, ready: env.result, stderr: () => err, stop })
      } catch (e) {
        reject(new Error(`bad ready line ${out}: ${String(e)}`))
      }
    })
    proc.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`sim exited ${code}: ${err}`))
    })
  })
}

/** Stops every simulator still running. */
export async function cleanupSims(): Promise<void> {
  await Promise.all([...running].map((h) => h.stop()))
}
