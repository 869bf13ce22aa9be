/**
 * Help with examples that paste: a long example command is broken only at spaces outside quotes (with the shell's
 * ` \` continuation), never inside a word or a quoted value such as "coaps://host:5684?aid=…", which oclif's hard
 * wrap would split into a different URL.
 */
import { type Command, CommandHelp, Help } from '@oclif/core'

/** Splits a command line into words, keeping quoted spans (and words with quotes inside) whole. */
export function shellWords(line: string): string[] {
  const words: string[] = []
  let cur = ''
  let quote: string | undefined
  for (const ch of line) {
    if (quote) {
      cur += ch
      if (ch === quote) quote = undefined
    } else if (ch === '"' || ch === "'") {
      quote = ch
      cur += ch
    } else if (ch === ' ') {
      if (cur) words.push(cur)
      cur = ''
    } else cur += ch
  }
  if (cur) words.push(cur)
  return words
}

/** Greedy fill to `width` columns; a word longer than a line gets a line of its own (and overflows it). */
export function wrapCommand(line: string, width: number): string[] {
  const lines: string[] = []
  let cur = ''
  for (const w of shellWords(line)) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur)
      cur = w
    } else cur = cur ? `${cur} ${w}` : w
  }
  if (cur) lines.push(cur)
  return lines
}

export class LwprovCommandHelp extends CommandHelp {
  protected override examples(examples: Command.Example[] | string | undefined): string | undefined {
    if (!examples || examples.length === 0) return undefined
    const list = typeof examples === 'string' ? [examples] : examples
    // Room for the section's and the example's indentation and for the trailing " \".
    const width = Math.max(20, this.opts.maxWidth - this.indentSpacing * 2 - 4)
    return list
      .map((a) => {
        if (typeof a === 'string') return super.examples([a])
        const text = this.render(a.command)
        const cmd = text.startsWith(this.config.bin) ? `$ ${text}` : text
        const body = wrapCommand(cmd, width).join(' \\\n    ')
        return `${this.wrap(a.description, this.indentSpacing * 2)}\n\n${this.indent(body)}`
      })
      .join('\n\n')
  }
}

export default class LwprovHelp extends Help {
  override CommandHelpClass = LwprovCommandHelp
}
