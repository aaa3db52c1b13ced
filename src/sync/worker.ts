/**
 * The sync state machine (DESIGN.md "The sync state machine"): one call brings one dataset's
 * Zenodo concept up to date, recording every step before starting the next, so a process killed
 * at any instant resumes from the last committed step and publishes exactly one version per change.
 *
 *   planned → draft_open → files_synced → metadata_set → published → written_back → done
 *                                        └→ unchanged (draft equal to the previous version: discarded)
 */
import type { Logger } from '../log.js';
import { AppError, isAppError, toAppError, type ErrorCode } from '../errors.js';
import type { Rule, Rules } from '../rules/types.js';
import { selectDataset } from '../rules/select.js';
import { planSync, type ArchivedFile, type Plan, type PlannedFile, type SkippedResource } from './plan.js';
import type { OpenedSource } from './source.js';
import type { CkanDataset, CkanPort, CkanResource, Link, OutboxRow, StoredPlan, SyncRun, SyncStore, ZDeposition, ZenodoPort } from './ports.js';
import { parseZenodoReference, type ZenodoReference } from './zenodo-reference.js';
import { linkTo } from './link.js';
import { mergeCuration } from '../zenodo/curation.js';
import { ownPendingDraft } from './foreign-draft.js';

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
  /**
   * The Zenodo metadata for a dataset under a rule. `problems` are reasons not to publish at all
   * (no licence that maps, nobody to name as creator): a DOI is forever, so the sync stops with
   * the first of them before anything is created on Zenodo.
   */
  mapMetadata(dataset: CkanDataset, rule: Rule): MappedMetadata;
  fingerprintResource(resource: CkanResource): string;
  openSource(file: PlannedFile): Promise<OpenedSource>;
  /**
   * Everything knowable about a resource URL without Zenodo and without downloading (scheme,
   * credentials in the URL, SSRF): an error here stops the sync before a draft is opened.
   */
  preflight(url: string): Promise<AppError | undefined>;
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

export interface MappedMetadata {
  metadata: Record<string, unknown>;
  fingerprint: string;
  warnings: string[];
  problems: { code: ErrorCode; message: string; fieldErrors?: { field: string; message: string }[] }[];
  /** Which licence and why, in words, for the mails and the status page. */
  license: string;
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
  | { state: 'skipped'; reason: string; syncId?: number }
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
async function resolveLink(deps: SyncDeps, dataset: CkanDataset, rule: Rule, save = true): Promise<Link | undefined> {
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
  if (save) await deps.store.saveLink(link);
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

/** The deposition of an earlier first-version sync, when it still exists; undefined when gone. */
async function earlierDraft(deps: SyncDeps, id: number): Promise<ZDeposition | undefined> {
  return deps.zenodo.getDeposition(id).catch((e: unknown) => {
    if (toAppError(e).code === 'ZENODO_NOT_FOUND') return undefined;
    throw e;
  });
}

/**
 * A first version Zenodo published although its sync never learnt it (every answer to the
 * publish was lost, and the sync failed): the dataset is linked to that record, so the next sync
 * makes a new version of it instead of a second concept DOI for the same dataset.
 */
async function publishedEarlierDraft(deps: SyncDeps, dataset: CkanDataset, save: boolean): Promise<Link | undefined> {
  for (const id of await deps.store.earlierFirstDrafts(dataset.id)) {
    const deposition = await earlierDraft(deps, id);
    if (!deposition || deposition.state !== 'done' || !deposition.submitted || !deposition.conceptRecid) continue;
    const link = linkTo(dataset.id, deposition);
    if (save) {
      await deps.store.saveLink(link);
      deps.log.warn({ datasetId: dataset.id, depositionId: id, doi: deposition.doi }, 'an earlier sync had published the first version without knowing it: linked to that record');
    }
    return link;
  }
  return undefined;
}

/** What a sync of the dataset would do, from CKAN, the database and Zenodo (read only). */
async function buildPlan(deps: SyncDeps, dataset: CkanDataset, rule: Rule, options: { save: boolean }): Promise<{ result: Plan; stored: StoredPlan }> {
  // Everything that needs no Zenodo call first: a dataset that cannot be published costs nothing.
  const { metadata, fingerprint, warnings, problems, license } = deps.mapMetadata(dataset, rule);
  const problem = problems[0];
  if (problem) throw new AppError(problem.code, problem.message, { details: { problems, warnings, ...(problem.fieldErrors && { errors: problem.fieldErrors }) } });
  const link = (await resolveLink(deps, dataset, rule, options.save)) ?? (await publishedEarlierDraft(deps, dataset, options.save));
  if (!link && rule.on_unmapped === 'notify') {
    throw new AppError(
      'DATASET_UNMAPPED',
      `the dataset is not linked to a Zenodo record and the rule "${rule.name}" says on_unmapped: notify. Add the extra "${deps.linkExtra}" with the Zenodo DOI, or run \`ckan-zenodo-sync link ${dataset.name} <doi>\``,
    );
  }
  // Asked through the last version we know: a record's versions list names the concept's latest
  // in one request, where a concept id costs a 404 first (zenodo/zenodo#2499, reference §10).
  const latest = link?.conceptRecid ? await deps.zenodo.findLatestVersion(String(link.latestRecordId ?? link.conceptRecid)) : undefined;
  if (link?.conceptRecid && !latest) {
    throw new AppError('ZENODO_NOT_FOUND', `Zenodo concept ${link.conceptRecid} has no published version this account can see`);
  }
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
    metadata: latest ? nextVersionMetadata(metadata, latest.metadata, result.kind, new Date()) : metadata,
    conceptRecid: link?.conceptRecid ?? null,
    baseRecordId: latest?.id ?? null,
    previousFiles: (latest?.files ?? []).map((f) => ({ filename: f.filename, md5: f.md5 })),
    ruleName: rule.name,
    warnings,
    license,
    dataset: { id: dataset.id, name: dataset.name, title: dataset.title ?? dataset.name, url: datasetUrl(deps.ckanUrl, dataset) },
  };
  return { result, stored };
}

async function plan(deps: SyncDeps, dataset: CkanDataset, rule: Rule, trigger: string): Promise<SyncRun | { nothing: true }> {
  const { result, stored } = await buildPlan(deps, dataset, rule, { save: true });
  if (result.kind === 'nothing') {
    const run = await deps.store.createSync(dataset.id, trigger, stored);
    await deps.store.finish(run.id, 'unchanged', { reason: 'the archived version is up to date' });
    return { nothing: true };
  }
  return deps.store.createSync(dataset.id, trigger, stored);
}

/**
 * The metadata of a new version or edit of a record that already exists: what the mapping owns
 * from the mapping, everything curated on Zenodo (grants, contributors, ORCIDs, communities,
 * related identifiers added by hand) kept from the latest version, and a version label that is
 * never repeated: CKAN's `version` when it changed, else the date (with a counter when a version
 * of the same day exists). An edit keeps the record's own label.
 */
export function nextVersionMetadata(mapped: Record<string, unknown>, latest: Record<string, unknown>, kind: string, today: Date): Record<string, unknown> {
  const merged = mergeCuration(mapped, latest);
  const previous = typeof latest.version === 'string' ? latest.version : undefined;
  if (kind === 'metadata_edit') {
    if (previous === undefined) delete merged.version;
    else merged.version = previous;
    return merged;
  }
  const wanted = typeof mapped.version === 'string' ? mapped.version : undefined;
  if (wanted !== undefined && wanted !== previous) return merged;
  // The date; a second version the same day is "<date>.2", then ".3"...
  const date = today.toISOString().slice(0, 10);
  const sameDay = previous === date ? 1 : Number(previous !== undefined && previous.startsWith(`${date}.`) ? previous.slice(date.length + 1) : NaN);
  merged.version = Number.isSafeInteger(sameDay) && sameDay >= 1 ? `${date}.${sameDay + 1}` : date;
  return merged;
}

async function step(deps: SyncDeps, run: SyncRun, state: SyncRun['state'], patch: Partial<Pick<SyncRun, 'draftId' | 'recordId' | 'doi' | 'conceptDoi'>> = {}, detail?: Record<string, unknown>): Promise<void> {
  await deps.store.advance(run.id, state, patch, detail);
  Object.assign(run, patch, { state });
  deps.log.info({ syncId: run.id, datasetId: run.datasetId, depositionId: run.draftId, state }, 'sync step recorded');
  await deps.onStep?.(state, run);
}

/**
 * Checks before drafts: a resource that can never be downloaded must not leave a draft behind
 * (and another one at each new attempt). Every refused file is named at once.
 */
async function preflightFiles(deps: SyncDeps, run: SyncRun): Promise<void> {
  const refused: AppError[] = [];
  for (const file of run.plan.files) {
    if (file.action === 'keep' || file.source.kind !== 'download') continue;
    const error = await deps.preflight(file.source.url);
    if (error) refused.push(error);
  }
  const first = refused[0];
  if (first === undefined) return;
  if (refused.length === 1) throw first;
  throw new AppError(first.code, `${refused.length} resources cannot be downloaded: ${refused.map((e) => e.message).join('; ')}`, { retryable: refused.every((e) => e.retryable), details: { refused: refused.map((e) => ({ code: e.code, message: e.message })) } });
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
    // Only a draft of ours is taken up again (src/sync/foreign-draft.ts).
    const pending = await deps.zenodo.findPendingDraft(p.conceptRecid);
    if (pending) return ownPendingDraft(deps, run, pending);
    // Noted first: a crash before the draft id is recorded leaves a draft we still recognise as ours.
    await deps.store.noteCreatingDeposition(run.id);
    return deps.zenodo.newVersion(p.baseRecordId);
  }
  // First version: a crash between create and recording the id leaves a draft we can recognise
  // by its link back to the CKAN dataset; reuse it instead of creating a second one. Such a draft
  // can only exist after a creation noted below whose draft was never recorded: only then are the
  // account's depositions searched (up to 3 list requests of 100, from the rate-limit budget).
  // A draft left by an earlier first-version sync that failed is taken up again rather than
  // leaving it in the account and opening another one.
  for (const id of await deps.store.earlierFirstDrafts(run.datasetId)) {
    const earlier = await earlierDraft(deps, id);
    if (earlier && earlier.state === 'unsubmitted' && !earlier.submitted) return earlier;
  }
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
  const empty = await deps.store.emptyFiles(run.id);
  let anyEmpty = empty.size > 0;
  for (const file of p.files) {
    const there = present.get(file.filename);
    const done = uploaded.get(file.filename);
    if (there && (file.action === 'keep' || done?.md5 === there.md5)) continue;
    if (empty.has(file.filename)) continue;
    const open = async (): Promise<OpenedSource> => {
      const opened = await deps.openSource(file);
      if (opened.size === 0) {
        await opened.cleanup();
        throw new AppError('RESOURCE_EMPTY', `the resource behind "${file.filename}" is empty (0 bytes); Zenodo refuses empty files`);
      }
      return opened;
    };
    try {
      const result = await deps.zenodo.upload(draft.bucketUrl, file.filename, open);
      await deps.store.recordUpload(run.id, { resourceId: file.resourceId, filename: file.filename, action: file.action, size: result.size, md5: result.md5 });
      deps.log.info({ syncId: run.id, depositionId: draft.id, filename: file.filename, size: result.size }, 'file uploaded and verified');
    } catch (error) {
      if (!isAppError(error, 'RESOURCE_EMPTY')) throw error;
      // Left out of the version with a note in the owner's mail; the other files still go.
      await deps.store.recordEmpty(run.id, { resourceId: file.resourceId, filename: file.filename });
      anyEmpty = true;
      deps.log.warn({ syncId: run.id, depositionId: draft.id, filename: file.filename }, 'resource is empty: left out of the version');
    }
  }
  if (anyEmpty && (await deps.zenodo.listFiles(draft.id)).length === 0) {
    // A first draft with nothing in it is litter in the owner's Zenodo account.
    if (p.conceptRecid === null) await deps.zenodo.discard(draft.id);
    throw new AppError('NO_FILES', 'no resource of the dataset can be archived: every file to archive is empty (0 bytes), and Zenodo refuses a record without files');
  }
}

/** The plan as the owner's mail should show it: resources found empty during the sync count as skipped. */
async function planForMail(deps: SyncDeps, run: SyncRun): Promise<StoredPlan> {
  const empty = await deps.store.emptyFiles(run.id);
  if (empty.size === 0) return run.plan;
  const skipped = run.plan.files
    .filter((f) => empty.has(f.filename))
    .map((f) => ({ resourceId: f.resourceId, name: f.filename, reason: 'the file is empty (0 bytes) and Zenodo refuses empty files' }));
  return { ...run.plan, files: run.plan.files.filter((f) => !empty.has(f.filename)), skipped: [...run.plan.skipped, ...skipped] };
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
  const mails = await deps.mails({ kind: mailKind, dataset, datasetId: run.datasetId, rule, syncId: run.id, plan: await planForMail(deps, run), deposition: published });
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
    await preflightFiles(deps, run);
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
    // Uploads can take hours: the dataset is read again right before the DOI is minted, and a
    // dataset that is no longer selected (made private meanwhile) is not published.
    const fresh = await deps.ckan.packageShow(run.datasetId);
    const selection = fresh ? selectDataset(deps.rules, fresh) : undefined;
    if (!selection?.selected) return stopUnselected(deps, run, selection?.reason ?? 'the dataset was deleted in CKAN or is not visible to the API token');
    await publishAndRecord(deps, run, draftId(), fresh ?? dataset, rule ?? selection.rule);
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

const PUBLISHED_STATES: ReadonlySet<SyncRun['state']> = new Set(['published', 'written_back', 'done']);

function isPublished(run: SyncRun): boolean {
  return PUBLISHED_STATES.has(run.state);
}

/**
 * Ends an open sync of a dataset that is no longer selected, before anything is published: its
 * draft is discarded (a new-version or edit draft would otherwise block the concept, a first
 * draft would stay in the account) and the sync ends `skipped` with the reason.
 */
async function stopUnselected(deps: SyncDeps, run: SyncRun, reason: string): Promise<SyncOutcome> {
  if (run.draftId !== null) {
    const draft = await deps.zenodo.getDeposition(run.draftId).catch((e: unknown) => {
      if (toAppError(e).code === 'ZENODO_NOT_FOUND') return undefined;
      throw e;
    });
    // A draft that Zenodo shows as published was published by an earlier run that died before
    // recording it: it exists for good, so it is recorded rather than hidden.
    if (draft && draft.state === 'done' && draft.submitted && run.kind !== 'metadata_edit') {
      await publishAndRecord(deps, run, draft.id, undefined, undefined);
      return execute(deps, run, undefined, undefined);
    }
    if (draft) {
      await deps.zenodo.discard(draft.id).catch((e: unknown) => {
        if (toAppError(e).code !== 'ZENODO_NOT_FOUND') throw e;
      });
    }
  }
  await deps.store.finish(run.id, 'skipped', { reason });
  deps.log.warn({ syncId: run.id, datasetId: run.datasetId, depositionId: run.draftId, reason }, 'sync stopped before publishing: the dataset is no longer selected');
  return { state: 'skipped', reason, syncId: run.id };
}

export interface SyncPreview {
  dataset: { id: string; name: string; title: string } | undefined;
  /** Why nothing would be published (not selected, or a problem such as LICENSE_UNKNOWN). */
  stop?: { code: string; message: string; fieldErrors?: { field: string; message: string }[] };
  rule?: string;
  kind?: Plan['kind'];
  conceptRecid?: string | null;
  /** The exact metadata that would be sent to Zenodo. */
  metadata?: Record<string, unknown>;
  files?: { filename: string; action: PlannedFile['action']; size: number | null; source: string }[];
  remove?: string[];
  skipped?: SkippedResource[];
  license?: string;
  warnings: string[];
}

/**
 * `sync --dry-run`: everything a sync would decide — selection, metadata, files, warnings —
 * after every rule filter, reading CKAN, the database and Zenodo but creating nothing anywhere.
 */
export async function previewSync(deps: SyncDeps, idOrName: string): Promise<SyncPreview> {
  const dataset = await deps.ckan.packageShow(idOrName);
  if (!dataset) return { dataset: undefined, stop: { code: 'CKAN_NOT_FOUND', message: `CKAN has no dataset "${idOrName}" visible to the API token` }, warnings: [] };
  const summary = { id: dataset.id, name: dataset.name, title: dataset.title ?? dataset.name };
  const selection = selectDataset(deps.rules, dataset);
  if (!selection.selected) return { dataset: summary, stop: { code: 'DATASET_NOT_SELECTED', message: selection.reason }, warnings: [] };
  try {
    const { result, stored } = await buildPlan(deps, dataset, selection.rule, { save: false });
    return {
      dataset: summary,
      rule: selection.rule.name,
      kind: result.kind,
      conceptRecid: stored.conceptRecid,
      metadata: stored.metadata,
      files: stored.files.map((f) => ({ filename: f.filename, action: f.action, size: f.size, source: f.source.url })),
      remove: stored.delete.filter((d) => !stored.files.some((f) => f.filename === d.filename)).map((d) => d.filename),
      skipped: stored.skipped,
      license: stored.license,
      warnings: stored.warnings ?? [],
    };
  } catch (caught) {
    const error = toAppError(caught);
    if (error.retryable) throw error;
    // Only when planning stopped: the preview still shows the metadata that would have been sent.
    const mapped = deps.mapMetadata(dataset, selection.rule);
    const fieldErrors = mapped.problems.find((p) => p.code === error.code)?.fieldErrors;
    return { dataset: summary, rule: selection.rule.name, stop: { code: error.code, message: error.message, ...(fieldErrors && { fieldErrors }) }, metadata: mapped.metadata, license: mapped.license, warnings: mapped.warnings };
  }
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
    const selection = dataset ? selectDataset(deps.rules, dataset) : undefined;
    if (selection?.selected) rule = selection.rule;
    if (!run) {
      if (!dataset || !selection) {
        await deps.store.markInactive(job.datasetId, 'the dataset was deleted in CKAN or is not visible to the API token');
        return { state: 'skipped', reason: 'dataset not found' };
      }
      if (!selection.selected) {
        await deps.store.markInactive(dataset.id, selection.reason);
        deps.log.info({ datasetId: dataset.id, reason: selection.reason }, 'sync skipped: the dataset is not selected');
        return { state: 'skipped', reason: selection.reason };
      }
      const planned = await plan(deps, dataset, selection.rule, job.trigger);
      if ('nothing' in planned) return { state: 'skipped', reason: 'up to date' };
      run = planned;
      deps.log.info({ syncId: run.id, datasetId: run.datasetId, kind: run.kind }, 'sync planned');
      await deps.onStep?.('planned', run);
    } else if (!selection?.selected && !isPublished(run)) {
      // An interrupted sync of a dataset that has since been made private, deleted or untagged:
      // finishing it would publish what the owner no longer wants public.
      return await stopUnselected(deps, run, selection?.reason ?? 'the dataset was deleted in CKAN or is not visible to the API token');
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
