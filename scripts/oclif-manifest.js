#!/usr/bin/env node
/**
 * Writes oclif.manifest.json after `tsc` (the `oclif` CLI is not a dependency; this is what its `manifest` command
 * does, with @oclif/core's own API). With the manifest, oclif answers --version/--help and finds a command without
 * importing every command module (and serialport, pg, listr2, inquirer with them).
 */
import 'reflect-metadata'
import { rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { Plugin } from '@oclif/core'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const file = join(root, 'oclif.manifest.json')
// A stale manifest must not be what the plugin reads back.
rmSync(file, { force: true })
const plugin = new Plugin({ root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true, isRoot: true })
await plugin.load()
const count = Object.keys(plugin.manifest.commands).length
if (count === 0) throw new Error('oclif found no commands in dist/commands: run tsc first')
writeFileSync(file, `${JSON.stringify(plugin.manifest, null, 2)}\n`)
process.stderr.write(`oclif.manifest.json: ${count} commands\n`)
