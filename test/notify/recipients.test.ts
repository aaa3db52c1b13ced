import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildOutboxRows } from '../../src/notify/payload.js';
import { CKAN_FIXTURES } from '../support/fixtures.js';
import { isValidAddress, ownerDirectoryFromCkan, parseAddressField, resolveRecipients, type CkanOwnerLookups, type OwnerDirectory } from '../../src/notify/recipients.js';

/** A CKAN directory as the sync worker would see it, answering from a fixed table. */
function directory(users: Record<string, string | null>, orgs: Record<string, { emails: string[]; hidden: number }> = {}): OwnerDirectory {
  return {
    userEmail: (id) => {
      const email = users[id];
      return Promise.resolve(email === undefined ? undefined : email === null ? { hidden: true as const } : { email });
    },
    orgAdminEmails: (id) => {
      const org = orgs[id];
      return org ? Promise.resolve(org) : Promise.reject(new Error(`organization ${id} not found`));
    },
  };
}

describe('parseAddressField', () => {
  it.each([
    ['jane@example.org', ['jane@example.org'], []],
    ['  jane@example.org ', ['jane@example.org'], []],
    ['a@example.org, b@example.org; c@example.org', ['a@example.org', 'b@example.org', 'c@example.org'], []],
    ['Jane Doe <jane@example.org>', ['jane@example.org'], []],
    ['mailto:jane@example.org', ['jane@example.org'], []],
    ['not an address', [], ['not an address']],
    ['jane@example.org\r\nBcc: evil@example.com', [], ['jane@example.org\r\nBcc: evil@example.com']],
    ['jane@example.org\nevil@example.com', [], ['jane@example.org\nevil@example.com']],
    ['"a,b"@example.org', [], ['"a', 'b"@example.org']],
    ['user@localhost', [], ['user@localhost']],
    ['山田@例え.jp', ['山田@例え.jp'], []],
    ['', [], []],
    [null, [], []],
    [42, [], []],
  ] as const)('%j', (input, valid, invalid) => {
    expect(parseAddressField(input)).toEqual({ valid, invalid });
  });

  it('never accepts control characters, brackets or several @', () => {
    for (const bad of ['a@b.org\u0000', 'a@@b.org', '<a@b.org>', 'a b@c.org', 'a@b.org\u2028', 'a@b', 'a@b.c\u0085d.org']) {
      expect(isValidAddress(bad)).toBe(false);
    }
  });
});

describe('resolveRecipients', () => {
  const dataset = {
    id: 'd-1',
    maintainer_email: 'Jane@Example.org',
    author_email: 'jane@example.org; bob@example.org',
    creator_user_id: 'u-1',
    owner_org: 'o-1',
  };

  it('follows the notify order, splits lists and deduplicates case-insensitively (maintainer = author → one mail)', async () => {
    const result = await resolveRecipients(dataset, ['maintainer_email', 'author_email']);
    expect(result.owners).toEqual(['Jane@Example.org', 'bob@example.org']);
    expect(result.warnings).toEqual([]);
  });

  it('resolves the creator and organization admins through CKAN, and literal addresses', async () => {
    const dir = directory({ 'u-1': 'creator@example.org' }, { 'o-1': { emails: ['admin1@example.org', 'JANE@example.org'], hidden: 0 } });
    const result = await resolveRecipients(dataset, ['creator', 'org_admins', 'data-team@example.org', 'maintainer_email'], dir);
    expect(result.owners).toEqual(['creator@example.org', 'admin1@example.org', 'JANE@example.org', 'data-team@example.org']);
  });

  it('says clearly when CKAN hides e-mail addresses (no sysadmin token)', async () => {
    const dir = directory({ 'u-1': null }, { 'o-1': { emails: [], hidden: 2 } });
    const result = await resolveRecipients(dataset, ['creator', 'org_admins'], dir);
    expect(result.owners).toEqual([]);
    expect(result.warnings).toHaveLength(2);
    expect(result.warnings[0]).toMatch(/did not return the e-mail address.*sysadmin/);
    expect(result.warnings[1]).toMatch(/2 admin\(s\).*sysadmin/);
  });

  it('turns lookup failures and hostile fields into warnings, not errors', async () => {
    const result = await resolveRecipients(
      { ...dataset, owner_org: 'missing', maintainer_email: 'x@example.org\r\nBcc: evil@example.com' },
      ['maintainer_email', 'org_admins'],
      directory({}),
    );
    expect(result.owners).toEqual([]);
    expect(result.warnings[0]).toContain('not a valid e-mail address');
    expect(result.warnings[0]).not.toMatch(/[\r\n]/);
    expect(result.warnings[1]).toMatch(/organization "missing" failed/);
  });
});

describe('resolveRecipients with ckanext-scheming person lists (EnviDat)', () => {
  const envidat = (file: string): Record<string, unknown>[] => {
    const json = JSON.parse(readFileSync(join(CKAN_FIXTURES, file), 'utf8')) as { result: Record<string, unknown> & { results?: Record<string, unknown>[] } };
    return json.result.results ?? [json.result];
  };

  it('takes the addresses from the author / maintainer lists when author_email / maintainer_email are null', async () => {
    const [heat] = envidat('envidat.ch-package_search-1.json');
    expect(heat!.author_email).toBeNull();
    const result = await resolveRecipients(heat!, ['maintainer_email', 'author_email']);
    expect(result.owners).toEqual([
      'elizaveta.sharaborova@epfl.ch',
      'Dominik.Bueeler@meteoswiss.ch',
      'maria.pyrina@env.ethz.ch',
      'jeannette.noetzli@slf.ch',
      'lehning@slf.ch',
      'daniela.domeisen@unil.ch',
    ]);
    expect(result.warnings).toEqual([]);

    const [slf] = envidat('envidat.ch-package_show-1.json');
    expect((await resolveRecipients(slf!, ['author_email'])).owners).toEqual(['data@slf.ch']);
  });

  it('reads a list given as a real array too', async () => {
    const shape = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'ckan-shapes', 'creators-scheming-array.json'), 'utf8')) as Record<string, unknown>;
    const result = await resolveRecipients(shape, ['author_email', 'maintainer_email']);
    expect(result.owners).toEqual(['anna.meier@wsl.ch', 'luca.rossi@example.ch', 'envidat@wsl.ch']);
  });

  it('keeps using a non-empty plain field, and never the list beside it', async () => {
    const author = JSON.stringify([{ name: 'Doe', given_name: 'Jane', email: 'jane@list.example.org' }]);
    const result = await resolveRecipients({ author, author_email: 'jane@plain.example.org' }, ['author_email']);
    expect(result.owners).toEqual(['jane@plain.example.org']);
    // A plain field holding only junk is still the owner's word: warned about, not replaced.
    const junk = await resolveRecipients({ author, author_email: 'not an address' }, ['author_email']);
    expect(junk.owners).toEqual([]);
    expect(junk.warnings).toEqual(['author_email "not an address" is not a valid e-mail address; ignored']);
  });

  it('validates the list\'s addresses like any other (no injection, no bare hosts, no display names kept)', async () => {
    const maintainer = [
      { name: 'Evil', email: 'a@example.org\r\nBcc: evil@example.com' },
      { name: 'Local', email: 'root@localhost' },
      { name: 'Named', email: 'Jane Doe <jane@example.org>' },
      { name: 'jane@example.org' },
      { name: 'No Mail', email: '' },
    ];
    const result = await resolveRecipients({ maintainer, maintainer_email: '  ' }, ['maintainer_email']);
    expect(result.owners).toEqual(['jane@example.org']);
    expect((await resolveRecipients({ maintainer: 'a5c5296a-3206-4e51-b2de-bfe34857185f', maintainer_email: null }, ['maintainer_email'])).owners).toEqual([]);
  });
});

describe('buildOutboxRows', () => {
  const facts = { syncId: 7, dataset: { id: 'd-1', name: 'n', title: 'T', url: 'https://ckan.example.org/dataset/n' }, rule: 'tagged' };

  it('one row per owner; success mails do not go to the admin', () => {
    const rows = buildOutboxRows({ kind: 'new_version', facts, owners: ['a@example.org', 'b@example.org'], admin: 'ops@example.org' });
    expect(rows.map((r) => [r.recipient, r.payload.audience])).toEqual([
      ['a@example.org', 'owner'],
      ['b@example.org', 'owner'],
    ]);
  });

  it('failures also go to the admin, once, with the admin copy', () => {
    const rows = buildOutboxRows({ kind: 'failure', facts, owners: ['a@example.org', 'OPS@example.org'], admin: 'ops@example.org' });
    expect(rows.map((r) => [r.recipient, r.payload.audience])).toEqual([
      ['a@example.org', 'owner'],
      ['OPS@example.org', 'admin'],
    ]);
  });

  it('without an owner address the admin gets the owners\' mail, marked as such', () => {
    const rows = buildOutboxRows({ kind: 'new_version', facts, owners: [], admin: 'ops@example.org', warnings: ['w'] });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ recipient: 'ops@example.org', kind: 'new_version', payload: { noOwnerAddress: true, warnings: ['w'] } });
    expect(buildOutboxRows({ kind: 'new_version', facts, owners: [], admin: undefined })).toEqual([]);
  });
});

describe('ownerDirectoryFromCkan', () => {
  // The shapes the scanner's CKAN client returns for user_show / organization_show (ckan-api.md §6).
  const users: Record<string, { email?: string | null }> = {
    'u-admin': { email: 'admin@example.org' },
    'u-hidden': {},
    'u-editor': { email: 'editor@example.org' },
  };
  const lookups = (members: { id: string | null; name: string; capacity: string | null }[]): CkanOwnerLookups => ({
    userShow: (id) => Promise.resolve(users[id] ?? {}),
    organizationShow: () => Promise.resolve({ users: members }),
  });

  it('returns the admins\' addresses and counts those CKAN hides', async () => {
    const dir = ownerDirectoryFromCkan(
      lookups([
        { id: 'u-admin', name: 'a', capacity: 'admin' },
        { id: 'u-hidden', name: 'h', capacity: 'admin' },
        { id: 'u-editor', name: 'e', capacity: 'editor' },
      ]),
    );
    expect(await dir.orgAdminEmails('o-1')).toEqual({ emails: ['admin@example.org'], hidden: 1, membersHidden: false });
    expect(await dir.userEmail('u-hidden')).toEqual({ hidden: true });
    expect(await dir.userEmail('u-editor')).toEqual({ email: 'editor@example.org' });
  });

  it('reports a withheld member list', async () => {
    const result = await resolveRecipients({ owner_org: 'o-1' }, ['org_admins'], ownerDirectoryFromCkan(lookups([])));
    expect(result.owners).toEqual([]);
    expect(result.warnings[0]).toMatch(/did not list the members.*sysadmin/);
  });
});
