/**
 * Ctrl-C / SIGTERM for long runs (station): the first signal aborts the returned signal so the run winds down and
 * reports; a second one, or a hang after the first, ends the process with 130.
 */

/** After Ctrl-C, how long the process may take to exit on its own before it is ended with 130. */
const FORCE_EXIT_MS = 5000

function forceExit(bin: string, why: string): never {
  process.stderr.write(`${bin}: exiting after ${why} (exit 130).\n`)
  process.exit(130)
}

export function abortOnSignals(bin: string, onCleanup: (fn: () => void) => void): AbortSignal {
  const abort = new AbortController()
  const onSignal = () => {
    if (abort.signal.aborted) forceExit(bin, 'a second interrupt')
    abort.abort()
    // Last resort, documented: the runner stops waiting for stuck ports after its grace period, but a handle we do
    // not own (a serial port whose native close or read never completes) could still keep Node alive after the
    // summary. Unref'd, so it only fires when the process would otherwise hang; the result is already on stdout.
    setTimeout(() => forceExit(bin, 'a hang after the interrupt'), FORCE_EXIT_MS).unref()
  }
  // Listeners stay installed until cleanup (not `once`): a second Ctrl-C must not fall back to Node's default kill.
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  onCleanup(() => {
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
  })
  return abort.signal
}
