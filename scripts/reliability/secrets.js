// Secrets: runs the demo, then exports every manifest the demo and the suite wrote with --include-secrets (the one
// place secrets may go) to learn each PSK and private key, and scans everything else the demo and the suite wrote —
// files, every process's stdout/stderr, and process command lines as other users see them (/proc/PID/cmdline) — for
// those PSKs (hex, base64, base64url), private-key bodies, unencrypted PEM private keys, the master key and the CA
// passphrase. --include-secrets outputs are exempt; anything else found is a leak.
import { spawn } from 'node:child_process'
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

import { Figure, ROOT, argvSeen, track, outputs, plain, psArgs, runCli, tempDir } from './lib.js'

const PLAIN_KEY = /-----BEGIN (?:EC |RSA )?PRIVATE KEY-----/

function runDemo(dir) {
  return new Promise((res) => {
    const env = { ...process.env, NO_COLOR: '1', LWPROV_DEMO_OUT: join(dir, 'demo-out'), LWPROV_DEMO_MASTER_KEY: 'd4'.repeat(32), LWPROV_DEMO_CA_PASSPHRASE: 'demo-passphrase-for-the-scan', HOME: join(dir, 'home') }
    const child = track(spawn(process.execPath, [join(ROOT, 'scripts', 'demo.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }))
    argvSeen.add(psArgs(child.pid))
    let text = ''
    child.stdout.on('data', (d) => (text += d))
    child.stderr.on('data', (d) => (text += d))
    const t = setTimeout(() => child.kill('SIGKILL'), 600_000)
    child.on('close', (code) => {
      clearTimeout(t)
      outputs.push({ label: 'demo', text })
      res({ code, text, env })
    })
  })
}

/** PSK and private-key needles from an --include-secrets JSON export. */
function needlesFrom(doc, needles) {
  const rows = Array.isArray(doc) ? doc : (doc.rows ?? doc.result ?? [])
  const visit = (k, v) => {
    if (typeof v === 'string') {
      if (/psk/i.test(k) && /key/i.test(k) && /^[0-9a-f]{32,}$/i.test(v)) {
        const b = Buffer.from(v, 'hex')
        needles.set(v.toLowerCase(), `PSK (hex) of ${k}`)
        needles.set(b.toString('base64').replace(/=+$/, ''), 'PSK (base64)')
        needles.set(b.toString('base64url'), 'PSK (base64url)')
      }
      if (PLAIN_KEY.test(v) || /PRIVATE KEY/.test(v)) {
        const body = v.split('\n').filter((l) => l && !l.startsWith('-----')).join('')
        if (body.length >= 48) needles.set(body.slice(8, 56), 'a private key body')
      }
    } else if (v && typeof v === 'object') for (const [kk, vv] of Object.entries(v)) visit(kk, vv)
  }
  for (const r of rows) visit('', r)
}

export async function run(ctx) {
  const dir = tempDir('lwprov-rel-secrets-')
  ctx.written.push(dir)
  const fig = new Figure('secrets', '')
  const demo = process.env.RELIABILITY_DEMO === '0' ? undefined : await runDemo(dir)
  if (demo && demo.code !== 0) fig.finding(`the demo failed (exit ${demo.code}): ${plain(demo.text.trim().split('\n').at(-1)).slice(0, 160)}`)

  // what there is to find: every secret in every manifest, exported to an exempt place
  const needles = new Map([
    [ctx.env.LWPROV_MASTER_KEY, 'the manifest master key'],
    [ctx.env.LWPROV_CA_PASSPHRASE, 'the CA passphrase'],
  ])
  const manifests = [...ctx.manifests].map(([m, key]) => ({ m, env: { LWPROV_MASTER_KEY: key ?? ctx.env.LWPROV_MASTER_KEY } }))
  if (demo) {
    needles.set(demo.env.LWPROV_DEMO_MASTER_KEY, 'the demo master key')
    needles.set(demo.env.LWPROV_DEMO_CA_PASSPHRASE, 'the demo CA passphrase')
    manifests.push({ m: join(dir, 'demo-out', 'lwprov.db'), env: { LWPROV_MASTER_KEY: demo.env.LWPROV_DEMO_MASTER_KEY } })
  }
  let k = 0
  for (const { m, env } of manifests) {
    if (!existsSync(m)) continue
    const out = join(dir, `secrets-${k++}.json`)
    ctx.secretOutputs.add(out)
    const r = await runCli(['manifest', 'export', '--format', 'json', '--include-secrets', '--out', out, '--manifest', m], { env: { ...ctx.env, ...env }, label: 'secrets: export' })
    if (r.code !== 0) {
      fig.finding(`could not export ${m} with --include-secrets: ${plain(r.stderr.split('\n')[0]).slice(0, 120)}`)
      continue
    }
    needlesFrom(JSON.parse(readFileSync(out, 'utf8')), needles)
  }
  const pskCount = [...needles.values()].filter((v) => v.startsWith('PSK (hex')).length
  const keyCount = [...needles.values()].filter((v) => v === 'a private key body').length

  const leaks = new Map()
  const scan = (where, text) => {
    fig.ok()
    if (PLAIN_KEY.test(text)) leaks.set(`${where}: an unencrypted PEM private key`, 1)
    const lower = text.toLowerCase()
    for (const [needle, what] of needles) {
      if (!needle || needle.length < 12) continue
      if (what.startsWith('PSK (hex') ? lower.includes(needle) : text.includes(needle)) leaks.set(`${where}: ${what}`, 1)
    }
  }
  // files (the scan reads them as latin1 so binary files such as SQLite pages are searched too)
  let files = 0
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f)
      const st = lstatSync(p)
      if (st.isDirectory()) walk(p)
      else if (st.isFile() && !ctx.secretOutputs.has(p) && !ctx.inputs.some((re) => re.test(p))) {
        files++
        scan(p.replace(ctx.dir, '…'), readFileSync(p, 'latin1'))
      }
    }
  }
  for (const d of new Set(ctx.written)) if (existsSync(d)) walk(d)
  for (const o of outputs) scan(`output of ${o.label}`, o.text)
  for (const a of argvSeen) if (a) scan('a process command line', a)
  fig.tried = `${files} files, ${outputs.length} process outputs, ${argvSeen.size} command lines${demo ? ' (demo included)' : ''} scanned for ${pskCount} PSKs, ${keyCount} private keys, master key, passphrase`
  for (const l of leaks.keys()) fig.finding(`leak: ${l}`)
  return [fig]
}
