/**
 * Runs the built CLI as a user would: `node bin/run.js …` in a child process, no TTY. Tests assert exit code,
 * the `--json` envelope on stdout and human text on stderr.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const ROOT = resolve(import.meta.dirname, '..', '..')
export const BIN = join(ROOT, 'bin', 'run.js')

export interface CliResult {
  code: number
  stdout: string
  stderr: string
  /** Parsed stdout when it is one JSON document. */
  json?: any
}

export function runCli(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    child.on('error', rej)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      let json: unknown
      try {
        json = JSON.parse(stdout)
      } catch {
        json = undefined
      }
      res({ code: code ?? (signal ? 128 : 1), stdout, stderr, json })
    })
    child.stdin.end(opts.input ?? '')
  })
}

export function tempDir(prefix = 'lwprov-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}
