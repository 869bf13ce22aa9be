/** Help examples paste as they read: a narrow terminal breaks a long example only between words, never in a quote. */
import { describe, expect, it } from 'vitest'

import { shellWords, wrapCommand } from '../../src/cli/help.js'
import { runCli } from '../helpers/cli.js'

describe('help examples', () => {
  it('wrapCommand keeps quoted values and long words whole', () => {
    const url = '"coaps://bs.example.com:5684?aid=0123456789abcdef0123456789abcdef"'
    const lines = wrapCommand(`$ lwprov devcert --endpoint a --server ${url} --name 'ACME Root CA' --out x.c`, 30)
    expect(lines).toContain(url)
    expect(lines.some((l) => l.includes("'ACME Root CA'"))).toBe(true)
    expect(shellWords(lines.join(' '))).toEqual(shellWords(`$ lwprov devcert --endpoint a --server ${url} --name 'ACME Root CA' --out x.c`))
  })

  for (const columns of ['60', '80', '100']) {
    it(`devcert --help at ${columns} columns: the Izuma URL is on one line and the example re-joins to the command`, async () => {
      const r = await runCli(['devcert', '--help'], { env: { COLUMNS: columns } })
      expect(r.code, r.stderr).toBe(0)
      const examples = r.stdout.slice(r.stdout.indexOf('EXAMPLES'))
      expect(examples).toContain('"coaps://bootstrap.example.com:5684?aid=0123456789abcdef0123456789abcdef"')
      for (const line of examples.split('\n')) expect((line.match(/"/g) ?? []).length % 2, line).toBe(0)
      const joined = examples.replace(/ \\\n\s+/g, ' ')
      expect(joined).toContain(
        '$ lwprov devcert --endpoint dev-board-01 --server "coaps://bootstrap.example.com:5684?aid=0123456789abcdef0123456789abcdef" --server-ca bootstrap-ca.pem --template izuma --out mbed_cloud_dev_credentials.c',
      )
    })
  }
})
