import { describe, expect, it } from 'vitest'

import { chooseRenderer } from '../../../src/cli/render.js'

describe('station renderer choice', () => {
  it('is silent under --json, default on a TTY stderr, simple otherwise', () => {
    expect(chooseRenderer(true, true)).toBe('silent')
    expect(chooseRenderer(true, false)).toBe('silent')
    expect(chooseRenderer(false, true)).toBe('default')
    expect(chooseRenderer(false, false)).toBe('simple')
  })
})
