/**
 * What the sync worker needs from the outside world, as small interfaces. The daemon adapts the
 * real Zenodo client, CKAN client and database to them (src/sync/adapters.ts); the worker itself
 * only orchestrates.
 */
import type { Readable } from 'node:stream';
import type { ArchivedFile, Plan, PlanKind } from './plan.js';

export interface ZFile {
  id: string;
  filename: string;
  size: number;
  md5: string;
}

export interface ZDeposition {
  id: number;
  conceptRecid: string | null;
  doi: string | null;
  conceptDoi: string | null;
  /** true once published (also while a published record is being edited). */
  submitted: boolean;
  /** "unsubmitted" (draft), "inprogress" (edit draft) or "done" (published). */
  state: string;
  bucketUrl: string | null;
  htmlUrl: string | null;
  files: ZFile[];
  metadata: Record<string, unknown>;
}

export interface ZenodoPort {
  getDeposition(id: number): Promise<ZDeposition>;
  createDeposition(metadata: Record<string, unknown>): Promise<ZDeposition>;
  /** Returns the concept's pending draft whether it was just created or already there. */
  newVersion(recordId: number): Promise<ZDeposition>;
  findPendingDraft(conceptRecid: string): Promise<ZDeposition | undefined>;
  /** Drafts never published (no concept yet) whose related identifiers include `marker`. */
  findUnpublishedDraft(marker: string): Promise<ZDeposition | undefined>;
  findLatestVersion(recordOrConceptId: string): Promise<ZDeposition | undefined>;
  listFiles(depositionId: number): Promise<ZFile[]>;
  deleteFile(depositionId: number, fileId: string): Promise<void>;
  upload(bucketUrl: string, filename: string, open: () => Promise<{ body: Readable; size: number; cleanup(): Promise<void> }>): Promise<{ size: number; md5: string }>;
  updateMetadata(depositionId: number, metadata: Record<string, unknown>): Promise<ZDeposition>;
  publish(depositionId: number): Promise<ZDeposition>;
  edit(depositionId: number): Promise<ZDeposition>;
  discard(depositionId: number): Promise<void>;
}

/**
 * The sync reads the same parsed CKAN dataset as the scanner (src/scanner/ckan-types.ts: lenient
 * parsing, normalised fields): one shape, so that the selection policy and the mapping see on
 * every path exactly what the scanner saw.
 */
export type { CkanDataset, CkanResource } from '../scanner/ckan-types.js';
import type { CkanDataset } from '../scanner/ckan-types.js';

export interface CkanPort {
  /** undefined when the dataset is gone or invisible to the token. */
  packageShow(idOrName: string): Promise<CkanDataset | undefined>;
  /** Sets `extras` keys, keeping all others (package_patch replaces extras as a whole list). */
  patchExtras(datasetId: string, values: Record<string, string>): Promise<void>;
}

export type SyncState = 'planned' | 'draft_open' | 'files_synced' | 'metadata_set' | 'published' | 'written_back' | 'done' | 'unchanged' | 'skipped' | 'failed';

export interface SyncRun {
  id: number;
  datasetId: string;
  state: SyncState;
  kind: PlanKind;
  plan: StoredPlan;
  draftId: number | null;
  recordId: number | null;
  doi: string | null;
  conceptDoi: string | null;
  attempts: number;
}

/** The plan plus what the worker resolved before starting, persisted with the sync. */
export interface StoredPlan extends Plan {
  metadata: Record<string, unknown>;
  conceptRecid: string | null;
  /** Record id of the latest published version the plan was made against. */
  baseRecordId: number | null;
  previousFiles: { filename: string; md5: string }[];
  ruleName: string;
  /** What the owner should know about the mapping (licence chosen by the rule, creators from the organization...). */
  warnings?: string[];
  /** Which licence the record gets and why, in words (from the mapping). */
  license?: string;
  dataset: { id: string; name: string; title: string; url: string };
}

export interface Link {
  datasetId: string;
  conceptRecid: string | null;
  conceptDoi: string | null;
  latestRecordId: number | null;
  latestDoi: string | null;
  archivedMetadataFingerprint: string | null;
  state: 'active' | 'inactive';
}

export interface PublishedResult {
  syncId: number;
  datasetId: string;
  deposition: ZDeposition;
  files: ArchivedFile[];
  metadataFingerprint: string;
  filenames: Map<string, string>;
  /** Mail rows written in the same transaction (outbox). */
  mails: OutboxRow[];
}

export interface OutboxRow {
  recipient: string;
  kind: string;
  payload: Record<string, unknown>;
}

export interface SyncStore {
  getLink(datasetId: string): Promise<Link | undefined>;
  saveLink(link: Pick<Link, 'datasetId' | 'conceptRecid' | 'conceptDoi' | 'latestRecordId' | 'latestDoi'>): Promise<void>;
  archivedFiles(datasetId: string): Promise<ArchivedFile[]>;
  storedFilenames(datasetId: string): Promise<Map<string, string>>;
  openSync(datasetId: string): Promise<SyncRun | undefined>;
  createSync(datasetId: string, trigger: string, plan: StoredPlan): Promise<SyncRun>;
  /** Records a step and its results; the state machine never moves on before this returns. */
  advance(syncId: number, state: SyncState, patch?: Partial<Pick<SyncRun, 'draftId' | 'recordId' | 'doi' | 'conceptDoi'>>, detail?: Record<string, unknown>): Promise<void>;
  /**
   * Notes, before the call, that this sync is about to create a dataset's first deposition: a
   * crash after Zenodo created it and before its id was recorded leaves a draft that only a
   * search of the account's depositions finds again.
   */
  noteCreatingDeposition(syncId: number): Promise<void>;
  /** Whether a sync of this dataset noted a creation whose deposition id it never recorded. */
  mayHaveUnrecordedDeposition(datasetId: string): Promise<boolean>;
  /**
   * Deposition ids that earlier first-version syncs of the dataset recorded and that ended
   * without publishing (failed, skipped), newest first. Zenodo may have published one of them
   * after all (an answer lost every time), or it is an unsubmitted draft the next sync can reuse.
   */
  earlierFirstDrafts(datasetId: string): Promise<number[]>;
  /**
   * Whether a sync of ours ever recorded this deposition as its draft. A pending draft no sync
   * recorded was opened by someone else (a person editing a new version on Zenodo by hand).
   */
  isOwnDraft(depositionId: number): Promise<boolean>;
  uploadedFiles(syncId: number): Promise<Map<string, { md5: string; size: number }>>;
  /** Files of this sync whose resource turned out empty when downloaded (not uploaded). */
  emptyFiles(syncId: number): Promise<Set<string>>;
  recordEmpty(syncId: number, file: { resourceId: string; filename: string }): Promise<void>;
  recordUpload(syncId: number, file: { resourceId: string; filename: string; action: string; size: number; md5: string }): Promise<void>;
  /** One transaction: sync → published, link + archived files updated, outbox rows inserted. */
  recordPublished(result: PublishedResult): Promise<void>;
  recordAttempt(syncId: number, error: { code: string; message: string }): Promise<number>;
  /** `skipped`: the dataset is no longer selected; nothing was published (detail.reason says why). */
  finish(syncId: number, state: 'done' | 'unchanged' | 'skipped', detail?: Record<string, unknown>): Promise<void>;
  /** One transaction: sync → failed with code and message, outbox rows inserted. */
  fail(syncId: number | undefined, datasetId: string, error: { code: string; message: string }, mails: OutboxRow[]): Promise<void>;
  markInactive(datasetId: string, reason: string): Promise<void>;
}
