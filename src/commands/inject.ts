import { Flags } from '@oclif/core'

import { BaseCommand, toLwprovError } from '../cli/base-command.js'
import { caFlags, credentialProfileFlags, deviceInfoFlags, endpointFlags, fieldDeviceFlags, manifestFlags, transportFlags } from '../cli/flags.js'
import { prepareInject } from '../cli/inject-setup.js'
import { chooseRenderer, renderStation, viewHooks } from '../cli/render.js'
import type { LwprovError } from '../core/errors.js'
import { injectOne, type InjectOutcome } from '../core/inject/session.js'
import { shown } from '../core/validate/escape.js'

export type InjectResult = Omit<InjectOutcome, 'attempts' | 'deviceKeygen'> & { attempts: number }

export default class Inject extends BaseCommand {
  static override summary = 'Provision one device: identify, write credentials, read back, verify, record.'
  static override description = `Connects to the device on a serial port (or TCP for Linux devices running Izuma FCC), learns who it is, generates its credentials just in time (the private key is never stored: only the certificate and fingerprint; PSKs are sealed with the manifest master key), writes them, and records the endpoint as verified only once the device's read-back digest matches (a failure is recorded as failed with the step and reason).

The endpoint is --endpoint NAME, a template the device fills ({serial}, {imei}, {mac}), or the next reserved name of --batch. A device that fails keeps its endpoint: re-running inject for it is idempotent. Transport failures are retried on a fresh connection (--retries); refusals are not. Ctrl-C marks the row failed (interrupted) and exits 130.`

  static override examples = [
    '<%= config.bin %> inject --port /dev/ttyACM0 --protocol lwprov --endpoint urn:dev:ops:32473-Widget-{serial} --mode direct --security psk --server coaps://lwm2m.example.com:5684',
    '<%= config.bin %> inject --port /dev/ttyUSB0 --protocol lwprov --batch WO-1042 --mode bootstrap --security cert --server coaps://bs.example.com:5684 --ca ./factory-ca --device-keygen',
    '<%= config.bin %> inject --tcp 192.168.1.20:7777 --protocol fcc --endpoint 0173fcc0001 --mode bootstrap --security cert --server "coaps://bs.example.com:5684?aid=0123456789abcdef0123456789abcdef" --server-ca server-ca.pem --ca ./factory-ca --manufacturer Acme --model-number M1 --device-type sensor --hardware-version 1.0 --memory-total-kb 512 --serial-number SN-0001 --json',
  ]

  static override flags = {
    ...transportFlags,
    endpoint: endpointFlags.endpoint,
    batch: endpointFlags.batch,
    ...credentialProfileFlags,
    ...caFlags,
    ...manifestFlags,
    ...deviceInfoFlags,
    ...fieldDeviceFlags,
    'device-keygen': Flags.boolean({ summary: 'Let the device generate its key pair and sign its CSR with --ca (the private key never leaves it).', helpGroup: 'CREDENTIALS' }),
    'first-to-claim': Flags.boolean({ summary: 'Izuma first-to-claim: no aid= in the bootstrap URI, the enrollment id is recorded.', helpGroup: 'CREDENTIALS' }),
    station: Flags.string({ summary: 'Station name recorded with the manifest row (default: host name).', env: 'LWPROV_STATION' }),
    retries: Flags.integer({ summary: 'Reconnect-and-retry attempts after transport failures.', default: 2, min: 0, max: 10, helpGroup: 'TRANSPORT' }),
    reprovision: Flags.boolean({ summary: 'Give a verified device new credentials (the old ones are kept as history); needs --reason.', dependsOn: ['reason'] }),
    reason: Flags.string({ summary: 'Why the device is re-provisioned (recorded with the superseded credentials).', dependsOn: ['reprovision'] }),
    timeout: Flags.integer({ summary: 'Per-step device timeout in ms (commit and read-back get 3x).', min: 100, helpGroup: 'TRANSPORT' }),
  }

  async run(): Promise<InjectResult> {
    const { flags } = await this.parse(Inject)
    const { options, where } = await prepareInject(flags, { warn: (t) => this.warn(t), onCleanup: (fn) => this.onCleanup(fn) })
    const abort = new AbortController()
    const onSigint = () => abort.abort(new Error('SIGINT'))
    process.once('SIGINT', onSigint)
    this.onCleanup(() => {
      process.removeListener('SIGINT', onSigint)
    })
    // The same live view as `station`, for one port.
    const renderer = chooseRenderer(this.jsonEnabled())
    const view = renderStation([where], { renderer, single: true })
    const t0 = Date.now()
    let outcome: InjectOutcome
    try {
      const onRetry = (n: number, err: LwprovError) => {
        const text = `${where}: ${err.message} — retrying (${n}/${flags.retries})`
        // On a live view a stray stderr line would tear the display: the view shows it, the envelope keeps it.
        if (renderer !== 'default') return void this.warn(text)
        this.warnings.push(text)
        view.onEvent({ type: 'retry', port: where, attempt: n, reason: err.message })
      }
      outcome = await injectOne({ ...options, hooks: viewHooks(where, view, abort.signal, onRetry) })
      view.onEvent({ type: 'verified', port: where, endpoint: outcome.endpoint, ...(outcome.deviceId ? { deviceId: outcome.deviceId } : {}), ms: Date.now() - t0 })
    } catch (e) {
      const err = toLwprovError(e)
      view.onEvent({ type: 'failed', port: where, code: err.code, reason: err.code === 'E_INTERRUPTED' ? err.message : 'details below' })
      throw e
    } finally {
      view.onEvent({ type: 'idle', port: where, reason: 'done' })
      await view.finish()
    }
    const { deviceKeygen: _k, ...result } = outcome
    this.out(`${this.color('green', 'verified')} ${shown(result.endpoint)} on ${shown(result.port)}${result.deviceId ? ` (device ${shown(result.deviceId)})` : ''}${result.proof ? `, proof ${result.proof}` : ''}`)
    return result
  }
}
