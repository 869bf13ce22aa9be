import { expect } from 'vitest'

import { LwprovError } from '../../src/core/errors.js'

/** Awaits `p`, which must reject with a `LwprovError`, and returns that error for assertions on code/exit/hint. */
export async function lwprovFailure(p: Promise<unknown>): Promise<LwprovError> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(LwprovError)
    return e as LwprovError
  }
  throw new Error('expected a LwprovError, but the promise resolved')
}
