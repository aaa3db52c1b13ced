/**
 * CKAN dataset → Zenodo deposition metadata (DESIGN.md "CKAN → Zenodo metadata"). Pure: no I/O,
 * the date comes in as a parameter, so the same dataset and rule always give the same payload.
 *
 * The payload is the full legacy `metadata` object: a PUT replaces metadata as a whole (reference
 * zenodo-api.md Q5, Q21), so it must always be complete. Every CKAN field is hostile input: any
 * field may be missing, null, of the wrong type, or a multilingual object (ckanext-fluent); none
 * of that throws, it only degrades to the documented fallback and a warning.
 */
import { createHash } from 'node:crypto';
import MarkdownIt from 'markdown-it';
import type { Rule } from '../rules/types.js';
import { mapLicense, normaliseLicense } from './licenses.js';

// Licences live in ./licenses.ts; re-exported so existing importers keep working.
export { mapLicense, normaliseLicense, sameLicense } from './licenses.js';

/**
 * The fields of a CKAN dataset the mapping reads. Deliberately structural and loose (`unknown`
 * for everything CKAN may send in odd shapes), so that both the scanner's and the sync's dataset
 * types fit without a cast; the values are checked at run time.
 */
export interface CkanDatasetLike {
  name: string;
  title?: unknown;
  notes?: unknown;
  author?: unknown;
  maintainer?: unknown;
  /** `{ title, name }` */
  organization?: unknown;
  /** `[{ name }]` */
  tags?: unknown;
  license_id?: unknown;
  version?: unknown;
  extras?: unknown;
}

export interface ZenodoCreator {
  name: string;
  affiliation?: string;
  orcid?: string;
}

export interface ZenodoRelatedIdentifier {
  identifier: string;
  relation: string;
  resource_type?: string;
  scheme?: string;
}

/** The legacy deposit metadata we send (reference §5). Only fields we set are declared. */
export interface ZenodoMetadata {
  title: string;
  upload_type: string;
  publication_type?: string;
  image_type?: string;
  description: string;
  creators: ZenodoCreator[];
  keywords?: string[];
  license: string;
  version?: string;
  publication_date: string;
  access_right: string;
  related_identifiers: ZenodoRelatedIdentifier[];
  communities?: { identifier: string }[];
}

export interface MapOptions {
  /** CKAN site URL (origin + optional path prefix), used for the link back to the dataset. */
  ckanUrl: string;
  today: Date;
}

export interface MapResult {
  metadata: ZenodoMetadata;
  /** Things the owner should know (unknown licence, short title...); never fatal. */
  warnings: string[];
}

// ------------------------------------------------------------------------------------------------
// Text helpers

/**
 * A string from a CKAN field: strings as they are, multilingual objects (`{en, de}`) by English
 * first, else the first string value; anything else → undefined. Control characters are removed
 * (they break Zenodo's XML exports) and whitespace is trimmed.
 */
function text(value: unknown): string | undefined {
  let raw: string | undefined;
  if (typeof value === 'string') raw = value;
  else if (typeof value === 'number' && Number.isFinite(value)) raw = String(value);
  else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const en = obj.en;
    raw = typeof en === 'string' ? en : Object.values(obj).find((v): v is string => typeof v === 'string');
  }
  if (raw === undefined) return undefined;
  // Control characters break Zenodo's XML exports (DataCite, OAI-PMH).
  const cleaned = raw.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, '').trim();
  return cleaned === '' || cleaned === 'null' || cleaned === 'None' ? undefined : cleaned;
}

/** One line: newlines and runs of whitespace collapsed (titles, names). */
function line(value: unknown): string | undefined {
  const t = text(value);
  return t?.replace(/\s+/g, ' ');
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// ------------------------------------------------------------------------------------------------
// Creators

/**
 * Splits an author/maintainer field into person names. `;` and ` and ` always separate. A comma
 * separates only when it clearly lists several full names: "Jane Doe, John Smith" (every part has
 * at least two words) or "Doe, Jane, Smith, John" (an even number of short parts, read as
 * Family, Given pairs). "Doe, Jane" is ONE person written family-first, which is exactly Zenodo's
 * own creator format (§5), so it is kept whole.
 */
export function splitCreators(value: string): string[] {
  const names: string[] = [];
  for (const chunk of value.split(/;|\s+and\s+|\s+&\s+|\n/i)) {
    const part = chunk.replace(/\s+/g, ' ').trim().replace(/^,+|,+$/g, '').trim();
    if (part === '') continue;
    names.push(...splitOnCommas(part));
  }
  const seen = new Set<string>();
  return names.filter((n) => {
    const key = n.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function splitOnCommas(part: string): string[] {
  const pieces = part.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (pieces.length < 2) return pieces.length === 1 ? [pieces[0]!] : [];
  const words = (p: string): number => p.split(' ').length;
  if (pieces.every((p) => words(p) >= 2)) return pieces;
  // "Family, Given, Family, Given": only when the count is even, there are at least two pairs and
  // every part is short (no part is itself a full "Given Family" name with more words).
  if (pieces.length >= 4 && pieces.length % 2 === 0 && pieces.every((p) => words(p) <= 3)) {
    const out: string[] = [];
    for (let i = 0; i < pieces.length; i += 2) out.push(`${pieces[i]!}, ${pieces[i + 1]!}`);
    return out;
  }
  return [pieces.join(', ')];
}

function mapCreators(dataset: CkanDatasetLike, warnings: string[]): ZenodoCreator[] {
  for (const field of ['author', 'maintainer'] as const) {
    const value = text(dataset[field]);
    if (value === undefined) continue;
    const names = splitCreators(value);
    if (names.length > 0) return names.map((name) => ({ name }));
  }
  const org = dataset.organization;
  if (org !== null && typeof org === 'object') {
    const o = org as Record<string, unknown>;
    const name = line(o.title) ?? line(o.name);
    if (name !== undefined) {
      warnings.push(`the dataset names no author or maintainer; the organization "${name}" is listed as creator`);
      return [{ name }];
    }
  }
  warnings.push('the dataset names no author, maintainer or organization; the creator is "Unknown"');
  return [{ name: 'Unknown' }];
}

// ------------------------------------------------------------------------------------------------
// Description

const SAFE_LINK = /^(https?:|mailto:)/i;

/**
 * markdown-it with raw HTML off (so `<script>` is escaped, never passed through), links limited
 * to http(s)/mailto (markdown-it already refuses javascript:/vbscript:/file:, and data: for
 * non-images; we also refuse relative links, which would point into Zenodo), and images rendered
 * as plain links: an archive description should not load remote images (tracking) or embed
 * data: URIs.
 */
function createRenderer(): MarkdownIt {
  const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
  md.validateLink = (url: string): boolean => SAFE_LINK.test(url.trim());
  md.renderer.rules.image = (tokens, idx): string => {
    const token = tokens[idx]!;
    const src = token.attrGet('src') ?? '';
    const alt = token.children ? md.renderer.renderInlineAsText(token.children, md.options, {}) : token.content;
    const label = escapeHtml(alt !== '' ? alt : src);
    return /^https?:/i.test(src) ? `<a href="${escapeHtml(src)}">${label}</a>` : label;
  };
  return md;
}

/**
 * One renderer for every mapping: building one compiles linkify's patterns (about 0.4 ms, a sync
 * maps its dataset at least once). It is configured here and never changed afterwards, and
 * `render` keeps no state between calls.
 */
const renderer = createRenderer();

function datasetUrl(ckanUrl: string, name: string): string {
  return `${ckanUrl.replace(/\/+$/, '')}/dataset/${encodeURIComponent(name)}`;
}

function renderDescription(notes: string | undefined, url: string, md: MarkdownIt): string {
  const body = notes === undefined ? '' : md.render(notes).trim();
  const link = `<p>Archived from <a href="${escapeHtml(url)}">${escapeHtml(url)}</a>.</p>`;
  return body === '' ? link : `${body}\n${link}`;
}

// ------------------------------------------------------------------------------------------------
// The mapping

function keywords(tags: unknown): string[] {
  if (!Array.isArray(tags)) return [];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const tag of tags) {
    const name = line(typeof tag === 'string' ? tag : tag !== null && typeof tag === 'object' ? (tag as Record<string, unknown>).name : undefined);
    if (name === undefined) continue;
    const key = name.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(name);
  }
  return out;
}

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export function mapDatasetToZenodo(dataset: CkanDatasetLike, rule: Rule, opts: MapOptions): MapResult {
  const warnings: string[] = [];
  const name = typeof dataset.name === 'string' ? dataset.name : String(dataset.name);
  const url = datasetUrl(opts.ckanUrl, name);

  let title = line(dataset.title) ?? line(name) ?? '';
  if (title.length < 3) {
    warnings.push(`the title "${title}" is shorter than the 3 characters Zenodo requires; publishing will fail until it is longer`);
  }
  if (title.length > 1000) title = title.slice(0, 1000);

  const licenseId = text(dataset.license_id);
  const fallback = (rule.zenodo.license !== undefined ? mapLicense(rule.zenodo.license) ?? rule.zenodo.license.trim().toLowerCase() : undefined) ?? 'cc-by-4.0';
  let license = licenseId === undefined ? undefined : mapLicense(licenseId);
  if (license === undefined) {
    warnings.push(
      licenseId === undefined
        ? `the dataset has no licence; archived under "${fallback}" (rule "${rule.name}")`
        : `the CKAN licence "${licenseId.slice(0, 100)}" has no Zenodo equivalent; archived under "${fallback}" (rule "${rule.name}")`,
    );
    license = fallback;
  }

  // A rule may name a sub-type the way RDM does ("publication-article", "image-figure").
  const [uploadType, subType] = rule.zenodo.upload_type.split('-', 2) as [string, string | undefined];
  const metadata: ZenodoMetadata = {
    title,
    upload_type: uploadType,
    description: renderDescription(text(dataset.notes), url, renderer),
    creators: mapCreators(dataset, warnings),
    license,
    publication_date: isoDate(opts.today),
    access_right: rule.zenodo.access_right,
    related_identifiers: [{ identifier: url, relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
  };
  if (subType !== undefined && subType !== '') {
    if (uploadType === 'publication') metadata.publication_type = subType;
    else if (uploadType === 'image') metadata.image_type = subType;
  }
  const tags = keywords(dataset.tags);
  if (tags.length > 0) metadata.keywords = tags;
  const version = line(dataset.version);
  if (version !== undefined) metadata.version = version.slice(0, 191); // RDM max length (§5)
  const communities = [...new Set(rule.zenodo.communities.map((c) => c.trim()).filter((c) => c !== ''))];
  if (communities.length > 0) metadata.communities = communities.map((identifier) => ({ identifier }));
  if (rule.zenodo.access_right === 'embargoed') {
    warnings.push(`rule "${rule.name}" asks for embargoed access, which needs an embargo date the rules cannot give; Zenodo will refuse the record`);
  }
  return { metadata, warnings };
}

// ------------------------------------------------------------------------------------------------
// Fingerprint

/** Fields that change with every version without the dataset changing. */
const VERSION_SPECIFIC = new Set(['publication_date', 'version', 'doi', 'prereserve_doi']);

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * sha256 (hex) of the canonical JSON of the mapped metadata without the version-specific fields
 * (publication_date, version). Key order does not matter; the licence is normalised, so a value
 * read back from Zenodo fingerprints like the one we sent. Used to detect metadata changes.
 */
export function metadataFingerprint(metadata: ZenodoMetadata | Record<string, unknown>): string {
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) if (!VERSION_SPECIFIC.has(k)) copy[k] = v;
  if (typeof copy.license === 'string') copy.license = normaliseLicense(copy.license);
  return createHash('sha256').update(canonicalJson(copy)).digest('hex');
}
