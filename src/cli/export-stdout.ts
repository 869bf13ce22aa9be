/**
 * `manifest export` to stdout: the format itself, or with --json the envelope streamed around the rows (a big export
 * never sits in memory). Every row is checked before the first byte; a reader that goes away (`| head`) ends the
 * export quietly at the next row.
 */
import type { ExportFormat, ExportOptions, ExportResult } from '../core/manifest/export/index.js'
import { exportManifest, OutputClosedError, streamTarget, validateExport } from '../core/manifest/export/index.js'
import type { ManifestStore } from '../core/manifest/types.js'

export async function exportToStdout(
  store: ManifestStore,
  format: ExportFormat,
  opts: ExportOptions,
  o: { json: boolean; onEnvelope: () => void; info: (text: string) => void; onCleanup: (fn: () => void) => void; onDone?: (r: ExportResult) => Promise<void> },
): Promise<ExportResult | undefined> {
  let pipeClosed = false
  // EPIPE (e.g. `| head`) ends the export quietly: the writer stops at the next row, the command returns, cleanups run.
  const onStdoutError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') pipeClosed = true
  }
  process.stdout.on('error', onStdoutError)
  o.onCleanup(() => {
    process.stdout.off('error', onStdoutError)
    // bytes still queued for a reader that may yet go away must not turn into an unhandled 'error' at exit
    if (process.stdout.writableLength > 0 && !process.stdout.destroyed) process.stdout.once('error', () => undefined)
  })
  try {
    if (o.json) {
      // A wrong master key, or any row that cannot be exported, fails before the first byte of the envelope.
      await validateExport(store, format, opts)
      o.onEnvelope()
      process.stdout.write('{"status":0,"result":')
      const streamed = await exportManifest(store, format, { ...opts, validated: true }, streamTarget(process.stdout))
      process.stdout.write('}\n')
      await o.onDone?.(streamed)
      return undefined
    }
    const r = await exportManifest(store, format, opts, streamTarget(process.stdout))
    await o.onDone?.(r)
    o.info(`${r.rows} row(s) exported as ${r.format}.`)
    return r
  } catch (e) {
    if (pipeClosed || e instanceof OutputClosedError) return undefined
    throw e
  }
}
