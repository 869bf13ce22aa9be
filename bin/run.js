#!/usr/bin/env node
// Technicians and CI scripts call lwprov thousands of times: the version answers without loading oclif, and oclif
// finds commands through oclif.manifest.json (written by `npm run build`) instead of importing every command.
const args = process.argv.slice(2)
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v' || args[0] === 'version')) {
  const { readFileSync } = await import('node:fs')
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(`${pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`)
} else {
  const { execute } = await import('@oclif/core/execute')
  await execute({ dir: import.meta.url })
}
