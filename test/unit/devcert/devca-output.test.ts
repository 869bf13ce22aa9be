import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { describe, expect, it, vi } from 'vitest'

import { defaultDeveloperCaDir, DEVELOPER_CA_NAME, developerMasterKey, openDeveloperCa } from '../../../src/core/devcert/devca.js'
import { gitUnignored, prepareOutputDir, writeOutputFiles } from '../../../src/core/devcert/output.js'
import { LwprovError, usageError } from '../../../src/core/errors.js'
import { tempDir } from '../../helpers/cli.js'

const mode = (p: string) => statSync(p).mode & 0o777

describe('developer CA', () => {
  it('defaults to $XDG_CONFIG_HOME/lwprov/dev-ca, else ~/.config/lwprov/dev-ca', () => {
    expect(defaultDeveloperCaDir({ XDG_CONFIG_HOME: '/x/cfg' }, '/home/u')).toBe('/x/cfg/lwprov/dev-ca')
    expect(defaultDeveloperCaDir({}, '/home/u')).toBe('/home/u/.config/lwprov/dev-ca')
    expect(defaultDeveloperCaDir({ XDG_CONFIG_HOME: 'relative' }, '/home/u')).toBe('/home/u/.config/lwprov/dev-ca')
  })

  it('is created on first use (encrypted key, 0700 dir), then loaded; counts what it issued', async () => {
    const dir = join(tempDir('lwprov-devca-'), 'dev-ca')
    const passphrase = vi.fn(async (_creating: boolean) => 'secret-pw-long-enough')
    const first = await openDeveloperCa({ dir, passphrase, isDefault: true })
    expect(first.created).toBe(true)
    expect(passphrase).toHaveBeenLastCalledWith(true)
    expect(first.ca.subject).toContain(DEVELOPER_CA_NAME)
    expect(mode(dir)).toBe(0o700)
    expect(readFileSync(join(dir, 'ca.key.pem'), 'utf8')).toContain('ENCRYPTED')
    expect(mode(join(dir, 'ca.key.pem'))).toBe(0o600)
    expect(await first.issuedCount()).toBe(0)
    await first.recordIssued({ endpoint: 'a', serialHex: '01', fingerprint: 'ff', issuedAt: new Date() })
    const second = await openDeveloperCa({ dir, passphrase, isDefault: true })
    expect(second.created).toBe(false)
    expect(passphrase).toHaveBeenLastCalledWith(false)
    expect(second.ca.fingerprint).toBe(first.ca.fingerprint)
    expect(await second.issuedCount()).toBe(1)
    const wrong = await openDeveloperCa({ dir, passphrase: async () => 'nope', isDefault: true }).catch((e: LwprovError) => e)
    expect((wrong as LwprovError).code).toBe('E_CA_PASSPHRASE')
  })

  it('without a passphrase source, creation fails with a hint naming LWPROV_CA_PASSPHRASE', async () => {
    const dir = join(tempDir('lwprov-devca-'), 'dev-ca')
    const e = (await openDeveloperCa({
      dir,
      isDefault: true,
      passphrase: async () => {
        throw usageError('E_CA_PASSPHRASE_MISSING', 'none', 'x')
      },
    }).catch((x: unknown) => x)) as LwprovError
    expect(e.code).toBe('E_CA_PASSPHRASE_MISSING')
    expect(e.exitCode).toBe(2)
    expect(e.message).toContain(dir)
    expect(e.hint).toContain('LWPROV_CA_PASSPHRASE')
    expect(existsSync(join(dir, 'ca.pem'))).toBe(false)
  })

  it('keeps a per-user master key beside it, mode 0600', () => {
    const dir = join(tempDir('lwprov-devca-'), 'dev-ca')
    expect(developerMasterKey(dir, false)).toBeUndefined()
    const k = developerMasterKey(dir, true)!
    expect(k.created).toBe(true)
    expect(k.key).toHaveLength(32)
    expect(mode(k.file)).toBe(0o600)
    const again = developerMasterKey(dir, true)!
    expect(again.created).toBe(false)
    expect(again.key).toEqual(k.key)
  })
})

describe('output files', () => {
  it('are written mode 0600 beside --out, replacing older files only with force', async () => {
    const dir = join(tempDir('lwprov-devout-'), 'sub')
    const paths = await writeOutputFiles(join(dir, 'x.c'), [
      { name: 'x.c', content: Buffer.from('c'), secret: true },
      { name: 'x.h', content: Buffer.from('h'), secret: true },
    ])
    expect(paths).toEqual([join(dir, 'x.c'), join(dir, 'x.h')])
    for (const p of paths) expect(mode(p)).toBe(0o600)
    writeFileSync(join(dir, 'x.c'), 'old', { mode: 0o644 })
    await expect(writeOutputFiles(join(dir, 'x.c'), [{ name: 'x.c', content: Buffer.from('new'), secret: true }])).rejects.toMatchObject({ code: 'E_OUTPUT_EXISTS' })
    expect(readFileSync(join(dir, 'x.c'), 'utf8')).toBe('old')
    await writeOutputFiles(join(dir, 'x.c'), [{ name: 'x.c', content: Buffer.from('new'), secret: true }], true)
    expect(readFileSync(join(dir, 'x.c'), 'utf8')).toBe('new')
    expect(mode(join(dir, 'x.c'))).toBe(0o600)
  })

  it('prepareOutputDir creates the directory, leaves no probe, and refuses an unusable --out up front', () => {
    const root = tempDir('lwprov-devprep-')
    const dir = join(root, 'a', 'b')
    prepareOutputDir(join(dir, 'x.c'), ['x.c', 'x.h'])
    expect(statSync(dir).isDirectory()).toBe(true)
    expect(readdirSync(dir)).toEqual([])

    writeFileSync(join(root, 'plain'), 'x')
    const notDir = (() => {
      try {
        prepareOutputDir(join(root, 'plain', 'sub', 'x.c'), ['x.c'])
      } catch (e) {
        return e
      }
    })()
    expect(notDir).toMatchObject({ code: 'E_DEVCERT_OUT_UNWRITABLE', exitCode: 2, details: { code: 'ENOTDIR' } })

    mkdirSync(join(dir, 'x.h'))
    expect(() => prepareOutputDir(join(dir, 'x.c'), ['x.c', 'x.h'])).toThrowError(expect.objectContaining({ code: 'E_DEVCERT_OUT_UNWRITABLE', details: expect.objectContaining({ code: 'EISDIR' }) }))
  })

  it('git check: files in a work tree that does not ignore them are reported', () => {
    const repo = tempDir('lwprov-devgit-')
    execFileSync('git', ['init', '-q', repo])
    const a = join(repo, 'creds.c')
    const b = join(repo, 'creds.h')
    writeFileSync(a, '')
    writeFileSync(b, '')
    expect(gitUnignored([a, b])).toEqual([a, b])
    writeFileSync(join(repo, '.gitignore'), 'creds.c\n')
    expect(gitUnignored([a, b])).toEqual([b])
    const outside = join(tempDir('lwprov-nogit-'), 'f.c')
    writeFileSync(outside, '')
    expect(gitUnignored([outside])).toEqual([])
  })
})
