/**
 * `link <dataset> <zenodo id | doi | url>`: binds a CKAN dataset to an existing Zenodo concept,
 * for records that were made by hand before the daemon ran. The next sync then publishes new
 * versions of that concept instead of creating a new record.
 */
import { AppError } from '../errors.js';
import type { CkanPort, Link, SyncStore, ZDeposition, ZenodoPort } from './ports.js';
import { parseZenodoReference } from './zenodo-reference.js';

export async function linkDataset(
  deps: { store: SyncStore; zenodo: ZenodoPort; ckan: CkanPort },
  idOrName: string,
  reference: string,
  options: { force?: boolean } = {},
): Promise<Link> {
  const ref = parseZenodoReference(reference);
  if (!ref) throw new AppError('USAGE', `"${reference}" is not a Zenodo record id, DOI (10.5281/zenodo.N) or record URL`);
  const dataset = await deps.ckan.packageShow(idOrName);
  if (!dataset) throw new AppError('CKAN_NOT_FOUND', `CKAN has no dataset "${idOrName}" visible to the API token`);
  const latest = await deps.zenodo.findLatestVersion(ref.id);
  if (!latest?.conceptRecid) throw new AppError('ZENODO_NOT_FOUND', `Zenodo record ${ref.id} has no published version this account can see (is the record shared with the archive account?)`);
  const existing = await deps.store.getLink(dataset.id);
  if (existing?.conceptRecid && existing.conceptRecid !== latest.conceptRecid && !options.force) {
    throw new AppError('LINK_CONFLICT', `dataset ${dataset.name} is already linked to Zenodo concept ${existing.conceptRecid}; pass --force to link it to ${latest.conceptRecid} instead`);
  }
  const link = linkTo(dataset.id, latest);
  await deps.store.saveLink(link);
  return link;
}

/** A new link of a dataset to the concept of a published version; nothing archived by us yet. */
export function linkTo(datasetId: string, latest: ZDeposition): Link {
  return {
    datasetId,
    conceptRecid: latest.conceptRecid,
    conceptDoi: latest.conceptDoi,
    latestRecordId: latest.id,
    latestDoi: latest.doi,
    archivedMetadataFingerprint: null,
    state: 'active',
  };
}
