/**
 * The planner: a pure function from the fresh CKAN dataset, the matched rule and what is archived
 * on Zenodo to what one sync will do. It decides the kind of change (first version, new version,
 * metadata-only edit, nothing) and, per file, add / replace / keep / delete. All I/O happens in the
 * worker; everything here is table-tested.
 */
import { AppError } from '../errors.js';
import type { Rule } from '../rules/types.js';
import { assignFilenames } from './filenames.js';
import { resourceSkipReason } from '../rules/select.js';

/** Zenodo's limits (reference zenodo-api.md §7: RDM_FILES_DEFAULT_QUOTA_SIZE, RDM_RECORDS_MAX_FILES_COUNT). */
export const ZENODO_MAX_FILES = 100;
export const ZENODO_MAX_RECORD_BYTES = 50 * 10 ** 9;
export const ZENODO_MAX_FILE_BYTES = 50 * 10 ** 9;

export interface PlanResourceInput {
  id: string;
  name?: string | null;
  url?: string | null;
  url_type?: string | null;
  format?: string | null;
  size?: number | null;
  datastore_active?: boolean | null;
}

export interface ArchivedFile {
  /** null when the file predates the link (a record made by hand and linked later). */
  resourceId: string | null;
  filename: string;
  size: number;
  md5: string;
  /** Fingerprint of the resource this file was uploaded from; null when unknown. */
  fingerprint: string | null;
}

export interface PlanInput {
  ckanUrl: string;
  dataset: { id: string; name: string; resources: readonly PlanResourceInput[] };
  rule: Rule;
  /** Undefined when the dataset has never been published on Zenodo. */
  archived: { files: readonly ArchivedFile[]; metadataFingerprint: string | null } | undefined;
  /** Resource id → current fingerprint (src/scanner/fingerprint.ts). */
  fingerprints: ReadonlyMap<string, string>;
  /** Resource id → filename already used for it in earlier versions. */
  storedFilenames: ReadonlyMap<string, string>;
  metadataFingerprint: string;
}

export type SourceKind = 'download' | 'datastore';

export interface PlannedFile {
  resourceId: string;
  filename: string;
  action: 'add' | 'replace' | 'keep';
  source: { kind: SourceKind; url: string };
  /** Size announced by CKAN; null when unknown (links, DataStore exports). */
  size: number | null;
  fingerprint: string;
  /** The rule's resources.max_size, enforced while downloading. Absent in plans stored before it. */
  maxBytes?: number;
}

export interface SkippedResource {
  resourceId: string;
  name: string;
  reason: string;
}

export type PlanKind = 'first_version' | 'new_version' | 'metadata_edit' | 'nothing';

export interface Plan {
  kind: PlanKind;
  files: PlannedFile[];
  /** Files of the previous version that the new version must not carry. */
  delete: { filename: string; resourceId: string | null }[];
  skipped: SkippedResource[];
  metadataChanged: boolean;
  metadataFingerprint: string;
  /** Sum of the known sizes of the files to upload (add + replace). */
  uploadBytes: number;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function isDatastoreOnly(r: PlanResourceInput): boolean {
  // CKAN rewrites the url of DataStore-only resources to /datastore/dump/{id} (ckan-api.md §5);
  // an uploaded file that is also in the DataStore is archived as the file itself.
  return r.url_type === 'datastore' || (r.datastore_active === true && r.url_type !== 'upload' && !r.url);
}

function selectResources(input: PlanInput): { selected: (PlanResourceInput & { kind: SourceKind; url: string })[]; skipped: SkippedResource[] } {
  const { rule } = input;
  const selected: (PlanResourceInput & { kind: SourceKind; url: string })[] = [];
  const skipped: SkippedResource[] = [];
  for (const r of input.dataset.resources) {
    const name = r.name ?? r.id;
    const skip = resourceSkipReason(rule, r);
    if (skip !== undefined) {
      skipped.push({ resourceId: r.id, name, reason: skip });
      continue;
    }
    if (isDatastoreOnly(r)) {
      if (rule.resources.datastore === 'skip') {
        skipped.push({ resourceId: r.id, name, reason: 'DataStore table (the rule says datastore: skip)' });
        continue;
      }
      selected.push({ ...r, kind: 'datastore', url: `${trimSlash(input.ckanUrl)}/datastore/dump/${encodeURIComponent(r.id)}` });
      continue;
    }
    if (!r.url || r.url.trim() === '') {
      skipped.push({ resourceId: r.id, name, reason: 'the resource has no URL' });
      continue;
    }
    selected.push({ ...r, kind: 'download', url: r.url.trim() });
  }
  return { selected, skipped };
}

function checkZenodoLimits(files: readonly PlannedFile[]): void {
  if (files.length > ZENODO_MAX_FILES) {
    throw new AppError(
      'TOO_MANY_FILES',
      `the dataset has ${files.length} files to archive, ${files.length - ZENODO_MAX_FILES} more than Zenodo's limit of ${ZENODO_MAX_FILES} files per record`,
      { details: { files: files.length, limit: ZENODO_MAX_FILES } },
    );
  }
  for (const f of files) {
    if (f.size !== null && f.size > ZENODO_MAX_FILE_BYTES) {
      throw new AppError(
        'FILE_TOO_LARGE',
        `the file "${f.filename}" is ${formatBytes(f.size)}, ${formatBytes(f.size - ZENODO_MAX_FILE_BYTES)} more than Zenodo's limit of ${formatBytes(ZENODO_MAX_FILE_BYTES)} per file`,
        { details: { filename: f.filename, size: f.size, limit: ZENODO_MAX_FILE_BYTES } },
      );
    }
  }
  const total = files.reduce((sum, f) => sum + (f.size ?? 0), 0);
  if (total > ZENODO_MAX_RECORD_BYTES) {
    throw new AppError(
      'FILE_TOO_LARGE',
      `the files add up to ${formatBytes(total)}, ${formatBytes(total - ZENODO_MAX_RECORD_BYTES)} more than Zenodo's limit of ${formatBytes(ZENODO_MAX_RECORD_BYTES)} per record`,
      { details: { size: total, limit: ZENODO_MAX_RECORD_BYTES } },
    );
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/**
 * Plans one sync. Throws AppError TOO_MANY_FILES / FILE_TOO_LARGE (permanent) when the result
 * would break Zenodo's limits, before anything is created on Zenodo.
 */
export function planSync(input: PlanInput): Plan {
  const { selected, skipped } = selectResources(input);
  const filenames = assignFilenames(
    selected.map((r) => ({ id: r.id, name: r.name, url: r.url, format: r.format, datastoreExport: r.kind === 'datastore' })),
    input.storedFilenames,
  );
  const archivedByName = new Map((input.archived?.files ?? []).map((f) => [f.filename.toLowerCase(), f]));

  const files: PlannedFile[] = selected.map((r) => {
    const filename = filenames.get(r.id) ?? r.id;
    const fingerprint = input.fingerprints.get(r.id) ?? '';
    const previous = archivedByName.get(filename.toLowerCase());
    let action: PlannedFile['action'];
    if (!previous) action = 'add';
    else if (previous.fingerprint !== null && previous.fingerprint === fingerprint && previous.resourceId === r.id) action = 'keep';
    else action = 'replace'; // unknown provenance: upload; an identical md5 makes the version "unchanged" later
    const size = typeof r.size === 'number' && r.size >= 0 && r.kind === 'download' ? r.size : null;
    return { resourceId: r.id, filename, action, source: { kind: r.kind, url: r.url }, size, fingerprint, maxBytes: input.rule.resources.maxSize };
  });

  const planned = new Set(files.map((f) => f.filename.toLowerCase()));
  const toDelete = (input.archived?.files ?? [])
    .filter((f) => !planned.has(f.filename.toLowerCase()))
    .map((f) => ({ filename: f.filename, resourceId: f.resourceId }));
  // Replaced files are deleted from the draft before the new content is uploaded (the draft
  // inherits the previous version's files, reference zenodo-api.md §4.2).
  for (const f of files) if (f.action === 'replace') toDelete.push({ filename: f.filename, resourceId: f.resourceId });

  checkZenodoLimits(files);
  if (files.length === 0) {
    // Zenodo refuses to publish a record without files; say why instead of failing on publish.
    const why = skipped.length > 0 ? skipped.map((s) => `"${s.name}": ${s.reason}`).join('; ') : 'the dataset has no resources';
    throw new AppError('NO_FILES', `no resource of the dataset can be archived (${why})`, { details: { skipped } });
  }

  const metadataChanged = input.archived?.metadataFingerprint !== input.metadataFingerprint;
  const filesChanged = files.some((f) => f.action !== 'keep') || toDelete.length > 0;
  let kind: PlanKind;
  if (input.archived === undefined) kind = 'first_version';
  else if (filesChanged) kind = 'new_version';
  else if (!metadataChanged) kind = 'nothing';
  else if (input.rule.metadata_changes === 'edit') kind = 'metadata_edit';
  else if (input.rule.metadata_changes === 'version') kind = 'new_version';
  else kind = 'nothing';

  const uploadBytes = files.filter((f) => f.action !== 'keep').reduce((sum, f) => sum + (f.size ?? 0), 0);
  return { kind, files, delete: toDelete, skipped, metadataChanged, metadataFingerprint: input.metadataFingerprint, uploadBytes };
}
