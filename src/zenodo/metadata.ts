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
import { mapCreators } from './creators.js';
import { applyOverride, readOverride } from './override.js';
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
  doi?: unknown;
  identifier?: unknown;
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
  /** Extras the daemon writes back itself (the link extra, `zenodo_version_doi`): never read as the dataset's own DOI. */
  ownExtras?: readonly string[];
  /** CKAN extra holding the owners' Zenodo metadata overrides (JSON); undefined: none read. */
  overrideExtra?: string;
}

export interface MapResult {
  metadata: ZenodoMetadata;
  /** Things the owner should know (licence chosen by the rule, creators from the organization...). */
  warnings: string[];
  /**
   * Reasons not to publish at all. A DOI is forever: when the licence cannot be mapped exactly
   * and the rule names none, or nobody can be named as creator, the sync stops with the first of
   * these before anything is created on Zenodo. The metadata is still complete (for previews and
   * fingerprints) but must not be sent.
   */
  problems: { code: 'LICENSE_UNKNOWN' | 'CREATORS_UNKNOWN' | 'METADATA_OVERRIDE_INVALID'; message: string; fieldErrors?: { field: string; message: string }[] }[];
  /** Which licence was used and why, for mails, the dry run and the status page. */
  license: { id: string | undefined; source: 'ckan' | 'rule' | 'override' | 'none'; ckanId: string | undefined; explanation: string };
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

/** Longest title sent (a record's title is shown everywhere, DataCite caps titles too). */
const MAX_TITLE = 1000;
/**
 * Longest description (notes) rendered: Zenodo caps a metadata request body at 100 MiB
 * (reference zenodo-api.md, MAX_CONTENT_LENGTH), and rendering megabytes of Markdown for every
 * sync is work nobody reads; 100,000 characters is far beyond any real dataset description.
 */
const MAX_NOTES = 100_000;

/** `value` cut to at most `max` UTF-16 units with an ellipsis, never inside a surrogate pair. */
function clipText(value: string, max: number): string {
  if (value.length <= max) return value;
  let end = max - 1;
  const code = value.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${value.slice(0, end).trimEnd()}…`;
}

function clipNotes(notes: string | undefined, warnings: string[]): string | undefined {
  if (notes === undefined || notes.length <= MAX_NOTES) return notes;
  warnings.push(`the description is longer than ${MAX_NOTES} characters; it is cut with an ellipsis`);
  return clipText(notes, MAX_NOTES);
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// ------------------------------------------------------------------------------------------------
// Creators: src/zenodo/creators.ts (ckanext-scheming lists, ORCIDs, never an e-mail address)

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
  if (title.length > MAX_TITLE) {
    title = clipText(title, MAX_TITLE);
    warnings.push(`the title is longer than ${MAX_TITLE} characters; it is cut with an ellipsis`);
  }

  const problems: MapResult['problems'] = [];
  const licenseChoice = chooseLicense(text(dataset.license_id), rule, warnings, problems);
  const license = licenseChoice.id ?? '';

  // A rule may name a sub-type the way RDM does ("publication-article", "image-figure").
  const [uploadType, subType] = rule.zenodo.upload_type.split('-', 2) as [string, string | undefined];
  const metadata: ZenodoMetadata = {
    title,
    upload_type: uploadType,
    description: renderDescription(clipNotes(text(dataset.notes), warnings), url, renderer),
    creators: creatorsOrProblem(dataset, warnings, problems),
    license,
    publication_date: isoDate(opts.today),
    access_right: rule.zenodo.access_right,
    related_identifiers: [{ identifier: url, relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }, ...existingDois(dataset, opts.ownExtras ?? [])],
  };
  if (subType !== undefined && subType !== '') {
    if (uploadType === 'publication') metadata.publication_type = subType;
    else if (uploadType === 'image') metadata.image_type = subType;
  }
  // The tags a rule selects on (`zenodo`) are the portal's switch for archiving, not a subject.
  const triggers = new Set((rule.when.tags ?? []).map((t) => t.toLowerCase()));
  const tags = keywords(dataset.tags).filter((t) => !triggers.has(t.toLowerCase()));
  if (tags.length > 0) metadata.keywords = tags;
  const version = line(dataset.version);
  // A version names a release, so it has a number in it ("1.0", "v2", "2021-03"). EnviDat's
  // "dataset-for-canopy-scale-vpd-reduction-..." (shared/fixtures/ckan-real, envidat.ch
  // package_search) has `version: "double-blind"`, a review-workflow note that a curator would
  // not let stand as "Version double-blind" on a permanent record; such a value is left out.
  if (version !== undefined && /\p{N}/u.test(version)) metadata.version = version.slice(0, 191); // RDM max length (§5)
  else if (version !== undefined) {
    warnings.push(`the version "${version.slice(0, 80)}" has no number in it, so it does not read as a version; the record is published without one`);
  }
  const communities = [...new Set(rule.zenodo.communities.map((c) => c.trim()).filter((c) => c !== ''))];
  if (communities.length > 0) metadata.communities = communities.map((identifier) => ({ identifier }));
  if (rule.zenodo.access_right === 'embargoed') {
    warnings.push(`rule "${rule.name}" asks for embargoed access, which needs an embargo date the rules cannot give; Zenodo will refuse the record`);
  }
  if (opts.overrideExtra === undefined) return { metadata, warnings, problems, license: licenseChoice };
  return withOverride({ metadata, warnings, problems, license: licenseChoice }, dataset, opts.overrideExtra);
}

/** Extras the daemon writes back itself (src/sync/worker.ts write-back): never the dataset's own metadata. */
export function ownExtras(linkExtra: string): string[] {
  return [linkExtra, 'zenodo_version_doi', 'zenodo_record_url'];
}

/**
 * Exactly the inputs `mapDatasetToZenodo` reads (except `version` and the date, which only make
 * the version-specific fields), for the scanner's cheap change detection (src/scanner/fingerprint.ts):
 * an edit that changes the mapped metadata always changes these; our own write-back (extras in
 * `ownExtras`) and everything else the mapping ignores never does. Keep it beside the mapping,
 * in step with it; test/scanner/fingerprint-property.test.ts checks the two agree.
 */
export function mappingInputs(dataset: CkanDatasetLike, rule: Rule, opts: Pick<MapOptions, 'ckanUrl' | 'ownExtras' | 'overrideExtra'>): unknown[] {
  const own = new Set(opts.ownExtras ?? []);
  const extraKeys = ['doi', 'identifier', ...(opts.overrideExtra === undefined ? [] : [opts.overrideExtra])].filter((k) => !own.has(k));
  const extras = Array.isArray(dataset.extras)
    ? (dataset.extras as unknown[]).filter((e) => e !== null && typeof e === 'object' && extraKeys.includes(String((e as { key?: unknown }).key)))
    : null;
  const top = extraKeys.map((k) => (dataset as unknown as Record<string, unknown>)[k] ?? null);
  return [
    opts.ckanUrl,
    dataset.name,
    dataset.title ?? null,
    dataset.notes ?? null,
    dataset.author ?? null,
    dataset.maintainer ?? null,
    dataset.organization ?? null,
    dataset.tags ?? null,
    dataset.license_id ?? null,
    extras,
    top,
    rule.name,
    rule.zenodo,
    rule.when.tags ?? null,
  ];
}

/**
 * The owners' overrides (a JSON extra, like GitHub's `.zenodo.json`) merged over the mapping.
 * An invalid override publishes nothing: the owner gets every problem with its path. A valid one
 * may settle what the mapping could not: its licence (when it maps exactly) replaces a missing
 * or unknown one, its creators replace unparseable ones.
 */
function withOverride(result: MapResult, dataset: CkanDatasetLike, key: string): MapResult {
  const read = readOverride(dataset, key);
  if (!read.ok) {
    return {
      ...result,
      problems: [
        {
          code: 'METADATA_OVERRIDE_INVALID',
          message: `not published: the extra "${key}" holds Zenodo metadata that is not valid: ${read.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
          fieldErrors: read.problems.map((p) => ({ field: p.path, message: p.message })),
        },
        ...result.problems,
      ],
    };
  }
  const override = read.value;
  if (override === undefined) return result;
  let { problems, license } = result;
  const payload = { ...override };
  if (override.license !== undefined) {
    const id = mapLicense(override.license);
    if (id === undefined) {
      return {
        ...result,
        problems: [
          {
            code: 'METADATA_OVERRIDE_INVALID',
            message: `not published: the extra "${key}" names the licence "${override.license.slice(0, 100)}", which has no exact Zenodo equivalent`,
            fieldErrors: [{ field: `${key}.license`, message: 'must be a licence id Zenodo knows, such as cc-by-4.0, cc0-1.0 or odbl-1.0' }],
          },
          ...result.problems,
        ],
      };
    }
    payload.license = id;
    license = { id, source: 'override', ckanId: result.license.ckanId, explanation: `"${id}", set by the dataset's "${key}" extra` };
    problems = problems.filter((p) => p.code !== 'LICENSE_UNKNOWN');
  }
  if (override.creators !== undefined && override.creators.length > 0) problems = problems.filter((p) => p.code !== 'CREATORS_UNKNOWN');
  const metadata = applyOverride({ ...result.metadata }, payload) as unknown as ZenodoMetadata;
  return { ...result, metadata, problems, license };
}

/**
 * The licence: CKAN's when it maps exactly; else the rule's `zenodo.license` (the operator's
 * explicit choice); else none, which is a problem (the record is not published). Never a
 * silent default: a wrong licence on a DOI cannot be taken back.
 */
function chooseLicense(ckanId: string | undefined, rule: Rule, warnings: string[], problems: MapResult['problems']): MapResult['license'] {
  const fromCkan = ckanId === undefined ? undefined : mapLicense(ckanId);
  const shown = ckanId === undefined ? undefined : ckanId.slice(0, 100);
  if (fromCkan !== undefined) {
    return { id: fromCkan, source: 'ckan', ckanId: shown, explanation: `"${fromCkan}", from the dataset's licence "${shown ?? ''}" in CKAN` };
  }
  const ruleLicense = rule.zenodo.license?.trim();
  const why = shown === undefined ? 'the dataset has no licence in CKAN' : `the dataset's CKAN licence "${shown}" has no exact Zenodo equivalent`;
  if (ruleLicense !== undefined && ruleLicense !== '') {
    const id = mapLicense(ruleLicense) ?? ruleLicense.toLowerCase();
    const explanation = `"${id}", set by rule "${rule.name}" (zenodo.license) because ${why}`;
    warnings.push(`licence ${explanation}`);
    return { id, source: 'rule', ckanId: shown, explanation };
  }
  problems.push({
    code: 'LICENSE_UNKNOWN',
    message:
      `not published: ${why}, and a Zenodo record's licence cannot be changed back once its DOI exists. ` +
      'Fix: in CKAN, edit the dataset and choose its licence (for example "Creative Commons Attribution" or "Open Data Commons Open Database License (ODbL)"); ' +
      `or, if every dataset of rule "${rule.name}" may be published under one licence, the operator sets \`zenodo: { license: <id> }\` on that rule in rules.yaml.`,
  });
  return { id: undefined, source: 'none', ckanId: shown, explanation: `none: ${why} and rule "${rule.name}" sets no zenodo.license` };
}

function creatorsOrProblem(dataset: CkanDatasetLike, warnings: string[], problems: MapResult['problems']): ZenodoCreator[] {
  const creators = mapCreators(dataset, warnings);
  if (creators !== undefined && creators.length > 0) return creators;
  problems.push({
    code: 'CREATORS_UNKNOWN',
    message:
      'not published: the dataset names no author, maintainer or organization that can be listed as creator of a permanent Zenodo record. ' +
      'Fix: in CKAN, edit the dataset and fill in "Author" (for several people: "Family, Given; Family, Given"), or give the dataset an organization.',
  });
  return [{ name: 'Unknown' }];
}

const DOI = /^(?:https?:\/\/(?:dx\.)?doi\.org\/|doi:)?(10\.\d{4,9}\/\S+)$/i;

/**
 * DOIs the dataset already has (top-level `doi` of ckanext-scheming schemas, extras `doi` and
 * `identifier`): the archived copy is derived from the dataset they name. Zenodo DOIs and the
 * extras the daemon itself writes back (`ownExtras`) are ours, not the dataset's own.
 */
function existingDois(dataset: CkanDatasetLike, ownExtras: readonly string[]): ZenodoRelatedIdentifier[] {
  const values: unknown[] = [];
  const own = new Set(ownExtras);
  for (const key of ['doi', 'identifier'] as const) {
    if (own.has(key)) continue;
    values.push(dataset[key]);
    if (Array.isArray(dataset.extras)) {
      for (const e of dataset.extras as unknown[]) {
        if (e !== null && typeof e === 'object' && (e as { key?: unknown }).key === key) values.push((e as { value?: unknown }).value);
      }
    }
  }
  const out: ZenodoRelatedIdentifier[] = [];
  const seen = new Set<string>();
  for (const value of values) {
    const raw = text(value);
    if (raw === undefined || raw.length > 300) continue;
    const doi = DOI.exec(raw)?.[1];
    if (doi === undefined || /^10\.5281\/zenodo\./i.test(doi) || seen.has(doi.toLowerCase())) continue;
    seen.add(doi.toLowerCase());
    out.push({ identifier: doi, relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'doi' });
  }
  return out;
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
