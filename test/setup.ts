// @peculiar/x509 needs a Reflect metadata polyfill before it is imported.
import 'reflect-metadata'

import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll } from 'vitest'

// Every temporary file of a test file — its own mkdtemp()s, the CLIs and simulators it spawns (they inherit TMPDIR),
// the PostgreSQL clusters — lands under one directory removed when the file ends, so no run leaves lwprov-* behind.
const outer = process.env.TMPDIR
const root = mkdtempSync(join(tmpdir(), 'lwprov-vitest-'))
// the test PostgreSQL server runs as the postgres user when we are root: it must reach its directory inside
chmodSync(root, 0o755)
process.env.TMPDIR = root
afterAll(() => {
  if (outer === undefined) delete process.env.TMPDIR
  else process.env.TMPDIR = outer
  rmSync(root, { recursive: true, force: true })
})
