/**
 * Large runs ask first: a count above CONFIRM_COUNT (README "Input limits") is confirmed at a prompt when a person is
 * at a terminal; without one (scripts, CI) the documented maximum MAX_COUNT alone bounds it.
 */
import { confirm } from '@inquirer/prompts'

import { LwprovError, usageError } from '../core/errors.js'
import { CONFIRM_COUNT } from '../core/validate/index.js'
import { canPrompt } from './tty.js'

export async function confirmLargeCount(n: number | undefined, what: string, skip = false): Promise<void> {
  if (n === undefined || n <= CONFIRM_COUNT || skip || !canPrompt()) return
  let ok: boolean
  try {
    ok = await confirm({ message: `This will ${what} ${n.toLocaleString('en')} endpoints (more than ${CONFIRM_COUNT.toLocaleString('en')}). Continue?`, default: false }, { output: process.stderr })
  } catch (error) {
    if (error instanceof Error && error.name === 'ExitPromptError') throw new LwprovError('E_INTERRUPTED', 'Interrupted at the confirmation prompt.', { exit: 'interrupted', cause: error })
    throw error
  }
  if (!ok) throw usageError('E_CANCELLED', `Cancelled: ${what} ${n} endpoints was not confirmed.`, 'Run again with a smaller --count, or confirm at the prompt.')
}
