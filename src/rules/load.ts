/**
 * rules.yaml → validated Rules with `defaults` merged under each rule (DESIGN.md "rules.yaml").
 * The YAML is walked node by node so that every problem names the line it is on and the path
 * (`rules[2].when.tags`), and every problem is reported at once.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';
import { z } from 'zod';
import type { ConfigProblem } from '../config/types.js';
import type { ResourcePolicy, Rule, RuleMatch, Rules, ZenodoPolicy } from './types.js';

const NOTIFY_TARGETS = ['maintainer_email', 'author_email', 'creator', 'org_admins'] as const;
const ACCESS_RIGHTS = ['open', 'embargoed', 'restricted', 'closed'] as const;
const WHEN_KEYS = ['tags', 'organization', 'groups', 'extras', 'license_id', 'name', 'private', 'not'] as const;
const RESOURCE_KEYS = ['formats', 'max_size', 'datastore'] as const;
const ZENODO_KEYS = ['upload_type', 'access_right', 'communities', 'license', 'concept'] as const;
const POLICY_KEYS = ['resources', 'zenodo', 'on_unmapped', 'metadata_changes', 'notify'] as const;
const DEFAULT_MAX_SIZE = 50 * 10 ** 9;

const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/** `50GB`, `500 MB`, `1.5GiB`, `1024` (bytes) → bytes; undefined when not a size. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const bytes = Number(m[1]) * (UNITS[(m[2] ?? 'b').toLowerCase()] ?? 1);
  return Number.isFinite(bytes) ? Math.round(bytes) : undefined;
}

class Walker {
  readonly problems: ConfigProblem[] = [];
  constructor(
    private readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  line(node: Node | null | undefined): number | undefined {
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : this.lines.linePos(offset).line;
  }

  problem(node: Node | null | undefined, path: string, message: string): void {
    this.problems.push({ file: this.file, line: this.line(node), path, message });
  }

  /** The map's entries, with unknown keys reported; undefined (and a problem) when not a map. */
  map(node: Node | null | undefined, path: string, allowed: readonly string[] | undefined): Map<string, { key: Node; value: Node | null }> | undefined {
    if (!isMap(node)) {
      this.problem(node, path, `must be a mapping of keys to values${allowed ? ` (keys: ${allowed.join(', ')})` : ''}`);
      return undefined;
    }
    const out = new Map<string, { key: Node; value: Node | null }>();
    for (const pair of (node as YAMLMap<Node, Node | null>).items) {
      const keyNode = pair.key;
      const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
      if (key === undefined) {
        this.problem(keyNode, path, 'keys must be plain names');
        continue;
      }
      if (allowed && !allowed.includes(key)) {
        this.problem(keyNode, `${path}.${key}`, `unknown key (allowed: ${allowed.join(', ')})`);
        continue;
      }
      out.set(key, { key: keyNode, value: pair.value });
    }
    return out;
  }

  string(node: Node | null, path: string): string | undefined {
    if (isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number') && String(node.value).trim() !== '') return String(node.value).trim();
    this.problem(node, path, 'must be a non-empty text');
    return undefined;
  }

  /** A list of texts; a single text is accepted as a one-element list. */
  strings(node: Node | null, path: string): string[] | undefined {
    if (isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number')) return [String(node.value)];
    if (!isSeq(node)) {
      this.problem(node, path, 'must be a list of texts, e.g. [zenodo, archive]');
      return undefined;
    }
    const out: string[] = [];
    node.items.forEach((item, i) => {
      const value = this.string(item as Node | null, `${path}[${i}]`);
      if (value !== undefined) out.push(value);
    });
    return out;
  }

  oneOf<T extends string>(node: Node | null, path: string, allowed: readonly T[]): T | undefined {
    const value = isScalar(node) ? String(node.value) : undefined;
    if (value !== undefined && (allowed as readonly string[]).includes(value)) return value as T;
    this.problem(node, path, `must be one of ${allowed.join(', ')}${value === undefined ? '' : ` (got "${value}")`}`);
    return undefined;
  }

  bool(node: Node | null, path: string): boolean | undefined {
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    this.problem(node, path, 'must be true or false');
    return undefined;
  }
}

function parseWhen(w: Walker, node: Node | null, path: string, depth = 0): RuleMatch {
  const entries = node === null ? new Map<string, { key: Node; value: Node | null }>() : w.map(node, path, WHEN_KEYS);
  const when: RuleMatch = {};
  if (!entries) return when;
  for (const [key, { value }] of entries) {
    const at = `${path}.${key}`;
    switch (key) {
      case 'tags':
      case 'organization':
      case 'groups':
      case 'license_id':
      case 'name': {
        const list = w.strings(value, at);
        if (list) when[key] = list;
        break;
      }
      case 'extras': {
        const extras = w.map(value, at, undefined);
        if (!extras) break;
        when.extras = {};
        for (const [k, v] of extras) {
          const raw = isScalar(v.value) ? v.value.value : undefined;
          const text = typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : undefined;
          if (text === undefined) w.problem(v.value ?? v.key, `${at}.${k}`, 'must be a single value (quote it: "true")');
          else when.extras[k] = text;
        }
        break;
      }
      case 'private': {
        const b = w.bool(value, at);
        if (b !== undefined) when.private = b;
        break;
      }
      case 'not':
        if (depth > 8) w.problem(value, at, 'is nested too deeply');
        else when.not = parseWhen(w, value, at, depth + 1);
        break;
    }
  }
  return when;
}

interface PartialPolicy {
  resources: Partial<ResourcePolicy>;
  zenodo: Partial<ZenodoPolicy>;
  on_unmapped?: Rule['on_unmapped'];
  metadata_changes?: Rule['metadata_changes'];
  notify?: string[];
}

function parsePolicy(w: Walker, entries: Map<string, { key: Node; value: Node | null }>, path: string): PartialPolicy {
  const policy: PartialPolicy = { resources: {}, zenodo: {} };
  const resources = entries.get('resources');
  if (resources) {
    const r = w.map(resources.value, `${path}.resources`, RESOURCE_KEYS);
    for (const [key, { value }] of r ?? []) {
      const at = `${path}.resources.${key}`;
      if (key === 'formats') {
        const list = w.strings(value, at);
        if (list) policy.resources.formats = list;
      } else if (key === 'max_size') {
        const bytes = isScalar(value) ? parseSize(String(value.value)) : undefined;
        if (bytes === undefined || bytes <= 0) w.problem(value, at, 'must be a size such as 50GB, 500 MB or 1.5GiB');
        else policy.resources.maxSize = bytes;
      } else if (key === 'datastore') {
        const d = w.oneOf(value, at, ['csv', 'skip'] as const);
        if (d) policy.resources.datastore = d;
      }
    }
  }
  const zenodo = entries.get('zenodo');
  if (zenodo) {
    const z = w.map(zenodo.value, `${path}.zenodo`, ZENODO_KEYS);
    for (const [key, { value }] of z ?? []) {
      const at = `${path}.zenodo.${key}`;
      if (key === 'access_right') {
        const a = w.oneOf(value, at, ACCESS_RIGHTS);
        if (a) policy.zenodo.access_right = a;
      } else if (key === 'communities') {
        const list = w.strings(value, at);
        if (list) policy.zenodo.communities = list;
      } else {
        const text = w.string(value, at);
        if (text) policy.zenodo[key as 'upload_type' | 'license' | 'concept'] = text;
      }
    }
  }
  const unmapped = entries.get('on_unmapped');
  if (unmapped) policy.on_unmapped = w.oneOf(unmapped.value, `${path}.on_unmapped`, ['create', 'notify'] as const);
  const changes = entries.get('metadata_changes');
  if (changes) policy.metadata_changes = w.oneOf(changes.value, `${path}.metadata_changes`, ['edit', 'version', 'ignore'] as const);
  const notify = entries.get('notify');
  if (notify) {
    const list = w.strings(notify.value, `${path}.notify`);
    if (list) {
      policy.notify = [];
      list.forEach((target, i) => {
        if ((NOTIFY_TARGETS as readonly string[]).includes(target) || z.email().safeParse(target).success) policy.notify!.push(target);
        else w.problem(isSeq(notify.value) ? (notify.value.items[i] as Node) : notify.value, `${path}.notify[${i}]`, `"${target}" is neither ${NOTIFY_TARGETS.join(', ')} nor an e-mail address`);
      });
    }
  }
  return policy;
}

/** Parses and validates rules.yaml text (pure; `file` is only used in messages). */
export function parseRules(text: string, file: string): { rules?: Rules; problems: ConfigProblem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const w = new Walker(file, lines);
  for (const error of doc.errors) {
    const line = error.linePos?.[0]?.line;
    w.problems.push({ file, line, path: '(syntax)', message: `${error.message.split('\n')[0]} (fix the YAML syntax)` });
  }
  if (doc.errors.length > 0) return { problems: w.problems };
  const top = w.map(doc.contents, '(top)', ['defaults', 'rules']);
  if (!top) return { problems: w.problems };
  const defaultsEntry = top.get('defaults');
  const defaults: PartialPolicy = defaultsEntry ? parsePolicy(w, w.map(defaultsEntry.value, 'defaults', POLICY_KEYS) ?? new Map<string, { key: Node; value: Node | null }>(), 'defaults') : { resources: {}, zenodo: {} };
  const rulesEntry = top.get('rules');
  const rules: Rule[] = [];
  if (!rulesEntry) {
    w.problem(doc.contents, 'rules', 'is missing: add a list of rules (e.g. one with `when: { tags: [zenodo] }`)');
  } else if (!isSeq(rulesEntry.value) || rulesEntry.value.items.length === 0) {
    w.problem(rulesEntry.value ?? rulesEntry.key, 'rules', 'must be a non-empty list of rules');
  } else {
    const names = new Map<string, number | undefined>();
    rulesEntry.value.items.forEach((item, i) => {
      const path = `rules[${i}]`;
      const entries = w.map(item as Node, path, ['name', 'when', ...POLICY_KEYS]);
      if (!entries) return;
      const nameEntry = entries.get('name');
      const name = nameEntry ? w.string(nameEntry.value, `${path}.name`) : undefined;
      if (!nameEntry) w.problem(item as Node, `${path}.name`, 'is missing: every rule needs a name (it appears in mails and the status page)');
      if (name !== undefined) {
        if (names.has(name)) w.problem(nameEntry!.value, `${path}.name`, `"${name}" is already the name of the rule on line ${names.get(name)}`);
        names.set(name, w.line(nameEntry!.value));
      }
      const whenEntry = entries.get('when');
      const when = whenEntry ? parseWhen(w, whenEntry.value, `${path}.when`) : {};
      const own = parsePolicy(w, entries, path);
      rules.push({
        name: name ?? `rule ${i + 1}`,
        line: w.line(item as Node),
        when,
        resources: { formats: [], maxSize: DEFAULT_MAX_SIZE, datastore: 'csv', ...defaults.resources, ...own.resources },
        zenodo: { upload_type: 'dataset', access_right: 'open', communities: [], ...defaults.zenodo, ...own.zenodo },
        on_unmapped: own.on_unmapped ?? defaults.on_unmapped ?? 'create',
        metadata_changes: own.metadata_changes ?? defaults.metadata_changes ?? 'edit',
        notify: own.notify ?? defaults.notify ?? ['maintainer_email', 'author_email'],
      });
    });
  }
  if (w.problems.length > 0) return { problems: w.problems };
  return { rules: { file, rules }, problems: [] };
}

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
