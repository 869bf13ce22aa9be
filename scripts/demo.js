#!/usr/bin/env node
// `npm run demo`: the whole main job against simulated devices, nothing to set up.
// generate (CA + credentials) → inject into simulated devices on pseudo-terminals (a station run) → export.
// Everything lands in ./demo-out (recreated each run); the passphrase and master key are throwaway demo values.
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'demo-out')
const bin = join(root, 'bin', 'run.js')
const PORTS = 4
const DEVICES = 8

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
const env = {
  ...process.env,
  LWPROV_CA_PASSPHRASE: randomBytes(12).toString('base64url'),
  LWPROV_MASTER_KEY: randomBytes(32).toString('hex'),
  LWPROV_MANIFEST: join(out, 'lwprov.db'),
}

const bold = (s) => (process.stdout.isTTY ? `\u001B[1m${s}\u001B[0m` : s)
function step(title, args) {
  process.stdout.write(`\n${bold(`▶ ${title}`)}\n  $ lwprov ${args.join(' ')}\n`)
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, env, stdio: 'inherit' })
  if (r.status !== 0) {
    process.stdout.write(`\ndemo: step failed (exit ${r.status}): ${title}\n`)
    cleanup()
    process.exit(r.status ?? 1)
  }
}

const sims = []
function cleanup() {
  for (const s of sims) s.kill('SIGTERM')
}
process.on('SIGINT', () => {
  cleanup()
  process.exit(130)
})

async function waitFor(path, ms) {
  const until = Date.now() + ms
  while (!existsSync(path)) {
    if (Date.now() > until) throw new Error(`simulated device did not appear at ${path}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

process.stdout.write(bold('lwprov demo') + ` — working in ${out}\n`)
step('Create a factory root CA', ['ca', 'create', '--name', 'Demo Root CA', '--out', join(out, 'root-ca')])
step('Create a production-line intermediate CA', ['ca', 'create', '--name', 'Demo Line 1 CA', '--parent', join(out, 'root-ca'), '--out', join(out, 'line-ca')])
step('Generate 5 direct PSK credentials (recorded in the manifest)', [
  'credentials', 'generate', '--count', '5', '--endpoint', 'urn:dev:os:320973-DEMOPSK{seq:04}',
  '--mode', 'direct', '--security', 'psk', '--server', 'coaps://lwm2m.example.com:5684', '--batch', 'demo-psk',
])
step(`Reserve a work order of ${DEVICES} endpoint names`, ['batch', 'create', '--name', 'WO-DEMO', '--count', String(DEVICES), '--endpoint', 'urn:dev:os:320973-DEMO{seq:06}'])

const ports = []
for (let i = 0; i < PORTS; i++) {
  const link = join(out, `ttyDEMO${i}`)
  const child = spawn(process.execPath, [bin, 'sim', '--protocol', 'lwprov', '--link', link, '--serial', `DEMO-SN-${i}00`, '--renew'], {
    cwd: root,
    env,
    stdio: ['ignore', 'ignore', 'ignore'],
  })
  sims.push(child)
  ports.push(link)
}
process.stdout.write(`\n${bold(`▶ Start ${PORTS} simulated devices on pseudo-terminals`)}\n  ${ports.join('\n  ')}\n`)
for (const p of ports) await waitFor(p, 15_000)

step(`Provision ${DEVICES} devices on ${PORTS} ports in parallel (certificates signed just in time, read back, verified)`, [
  'station', '--ports', ports.join(','), '--protocol', 'lwprov', '--batch', 'WO-DEMO', '--count', String(DEVICES),
  '--mode', 'direct', '--security', 'cert', '--server', 'coaps://lwm2m.example.com:5684', '--ca', join(out, 'line-ca'),
])
cleanup()

step('The manifest', ['manifest', 'list'])
step('Export for CI (CSV, with a SHA-256 digest beside it)', ['manifest', 'export', '--format', 'csv', '--out', join(out, 'manifest.csv'), '--digest'])
step('Export the certificate devices for the LwM2M server (Leshan security store)', ['manifest', 'export', '--format', 'leshan-security', '--batch', 'WO-DEMO', '--out', join(out, 'leshan-security.json')])
process.stdout.write(`\n${bold('Done.')} Look in ${out}: CAs, lwprov.db (the manifest), manifest.csv, leshan-security.json.\n`)
