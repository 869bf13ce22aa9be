/**
 * Unknown command: name the closest one and exit 2 (usage). Replaces @oclif/plugin-not-found, which suggests only
 * through a prompt (so never in CI or a pipe) and prompts even with CI=true.
 */
import type { Hook } from '@oclif/core'

import { usageError } from '../../core/errors.js'

/** Levenshtein distance, for "did you mean". */
export function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = cur
  }
  return prev[b.length]!
}

/** The known id closest to `id`, when it is close enough to be a typo. */
export function closest(id: string, known: string[]): string | undefined {
  let best: string | undefined
  let bestD = Infinity
  for (const k of known) {
    const d = distance(id, k)
    if (d < bestD) [best, bestD] = [k, d]
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(id.length / 3)) ? best : undefined
}

const hook: Hook<'command_not_found'> = async function (opts) {
  const ids = [...opts.config.commands.filter((c) => !c.hidden).flatMap((c) => [c.id, ...c.aliases]), ...opts.config.topics.map((t) => t.name)]
  const spaced = (id: string) => id.replaceAll(':', ' ')
  const suggestion = closest(opts.id, ids)
  const bin = opts.config.bin
  const e = usageError(
    'E_COMMAND_NOT_FOUND',
    `"${spaced(opts.id)}" is not a ${bin} command.${suggestion ? ` Did you mean "${bin} ${spaced(suggestion)}"?` : ''}`,
    `Run \`${bin} --help\` for the list of commands.`,
  )
  process.stderr.write(`Error [${e.code}]: ${e.message}\nHint: ${e.hint}\n`)
  process.exit(e.exitCode)
}

export default hook
