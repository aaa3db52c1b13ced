import { isAppError } from '../errors.js';
import type { CkanClient } from '../scanner/ckan-client.js';
import type { CkanPort } from './ports.js';

/** The sync worker's view of CKAN, on the scanner's client. */
export function ckanPort(client: CkanClient): CkanPort {
  return {
    async packageShow(idOrName) {
      try {
        return await client.packageShow(idOrName);
      } catch (error) {
        // CKAN answers 403 for a private dataset the token cannot see (ckan-api.md §1.2): to the
        // archive that is the same as gone.
        if (isAppError(error, 'CKAN_NOT_FOUND') || isAppError(error, 'CKAN_AUTH')) return undefined;
        throw error;
      }
    },
    async patchExtras(datasetId, values) {
      // package_patch replaces `extras` as a whole list (ckan-api.md §7): read, merge, write all.
      const current = await client.packageShow(datasetId);
      const extras = current.extras.filter((e) => !(e.key in values));
      for (const [key, value] of Object.entries(values)) extras.push({ key, value });
      await client.packagePatch(datasetId, { extras });
    },
  };
}
