import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../src/config/types.js';
import { loadRules, parseRules, parseSize } from '../../src/rules/load.js';

const lines = (text: string): string[] => parseRules(text, 'rules.yaml').problems.map(formatProblem);

const TAGGED = 'rules:\n  - name: tagged\n    when: { tags: [zenodo] }\n';

// [name, rules.yaml text, exact `FILE:LINE path:` prefix, message pattern]
const errors: [string, string, string, RegExp][] = [
  ['YAML syntax error', 'rules:\n  - name: a\n    when: { tags: [zenodo }\n', 'rules.yaml:3 (syntax):', /fix the YAML syntax/],
  ['duplicate YAML key', 'rules:\n  - name: a\n    when: {}\n    name: b\n', 'rules.yaml:4 (syntax):', /Map keys must be unique/],
  ['two documents', `${TAGGED}---\n${TAGGED}`, 'rules.yaml:4 (syntax):', /multiple documents/],
  ['empty file', '# nothing here\n', 'rules.yaml rules:', /^is missing: the file is empty/],
  ['top level is a list', '- name: a\n', 'rules.yaml:1 (top):', /^must be a mapping \(the rules file/],
  ['unknown top-level key', `${TAGGED}rule:\n  - x\n`, 'rules.yaml:4 rule:', /^unknown key \(allowed: defaults, rules\); did you mean "rules"\?$/],
  ['no rules key', 'defaults:\n  on_unmapped: create\n', 'rules.yaml:1 rules:', /^is missing$/],
  ['empty rules list', 'rules: []\n', 'rules.yaml:1 rules:', /^must list at least one rule/],
  ['rules is a mapping', 'rules:\n  tagged: {}\n', 'rules.yaml:2 rules:', /^must be a list of rules.*\(got a mapping\)$/],
  ['rule is a scalar', `${TAGGED}  - 5\n`, 'rules.yaml:4 rules[1]:', /^must be a mapping \(one rule.*\(got 5 \(number\)\)$/],
  ['unknown rule key', `${TAGGED}    resource: { formats: [CSV] }\n`, 'rules.yaml:4 rules[0].resource:', /^unknown key \(allowed: name, when, resources, .*\); did you mean "resources"\?$/],
  ['rule without name', 'rules:\n  - when: { tags: [zenodo] }\n', 'rules.yaml:2 rules[0].name:', /^is missing$/],
  ['name is a list', 'rules:\n  - name: [a]\n    when: {}\n', 'rules.yaml:2 rules[0].name:', /^must be a non-empty text \(got a list\)$/],
  ['rule without when', 'rules:\n  - name: all\n', 'rules.yaml:2 rules[0].when:', /^is missing$/],
  ['empty when', 'rules:\n  - name: all\n    when:\n', 'rules.yaml:3 rules[0].when:', /use `when: \{\}` to match every dataset/],
  ['duplicate rule names', `${TAGGED}  - name: tagged\n    when: { groups: [x] }\n`, 'rules.yaml:4 rules[1].name:', /^"tagged" is already the name of rules\[0\] \(line 2\); rule names must be unique$/],
  ['unknown matching key', 'rules:\n  - name: a\n    when:\n      tagz: [zenodo]\n', 'rules.yaml:4 rules[0].when.tagz:', /^unknown key \(allowed: tags, organization, groups, extras, license_id, name, private, not\); did you mean "tags"\?$/],
  ['tags is a mapping', 'rules:\n  - name: a\n    when:\n      tags: { a: 1 }\n', 'rules.yaml:4 rules[0].when.tags:', /^must be a list, e\.g\. \[zenodo\] \(got a mapping\)$/],
  ['tags with a boolean item', 'rules:\n  - name: a\n    when:\n      tags:\n        - zenodo\n        - true\n', 'rules.yaml:6 rules[0].when.tags[1]:', /^must be a non-empty text \(got true \(boolean\)\)$/],
  ['empty tags list', 'rules:\n  - name: a\n    when: { tags: [] }\n', 'rules.yaml:3 rules[0].when.tags:', /^an empty list matches no dataset/],
  ['private is a string', 'rules:\n  - name: a\n    when:\n      private: "yes"\n', 'rules.yaml:4 rules[0].when.private:', /^must be true or false \(got "yes"\)$/],
  ['extras is a list', 'rules:\n  - name: a\n    when:\n      extras: [archive]\n', 'rules.yaml:4 rules[0].when.extras:', /^must be a mapping of extra keys to values/],
  ['extras value is a list', 'rules:\n  - name: a\n    when:\n      extras:\n        archive: [yes]\n', 'rules.yaml:5 rules[0].when.extras.archive:', /^must be a single value/],
  ['not nested in not', 'rules:\n  - name: a\n    when:\n      not:\n        not: { tags: [x] }\n', 'rules.yaml:5 rules[0].when.not.not:', /^cannot be nested inside not/],
  ['unknown key in not', 'rules:\n  - name: a\n    when:\n      not:\n        organisation: [x]\n', 'rules.yaml:5 rules[0].when.not.organisation:', /did you mean "organization"\?$/],
  ['on_unmapped value', `${TAGGED}    on_unmapped: skip\n`, 'rules.yaml:4 rules[0].on_unmapped:', /^must be one of create, notify \(got "skip"\)$/],
  ['metadata_changes value', `defaults:\n  metadata_changes: replace\n${TAGGED}`, 'rules.yaml:2 defaults.metadata_changes:', /^must be one of edit, version, ignore \(got "replace"\)$/],
  ['access_right value', `${TAGGED}    zenodo:\n      access_right: opne\n`, 'rules.yaml:5 rules[0].zenodo.access_right:', /^must be one of open, embargoed, restricted, closed \(got "opne"\)$/],
  ['upload_type value', `${TAGGED}    zenodo: { upload_type: paper }\n`, 'rules.yaml:4 rules[0].zenodo.upload_type:', /^must be one of publication, .*dataset.* \(got "paper"\)$/],
  ['unknown zenodo key', `${TAGGED}    zenodo: { licence: cc-by-4.0 }\n`, 'rules.yaml:4 rules[0].zenodo.licence:', /did you mean "license"\?$/],
  ['datastore value', `defaults:\n  resources:\n    datastore: xls\n${TAGGED}`, 'rules.yaml:3 defaults.resources.datastore:', /^must be one of csv, skip \(got "xls"\)$/],
  ['size without a number', `defaults:\n  resources: { max_size: lots }\n${TAGGED}`, 'rules.yaml:2 defaults.resources.max_size:', /^must be a size such as 50GB, 500 MB or 1\.5GiB \(got "lots"\)$/],
  ['size with an unknown unit', `defaults:\n  resources:\n    max_size: 5 GBs\n${TAGGED}`, 'rules.yaml:3 defaults.resources.max_size:', /^must be a size/],
  ['zero size', `defaults:\n  resources:\n    max_size: 0\n${TAGGED}`, 'rules.yaml:3 defaults.resources.max_size:', /^must be a size/],
  ['unknown defaults key', 'defaults:\n  notfy: [creator]\n' + TAGGED, 'rules.yaml:2 defaults.notfy:', /did you mean "notify"\?$/],
  ['bad notify entry', `${TAGGED}    notify:\n      - creator\n      - bob\n`, 'rules.yaml:6 rules[0].notify[1]:', /^must be one of maintainer_email, author_email, creator, org_admins or an e-mail address \(got "bob"\)$/],
  ['key with spaces stays one word', 'rules:\n  - name: a\n    when:\n      my key: [x]\n', 'rules.yaml:4 rules[0].when["my\\u0020key"]:', /^unknown key/],
];

describe('problems in rules.yaml, each at the line of its node', () => {
  it.each(errors)('%s', (_name, text, prefix, message) => {
    const result = parseRules(text, 'rules.yaml');
    expect(result.rules).toBeUndefined();
    const all = result.problems.map(formatProblem);
    const hit = result.problems.find((p) => formatProblem(p).startsWith(`${prefix} `));
    expect(hit, `expected "${prefix}" in:\n${all.join('\n')}`).toBeDefined();
    expect(hit!.message).toMatch(message);
  });

  it('reports every problem of the file at once, in line order', () => {
    const text = [
      'defaults:', //                       1
      '  on_unmapped: maybe', //            2
      'rules:', //                          3
      '  - name: a', //                     4
      '    when: { tagz: [x] }', //         5
      '  - name: a', //                     6
      '    when: { private: 1 }', //        7
      '    resources: { max_size: big }', // 8
    ].join('\n');
    expect(lines(text).map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual([
      'rules.yaml:2 defaults.on_unmapped:',
      'rules.yaml:5 rules[0].when.tagz:',
      'rules.yaml:6 rules[1].name:',
      'rules.yaml:7 rules[1].when.private:',
      'rules.yaml:8 rules[1].resources.max_size:',
    ]);
  });

  it('reports an unreadable file as one problem', async () => {
    const result = await loadRules('/nonexistent/rules.yaml');
    expect(result.problems.map(formatProblem)).toEqual([expect.stringMatching(/^\/nonexistent\/rules\.yaml \(file\): cannot be read: ENOENT/)]);
  });
});

describe('valid rules', () => {
  it('parses DESIGN.md\'s example, merging defaults under each rule key by key', () => {
    const text = `defaults:
  resources: { formats: [], max_size: 50GB, datastore: csv }
  zenodo: { upload_type: dataset, access_right: open, communities: [] }
  on_unmapped: create
  metadata_changes: edit
  notify: [maintainer_email, author_email]
rules:
  - name: tagged
    when: { tags: [zenodo] }
  - name: marine-org
    when: { organization: [marine-institute], extras: { archive: "true" } }
    resources: { formats: [CSV, NetCDF] }
    zenodo: { communities: [marine], license: cc-by-4.0 }
`;
    const result = parseRules(text, 'rules.yaml');
    expect(result.problems).toEqual([]);
    expect(result.rules).toEqual({
      file: 'rules.yaml',
      rules: [
        {
          name: 'tagged',
          line: 8,
          when: { tags: ['zenodo'] },
          resources: { formats: [], maxSize: 50e9, datastore: 'csv' },
          zenodo: { upload_type: 'dataset', access_right: 'open', communities: [] },
          on_unmapped: 'create',
          metadata_changes: 'edit',
          notify: ['maintainer_email', 'author_email'],
        },
        {
          name: 'marine-org',
          line: 10,
          when: { organization: ['marine-institute'], extras: { archive: 'true' } },
          resources: { formats: ['CSV', 'NetCDF'], maxSize: 50e9, datastore: 'csv' },
          zenodo: { upload_type: 'dataset', access_right: 'open', communities: ['marine'], license: 'cc-by-4.0' },
          on_unmapped: 'create',
          metadata_changes: 'edit',
          notify: ['maintainer_email', 'author_email'],
        },
      ],
    });
  });

  it('applies the built-in defaults without a defaults section, and a rule overrides defaults', () => {
    const result = parseRules(
      `defaults:\n  resources: { datastore: skip, max_size: 1GB }\n  notify: [creator]\nrules:\n  - name: r\n    when: {}\n    resources: { max_size: 2GB }\n    notify: archive@example.org\n    metadata_changes: version\n`,
      'rules.yaml',
    );
    expect(result.rules?.rules[0]).toMatchObject({
      when: {},
      resources: { formats: [], maxSize: 2e9, datastore: 'skip' },
      zenodo: { upload_type: 'dataset', access_right: 'open', communities: [] },
      on_unmapped: 'create',
      metadata_changes: 'version',
      notify: ['archive@example.org'],
    });
  });

  it('accepts a scalar where a list is expected, and YAML booleans/numbers as extras values', () => {
    const result = parseRules('rules:\n  - name: r\n    when: { tags: zenodo, name: "survey-*", extras: { archive: true, year: 2024 }, private: false, not: { groups: internal } }\n', 'rules.yaml');
    expect(result.problems).toEqual([]);
    expect(result.rules?.rules[0]?.when).toEqual({ tags: ['zenodo'], name: ['survey-*'], extras: { archive: 'true', year: '2024' }, private: false, not: { groups: ['internal'] } });
  });

  it.each<[string | number, number]>([
    ['50GB', 50e9],
    ['500 MB', 500e6],
    ['1.5GiB', 1.5 * 2 ** 30],
    ['10KiB', 10 * 1024],
    ['2 tb', 2e12],
    [1024, 1024],
    ['1024', 1024],
  ])('size %s is %d bytes', (size, bytes) => {
    const result = parseRules(`defaults:\n  resources: { max_size: ${typeof size === 'string' ? `"${size}"` : size} }\n${TAGGED}`, 'rules.yaml');
    expect(result.rules?.rules[0]?.resources.maxSize).toBe(bytes);
    if (typeof size === 'string') expect(parseSize(size)).toBe(bytes);
  });

  it('loads the repository\'s rules.yaml, with its absolute path', async () => {
    const result = await loadRules('rules.yaml');
    expect(result.problems).toEqual([]);
    expect(result.rules?.file).toBe(resolve('rules.yaml'));
    expect(result.rules?.rules.map((r) => [r.name, r.when])).toEqual([['tagged', { tags: ['zenodo'] }]]);
  });

  it('loads a file given by path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'czs-rules-'));
    try {
      await writeFile(join(dir, 'r.yaml'), TAGGED);
      expect((await loadRules(join(dir, 'r.yaml'))).rules?.rules).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
