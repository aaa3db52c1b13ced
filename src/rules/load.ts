/**
 * rules.yaml → validated Rules with `defaults` merged under each rule (DESIGN.md "rules.yaml").
 * The YAML is parsed with its node ranges so that every problem the schema (./schema.ts) finds
 * is reported on the line of the offending node, with its path (`rules[2].when.tags`), and every
 * problem is reported at once.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import type { ConfigProblem } from '../config/types.js';
import { oneLine, word } from '../config/problem-text.js';
import { suggest } from '../config/suggest.js';
import { DEFAULT_MAX_SIZE, rulesFileSchema, type PolicyInput } from './schema.js';
import type { Rule, Rules } from './types.js';

export { parseSize } from './schema.js';

type PathKey = string | number;

const MAX_SYNTAX_PROBLEMS = 10;

/**
 * `rules[1].when.tags`. A key that is not a plain name is JSON-quoted with its whitespace escaped,
 * so that a path is always one word (`rules[0].when.extras["my\u0020key"]`).
 */
export function formatPath(path: readonly PathKey[]): string {
  if (path.length === 0) return '(top)';
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${word(key, /(?!)/)}]`;
  }
  return out;
}

/** The node at `path`, or the closest ancestor that exists (a missing key points at its map). */
function nodeAt(doc: Document, path: readonly PathKey[]): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node)) return node;
  }
  return undefined;
}

/** The key node of `key` in the map at `path` (for unknown keys: point at the key, not its value). */
function keyNodeAt(doc: Document, path: readonly PathKey[], key: string): Node | undefined {
  const map: unknown = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (!isMap(map)) return undefined;
  const pair = map.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === key);
  return isNode(pair?.key) ? pair.key : undefined;
}

function lineOf(lines: LineCounter, node: Node | undefined): number | undefined {
  const offset = node?.range?.[0];
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

function issueProblems(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter, file: string): ConfigProblem[] {
  const path = issue.path.filter((k): k is PathKey => typeof k !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    // schema.ts: the message of this issue is the list of allowed keys.
    const allowed = issue.message.split(', ');
    return issue.keys.map((key) => ({
      file,
      line: lineOf(lines, keyNodeAt(doc, path, key) ?? nodeAt(doc, path)),
      path: formatPath([...path, key]),
      message: `unknown key (allowed: ${issue.message})${suggest(key, allowed)}`,
    }));
  }
  return [{ file, line: lineOf(lines, nodeAt(doc, path)), path: formatPath(path), message: issue.message.split('\n')[0] ?? issue.message }];
}

/** Two rules with one name would be indistinguishable in mails, logs and the status page. */
function duplicateNames(value: unknown, doc: Document, lines: LineCounter, file: string): ConfigProblem[] {
  const rules = typeof value === 'object' && value !== null ? (value as { rules?: unknown }).rules : undefined;
  if (!Array.isArray(rules)) return [];
  const seen = new Map<string, number>();
  const problems: ConfigProblem[] = [];
  rules.forEach((rule: unknown, i) => {
    const name = typeof rule === 'object' && rule !== null ? (rule as { name?: unknown }).name : undefined;
    if (typeof name !== 'string' && typeof name !== 'number') return;
    const key = String(name).trim();
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, i);
      return;
    }
    const firstLine = lineOf(lines, nodeAt(doc, ['rules', first, 'name']));
    problems.push({
      file,
      line: lineOf(lines, nodeAt(doc, ['rules', i, 'name'])),
      path: formatPath(['rules', i, 'name']),
      message: `${JSON.stringify(key)} is already the name of rules[${first}]${firstLine === undefined ? '' : ` (line ${firstLine})`}; rule names must be unique`,
    });
  });
  return problems;
}

function merge(defaults: PolicyInput, own: PolicyInput): Omit<Rule, 'name' | 'line' | 'when'> {
  return {
    resources: { formats: [], maxSize: DEFAULT_MAX_SIZE, datastore: 'csv', ...defaults.resources, ...own.resources },
    zenodo: { upload_type: 'dataset', access_right: 'open', communities: [], ...defaults.zenodo, ...own.zenodo },
    on_unmapped: own.on_unmapped ?? defaults.on_unmapped ?? 'create',
    metadata_changes: own.metadata_changes ?? defaults.metadata_changes ?? 'edit',
    notify: own.notify ?? defaults.notify ?? ['maintainer_email', 'author_email'],
  };
}

function byLine(a: ConfigProblem, b: ConfigProblem): number {
  return (a.line ?? 0) - (b.line ?? 0);
}

/** Parses and validates rules.yaml text (pure; `file` is used in messages and as `Rules.file`). */
export function parseRules(text: string, file: string): { rules?: Rules; problems: ConfigProblem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    // One broken line (a stray indent) can make every later token an error: report the first
    // error of each line, and of the first lines only.
    const seen = new Set<number | undefined>();
    const problems: ConfigProblem[] = [];
    for (const error of doc.errors) {
      const line = error.linePos?.[0]?.line ?? lines.linePos(error.pos[0]).line;
      if (seen.has(line)) continue;
      seen.add(line);
      problems.push({ file, line, path: '(syntax)', message: oneLine(`${error.message.split('\n')[0] ?? 'invalid YAML'} (fix the YAML syntax)`) });
    }
    const shown = problems.sort(byLine).slice(0, MAX_SYNTAX_PROBLEMS);
    if (problems.length > shown.length) {
      shown.push({ file, line: undefined, path: '(syntax)', message: `${problems.length - shown.length} more line${problems.length - shown.length === 1 ? '' : 's'} with syntax errors not shown (fix the first ones, then check again)` });
    }
    return { problems: shown };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // e.g. an alias bomb: yaml refuses to expand it.
    return { problems: [{ file, line: undefined, path: '(syntax)', message: oneLine(`${(error as Error).message.split('\n')[0] ?? 'cannot be read'} (simplify the YAML anchors and aliases)`) }] };
  }
  if (value === null || value === undefined) {
    return { problems: [{ file, line: undefined, path: 'rules', message: 'is missing: the file is empty (add a `rules:` list, e.g. a rule with `when: { tags: [zenodo] }`)' }] };
  }
  const parsed = rulesFileSchema.safeParse(value);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.flatMap((issue) => issueProblems(issue, doc, lines, file))),
    ...duplicateNames(value, doc, lines, file),
  ];
  if (!parsed.success || problems.length > 0) return { problems: problems.map((p) => ({ ...p, message: oneLine(p.message) })).sort(byLine) };
  const defaults = parsed.data.defaults ?? {};
  const rules: Rule[] = parsed.data.rules.map((rule, i) => ({
    name: rule.name,
    line: lineOf(lines, nodeAt(doc, ['rules', i])),
    when: rule.when,
    ...merge(defaults, rule),
  }));
  return { rules: { file, rules }, problems: [] };
}

/** Reads and validates a rules file; `Rules.file` is its absolute path, messages use `path` as given. */
export async function loadRules(path: string): Promise<{ rules?: Rules; problems: ConfigProblem[] }> {
  let text: string;
  try {
    text = await readFile(resolve(path), 'utf8');
  } catch (error) {
    return { problems: [{ file: path, line: undefined, path: '(file)', message: `cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message} (give the path of your rules.yaml with --rules)` }] };
  }
  const result = parseRules(text, path);
  return result.rules ? { rules: { ...result.rules, file: resolve(path) }, problems: [] } : result;
}
