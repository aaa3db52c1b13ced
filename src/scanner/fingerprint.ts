/**
 * What the scanner compares to decide that something changed (DESIGN.md glossary "fingerprint").
 * Pure. Fingerprints are compared with what the scanner SAW last time, not with what is archived:
 * a dataset that keeps failing is then not re-queued (and re-mailed) on every scan.
 *
 * - resource: url, size, hash, last_modified, the resource's metadata_modified, datastore flag.
 * - dataset: the metadata we would send to Zenodo, not CKAN's raw dict, so that our own DOI
 *   write-back (an extra, which bumps metadata_modified) never looks like a change.
 */
import { hash } from 'node:crypto';
import type { Rule } from '../rules/types.js';
import type { CkanDataset, CkanResource } from './ckan-types.js';
import { mappingInputs } from '../zenodo/metadata.js';

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

// One-shot hashing (no Hash object per call): a scan hashes three values per dataset. Same
// sha256 hex as before, so stored fingerprints stay comparable across the change.
function digest(value: unknown): string {
  return hash('sha256', JSON.stringify(value), 'hex').slice(0, 32);
}

export function resourceFingerprint(resource: CkanResource): string {
  return digest([resource.url, resource.size, resource.hash || null, resource.last_modified, resource.metadata_modified, resource.datastore_active]);
}

/**
 * Fingerprint of what the Zenodo metadata mapping (src/zenodo/metadata.ts `mapDatasetToZenodo`)
 * READS (`mappingInputs`, kept beside the mapping): the dataset fields it maps, the parts of the
 * rule it uses, the CKAN URL of the link back. Hashing the inputs instead of running the mapping
 * keeps the scan cheap (rendering the notes' Markdown for every dataset of every page was most of
 * a full scan's CPU, bench/run.mjs) and is exactly as blind to what the mapping ignores: our own
 * DOI write-back, resources, timestamps, and `version` (the mapped fingerprint leaves it out as
 * version-specific). It is compared only with the scanner's own previous fingerprint, never with
 * the sync's ("v3" marks this scheme, so an older stored fingerprint reads as a change once).
 */
export function datasetMetadataFingerprint(dataset: CkanDataset, rule: Rule, options: MappingInputOptions): string {
  return digest(['v3', ...mappingInputs(dataset, rule, options)]);
}

export type MappingInputOptions = Parameters<typeof mappingInputs>[2];

export function fingerprintDataset(dataset: CkanDataset, rule: Rule, options: MappingInputOptions): DatasetFingerprints {
  // fromEntries defines own properties: a hostile resource id "__proto__" stays a plain key.
  const resources: ResourceFingerprints = Object.fromEntries(dataset.resources.map((r) => [r.id, resourceFingerprint(r)]));
  return { metadata: datasetMetadataFingerprint(dataset, rule, options), resources };
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
