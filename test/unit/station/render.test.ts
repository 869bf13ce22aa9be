import { describe, expect, it, vi } from 'vitest'

import { chooseRenderer } from '../../../src/cli/render.js'

describe('station renderer choice', () => {
  it('is silent under --json, default on a TTY stderr, simple otherwise', () => {
    expect(chooseRenderer(true, true)).toBe('silent')
    expect(chooseRenderer(true, false)).toBe('silent')
    expect(chooseRenderer(false, true)).toBe('default')
    expect(chooseRenderer(false, false)).toBe('simple')
  })
})

describe('station renderer events', () => {
  it('shows a device that failed before its port task started (no event is lost)', async () => {
    const { renderStation } = await import('../../../src/cli/render.js')
    const written: string[] = []
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk))
      return true
    })
    try {
      const view = renderStation(['/dev/fast'], { renderer: 'simple' })
      // Synchronously, before listr2 has run the port's task.
      view.onEvent({ type: 'device', port: '/dev/fast', deviceId: 'FAST-1' })
      view.onEvent({ type: 'failed', port: '/dev/fast', deviceId: 'FAST-1', code: 'E_DEVICE_REFUSED', reason: 'the device refused the credentials' })
      view.onEvent({ type: 'idle', port: '/dev/fast', reason: 'done' })
      await view.finish()
    } finally {
      spy.mockRestore()
    }
    const out = written.join('')
    expect(out).toContain('/dev/fast: ✖ FAST-1 E_DEVICE_REFUSED: the device refused the credentials')
    // The reason is shown on the device's line and in the port's final title, not repeated a third time.
    expect(out.split('the device refused the credentials')).toHaveLength(3)
  })
})
