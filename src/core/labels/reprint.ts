/** Labels for the rows of a batch already in the manifest (reprints): no claim codes exist any more, only hashes. */
import { usageError } from '../errors.js'
import type { EndpointStatus, ManifestStore } from '../manifest/types.js'
import type { LabelData } from './payload.js'

/** Checks the batch has rows; throws `E_BATCH_NOT_FOUND` otherwise. */
export async function assertBatchHasRows(store: ManifestStore, batch: string): Promise<number> {
  const n = await store.count({ batch })
  if (n === 0) throw usageError('E_BATCH_NOT_FOUND', `No work order or batch named ${batch}.`, 'List work orders with `lwprov batch list`.')
  return n
}

/** Streams the batch's rows as labels (revoked rows left out unless `statuses` names them). */
export async function* batchLabels(store: ManifestStore, batch: string, statuses?: EndpointStatus[]): AsyncIterable<LabelData> {
  for await (const r of store.list({ batch, ...(statuses ? { status: statuses } : {}) })) {
    if (!statuses && r.status === 'revoked') continue
    yield { endpoint: r.endpoint, serial: r.deviceId ?? undefined, batch: r.batch, seq: r.seq ?? undefined }
  }
}
