import type { ZenodoClient } from '../zenodo/client.js';
import type { ZenodoPort } from './ports.js';

/**
 * The sync worker's view of Zenodo, on the client. Uploads go through the client's retrying
 * upload, which reopens the source for every attempt (a stream cannot be replayed) and cleans up
 * spool files whatever happens.
 */
export function zenodoPort(client: ZenodoClient, onUploaded?: (bytes: number) => void): ZenodoPort {
  return {
    getDeposition: (id) => client.getDeposition(id),
    createDeposition: (metadata) => client.createDeposition(metadata),
    newVersion: (id) => client.newVersion(id),
    findPendingDraft: (concept) => client.findPendingDraft(concept),
    findUnpublishedDraft: (marker) => client.findUnpublishedDraft(marker),
    findLatestVersion: (id) => client.findLatestVersion(id),
    listFiles: (id) => client.listFiles(id),
    deleteFile: (id, fileId) => client.deleteFile(id, fileId),
    async upload(bucketUrl, filename, open) {
      const result = await client.uploadFileWithRetry(bucketUrl, filename, open);
      onUploaded?.(result.size);
      return { size: result.size, md5: result.md5 };
    },
    updateMetadata: (id, metadata) => client.updateMetadata(id, metadata),
    publish: (id) => client.publish(id),
    edit: (id) => client.edit(id),
    discard: (id) => client.discard(id),
  };
}
