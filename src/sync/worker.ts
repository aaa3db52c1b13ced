/**
 * The sync state machine (DESIGN.md "The sync state machine"): one call brings one dataset's
 * Zenodo concept up to date, recording every step before starting the next, so a process killed
 * at any instant resumes from the last committed step and publishes exactly one version per change.
 *
 *   planned → draft_open → files_synced → metadata_set → published → written_back → done
 *                                        └→ unchanged (draft equal to the previous version: discarded)
 */
import type { Logger } from '../log.js';
import { AppError, toAppError } from '../errors.js';
import type { Rule, Rules } from '../rules/types.js';
import { planSync, type ArchivedFile, type PlannedFile } from './plan.js';
import type { OpenedSource } from './source.js';
import type { CkanDataset, CkanPort, CkanResource, Link, OutboxRow, StoredPlan, SyncRun, SyncStore, ZDeposition, ZenodoPort } from './ports.js';
import { parseZenodoReference, type ZenodoReference } from './zenodo-reference.js';
import { linkTo } from './link.js';

export type MailKind = 'first_version' | 'new_version' | 'metadata_edit' | 'failure';

export interface MailContext {
  kind: MailKind;
  dataset: CkanDataset | undefined;
  datasetId: string;
  rule: Rule | undefined;
  syncId: number | undefined;
  plan?: StoredPlan;
  deposition?: ZDeposition;
  error?: { code: string; message: string; details?: unknown };
}

export interface SyncDeps {
  store: SyncStore;
  zenodo: ZenodoPort;
  ckan: CkanPort;
  rules: Rules;
  matchRule(rules: Rules, dataset: CkanDataset): Rule | undefined;
  mapMetadata(dataset: CkanDataset, rule: Rule): { metadata: Record<string, unknown>; fingerprint: string };
  fingerprintResource(resource: CkanResource): string;
  openSource(file: PlannedFile): Promise<OpenedSource>;
  /** Outbox rows (owners, admin) for a mail; resolved recipients, rendered later by the notifier. */
  mails(context: MailContext): Promise<OutboxRow[]>;
  ckanUrl: string;
  linkExtra: string;
  writeBack: boolean;
  maxAttempts: number;
  log: Logger;
  /** Called after each recorded step: progress output for `sync`, crash points for tests. */
  onStep?(state: string, run: SyncRun): void | Promise<void>;
}

export interface SyncJob {
  datasetId: string;
  trigger: string;
  /** 1 for the first try; the boundary gives up after `maxAttempts`. */
  attempt?: number;
}

export type SyncOutcome =
  | { state: 'done'; syncId: number; kind: string; doi: string | null; conceptDoi: string | null }
  | { state: 'unchanged'; syncId: number }
  | { state: 'skipped'; reason: string }
  | { state: 'failed'; syncId: number | undefined; code: string; message: string };

function datasetUrl(ckanUrl: string, dataset: { name: string }): string {
  return `${ckanUrl.replace(/\/+$/, '')}/dataset/${encodeURIComponent(dataset.name)}`;
}

function extraValue(dataset: CkanDataset, key: string): string | undefined {
  const fromList = dataset.extras?.find((e) => e.key === key)?.value;
  const flat = dataset[key];
  const value = fromList ?? (typeof flat === 'string' ? flat : undefined);
  return value && value.trim() !== '' ? value.trim() : undefined;
}

/**
 * Link resolution: DB link → CKAN extra → the rule's concept → none. A CKAN extra naming another
 * concept than the stored link is a conflict (someone re-pointed the dataset): never guess.
 */
async function resolveLink(deps: SyncDeps, dataset: CkanDataset, rule: Rule): Promise<Link | undefined> {
  const stored = await deps.store.getLink(dataset.id);
  const extra = extraValue(dataset, deps.linkExtra);
  const declared = extra ?? rule.zenodo.concept;
  let reference: ZenodoReference | undefined;
  if (declared !== undefined) {
    reference = parseZenodoReference(declared);
    if (!reference) {
      throw new AppError(
        'DATASET_UNMAPPED',
        `the CKAN extra "${deps.linkExtra}" holds "${declared.slice(0, 200)}", which is not a Zenodo record id, DOI or record URL`,
      );
    }
  }
  if (stored?.conceptRecid) {
    if (reference && !referencesConcept(reference, stored)) {
      const latest = await deps.zenodo.findLatestVersion(reference.id);
      if (latest?.conceptRecid !== stored.conceptRecid) {
        throw new AppError(
          'LINK_CONFLICT',
          `the dataset's "${deps.linkExtra}" points to Zenodo record ${reference.id} (concept ${latest?.conceptRecid ?? 'unknown'}), but it is archived in concept ${stored.conceptRecid}`,
          { details: { extra: declared, conceptRecid: stored.conceptRecid } },
        );
      }
    }
    return stored;
  }
  if (!reference) return undefined;
  const latest = await deps.zenodo.findLatestVersion(reference.id);
  if (!latest?.conceptRecid) {
    throw new AppError('DATASET_UNMAPPED', `the dataset's "${deps.linkExtra}" points to Zenodo record ${reference.id}, which has no published version this account can see`);
  }
  const link = linkTo(dataset.id, latest);
  await deps.store.saveLink(link);
  return link;
}

function referencesConcept(reference: ZenodoReference, link: Link): boolean {
  return reference.id === link.conceptRecid || reference.id === String(link.latestRecordId);
}

/** Files of the latest version, with the resource each came from (from our DB) where known. */
function mergeArchived(latest: ZDeposition, known: readonly ArchivedFile[]): ArchivedFile[] {
  const byName = new Map(known.map((f) => [f.filename, f]));
  return latest.files.map((f) => {
    const k = byName.get(f.filename);
    const sameContent = k !== undefined && k.md5 === f.md5;
    return { resourceId: sameContent ? k.resourceId : null, filename: f.filename, size: f.size, md5: f.md5, fingerprint: sameContent ? k.fingerprint : null };
  });
}

async function plan(deps: SyncDeps, dataset: CkanDataset, rule: Rule, trigger: string): Promise<SyncRun | { nothing: true }> {
  const link = await resolveLink(deps, dataset, rule);
  if (!link && rule.on_unmapped === 'notify') {
    throw new AppError(
      'DATASET_UNMAPPED',
      `the dataset is not linked to a Zenodo record and the rule "${rule.name}" says on_unmapped: notify. Add the extra "${deps.linkExtra}" with the Zenodo DOI, or run \`ckan-zenodo-sync link ${dataset.name} <doi>\``,
    );
  }
  const latest = link?.conceptRecid ? await deps.zenodo.findLatestVersion(link.conceptRecid) : undefined;
  if (link?.conceptRecid && !latest) {
    throw new AppError('ZENODO_NOT_FOUND', `Zenodo concept ${link.conceptRecid} has no published version this account can see`);
  }
  const { metadata, fingerprint } = deps.mapMetadata(dataset, rule);
  const fingerprints = new Map(dataset.resources.map((r) => [r.id, deps.fingerprintResource(r)]));
  const archived = latest ? { files: mergeArchived(latest, await deps.store.archivedFiles(dataset.id)), metadataFingerprint: link?.archivedMetadataFingerprint ?? null } : undefined;
  const result = planSync({
    ckanUrl: deps.ckanUrl,
    dataset: { id: dataset.id, name: dataset.name, resources: dataset.resources },
    rule,
    archived,
    fingerprints,
    storedFilenames: await deps.store.storedFilenames(dataset.id),
    metadataFingerprint: fingerprint,
  });
  const stored: StoredPlan = {
    ...result,
    metadata,
    conceptRecid: link?.conceptRecid ?? null,
    baseRecordId: latest?.id ?? null,
    previousFiles: (latest?.files ?? []).map((f) => ({ filename: f.filename, md5: f.md5 })),
    ruleName: rule.name,
    dataset: { id: dataset.id, name: dataset.name, title: dataset.title ?? dataset.name, url: datasetUrl(deps.ckanUrl, dataset) },
  };
  if (result.kind === 'nothing') {
    const run = await deps.store.createSync(dataset.id, trigger, stored);
    await deps.store.finish(run.id, 'unchanged', { reason: 'the archived version is up to date' });
    return { nothing: true };
  }
  return deps.store.createSync(dataset.id, trigger, stored);
}

async function step(deps: SyncDeps, run: SyncRun, state: SyncRun['state'], patch: Partial<Pick<SyncRun, 'draftId' | 'recordId' | 'doi' | 'conceptDoi'>> = {}, detail?: Record<string, unknown>): Promise<void> {
  await deps.store.advance(run.id, state, patch, detail);
  Object.assign(run, patch, { state });
  deps.log.info({ syncId: run.id, datasetId: run.datasetId, depositionId: run.draftId, state }, 'sync step recorded');
  await deps.onStep?.(state, run);
}

/** Opens (or finds again) the draft this sync works on. Non-idempotent calls check state first. */
async function openDraft(deps: SyncDeps, run: SyncRun): Promise<ZDeposition> {
  const { plan: p } = run;
  if (run.draftId !== null) {
    const known = await deps.zenodo.getDeposition(run.draftId).catch((e: unknown) => {
      if (toAppError(e).code === 'ZENODO_NOT_FOUND') return undefined; // discarded by someone: start over
      throw e;
    });
    if (known) return known;
  }
  if (run.kind === 'metadata_edit') {
    if (p.baseRecordId === null) throw new AppError('INTERNAL', 'a metadata edit needs the published record id');
    return deps.zenodo.edit(p.baseRecordId);
  }
  if (p.conceptRecid !== null && p.baseRecordId !== null) {
    // newVersion returns the pending draft when one exists (reference zenodo-api.md §4.2),
    // including the 400 "Please remove all files first." case, which the adapter resolves.
    return (await deps.zenodo.findPendingDraft(p.conceptRecid)) ?? deps.zenodo.newVersion(p.baseRecordId);
  }
  // First version: a crash between create and recording the id leaves a draft we can recognise
  // by its link back to the CKAN dataset; reuse it instead of creating a second one. Such a draft
  // can only exist after a creation noted below whose draft was never recorded: only then are the
  // account's depositions searched (up to 3 list requests of 100, from the rate-limit budget).
  if (await deps.store.mayHaveUnrecordedDeposition(run.datasetId)) {
    const orphan = await deps.zenodo.findUnpublishedDraft(p.dataset.url);
    if (orphan) return orphan;
  }
  await deps.store.noteCreatingDeposition(run.id);
  return deps.zenodo.createDeposition(p.metadata);
}

async function syncFiles(deps: SyncDeps, run: SyncRun, draft: ZDeposition): Promise<void> {
  const { plan: p } = run;
  if (run.kind === 'metadata_edit') return;
  let files = await deps.zenodo.listFiles(draft.id);
  const wanted = new Map(p.files.map((f) => [f.filename, f]));
  const toReplace = new Set(p.delete.map((d) => d.filename));
  const uploaded = await deps.store.uploadedFiles(run.id);
  // Inherited files the plan drops or replaces go first (Zenodo carries every file of the
  // previous version into the new draft). A replaced file already uploaded by this sync (we
  // crashed after its upload) is recognised by its recorded md5 and kept.
  for (const f of files) {
    const done = uploaded.get(f.filename);
    const stale = !wanted.has(f.filename) || (toReplace.has(f.filename) && done?.md5 !== f.md5);
    if (stale) await deps.zenodo.deleteFile(draft.id, f.id);
  }
  files = await deps.zenodo.listFiles(draft.id);
  const present = new Map(files.map((f) => [f.filename, f]));
  if (!draft.bucketUrl) throw new AppError('ZENODO_BAD_RESPONSE', `draft ${draft.id} has no bucket link`);
  for (const file of p.files) {
    const there = present.get(file.filename);
    const done = uploaded.get(file.filename);
    if (there && (file.action === 'keep' || done?.md5 === there.md5)) continue;
    const result = await deps.zenodo.upload(draft.bucketUrl, file.filename, () => deps.openSource(file));
    await deps.store.recordUpload(run.id, { resourceId: file.resourceId, filename: file.filename, action: file.action, size: result.size, md5: result.md5 });
    deps.log.info({ syncId: run.id, depositionId: draft.id, filename: file.filename, size: result.size }, 'file uploaded and verified');
  }
}

function sameFiles(a: readonly { filename: string; md5: string }[], b: readonly { filename: string; md5: string }[]): boolean {
  if (a.length !== b.length) return false;
  const key = (f: { filename: string; md5: string }): string => `${f.filename}\u0000${f.md5}`;
  const set = new Set(a.map(key));
  return b.every((f) => set.has(key(f)));
}

async function publishAndRecord(deps: SyncDeps, run: SyncRun, draftId: number, dataset: CkanDataset | undefined, rule: Rule | undefined): Promise<ZDeposition> {
  const current = await deps.zenodo.getDeposition(draftId);
  // Published already (we crashed between publish and recording it): record, never publish twice.
  const published = current.state === 'done' && current.submitted ? current : await deps.zenodo.publish(draftId);
  const byName = new Map(run.plan.files.map((f) => [f.filename, f]));
  const files: ArchivedFile[] = published.files.map((f) => {
    const planned = byName.get(f.filename);
    return { resourceId: planned?.resourceId ?? null, filename: f.filename, size: f.size, md5: f.md5, fingerprint: planned?.fingerprint ?? null };
  });
  const mailKind = run.kind === 'metadata_edit' ? 'metadata_edit' : run.plan.conceptRecid === null ? 'first_version' : 'new_version';
  const mails = await deps.mails({ kind: mailKind, dataset, datasetId: run.datasetId, rule, syncId: run.id, plan: run.plan, deposition: published });
  await deps.store.recordPublished({
    syncId: run.id,
    datasetId: run.datasetId,
    deposition: published,
    files,
    metadataFingerprint: run.plan.metadataFingerprint,
    filenames: new Map(run.plan.files.map((f) => [f.resourceId, f.filename])),
    mails,
  });
  Object.assign(run, { state: 'published', recordId: published.id, doi: published.doi, conceptDoi: published.conceptDoi });
  deps.log.info({ syncId: run.id, datasetId: run.datasetId, depositionId: published.id, doi: published.doi }, 'version published');
  await deps.onStep?.('published', run);
  return published;
}

async function execute(deps: SyncDeps, run: SyncRun, dataset: CkanDataset | undefined, rule: Rule | undefined): Promise<SyncOutcome> {
  let draft: ZDeposition | undefined;
  if (run.state === 'planned') {
    draft = await openDraft(deps, run);
    await step(deps, run, 'draft_open', { draftId: draft.id }, { depositionId: draft.id });
  }
  const draftId = (): number => {
    if (run.draftId === null) throw new AppError('INTERNAL', `sync ${run.id} is in state ${run.state} without a draft id`);
    return run.draftId;
  };
  if (run.state === 'draft_open') {
    draft ??= await openDraft(deps, run);
    if (draft.id !== run.draftId) await step(deps, run, 'draft_open', { draftId: draft.id }, { depositionId: draft.id, reopened: true });
    if (draft.state === 'done' && draft.submitted && run.kind !== 'metadata_edit') {
      // Published by an earlier run of this sync that died before recording it.
      await publishAndRecord(deps, run, draft.id, dataset, rule);
    } else {
      await syncFiles(deps, run, draft);
      await step(deps, run, 'files_synced');
    }
  }
  if (run.state === 'files_synced') {
    const id = draftId();
    const updated = await deps.zenodo.updateMetadata(id, run.plan.metadata);
    if (run.kind === 'new_version' && !run.plan.metadataChanged) {
      const files = await deps.zenodo.listFiles(id);
      if (sameFiles(files, run.plan.previousFiles)) {
        // Zenodo no longer refuses identical versions (reference §4.2); publishing one would
        // mint a DOI for nothing, so the draft is dropped and the sync recorded as unchanged.
        await deps.zenodo.discard(id);
        await deps.store.finish(run.id, 'unchanged', { reason: 'the new files are identical to the archived ones', depositionId: updated.id });
        return { state: 'unchanged', syncId: run.id };
      }
    }
    await step(deps, run, 'metadata_set');
  }
  if (run.state === 'metadata_set') {
    await publishAndRecord(deps, run, draftId(), dataset, rule);
  }
  if (run.state === 'published') {
    if (deps.writeBack && run.conceptDoi && run.doi) {
      const record = await deps.zenodo.getDeposition(run.recordId ?? draftId());
      await deps.ckan.patchExtras(run.datasetId, {
        [deps.linkExtra]: run.conceptDoi,
        zenodo_version_doi: run.doi,
        zenodo_record_url: record.htmlUrl ?? '',
      });
    }
    await step(deps, run, 'written_back');
  }
  if (run.state === 'written_back') await deps.store.finish(run.id, 'done');
  return { state: 'done', syncId: run.id, kind: run.kind, doi: run.doi, conceptDoi: run.conceptDoi };
}

/**
 * Syncs one dataset and is the job's error boundary: retryable errors are rethrown (the queue
 * retries with backoff) until `maxAttempts`, permanent ones and exhausted retries end the sync as
 * `failed` with a mail to the owners and the admin. Never throws a permanent error.
 */
export async function syncDataset(deps: SyncDeps, job: SyncJob): Promise<SyncOutcome> {
  let run: SyncRun | undefined;
  let dataset: CkanDataset | undefined;
  let rule: Rule | undefined;
  try {
    dataset = await deps.ckan.packageShow(job.datasetId);
    run = await deps.store.openSync(dataset?.id ?? job.datasetId);
    if (dataset) rule = deps.matchRule(deps.rules, dataset);
    if (!run) {
      if (!dataset || dataset.state === 'deleted') {
        await deps.store.markInactive(job.datasetId, 'the dataset was deleted in CKAN or is not visible to the API token');
        return { state: 'skipped', reason: 'dataset not found' };
      }
      if (!rule) {
        await deps.store.markInactive(dataset.id, 'no rule in rules.yaml selects the dataset any more');
        return { state: 'skipped', reason: 'no rule selects the dataset' };
      }
      const planned = await plan(deps, dataset, rule, job.trigger);
      if ('nothing' in planned) return { state: 'skipped', reason: 'up to date' };
      run = planned;
      deps.log.info({ syncId: run.id, datasetId: run.datasetId, kind: run.kind }, 'sync planned');
      await deps.onStep?.('planned', run);
    }
    return await execute(deps, run, dataset, rule);
  } catch (caught) {
    const error = toAppError(caught);
    const attempt = job.attempt ?? 1;
    if (error.retryable) {
      // A database outage is no fault of the dataset's: retried (src/sync/job.ts, then the queue)
      // without using up its attempts, and without a write that cannot succeed now anyway.
      if (error.code === 'DB_UNAVAILABLE') throw error;
      const attempts = run ? await deps.store.recordAttempt(run.id, error) : attempt;
      if (attempts < deps.maxAttempts) {
        deps.log.warn({ datasetId: job.datasetId, syncId: run?.id, code: error.code, attempts, err: error }, 'sync failed, will retry');
        throw error;
      }
    }
    deps.log.error({ datasetId: job.datasetId, syncId: run?.id, code: error.code, err: error }, 'sync failed');
    const failure = { code: error.code, message: error.message };
    const mails = await deps.mails({ kind: 'failure', dataset, datasetId: dataset?.id ?? job.datasetId, rule, syncId: run?.id, plan: run?.plan, error: { ...failure, details: error.details } });
    await deps.store.fail(run?.id, dataset?.id ?? job.datasetId, failure, mails);
    return { state: 'failed', syncId: run?.id, code: error.code, message: error.message };
  }
}
