/**
 * The subset of Solr's standard (lucene) query syntax that CKAN clients put in `q`/`fq`
 * (reference ckan-api.md §3.1, §3.3): fielded terms, phrases, wildcards, ranges with `*` and
 * `NOW` date math, AND/OR/NOT (also `&&`, `||`, `!`, `+`, `-`), parentheses and field groups
 * (`tags:(a OR b)`). Anything else (boosts `^`, fuzzy `~`, regex `/.../`, local params `{!...}`)
 * is refused with a SolrQueryError rather than guessed at, so a client relying on it fails loudly
 * in tests instead of silently matching the wrong datasets.
 *
 * Precedence is the conventional one (NOT > AND > OR) and juxtaposed clauses are ANDed because
 * CKAN sends `q.op=AND` (`query.py@2.10`). Lucene's own parser has no real precedence; for the
 * queries CKAN clients write (parenthesised disjunctions joined by AND) both agree.
 */

export type SolrNode =
  | { type: 'all' }
  | { type: 'and'; items: SolrNode[] }
  | { type: 'or'; items: SolrNode[] }
  | { type: 'not'; item: SolrNode }
  | { type: 'term'; field: string; value: string; pattern?: RegExp }
  | { type: 'phrase'; field: string; value: string }
  | { type: 'range'; field: string; lo: string | null; hi: string | null; loInclusive: boolean; hiInclusive: boolean };

export class SolrQueryError extends Error {
  override readonly name = 'SolrQueryError';
}

type Token =
  | { t: '(' | ')' | ':' | 'AND' | 'OR' | 'NOT' | '+' | '-'; pos: number }
  | { t: 'term'; raw: string; value: string; pattern: RegExp | undefined; pos: number }
  | { t: 'phrase'; value: string; pos: number }
  | { t: 'range'; lo: string | null; hi: string | null; loInclusive: boolean; hiInclusive: boolean; pos: number };

const TERM_STOP = new Set([' ', '\t', '\n', '\r', '(', ')', '[', ']', '{', '}', '"', ':', '^', '~', '/']);

function regexEscape(ch: string): string {
  return /[.*+?^${}()|[\]\\/-]/.test(ch) ? `\\${ch}` : ch;
}

export function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = input.length;
  while (i < n) {
    const ch = input[i]!;
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      i++;
      continue;
    }
    const pos = i;
    if (ch === '(' || ch === ')' || ch === ':') {
      tokens.push({ t: ch, pos });
      i++;
      continue;
    }
    if (ch === '&' && input[i + 1] === '&') {
      tokens.push({ t: 'AND', pos });
      i += 2;
      continue;
    }
    if (ch === '|' && input[i + 1] === '|') {
      tokens.push({ t: 'OR', pos });
      i += 2;
      continue;
    }
    if (ch === '!') {
      tokens.push({ t: 'NOT', pos });
      i++;
      continue;
    }
    if (ch === '+' || ch === '-') {
      tokens.push({ t: ch, pos });
      i++;
      continue;
    }
    if (ch === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= n) throw new SolrQueryError(`unterminated phrase starting at position ${pos}`);
        const c = input[i]!;
        if (c === '\\') {
          if (i + 1 >= n) throw new SolrQueryError(`dangling backslash at position ${i}`);
          value += input[i + 1]!;
          i += 2;
          continue;
        }
        if (c === '"') {
          i++;
          break;
        }
        value += c;
        i++;
      }
      if (input[i] === '~') throw new SolrQueryError(`proximity searches ("..."~N) are not supported (position ${i})`);
      tokens.push({ t: 'phrase', value, pos });
      continue;
    }
    if (ch === '[' || ch === '{') {
      if (ch === '{' && input[i + 1] === '!') throw new SolrQueryError(`local parameters {!...} are not supported (position ${pos})`);
      const close = findRangeEnd(input, i + 1);
      if (close < 0) throw new SolrQueryError(`unterminated range starting at position ${pos}`);
      const body = input.slice(i + 1, close).trim();
      const parts = splitRange(body);
      if (parts === undefined) throw new SolrQueryError(`malformed range "${input.slice(i, close + 1)}": expected [A TO B]`);
      tokens.push({ t: 'range', lo: parts[0], hi: parts[1], loInclusive: ch === '[', hiInclusive: input[close] === ']', pos });
      i = close + 1;
      continue;
    }
    if (ch === ']' || ch === '}') throw new SolrQueryError(`unexpected "${ch}" at position ${pos}`);
    if (ch === '^') throw new SolrQueryError(`boosts (^) are not supported (position ${pos})`);
    if (ch === '~') throw new SolrQueryError(`fuzzy searches (~) are not supported (position ${pos})`);
    if (ch === '/') throw new SolrQueryError(`regular expressions (/.../) are not supported (position ${pos})`);
    // A term: Lucene allows "-" and "+" inside a term (marine-institute), only not at its start.
    let raw = '';
    let value = '';
    let source = '';
    let wildcard = false;
    while (i < n) {
      const c = input[i]!;
      if (c === '\\') {
        if (i + 1 >= n) throw new SolrQueryError(`dangling backslash at position ${i}`);
        const next = input[i + 1]!;
        raw += c + next;
        value += next;
        source += regexEscape(next);
        i += 2;
        continue;
      }
      if (TERM_STOP.has(c)) break;
      if ((c === '&' && input[i + 1] === '&') || (c === '|' && input[i + 1] === '|')) break;
      raw += c;
      value += c;
      if (c === '*') {
        wildcard = true;
        source += '.*';
      } else if (c === '?') {
        wildcard = true;
        source += '.';
      } else source += regexEscape(c);
      i++;
    }
    if (raw === 'AND' || raw === 'OR' || raw === 'NOT') {
      tokens.push({ t: raw, pos });
      continue;
    }
    if (input[i] === '^' || input[i] === '~') {
      throw new SolrQueryError(`${input[i] === '^' ? 'boosts (^)' : 'fuzzy searches (~)'} are not supported (position ${i})`);
    }
    tokens.push({ t: 'term', raw, value, pattern: wildcard ? new RegExp(`^${source}$`, 's') : undefined, pos });
  }
  return tokens;
}

function findRangeEnd(input: string, from: number): number {
  for (let i = from; i < input.length; i++) {
    const c = input[i];
    if (c === '\\') i++;
    else if (c === ']' || c === '}') return i;
    else if (c === '[' || c === '{') return -1;
  }
  return -1;
}

function unquoteBound(text: string): string | null {
  let t = text;
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) t = t.slice(1, -1);
  else if (t === '*') return null;
  return t.replace(/\\(.)/g, '$1');
}

function splitRange(body: string): [string | null, string | null] | undefined {
  const m = /^(\S+)\s+TO\s+(\S+)$/.exec(body);
  if (!m) return undefined;
  return [unquoteBound(m[1]!), unquoteBound(m[2]!)];
}

/** Parses a q/fq string; `defaultField` is what a bare term searches (Solr `df`, CKAN sets `text`). */
export function parseSolrQuery(input: string, defaultField = 'text'): SolrNode {
  const tokens = tokenize(input);
  if (tokens.length === 0) return { type: 'all' };
  let at = 0;
  const peek = (): Token | undefined => tokens[at];
  const describe = (tok: Token | undefined): string =>
    tok === undefined ? 'end of query' : `"${tok.t === 'term' ? tok.raw : tok.t === 'phrase' ? `"${tok.value}"` : tok.t === 'range' ? 'range' : tok.t}" at position ${tok.pos}`;

  function orExpr(field: string): SolrNode {
    const items = [andExpr(field)];
    while (peek()?.t === 'OR') {
      at++;
      items.push(andExpr(field));
    }
    return items.length === 1 ? items[0]! : { type: 'or', items };
  }

  function startsClause(tok: Token | undefined): boolean {
    return tok !== undefined && tok.t !== ')' && tok.t !== 'OR' && tok.t !== 'AND' && tok.t !== ':';
  }

  function andExpr(field: string): SolrNode {
    const items = [unary(field)];
    for (;;) {
      const tok = peek();
      if (tok?.t === 'AND') {
        at++;
        items.push(unary(field));
      } else if (startsClause(tok)) items.push(unary(field));
      else break;
    }
    return items.length === 1 ? items[0]! : { type: 'and', items };
  }

  function unary(field: string): SolrNode {
    const tok = peek();
    if (tok?.t === 'NOT' || tok?.t === '-') {
      at++;
      return { type: 'not', item: unary(field) };
    }
    if (tok?.t === '+') {
      at++;
      return unary(field);
    }
    return primary(field);
  }

  function primary(field: string): SolrNode {
    const tok = peek();
    if (tok === undefined) throw new SolrQueryError(`unexpected end of query`);
    if (tok.t === '(') {
      at++;
      const inner = orExpr(field);
      if (peek()?.t !== ')') throw new SolrQueryError(`expected ")" but found ${describe(peek())}`);
      at++;
      return inner;
    }
    if (tok.t === 'term' && tokens[at + 1]?.t === ':') {
      if (tok.pattern !== undefined && tok.raw !== '*') throw new SolrQueryError(`wildcard field names are not supported (${describe(tok)})`);
      at += 2;
      return value(tok.raw === '*' ? '*' : tok.value);
    }
    return value(field);
  }

  function value(field: string): SolrNode {
    const tok = peek();
    if (tok === undefined) throw new SolrQueryError(`field "${field}" has no value`);
    at++;
    switch (tok.t) {
      case 'term':
        if (field === '*') {
          if (tok.raw === '*') return { type: 'all' };
          throw new SolrQueryError(`"*:" must be followed by "*" (${describe(tok)})`);
        }
        return tok.pattern === undefined ? { type: 'term', field, value: tok.value } : { type: 'term', field, value: tok.value, pattern: tok.pattern };
      case 'phrase':
        return { type: 'phrase', field, value: tok.value };
      case 'range':
        return { type: 'range', field, lo: tok.lo, hi: tok.hi, loInclusive: tok.loInclusive, hiInclusive: tok.hiInclusive };
      case '(': {
        const inner = orExpr(field);
        if (peek()?.t !== ')') throw new SolrQueryError(`expected ")" but found ${describe(peek())}`);
        at++;
        return inner;
      }
      default:
        throw new SolrQueryError(`unexpected ${describe(tok)}`);
    }
  }

  const node = orExpr(defaultField);
  if (at < tokens.length) throw new SolrQueryError(`unexpected ${describe(tokens[at])}`);
  return node;
}

// ------------------------------------------------------------------------------------------------
// Evaluation against an index document (what CKAN's indexer would have sent to Solr).

/**
 * One dataset as Solr sees it (reference §3.3). Multi-valued fields are flat `[field, value,
 * field, value, ...]` arrays rather than Maps: at 100,000 datasets a Map per document cost more
 * heap than the documents' JSON, and a linear scan of ~50 pairs is as fast as a hash look-up.
 */
export interface IndexDoc {
  /** Exact `string` fields (case-sensitive). */
  strings: string[];
  /**
   * Tokenised `text` fields, as raw values: tokenised when a query reads them (scans rarely do).
   * `text` (Solr's catch-all) is not stored: it is every text value plus name, tags and organization.
   */
  texts: string[];
  /** `date` fields in epoch milliseconds (Solr keeps milliseconds only). */
  dates: Record<string, number>;
}

/** All values of `field` in a flat pair array. */
export function docValues(flat: readonly string[], field: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === field) out.push(flat[i + 1]!);
  return out;
}

function anyValue(flat: readonly string[], field: string, test: (v: string) => boolean): boolean {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === field && test(flat[i + 1]!)) return true;
  return false;
}

const TEXT_FIELDS = new Set(['title', 'notes', 'text', 'author', 'maintainer', 'res_name', 'res_description', 'urls', 'download_url']);
const DATE_FIELDS = new Set(['metadata_modified', 'metadata_created', 'indexed_ts']);

export type FieldKind = 'string' | 'text' | 'date';

export function fieldKind(field: string): FieldKind {
  if (DATE_FIELDS.has(field) || field.endsWith('_date')) return 'date';
  if (TEXT_FIELDS.has(field) || field.startsWith('extras_') || field.startsWith('res_extras_')) return 'text';
  return 'string';
}

/** Solr's text analysis, roughly: lower-case, split on anything that is not a letter or digit. */
export function textTokens(value: string): string[] {
  return value.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((t) => t !== '');
}

const SOLR_DATE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z/;
const UNIT_MS: Record<string, number> = { SECOND: 1000, MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000, DATE: 86_400_000, MILLI: 1, MILLISECOND: 1 };

/**
 * A Solr date or date-math expression (`2024-01-01T00:00:00Z`, `NOW-1DAY`, `NOW/DAY+1DAY`) in
 * epoch ms. Solr refuses dates without the trailing `Z` ("Invalid Date String"), and so do we:
 * CKAN's API timestamps lack it, so a client that pastes them into a range must add it (§0).
 */
export function parseSolrDate(text: string, now: number): number {
  let base: number;
  let rest: string;
  if (text.startsWith('NOW')) {
    base = now;
    rest = text.slice(3);
  } else {
    const m = SOLR_DATE.exec(text);
    if (!m) throw new SolrQueryError(`Invalid Date String:'${text}'`);
    const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
    base = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
    rest = text.slice(m[0].length);
  }
  const d = new Date(base);
  const opRe = /^([+-]\d+|\/)([A-Z]+)/;
  while (rest !== '') {
    const m = opRe.exec(rest);
    if (!m) throw new SolrQueryError(`Invalid Date Math String:'${text}'`);
    const unit = m[2]!.replace(/S$/, '');
    if (m[1] === '/') {
      switch (unit) {
        case 'YEAR': d.setUTCMonth(0, 1); d.setUTCHours(0, 0, 0, 0); break;
        case 'MONTH': d.setUTCDate(1); d.setUTCHours(0, 0, 0, 0); break;
        case 'DAY': case 'DATE': d.setUTCHours(0, 0, 0, 0); break;
        case 'HOUR': d.setUTCMinutes(0, 0, 0); break;
        case 'MINUTE': d.setUTCSeconds(0, 0); break;
        case 'SECOND': d.setUTCMilliseconds(0); break;
        default: throw new SolrQueryError(`Invalid Date Math String:'${text}'`);
      }
    } else {
      const k = Number(m[1]);
      if (unit === 'YEAR') d.setUTCFullYear(d.getUTCFullYear() + k);
      else if (unit === 'MONTH') d.setUTCMonth(d.getUTCMonth() + k);
      else if (UNIT_MS[unit] !== undefined) d.setTime(d.getTime() + k * UNIT_MS[unit]);
      else throw new SolrQueryError(`Invalid Date Math String:'${text}'`);
    }
    rest = rest.slice(m[0].length);
  }
  return d.getTime();
}

/**
 * Resolves dates once per query (so `NOW` is one instant for the whole search and a malformed date
 * fails the request before any document is looked at) and returns a predicate over documents.
 */
/** Fields CKAN indexes twice under two names; the emulator stores one. */
const ALIASES: Record<string, string> = { dataset_type: 'type' };

export function compileSolrQuery(node: SolrNode, now: number): (doc: IndexDoc) => boolean {
  if ('field' in node && ALIASES[node.field] !== undefined) node = { ...node, field: ALIASES[node.field]! };
  switch (node.type) {
    case 'all':
      return () => true;
    case 'and': {
      const parts = node.items.map((i) => compileSolrQuery(i, now));
      return (doc) => parts.every((p) => p(doc));
    }
    case 'or': {
      const parts = node.items.map((i) => compileSolrQuery(i, now));
      return (doc) => parts.some((p) => p(doc));
    }
    case 'not': {
      const inner = compileSolrQuery(node.item, now);
      return (doc) => !inner(doc);
    }
    case 'term':
    case 'phrase':
      return compileMatch(node, now);
    case 'range':
      return compileRange(node, now);
  }
}

const CATCH_ALL_STRINGS = new Set(['name', 'tags', 'organization', 'groups']);

function textValues(doc: IndexDoc, field: string): string[] {
  if (field !== 'text') return docValues(doc.texts, field);
  const out: string[] = [];
  for (let i = 1; i < doc.texts.length; i += 2) out.push(doc.texts[i]!);
  for (let i = 0; i < doc.strings.length; i += 2) if (CATCH_ALL_STRINGS.has(doc.strings[i]!)) out.push(doc.strings[i + 1]!);
  return out;
}

function compileMatch(node: Extract<SolrNode, { type: 'term' | 'phrase' }>, now: number): (doc: IndexDoc) => boolean {
  const { field } = node;
  const pattern = node.type === 'term' ? node.pattern : undefined;
  const existsOnly = node.type === 'term' && node.value === '*' && pattern !== undefined;
  const kind = fieldKind(field);
  if (kind === 'date') {
    if (existsOnly) return (doc) => doc.dates[field] !== undefined;
    const at = parseSolrDate(node.value, now);
    return (doc) => doc.dates[field] === at;
  }
  if (kind === 'string') {
    if (existsOnly) return (doc) => anyValue(doc.strings, field, () => true);
    if (pattern !== undefined) return (doc) => anyValue(doc.strings, field, (v) => pattern.test(v));
    const wanted = node.value;
    return (doc) => anyValue(doc.strings, field, (v) => v === wanted);
  }
  if (existsOnly) return (doc) => textValues(doc, field).some((v) => textTokens(v).length > 0);
  if (pattern !== undefined) {
    const lower = new RegExp(pattern.source.toLowerCase(), pattern.flags);
    return (doc) => textValues(doc, field).some((v) => textTokens(v).some((t) => lower.test(t)));
  }
  const wanted = textTokens(node.value);
  if (wanted.length === 0) return () => false;
  const first = wanted[0]!;
  // Cheap substring test first: most values cannot contain the phrase at all.
  return (doc) => textValues(doc, field).some((v) => v.toLowerCase().includes(first) && containsSequence(textTokens(v), wanted));
}

function containsSequence(tokens: string[], wanted: string[]): boolean {
  outer: for (let i = 0; i + wanted.length <= tokens.length; i++) {
    for (let j = 0; j < wanted.length; j++) if (tokens[i + j] !== wanted[j]) continue outer;
    return true;
  }
  return false;
}

function compileRange(node: Extract<SolrNode, { type: 'range' }>, now: number): (doc: IndexDoc) => boolean {
  const { field, loInclusive, hiInclusive } = node;
  const kind = fieldKind(field);
  if (kind === 'date') {
    const lo = node.lo === null ? -Infinity : parseSolrDate(node.lo, now);
    const hi = node.hi === null ? Infinity : parseSolrDate(node.hi, now);
    return (doc) => {
      const v = doc.dates[field];
      if (v === undefined) return false;
      return (loInclusive ? v >= lo : v > lo) && (hiInclusive ? v <= hi : v < hi);
    };
  }
  const lo = node.lo === null ? null : kind === 'text' ? node.lo.toLowerCase() : node.lo;
  const hi = node.hi === null ? null : kind === 'text' ? node.hi.toLowerCase() : node.hi;
  const inRange = (v: string): boolean =>
    (lo === null || (loInclusive ? v >= lo : v > lo)) && (hi === null || (hiInclusive ? v <= hi : v < hi));
  if (kind === 'string') return (doc) => anyValue(doc.strings, field, inRange);
  return (doc) => textValues(doc, field).some((v) => textTokens(v).some(inRange));
}

/**
 * For the keyset scan (`metadata_modified:[X TO *] AND ...`): the lower bound on
 * `metadata_modified` every match must satisfy, if the query implies one, so the search can start
 * from there in the date-sorted index instead of at the first document.
 */
export function impliedLowerBound(node: SolrNode, field: string, now: number): number | undefined {
  if (node.type === 'range' && node.field === field && node.lo !== null) return parseSolrDate(node.lo, now);
  if (node.type === 'and') {
    let best: number | undefined;
    for (const item of node.items) {
      const b = impliedLowerBound(item, field, now);
      if (b !== undefined && (best === undefined || b > best)) best = b;
    }
    return best;
  }
  return undefined;
}
