import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The real CKAN payloads in the shared folder next to the repository (`../shared` of a checkout,
 * which is how CI lays it out). A missing folder fails the tests that need it, loudly.
 */
const candidates = [join(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures', 'ckan-real'), '/work/shared/fixtures/ckan-real'];

export const CKAN_FIXTURES = candidates.find((dir) => existsSync(dir)) ?? candidates[0]!;
