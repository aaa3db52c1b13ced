/**
 * Mutated settings.ini and rules.yaml texts (lines deleted, duplicated, swapped, characters
 * changed, junk inserted, truncated) either load or fail with problems in the documented
 * one-line format; never an exception, never a hang. Seeded, so a failure reproduces.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import { formatProblem, type ConfigProblem } from '../../src/config/types.js';
import { parseRules } from '../../src/rules/load.js';

const PROBLEM_LINE = /^\S+(:\d+)? \S+: .+$/;
const SEED = 20_251_001;

type Mutation =
  | { op: 'delete'; at: number }
  | { op: 'duplicate'; at: number }
  | { op: 'swap'; at: number; with: number }
  | { op: 'char'; at: number; col: number; ch: string }
  | { op: 'insert'; at: number; line: string }
  | { op: 'truncate'; at: number };

const chars = fc.constantFrom('[', ']', '=', ';', '#', '"', "'", '\\', ' ', '\t', ':', '-', '{', '}', ',', '*', '&', '!', '%', '@', '\r', '\n', '\u2028', 'é', '0', 'x', '.', '|', '>', '?');
const word = fc.stringMatching(/^[a-z_]{1,12}$/);

function mutations(junkLine: fc.Arbitrary<string>): fc.Arbitrary<Mutation[]> {
  const index = fc.nat(200);
  return fc.array(
    fc.oneof(
      fc.record({ op: fc.constant('delete' as const), at: index }),
      fc.record({ op: fc.constant('duplicate' as const), at: index }),
      fc.record({ op: fc.constant('swap' as const), at: index, with: index }),
      fc.record({ op: fc.constant('char' as const), at: index, col: fc.nat(80), ch: chars }),
      fc.record({ op: fc.constant('insert' as const), at: index, line: junkLine }),
      fc.record({ op: fc.constant('truncate' as const), at: fc.nat(5000) }),
    ),
    { minLength: 1, maxLength: 5 },
  );
}

function mutate(text: string, steps: Mutation[]): string {
  let lines = text.split('\n');
  for (const m of steps) {
    const i = lines.length === 0 ? 0 : m.at % lines.length;
    switch (m.op) {
      case 'delete':
        lines.splice(i, 1);
        break;
      case 'duplicate':
        lines.splice(i, 0, lines[i] ?? '');
        break;
      case 'swap': {
        const j = lines.length === 0 ? 0 : m.with % lines.length;
        [lines[i], lines[j]] = [lines[j] ?? '', lines[i] ?? ''];
        break;
      }
      case 'char': {
        const line = lines[i] ?? '';
        const col = line.length === 0 ? 0 : m.col % (line.length + 1);
        lines[i] = `${line.slice(0, col)}${m.ch}${line.slice(col + 1)}`;
        break;
      }
      case 'insert':
        lines.splice(i, 0, m.line);
        break;
      case 'truncate': {
        const joined = lines.join('\n');
        lines = joined.slice(0, m.at % (joined.length + 1)).split('\n');
        break;
      }
    }
  }
  return lines.join('\n');
}

function assertWellFormed(result: { problems: ConfigProblem[] }, loaded: boolean, input: string): void {
  const lines = result.problems.map(formatProblem);
  if (loaded) {
    expect(lines, input).toEqual([]);
    return;
  }
  expect(lines.length, `no problem and no result for:\n${input}`).toBeGreaterThan(0);
  for (const line of lines) expect(line, `for input:\n${input}`).toMatch(PROBLEM_LINE);
}

let dir: string;
let settingsText: string;
let rulesText: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'czs-fuzz-'));
  settingsText = await readFile('settings.example.ini', 'utf8');
  // The repository's example, with the commented-out second rule enabled and a defaults `not`.
  rulesText = `${await readFile('rules.yaml', 'utf8')}
  - name: marine-org
    when: { organization: [marine-institute], extras: { archive: "true" }, not: { private: true } }
    resources: { formats: [CSV, NetCDF], max_size: 1.5GiB }
    zenodo: { communities: [marine], license: cc-by-4.0, access_right: open }
    notify: [creator, archive@example.org]
`;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fuzzed configuration files', () => {
  it('the unmutated texts load', async () => {
    await writeFile(join(dir, 'settings.ini'), settingsText);
    expect((await loadSettings({ path: 'settings.ini', cwd: dir, env: {} })).problems).toEqual([]);
    expect(parseRules(rulesText, 'rules.yaml').problems).toEqual([]);
  });

  it('settings.ini: loads or reports well-formed problems (600 cases)', async () => {
    const junk = fc.oneof(
      fc.tuple(word, fc.string({ maxLength: 20 })).map(([k, v]) => `${k} = ${v}`),
      word.map((s) => `[${s}]`),
      fc.constantFrom('page_size = -1', 'token_file = nope', 'url =', '[ckan.x]', 'x[] = 1', '= 3', '__proto__ = 1', '[__proto__]', 'concurrency = 1e3', 'listen = :', 'scan = * * * * * * *'),
      fc.string({ maxLength: 30 }),
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(mutations(junk), async (steps) => {
        const text = mutate(settingsText, steps);
        const file = `s${n++}.ini`;
        await writeFile(join(dir, file), text);
        const result = await loadSettings({ path: file, cwd: dir, env: {} });
        assertWellFormed(result, result.config !== undefined, text);
      }),
      { seed: SEED, numRuns: 600 },
    );
  });

  it('rules.yaml: loads or reports well-formed problems (800 cases)', () => {
    const junk = fc.oneof(
      fc.tuple(word, fc.string({ maxLength: 20 })).map(([k, v]) => `    ${k}: ${v}`),
      fc.tuple(fc.nat(6), word).map(([indent, k]) => `${' '.repeat(indent)}- ${k}`),
      fc.constantFrom('  - name: tagged', '    when:', '      not: { not: {} }', '    max_size: 5 PB', 'rules: []', '&a [*a]', '    tags: []', '  - 7', '    notify: [nobody]', '"unterminated'),
      fc.string({ maxLength: 30 }),
    );
    fc.assert(
      fc.property(mutations(junk), (steps) => {
        const text = mutate(rulesText, steps);
        const result = parseRules(text, 'rules.yaml');
        assertWellFormed(result, result.rules !== undefined, text);
      }),
      { seed: SEED, numRuns: 800 },
    );
  });
});
