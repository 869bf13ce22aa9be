import { describe, expect, it } from 'vitest'

import { toLwprovError } from '../../../src/cli/base-command.js'
import { ExitCode, LwprovError } from '../../../src/core/errors.js'

describe('toLwprovError', () => {
  it('passes LwprovErrors through unchanged', () => {
    const e = new LwprovError('E_X', 'x', { exit: 'device', hint: 'h' })
    expect(toLwprovError(e)).toBe(e)
  })

  it('turns a leftover file-system error into a usage error naming the path', () => {
    const fs = Object.assign(new Error('ENOTDIR: not a directory'), { code: 'ENOTDIR', syscall: 'mkdir', path: '/etc/passwd/x' })
    const e = toLwprovError(fs)
    expect(e.code).toBe('E_FS')
    expect(e.exitCode).toBe(ExitCode.usage)
    expect(e.message).toContain('/etc/passwd/x')
    expect(e.hint).toBeTruthy()
  })

  it('treats anything else as a bug (exit 1)', () => {
    const e = toLwprovError(new TypeError('undefined is not a function'))
    expect(e.code).toBe('E_INTERNAL')
    expect(e.exitCode).toBe(ExitCode.bug)
  })
})
