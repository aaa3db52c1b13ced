/**
 * A new version of a record can be in preparation on Zenodo by hand: a person opened it, uploaded
 * files, edited the metadata. Zenodo allows one pending draft per concept, and taking it up would
 * delete that person's files and publish our content under their name. So a pending draft is
 * taken up only when it is ours: a sync recorded it, or a sync of this dataset was about to open
 * one and never learnt its id (a crash right after `newversion`). Anything else makes the sync wait
 * (retryable) until the person publishes or discards their draft.
 */
import { AppError } from '../errors.js';
import type { SyncRun, ZDeposition } from './ports.js';
import type { SyncDeps } from './worker.js';

export async function ownPendingDraft(deps: Pick<SyncDeps, 'store' | 'log'>, run: Pick<SyncRun, 'id' | 'datasetId'>, pending: ZDeposition): Promise<ZDeposition> {
  if (await deps.store.isOwnDraft(pending.id)) return pending;
  if (await deps.store.mayHaveUnrecordedDeposition(run.datasetId)) return pending;
  const message = `a new version of the record is being edited on Zenodo (draft ${pending.id}, not opened by this service); the sync resumes when that draft is published or discarded`;
  deps.log.warn({ syncId: run.id, datasetId: run.datasetId, depositionId: pending.id }, message);
  throw new AppError('ZENODO_CONFLICT', message, { retryable: true, details: { foreignDraftId: pending.id, ...(pending.htmlUrl ? { draftUrl: pending.htmlUrl } : {}) } });
}
