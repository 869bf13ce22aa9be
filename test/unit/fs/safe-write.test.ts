import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { LwprovError } from '../../../src/core/errors.js'
import { clearProtectedPaths, createOutputDir, openOutputFile, protectPath, safeFileName, writeOutputFile } from '../../../src/core/fs/safe-write.js'
import { lwprovFailure } from '../../helpers/errors.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lwprov-safe-'))
})
afterEach(() => {
  clearProtectedPaths()
  rmSync(dir, { recursive: true, force: true })
})

const code = (fn: () => unknown) => {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(LwprovError)
    return (e as LwprovError).code
  }
  throw new Error('expected a LwprovError')
}

describe('openOutputFile', () => {
  it('writes through a temporary beside the name, visible only after commit, mode 0600', async () => {
    const p = join(dir, 'out.csv')
    const f = openOutputFile(p)
    f.stream.write('a,b\n')
    expect(existsSync(p)).toBe(false)
    expect(readdirSync(dir).some((n) => /^\.out\.csv\.lwprov-tmp-\d+-[0-9a-f]{8}$/.test(n))).toBe(true)
    await f.commit()
    expect(readFileSync(p, 'utf8')).toBe('a,b\n')
    expect(lstatSync(p).mode & 0o777).toBe(0o600)
    expect(readdirSync(dir)).toEqual(['out.csv'])
  })

  it('refuses an existing file without force (E_OUTPUT_EXISTS, exit 2) and replaces it with force', async () => {
    const p = join(dir, 'x.txt')
    writeFileSync(p, 'keep')
    expect(code(() => openOutputFile(p))).toBe('E_OUTPUT_EXISTS')
    expect(readFileSync(p, 'utf8')).toBe('keep')
    const e = await lwprovFailure(writeOutputFile(p, 'new'))
    expect(e.exitCode).toBe(2)
    await writeOutputFile(p, 'new', { force: true })
    expect(readFileSync(p, 'utf8')).toBe('new')
  })

  it('never follows a symlink: refused without force, with force the link is replaced and its target untouched', async () => {
    const target = join(dir, 'decoy')
    writeFileSync(target, 'system file')
    const link = join(dir, 'link.csv')
    symlinkSync(target, link)
    expect(code(() => openOutputFile(link))).toBe('E_OUTPUT_EXISTS')
    await writeOutputFile(link, 'labels', { force: true })
    expect(readFileSync(target, 'utf8')).toBe('system file')
    expect(lstatSync(link).isSymbolicLink()).toBe(false)
  })

  it('refuses protected files even with force: registered paths, SQLite files, encrypted keys, CA files', async () => {
    const m = join(dir, 'm.db')
    writeFileSync(m, 'x')
    protectPath(m)
    expect(code(() => openOutputFile(m, { force: true }))).toBe('E_OUTPUT_PROTECTED')
    expect(code(() => openOutputFile(`${m}-wal`, { force: true }))).toBe('E_OUTPUT_PROTECTED')
    const db = join(dir, 'other.db')
    writeFileSync(db, Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), Buffer.alloc(100)]))
    expect(code(() => openOutputFile(db, { force: true }))).toBe('E_OUTPUT_PROTECTED')
    const key = join(dir, 'some.key')
    writeFileSync(key, '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMII\n')
    expect(code(() => openOutputFile(key, { force: true }))).toBe('E_OUTPUT_PROTECTED')
    mkdirSync(join(dir, 'ca'))
    writeFileSync(join(dir, 'ca', 'ca.key.pem'), 'k')
    writeFileSync(join(dir, 'ca', 'ca.pem'), 'c')
    expect(code(() => openOutputFile(join(dir, 'ca', 'ca.pem'), { force: true }))).toBe('E_OUTPUT_PROTECTED')
    const owned = join(dir, 'owned')
    mkdirSync(owned)
    protectPath(owned, { dir: true })
    expect(code(() => openOutputFile(join(owned, 'new.txt')))).toBe('E_OUTPUT_PROTECTED')
    expect(readFileSync(m, 'utf8')).toBe('x')
  })

  it('abort removes the temporary and leaves the target alone', async () => {
    const p = join(dir, 'a.txt')
    const f = openOutputFile(p)
    f.stream.write('partial')
    await f.abort()
    expect(readdirSync(dir)).toEqual([])
  })

  it('a file that appears under the name during the run is not replaced without force', async () => {
    const p = join(dir, 'race.txt')
    const f = openOutputFile(p)
    f.stream.write('mine')
    writeFileSync(p, 'theirs')
    expect((await lwprovFailure(f.commit())).code).toBe('E_OUTPUT_EXISTS')
    expect(readFileSync(p, 'utf8')).toBe('theirs')
    expect(readdirSync(dir)).toEqual(['race.txt'])
  })
})

describe('createOutputDir', () => {
  it('refuses a name used twice (also differing only in case) and removes what it created on abort', async () => {
    const d = createOutputDir(join(dir, 'pems'))
    const a = d.file('A.pem')
    a.stream.write('1')
    await a.commit()
    expect(code(() => d.file('a.pem'))).toBe('E_OUTPUT_NAME_COLLISION')
    await d.abort()
    expect(existsSync(join(dir, 'pems'))).toBe(false)
  })

  it('refuses a symlinked directory', () => {
    mkdirSync(join(dir, 'real'))
    symlinkSync(join(dir, 'real'), join(dir, 'ln'))
    expect(code(() => createOutputDir(join(dir, 'ln')))).toBe('E_OUTPUT_SYMLINK')
  })
})

describe('safeFileName', () => {
  it('is injective on the names that used to collide, and keeps plain names', () => {
    const names = ['a/b', 'a_b', 'a:b', 'a@b', 'a%2Fb', '.hidden', '..', 'urn:imei:35', 'ümlaut']
    const files = names.map((n) => safeFileName(n, '.pem'))
    expect(new Set(files).size).toBe(names.length)
    expect(safeFileName('dev-001_x.y')).toBe('dev-001_x.y')
    for (const f of files) expect(f).toMatch(/^[A-Za-z0-9_%-][A-Za-z0-9._%-]*$/)
  })
})
