/**
 * Examples in the docs must run as written: the README's devcert example makes a file Izuma accepts (aid= in the
 * URI, no warning), and the firmware README's inject example uses an endpoint name lwprov accepts.
 */
import { randomBytes } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'

import { afterAll, describe, expect, it } from 'vitest'

import { ROOT, runCli, tempDir } from '../helpers/cli.js'
import { validateEndpointName } from '../../src/core/lwm2m/endpoint.js'

const dir = tempDir('lwprov-e2e-docs-')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The arguments of the first `lwprov <command> …` line (with `\` continuations) in a Markdown file. */
function example(file: string, command: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/\\\n\s*/g, ' ')
  const line = text.split('\n').find((l) => l.trimStart().startsWith(`lwprov ${command} `))
  expect(line, `${file} has a 'lwprov ${command}' example`).toBeDefined()
  // the shell's word splitting, for the quoting the docs use
  const words = [...line!.trim().matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!)
  const hash = words.indexOf('#')
  return (hash < 0 ? words : words.slice(0, hash)).slice(1)
}

describe('doc examples (e2e)', () => {
  it("README's devcert example renders an Izuma file with the account id, without warnings", async () => {
    const args = example('README.md', 'devcert')
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'bs-ca.key'), '-out', join(dir, 'bs-ca.pem'), '-subj', '/CN=Docs BS CA', '-days', '30'], { stdio: 'ignore' })
    expect(made.status).toBe(0)
    const env = { HOME: join(dir, 'home'), LWPROV_CA_PASSPHRASE: 'docs-example-passphrase', LWPROV_MASTER_KEY: randomBytes(32).toString('hex'), LWPROV_MANIFEST: join(dir, 'dev.db') }
    const r = await runCli([...args, '--json'], { env, cwd: dir })
    expect(r.code, r.stderr + r.stdout).toBe(0)
    expect(r.json.warnings ?? []).toEqual([])
    const out = readFileSync(join(dir, 'mbed_cloud_dev_credentials.c'), 'utf8')
    expect(out).toContain('aid=0123456789abcdef0123456789abcdef')
  })

  it("templates/firmware/README.md's inject example names an endpoint lwprov accepts", () => {
    const args = example('templates/firmware/README.md', 'inject')
    const endpoint = args[args.indexOf('--endpoint') + 1]!
    expect(() => validateEndpointName(endpoint)).not.toThrow()
  })
})
