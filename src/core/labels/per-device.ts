/**
 * A label per device as the station verifies it (`station --labels-per-device DIR|tcp://HOST:9100`), so the label
 * matches the device on the jig. A directory gets one PNG (or, with format zpl, one .zpl file) per endpoint; a
 * printer URL gets the ZPL. Prints run one after another in the background and never fail the station: a failed
 * print is reported through `warn` and can be redone with `lwprov labels`. These labels hold no claim code (the
 * station never sees one), so a re-verified device's label is replaced.
 */
import { createOutputDir, safeFileName } from '../fs/safe-write.js'
import { loadLayout } from './layout.js'
import { isPrinterUrl, type LabelFormat, type PrinterConnector } from './output.js'
import type { LabelData } from './payload.js'
import { renderPngLabel } from './png.js'
import { renderZplLabel } from './zpl.js'

export interface PerDeviceOptions {
  format?: LabelFormat | undefined
  layout?: string | undefined
  urlTemplate?: string | undefined
  connect?: PrinterConnector
  warn: (text: string) => void
  flag?: string
}

export interface PerDeviceLabels {
  /** Queues the label of a verified device. */
  onVerified(d: LabelData): void
  /** Resolves when every queued label is printed (or reported as failed); returns how many were printed. */
  flush(): Promise<number>
}

export function perDeviceLabels(target: string, o: PerDeviceOptions): PerDeviceLabels {
  const printer = isPrinterUrl(target)
  const format: LabelFormat = printer ? 'zpl' : o.format === 'zpl' ? 'zpl' : 'png'
  const layout = loadLayout(o.layout ?? 'roll-50x25')
  const flag = o.flag ?? '--labels-per-device'
  // the directory is checked (and created) before the first device, so a typo fails the station at once
  const dir = printer ? undefined : createOutputDir(target, { force: true, flag })
  let chain: Promise<void> = Promise.resolve()
  let printed = 0
  const print = async (d: LabelData) => {
    if (printer) {
      const conn = await o.connect!(target)
      try {
        await new Promise<void>((res, rej) => conn.stream.write(renderZplLabel(d, layout, o.urlTemplate), (e) => (e ? rej(e) : res())))
        await conn.close()
      } catch (e) {
        conn.destroy()
        throw e
      }
    } else {
      const f = dir!.file(safeFileName(d.endpoint, format === 'zpl' ? '.zpl' : '.png'))
      const body = format === 'zpl' ? renderZplLabel(d, layout, o.urlTemplate) : renderPngLabel(d, layout, o.urlTemplate)
      await new Promise<void>((res, rej) => f.stream.write(body, (e) => (e ? rej(e) : res())))
      await f.commit()
    }
    printed++
  }
  return {
    onVerified(d) {
      chain = chain.then(() => print(d)).catch((e: Error) => o.warn(`No label for ${d.endpoint}: ${e.message}`))
    },
    async flush() {
      await chain
      return printed
    },
  }
}
