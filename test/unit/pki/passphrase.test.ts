import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

const answers: string[] = []
vi.mock('@inquirer/prompts', () => ({ password: vi.fn(async () => answers.shift() ?? '') }))

const { resolveCaPassphrase, resolveOptionalPassphrase } = await import('../../../src/cli/passphrase.js')
const { tempDir } = await import('./helpers.js')

let dir: string
let cleanup: () => void
const saved = { env: process.env.LWPROV_CA_PASSPHRASE, ci: process.env.CI, stdin: process.stdin.isTTY, stderr: process.stderr.isTTY }
beforeEach(() => {
  ;({ dir, cleanup } = tempDir())
  // the prompt paths are what is tested: CI=true (as on CI) would rightly turn every prompt off
  delete process.env.CI
  delete process.env.LWPROV_CA_PASSPHRASE
  delete process.env.LWPROV_PARENT_CA_PASSPHRASE
})
afterEach(() => {
  cleanup()
  if (saved.env === undefined) delete process.env.LWPROV_CA_PASSPHRASE
  else process.env.LWPROV_CA_PASSPHRASE = saved.env
  if (saved.ci === undefined) delete process.env.CI
  else process.env.CI = saved.ci
  process.stdin.isTTY = saved.stdin
  process.stderr.isTTY = saved.stderr
  answers.length = 0
})

const setTty = (on: boolean): void => {
  process.stdin.isTTY = on
  process.stderr.isTTY = on
}

describe('resolveCaPassphrase', () => {
  it('prefers LWPROV_CA_PASSPHRASE, then the file (without its line break)', async () => {
    writeFileSync(join(dir, 'pass'), 'from-file\n')
    expect(await resolveCaPassphrase({ passphraseFile: join(dir, 'pass'), interactive: false })).toBe('from-file')
    process.env.LWPROV_CA_PASSPHRASE = 'from-env'
    expect(await resolveCaPassphrase({ passphraseFile: join(dir, 'pass'), interactive: false })).toBe('from-env')
  })

  it('without a source or a terminal, names both ways to pass it', async () => {
    setTty(false)
    const err = await resolveCaPassphrase({ interactive: true }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'E_CA_PASSPHRASE_MISSING', exitCode: 2 })
    expect((err as { hint: string }).hint).toMatch(/LWPROV_CA_PASSPHRASE.*--passphrase-file/)
  })

  it('rejects an empty or unreadable file', async () => {
    writeFileSync(join(dir, 'empty'), '\n')
    await expect(resolveCaPassphrase({ passphraseFile: join(dir, 'empty'), interactive: false })).rejects.toMatchObject({ code: 'E_CA_PASSPHRASE_MISSING' })
    await expect(resolveCaPassphrase({ passphraseFile: join(dir, 'none'), interactive: false })).rejects.toMatchObject({ code: 'E_PASSPHRASE_FILE_UNREADABLE' })
  })

  it('prompts on a terminal and asks again until the confirmation matches', async () => {
    setTty(true)
    answers.push('short', 'one-long-passphrase', 'two-long-passphrase', 'also-short')
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    await expect(resolveCaPassphrase({ interactive: true, confirm: true })).rejects.toMatchObject({ code: 'E_CA_PASSPHRASE_MISSING' })
    const said = write.mock.calls.map((c) => String(c[0])).join('')
    expect(said).toMatch(/at least 12 characters/)
    expect(said).toMatch(/did not match/)
    answers.length = 0
    answers.push('one-long-passphrase', 'two-long-passphrase', 'secret-passphrase', 'secret-passphrase')
    expect(await resolveCaPassphrase({ interactive: true, confirm: true })).toBe('secret-passphrase')
    write.mockRestore()
  })

  it('gives up after a few empty answers instead of asking for ever', async () => {
    setTty(true)
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    await expect(resolveCaPassphrase({ interactive: true })).rejects.toMatchObject({ code: 'E_CA_PASSPHRASE_MISSING', exitCode: 2 })
    write.mockRestore()
  })

  it('does not prompt when the command is not interactive', async () => {
    setTty(true)
    answers.push('secret')
    await expect(resolveCaPassphrase({ interactive: false })).rejects.toMatchObject({ code: 'E_CA_PASSPHRASE_MISSING' })
  })
})

describe('resolveOptionalPassphrase', () => {
  it('uses its own variable, then its file, then the fallback', () => {
    const o = { envVar: 'LWPROV_PARENT_CA_PASSPHRASE', fileFlag: '--parent-passphrase-file', fallback: 'same' }
    expect(resolveOptionalPassphrase(o)).toBe('same')
    writeFileSync(join(dir, 'p'), 'parent-file')
    expect(resolveOptionalPassphrase({ ...o, file: join(dir, 'p') })).toBe('parent-file')
    process.env.LWPROV_PARENT_CA_PASSPHRASE = 'parent-env'
    expect(resolveOptionalPassphrase({ ...o, file: join(dir, 'p') })).toBe('parent-env')
  })
})
