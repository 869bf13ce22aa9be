#!/usr/bin/env node
// `npm run demo`: the whole main job against simulated devices, nothing to set up.
// generate (CA + credentials) → inject into simulated devices on pseudo-terminals (a station run) → export.
// Everything lands in ./demo-out (recreated each run); the passphrase and master key are throwaway demo values.
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
// LWPROV_DEMO_OUT / LWPROV_DEMO_MASTER_KEY / LWPROV_DEMO_CA_PASSPHRASE: set by `npm run reliability`, which scans what the
// demo wrote for secrets and must be able to export them to know what to look for.
const out = process.env.LWPROV_DEMO_OUT ? resolve(process.env.LWPROV_DEMO_OUT) : join(root, 'demo-out')
const bin = join(root, 'bin', 'run.js')
const PORTS = 4
const DEVICES = 8

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
const env = {
  ...process.env,
  LWPROV_CA_PASSPHRASE: process.env.LWPROV_DEMO_CA_PASSPHRASE ?? randomBytes(12).toString('base64url'),
  LWPROV_MASTER_KEY: process.env.LWPROV_DEMO_MASTER_KEY ?? randomBytes(32).toString('hex'),
  LWPROV_MANIFEST: join(out, 'lwprov.db'),
}

const bold = (s) => (process.stdout.isTTY ? `\u001B[1m${s}\u001B[0m` : s)
/** POSIX shell quoting, so an echoed command can be pasted as is. */
const quote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)

function step(title, args) {
  process.stdout.write(`\n${bold(`▶ ${title}`)}\n  $ lwprov ${args.map(quote).join(' ')}\n`)
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, env, stdio: 'inherit' })
  if (r.status !== 0) fail(`step failed (exit ${r.status ?? r.signal}): ${title}`, r.status ?? 1)
}

const sims = []
/** Stops every simulator this demo started, however it ends (the children must not outlive it). */
function cleanup() {
  for (const s of sims.splice(0)) if (s.exitCode === null && s.signalCode === null) s.kill('SIGTERM')
}
function fail(message, code = 1) {
  process.stdout.write(`\ndemo: ${message}\n`)
  cleanup()
  process.exit(code)
}
process.on('exit', cleanup)
process.on('SIGINT', () => fail('interrupted', 130))
process.on('SIGTERM', () => fail('terminated', 143))
process.on('uncaughtException', (e) => fail(e instanceof Error ? e.message : String(e)))
process.on('unhandledRejection', (e) => fail(e instanceof Error ? e.message : String(e)))

/** Starts `lwprov sim` and resolves on its ready line; rejects with its own error output if it exits first. */
function startSim(args) {
  const child = spawn(process.execPath, [bin, 'sim', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  sims.push(child)
  return new Promise((resolveReady, reject) => {
    let seen = ''
    let ready = false
    const onData = (d) => {
      seen += d.toString()
      if (!ready && /\bready\b/.test(seen)) {
        ready = true
        resolveReady(child)
      }
      // after the ready line, the simulator's errors still reach the user
      if (ready && /error|warning/i.test(d.toString())) process.stderr.write(`sim: ${d}`)
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('error', (e) => reject(new Error(`could not start lwprov sim: ${e.message}`)))
    child.on('exit', (code, signal) => {
      if (!ready) reject(new Error(`lwprov sim ${args.map(quote).join(' ')} exited (${code ?? signal}) before it was ready:\n${seen.trim()}`))
    })
  })
}

process.stdout.write(bold('lwprov demo') + ` — working in ${out}\n`)
step('Create a factory root CA', ['ca', 'create', '--name', 'Demo Root CA', '--out', join(out, 'root-ca')])
step('Create a production-line intermediate CA', ['ca', 'create', '--name', 'Demo Line 1 CA', '--parent', join(out, 'root-ca'), '--out', join(out, 'line-ca')])
step('Generate 5 direct PSK credentials (recorded in the manifest)', [
  'credentials', 'generate', '--count', '5', '--endpoint', 'urn:dev:os:320973-DEMOPSK{seq:04}',
  '--mode', 'direct', '--security', 'psk', '--server', 'coaps://lwm2m.example.com:5684', '--batch', 'demo-psk',
])
step(`Reserve a work order of ${DEVICES} endpoint names with claim codes, and print their label sheet (PDF, mode 0600)`, [
  'batch', 'create', '--name', 'WO-DEMO', '--count', String(DEVICES), '--endpoint', 'urn:dev:os:320973-DEMO{seq:06}',
  '--claim-codes', '--labels', join(out, 'wo-demo-labels.pdf'), '--label-layout', 'a4-3x8',
])

const ports = Array.from({ length: PORTS }, (_, i) => join(out, `ttyDEMO${i}`))
process.stdout.write(`\n${bold(`▶ Start ${PORTS} simulated devices on pseudo-terminals`)}\n  ${ports.join('\n  ')}\n`)
await Promise.all(ports.map((link, i) => startSim(['--protocol', 'lwprov', '--link', link, '--serial', `DEMO-SN-${i}00`, '--renew'])))

step(`Provision ${DEVICES} devices on ${PORTS} ports in parallel (certificates signed just in time, read back, verified)`, [
  'station', '--ports', ports.join(','), '--protocol', 'lwprov', '--batch', 'WO-DEMO', '--count', String(DEVICES),
  '--mode', 'direct', '--security', 'cert', '--server', 'coaps://lwm2m.example.com:5684', '--ca', join(out, 'line-ca'),
  '--labels-per-device', join(out, 'station-labels'),
])
cleanup()

step('The manifest', ['manifest', 'list'])
step('Export for CI (CSV, with a SHA-256 digest beside it)', ['manifest', 'export', '--format', 'csv', '--out', join(out, 'manifest.csv'), '--digest'])
step('Export the certificate devices for the LwM2M server (Leshan security store)', ['manifest', 'export', '--format', 'leshan-security', '--batch', 'WO-DEMO', '--out', join(out, 'leshan-security.json')])
step('Reprint the work order\'s labels for the thermal printer (ZPL; no claim codes: only their hashes are stored)', ['labels', '--batch', 'WO-DEMO', '--out', join(out, 'wo-demo-reprint.zpl')])
// A picture of the sheet (the README's docs/label-sheet.png comes from here): the top of page 1 at 110 dpi.
const pic = spawnSync('pdftoppm', ['-r', '110', '-png', '-singlefile', '-f', '1', '-l', '1', '-x', '0', '-y', '0', '-W', '910', '-H', '500', join(out, 'wo-demo-labels.pdf'), join(out, 'label-sheet')], { stdio: 'ignore' })
const picture = pic.status === 0 ? ', label-sheet.png (the sheet as a picture)' : ''
process.stdout.write(
  `\n${bold('Done.')} Look in ${out}: CAs, lwprov.db (the manifest), wo-demo-labels.pdf (label sheet with QR + claim codes)${picture}, station-labels/ (one PNG per verified device), wo-demo-reprint.zpl, manifest.csv, leshan-security.json.\n`,
)
