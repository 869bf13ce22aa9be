/**
 * listr2 wiring for the station: one task per port showing the current device, step and bytes, all on stderr.
 * Renderer: `silent` under --json, `default` when stderr is a TTY, `simple` otherwise (listr2 looks at stdout by
 * itself, which is wrong when we render to stderr, so we decide). Red/green per device, optional bell on failure.
 */
import { Listr, ListrLogger, type ListrTaskWrapper, ProcessOutput } from 'listr2'

import type { LwprovError } from '../core/errors.js'
import type { SessionHooks } from '../core/inject/session.js'
import type { StationEvent } from '../core/station/runner.js'
import type { StationResult } from '../core/station/service.js'
import { shown } from '../core/validate/escape.js'

export type RendererName = 'default' | 'simple' | 'silent'

/** The renderer for this process: style.md §4. */
export function chooseRenderer(json: boolean, stderrIsTty = Boolean(process.stderr.isTTY)): RendererName {
  if (json) return 'silent'
  return stderrIsTty ? 'default' : 'simple'
}

const NO_ANSWER = 'no device answered; waiting for one'

const paint = (on: boolean, code: number, s: string) => (on ? `\u001B[${code}m${s}\u001B[0m` : s)

interface PortView {
  verified: number
  failed: number
  interrupted: number
  /** The port said "no device answered" and nothing has answered since. */
  silent?: boolean
  device?: string
  endpoint?: string
  step?: string
  bytes?: string
  last?: string
  /** The latest output line (kept for a task that has not started yet). */
  output?: string
  done: () => void
  ended: Promise<void>
  task?: ListrTaskWrapper<unknown, any, any>
}

export interface StationView {
  /** Feed runner events here. */
  onEvent(e: StationEvent): void
  /** Resolves once the renderer has drawn the final state. */
  finish(): Promise<void>
}

export interface RenderOptions {
  renderer: RendererName
  bell?: boolean
  color?: boolean
  /**
   * One device (`inject`): no per-port tally, and the error is left to the command's error output instead of being
   * repeated in the final title.
   */
  single?: boolean
}

/**
 * Starts rendering one task per port. `bell` rings the terminal bell on every failed device (TTY only, since a bell
 * character in a log file is noise).
 */
export function renderStation(ports: string[], o: RenderOptions): StationView {
  // A log (non-TTY) has no live title: with `single` (inject), every step is a line of its own.
  const logSteps = o.single === true && o.renderer !== 'default'
  const color = (o.color ?? true) && o.renderer === 'default' && process.env.NO_COLOR === undefined
  const views = new Map<string, PortView>()
  const make = (port: string): PortView => {
    let done!: () => void
    const ended = new Promise<void>((r) => (done = r))
    const v: PortView = { verified: 0, failed: 0, interrupted: 0, done, ended }
    views.set(port, v)
    return v
  }
  for (const p of ports) make(p)

  const title = (port: string, v: PortView) => {
    if (o.single) return `${port}${v.step ? ` · ${v.device ?? 'device'}${v.endpoint ? ` → ${v.endpoint}` : ''} · ${v.step}${v.bytes ? ` ${v.bytes}` : ''}` : ''}`
    const tally = `${paint(color, 32, `${v.verified} ✔`)} ${v.failed > 0 ? paint(color, 31, `${v.failed} ✖`) : `${v.failed} ✖`}${v.interrupted > 0 ? ` ${paint(color, 33, `${v.interrupted} ⏸`)}` : ''}`
    const now = v.step ? ` · ${v.device ?? 'device'}${v.endpoint ? ` → ${v.endpoint}` : ''} · ${v.step}${v.bytes ? ` ${v.bytes}` : ''}` : ''
    return `${port}  ${tally}${now}`
  }
  const update = (port: string, v: PortView, output?: string) => {
    if (output !== undefined) v.output = output
    if (!v.task) return
    v.task.title = title(port, v)
    // Log renderers print outputs as bare lines: name the port so each line stands on its own.
    if (output !== undefined) v.task.output = o.renderer === 'default' ? output : `${port}: ${output}`
  }

  const logger = new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) })
  const taskFor = (port: string, v: PortView) => ({
    title: title(port, v),
    task: async (_: unknown, task: ListrTaskWrapper<unknown, any, any>) => {
      v.task = task
      // Events that came before listr2 started this task (a device failing at once) were only counted: show them now.
      update(port, v, v.output)
      await v.ended
      task.title = o.single ? `${port}${v.endpoint ? ` · ${v.endpoint}` : ''}` : `${title(port, { ...v, step: undefined })}${v.last ? ` · last: ${v.last}` : ''}`
      // Thrown only for the red ✖: the reason is already in the title and the output line, so it is not repeated
      // (the default renderer shows the message in place of the title, the simple one appends it).
      if ((v.failed > 0 || (o.single && v.interrupted > 0)) && v.verified === 0) throw new Error(o.renderer === 'default' ? task.title : o.single ? 'failed' : 'no device verified')
    },
    rendererOptions: { persistentOutput: true, outputBar: 1 },
  })
  const list = new Listr(
    ports.map((p) => taskFor(p, views.get(p)!)),
    {
      concurrent: true,
      exitOnError: false,
      renderer: o.renderer,
      fallbackRendererCondition: false,
      silentRendererCondition: o.renderer === 'silent',
      rendererOptions: { logger, collapseErrors: true },
      fallbackRendererOptions: { logger },
      registerSignalListeners: false,
    } as any,
  )
  const running = list.run().catch(() => undefined)

  return {
    onEvent(e) {
      let v = views.get(e.port)
      if (!v) v = make(e.port) // ports found later by --ports auto: counted, shown in the summary
      switch (e.type) {
        case 'waiting':
          // A log has no live title: say on a line of its own that the port is waiting (after an unplug, say).
          if (e.reason === 'no-port' && o.renderer !== 'default' && v.step !== 'waiting for the port') update(e.port, v, 'waiting for a device to appear on the port')
          if (e.reason === 'no-answer' && o.renderer !== 'default' && !v.silent) update(e.port, v, NO_ANSWER)
          v.silent = e.reason === 'no-answer'
          v.step = e.reason === 'no-port' ? 'waiting for the port' : e.reason === 'no-answer' ? NO_ANSWER : 'waiting for the next device'
          v.device = undefined
          v.endpoint = undefined
          v.bytes = undefined
          update(e.port, v)
          break
        case 'device':
          v.silent = false
          v.device = e.deviceId === undefined ? 'device' : shown(e.deviceId)
          update(e.port, v, logSteps ? `device ${v.device}${e.detail ? ` ${shown(e.detail)}` : ''}` : undefined)
          break
        case 'endpoint':
          v.endpoint = shown(e.endpoint)
          update(e.port, v, logSteps ? `endpoint ${v.endpoint}` : undefined)
          break
        case 'step':
          v.step = e.step
          v.bytes = e.step === 'write' && e.detail ? e.detail : v.step === 'write' ? v.bytes : undefined
          update(e.port, v, logSteps ? `${e.step}${e.detail ? ` (${shown(e.detail)})` : ''}` : undefined)
          break
        case 'progress':
          v.bytes = `${e.written}/${e.total} B`
          // The simple renderer prints a line per title change: only redraw progress live on a real terminal.
          if (o.renderer === 'default') update(e.port, v)
          break
        case 'retry':
          update(e.port, v, paint(color, 33, `retry ${e.attempt}: ${e.reason}`))
          break
        case 'verified':
          v.verified++
          v.last = `verified ${shown(e.endpoint)}`
          v.step = 'verified'
          update(e.port, v, paint(color, 32, `✔ ${shown(e.endpoint)}${e.deviceId ? ` (${shown(e.deviceId)})` : ''} in ${(e.ms / 1000).toFixed(1)} s`))
          break
        case 'failed':
          if (e.code === 'E_INTERRUPTED') {
            // Ctrl-C is not the device's fault: counted apart, shown once, no bell.
            v.interrupted++
            v.last = 'interrupted'
            v.step = 'interrupted'
            update(e.port, v, paint(color, 33, ['⏸', e.deviceId && shown(e.deviceId), e.endpoint && shown(e.endpoint), shown(e.reason)].filter(Boolean).join(' ')))
            break
          }
          v.failed++
          v.last = `${e.code}: ${shown(e.reason)}`
          v.step = 'failed'
          if (o.bell && process.stderr.isTTY) process.stderr.write('\u0007')
          update(e.port, v, paint(color, 31, ['✖', e.deviceId && shown(e.deviceId), e.endpoint && shown(e.endpoint), `${e.code}: ${shown(e.reason)}`].filter(Boolean).join(' ')))
          break
        case 'idle':
          v.done()
          break
        default:
          break
      }
    },
    async finish() {
      for (const v of views.values()) v.done()
      await running
    },
  }
}

/**
 * The station's closing summary for stdout (escaped: endpoints and reasons can quote a device). Each failure once,
 * interrupted devices apart from failures, and after Ctrl-C the command that resumes the run.
 */
export function stationSummary(r: StationResult, color: (c: 'red' | 'green' | 'yellow', text: string) => string, resume?: string): string {
  const interrupted = r.stopReason === 'interrupted'
  const counts = [
    color('green', `${r.verified} verified`),
    r.failed > 0 ? color('red', `${r.failed} failed`) : '0 failed',
    ...(r.interrupted > 0 || interrupted ? [color('yellow', `${r.interrupted} interrupted`)] : []),
  ]
  const lines = [`${interrupted ? 'Interrupted: ' : ''}${counts.join(', ')} on ${r.ports.length} port(s) in ${r.elapsedSeconds} s (${r.devicesPerMinute} devices/min).`]
  // Session errors already name their port: it is shown once, in front.
  const reason = (port: string, text: string) => (text.startsWith(`${port}: `) ? text.slice(port.length + 2) : text)
  for (const f of r.failures) lines.push(`  ${color('red', '✖')} ${shown(f.port)}${f.endpoint ? ` ${shown(f.endpoint)}` : ''}: ${shown(reason(f.port, f.reason))}`)
  if (r.interrupted > 0) {
    const who = r.interruptedDevices.map((d) => shown(d.endpoint ?? d.deviceId ?? d.port)).join(', ')
    lines.push(`  ${r.interrupted} device(s) cut off mid-provisioning (${who}): recorded as interrupted, they keep their names and are provisioned again when they come back.`)
  }
  if (r.batch) lines.push(`Work order ${r.batch.name}: ${r.batch.verified} verified, ${r.batch.remaining} remaining.`)
  if (interrupted && resume) lines.push(`Resume with: ${resume}`)
  return lines.join('\n')
}

/** Inject-session hooks that feed a view (`inject`: one port); `onRetry` also gets the retry (a warning in the envelope). */
export function viewHooks(port: string, view: StationView, signal: AbortSignal, onRetry: (n: number, err: LwprovError) => void): SessionHooks {
  return {
    signal,
    onStep: (step, detail) => view.onEvent({ type: 'step', port, step, ...(detail === undefined ? {} : { detail }) }),
    onProgress: (written, total) => view.onEvent({ type: 'progress', port, written, total }),
    onIdentity: (id, deviceId) => {
      const detail = [id.model, id.firmware && `fw ${id.firmware}`].filter(Boolean).join(' ')
      view.onEvent({ type: 'device', port, ...(deviceId === undefined ? {} : { deviceId }), ...(detail ? { detail } : {}) })
    },
    onEndpoint: (endpoint) => view.onEvent({ type: 'endpoint', port, endpoint }),
    onRetry,
  }
}
