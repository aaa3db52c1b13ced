/**
 * A version label is never repeated across versions of a record (issue 13): CKAN's `version` when
 * it changed, else the date, with a counter for more versions on the same day; an edit keeps the
 * record's label; what was curated on Zenodo stays.
 */
import { describe, expect, it } from 'vitest';
import { nextVersionMetadata } from '../../src/sync/worker.js';

const today = new Date('2026-12-07T15:00:00Z');
const mapped = (version?: string): Record<string, unknown> => ({ title: 'Buoys', ...(version === undefined ? {} : { version }) });

describe('version labels', () => {
  it.each([
    // [CKAN version, previous label, expected]
    ['2.0', '1.0', '2.0'],
    ['1.0', '1.0', '2026-12-07'],
    [undefined, '1.0', '2026-12-07'],
    [undefined, undefined, '2026-12-07'],
    [undefined, '2026-12-07', '2026-12-07.2'],
    [undefined, '2026-12-07.2', '2026-12-07.3'],
    [undefined, '2026-12-07.x', '2026-12-07'],
    [undefined, '2026-12-06.4', '2026-12-07'],
    ['2026-12-07', '2026-12-07', '2026-12-07.2'],
  ] as const)('CKAN %j after %j gives %j', (ckan, previous, expected) => {
    const next = nextVersionMetadata(mapped(ckan), previous === undefined ? {} : { version: previous }, 'new_version', today);
    expect(next.version).toBe(expected);
    expect(next.version).not.toBe(previous);
  });

  it("keeps the record's own label on a metadata edit (same DOI)", () => {
    expect(nextVersionMetadata(mapped('3.0'), { version: '2.0' }, 'metadata_edit', today).version).toBe('2.0');
    expect(nextVersionMetadata(mapped('3.0'), {}, 'metadata_edit', today)).not.toHaveProperty('version');
  });

  it('keeps grants and communities curated on Zenodo', () => {
    const next = nextVersionMetadata(mapped('2.0'), { version: '1.0', grants: [{ id: '10.13039/501100000780::283595' }], communities: [{ identifier: 'marine' }] }, 'new_version', today);
    expect(next).toMatchObject({ title: 'Buoys', version: '2.0', grants: [{ id: '10.13039/501100000780::283595' }], communities: [{ identifier: 'marine' }] });
  });
});
