/**
 * Work-order activation windows: a batch takes devices only between `activatesOn` and `expiresOn`. Kept beside the
 * manifest types because both injection (one device) and the station (many) enforce it.
 */
import { LwprovError } from '../errors.js'
import type { BatchRecord } from './types.js'

/**
 * Refuses injection outside a work order's activation window. Called by the inject session and the station before a
 * device is touched. Exit 3 (conflict): the manifest says no, not the user's syntax.
 */
export function assertBatchActive(batch: Pick<BatchRecord, 'name' | 'activatesOn' | 'expiresOn'>, now: Date): void {
  if (batch.activatesOn && now.getTime() < Date.parse(batch.activatesOn)) {
    throw new LwprovError('E_BATCH_NOT_ACTIVE', `Work order ${batch.name} is not active until ${batch.activatesOn}.`, {
      exit: 'conflict',
      hint: 'Wait for the activation date, or create a work order with an earlier --activates-on.',
      details: { batch: batch.name, activatesOn: batch.activatesOn },
    })
  }
  if (batch.expiresOn && now.getTime() >= Date.parse(batch.expiresOn)) {
    throw new LwprovError('E_BATCH_EXPIRED', `Work order ${batch.name} expired on ${batch.expiresOn}.`, {
      exit: 'conflict',
      hint: 'Expired work orders take no more devices: create a new work order for the remaining devices.',
      details: { batch: batch.name, expiresOn: batch.expiresOn },
    })
  }
}
