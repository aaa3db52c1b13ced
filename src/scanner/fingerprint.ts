/**
 * What the scanner compares to decide that something changed (DESIGN.md glossary "fingerprint").
 * Pure. Fingerprints are compared with what the scanner SAW last time, not with what is archived:
 * a dataset that keeps failing is then not re-queued (and re-mailed) on every scan.
 *
 * - resource: url, size, hash, last_modified, the resource's metadata_modified, datastore flag.
 * - dataset: the metadata we would send to Zenodo, not CKAN's raw dict, so that our own DOI
 *   write-back (an extra, which bumps metadata_modified) never looks like a change.
 */
import { createHash } from 'node:crypto';
import type { Rule } from '../rules/types.js';
import type { CkanDataset, CkanResource } from './ckan-types.js';
import { mapDatasetToZenodo, metadataFingerprint } from '../zenodo/metadata.js';

export type ResourceFingerprints = Record<string, string>;

export interface DatasetFingerprints {
  metadata: string;
  resources: ResourceFingerprints;
}

export interface ResourceDiff {
  added: string[];
  changed: string[];
  removed: string[];
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);
}

export function resourceFingerprint(resource: CkanResource): string {
  return digest([resource.url, resource.size, resource.hash || null, resource.last_modified, resource.metadata_modified, resource.datastore_active]);
}

/**
 * Fingerprint of the Zenodo metadata this dataset maps to under `rule` (src/zenodo/metadata.ts),
 * which leaves out publication_date and version-specific fields; the CKAN URL only shapes the
 * link back to the dataset.
 */
export function datasetMetadataFingerprint(dataset: CkanDataset, rule: Rule, ckanUrl: string): string {
  return metadataFingerprint(mapDatasetToZenodo(dataset, rule, { ckanUrl, today: EPOCH }).metadata);
}

const EPOCH = new Date(0);

export function fingerprintDataset(dataset: CkanDataset, rule: Rule, ckanUrl: string): DatasetFingerprints {
  // fromEntries defines own properties: a hostile resource id "__proto__" stays a plain key.
  const resources: ResourceFingerprints = Object.fromEntries(dataset.resources.map((r) => [r.id, resourceFingerprint(r)]));
  return { metadata: datasetMetadataFingerprint(dataset, rule, ckanUrl), resources };
}

/** Resource ids added, changed and removed between two fingerprint sets (current order kept). */
export function diffResources(previous: ResourceFingerprints, current: ResourceFingerprints): ResourceDiff {
  const added: string[] = [];
  const changed: string[] = [];
  for (const [id, fp] of Object.entries(current)) {
    const before = Object.hasOwn(previous, id) ? previous[id] : undefined;
    if (before === undefined) added.push(id);
    else if (before !== fp) changed.push(id);
  }
  const removed = Object.keys(previous).filter((id) => !Object.hasOwn(current, id));
  return { added, changed, removed };
}

export function isEmptyDiff(diff: ResourceDiff): boolean {
  return diff.added.length === 0 && diff.changed.length === 0 && diff.removed.length === 0;
}
