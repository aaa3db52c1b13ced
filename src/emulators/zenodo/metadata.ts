/**
 * The metadata half of the Zenodo emulator: what the legacy shim of Zenodo-RDM does with
 * `{"metadata": ...}` on create and PUT, and what publish then checks (reference zenodo-api.md §5, §6).
 *
 * Two layers, as in production:
 * 1. the legacy deserializer refuses bad shapes with an immediate 400 and saves nothing
 *    (`DeserializeResult.errors`);
 * 2. the RDM schema silently DROPS invalid fields when a draft is saved, and only publish reports
 *    what is then missing (Q19), all errors at once (`publishErrors`).
 */

export interface FieldError {
  field: string;
  messages: string[];
}

export type LegacyMetadata = Record<string, unknown>;

export interface DeserializeResult {
  /** Layer-1 errors: non-empty means 400 and nothing saved. */
  errors: FieldError[];
  /** Stored metadata (layer 2 applied: invalid fields dropped, defaults filled). */
  metadata: LegacyMetadata;
}

const uploadTypes: Record<string, string[] | undefined> = {
  publication: [
    'annotationcollection', 'book', 'section', 'conferencepaper', 'datamanagementplan', 'article', 'patent',
    'preprint', 'deliverable', 'milestone', 'proposal', 'report', 'softwaredocumentation', 'taxonomictreatment',
    'technicalnote', 'thesis', 'workingpaper', 'other', 'journal', 'dissertation', 'standard', 'peerreview',
  ],
  poster: undefined,
  presentation: undefined,
  dataset: undefined,
  image: ['figure', 'plot', 'drawing', 'diagram', 'photo', 'other'],
  video: undefined,
  software: ['computationalnotebook'],
  lesson: undefined,
  physicalobject: undefined,
  other: undefined,
  model: undefined,
  workflow: undefined,
};

/**
 * Licence ids: input (lowercased) → id returned by the shim (§5.1). `null` = accepted but lost
 * from the output (stored as a title-only custom licence, e.g. gfdl).
 */
const licenses: Record<string, string | null> = {
  'cc-by': 'cc-by-4.0', 'cc-by-4.0': 'cc-by-4.0',
  'cc-by-sa': 'cc-by-sa-4.0', 'cc-by-sa-4.0': 'cc-by-sa-4.0',
  'cc-zero': 'cc-zero', 'cc0-1.0': 'cc-zero', cc0: 'cc-zero',
  'cc-nc': 'cc-nc',
  'odc-by': 'odc-by', 'odc-by-1.0': 'odc-by', 'odc-odbl': 'odc-odbl', 'odbl-1.0': 'odc-odbl', 'odc-pddl': 'odc-pddl', 'pddl-1.0': 'odc-pddl',
  'other-open': 'other-open', 'other-pd': 'other-pd', 'other-at': 'other-at', 'other-nc': 'other-nc',
  'other-closed': 'other-closed', notspecified: 'notspecified',
  'uk-ogl': 'uk-ogl', 'ogl-uk-1.0': 'uk-ogl',
  gfdl: null,
  mit: 'mit-license', 'mit-license': 'mit-license',
  'apache-2.0': 'apache2.0', 'apache2.0': 'apache2.0',
  'gpl-3.0': 'gpl-3.0', 'gpl-3.0-only': 'gpl-3.0',
  'cc-by-nc-4.0': 'cc-by-nc-4.0', 'cc-by-nd-4.0': 'cc-by-nd-4.0', 'cc-by-nc-sa-4.0': 'cc-by-nc-sa-4.0',
  'cc-by-nc-nd-4.0': 'cc-by-nc-nd-4.0', 'cc-by-3.0': 'cc-by-3.0', 'cc-by-sa-3.0': 'cc-by-sa-3.0',
  'bsd-3-clause': 'bsd-3-clause', 'bsd-2-clause': 'bsd-2-clause', 'mpl-2.0': 'mpl-2.0', 'lgpl-3.0': 'lgpl-3.0',
};

/** Returns the id the shim would give back for `id`, or undefined when it refuses it. */
export function normaliseLicense(id: string): string | null | undefined {
  return licenses[id.trim().toLowerCase()];
}

const relations = [
  'isCitedBy', 'cites', 'isSupplementTo', 'isSupplementedBy', 'isContinuedBy', 'continues', 'isDescribedBy',
  'describes', 'hasMetadata', 'isMetadataFor', 'hasVersion', 'isVersionOf', 'isNewVersionOf', 'isPreviousVersionOf',
  'isPartOf', 'hasPart', 'isPublishedIn', 'isReferencedBy', 'references', 'isDocumentedBy', 'documents',
  'isCompiledBy', 'compiles', 'isVariantFormOf', 'isOriginalFormOf', 'isIdenticalTo', 'isReviewedBy', 'reviews',
  'isDerivedFrom', 'isSourceOf', 'isRequiredBy', 'requires', 'isObsoletedBy', 'obsoletes', 'isAlternateIdentifier',
];
const relationByLower = new Map(relations.map((r) => [r.toLowerCase(), r]));
relationByLower.set('isorignialformof', 'isOriginalFormOf');

const iso639_1to2: Record<string, string> = {
  en: 'eng', de: 'deu', fr: 'fra', es: 'spa', it: 'ita', nl: 'nld', pt: 'por', sv: 'swe', da: 'dan', no: 'nor',
  fi: 'fin', pl: 'pol', cs: 'ces', sk: 'slk', hu: 'hun', ro: 'ron', bg: 'bul', el: 'ell', ru: 'rus', uk: 'ukr',
  tr: 'tur', ar: 'ara', he: 'heb', zh: 'zho', ja: 'jpn', ko: 'kor', hi: 'hin', ga: 'gle', cy: 'cym', is: 'isl',
  et: 'est', lv: 'lav', lt: 'lit', sl: 'slv', hr: 'hrv', sr: 'srp', ca: 'cat', eu: 'eus', gl: 'glg', la: 'lat',
};

const edtfDate = /^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isValidDate(text: string): boolean {
  if (!edtfDate.test(text)) return false;
  if (text.length < 10) return true;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

export function todayUtc(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

function normaliseOrcid(value: string): string {
  return value.trim().replace(/^(https?:\/\/(www\.)?orcid\.org\/|orcid:)/i, '');
}

function normalisePerson(raw: unknown, withType: boolean): Record<string, unknown> | undefined {
  if (!isRecord(raw) || typeof raw.name !== 'string' || raw.name.trim() === '') return undefined;
  // The shim splits a name with exactly one comma into family and given name, then joins them
  // back as "Family, Given"; anything else is all family name (§5 creators).
  const parts = raw.name.split(',');
  const name = parts.length === 2 ? `${parts[0]!.trim()}, ${parts[1]!.trim()}` : raw.name.trim();
  const person: Record<string, unknown> = { name };
  if (typeof raw.affiliation === 'string' && raw.affiliation.trim() !== '') person.affiliation = raw.affiliation.trim();
  if (typeof raw.orcid === 'string' && raw.orcid.trim() !== '') {
    const orcid = normaliseOrcid(raw.orcid);
    if (!/^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$/.test(orcid)) return undefined;
    person.orcid = orcid;
  }
  if (typeof raw.gnd === 'string' && raw.gnd.trim() !== '') person.gnd = raw.gnd.trim();
  if (withType && typeof raw.type === 'string') person.type = raw.type;
  return person;
}

function detectScheme(identifier: string): string | undefined {
  if (/^(doi:|https?:\/\/(dx\.)?doi\.org\/)?10\.\d{4,9}\/\S+$/i.test(identifier)) return 'doi';
  if (/^https?:\/\/\S+$/i.test(identifier)) return 'url';
  if (/^(arxiv:)?\d{4}\.\d{4,5}(v\d+)?$/i.test(identifier)) return 'arxiv';
  if (/^urn:[a-z0-9][a-z0-9-]{0,31}:\S+$/i.test(identifier)) return 'urn';
  if (/^ark:\/?\d+\/\S+$/i.test(identifier)) return 'ark';
  if (/^(97[89])?\d{9}[\dX]$/i.test(identifier.replace(/-/g, ''))) return 'isbn';
  return undefined;
}

/**
 * Create/PUT: returns layer-1 errors (400, nothing saved) or the metadata as it will be stored and
 * read back. `body` is the whole JSON request body.
 */
export function deserializeDeposition(body: unknown, opts: { now: number; sandbox: boolean; recid: number }): DeserializeResult {
  const errors: FieldError[] = [];
  if (!isRecord(body)) {
    return { errors: [{ field: '_schema', messages: ['Invalid input type.'] }], metadata: {} };
  }
  for (const key of Object.keys(body)) {
    // unknown=RAISE on the top level (Q5): an echoed GET response is refused as a whole.
    if (key !== 'metadata') errors.push({ field: key, messages: ['Unknown field.'] });
  }
  const input = body.metadata === undefined || body.metadata === null ? {} : body.metadata;
  if (!isRecord(input)) {
    errors.push({ field: 'metadata', messages: ['Invalid input type.'] });
    return { errors, metadata: {} };
  }
  const out: LegacyMetadata = {};

  // --- layer 1: shape errors that fail the request ---------------------------------------------
  let license: string | null | undefined;
  if (input.license !== undefined && input.license !== null) {
    const raw = input.license;
    const id = typeof raw === 'string' ? raw : isRecord(raw) && typeof raw.id === 'string' ? raw.id : undefined;
    if (id === undefined) {
      errors.push({ field: 'metadata.license', messages: [`Invalid license value provided: ${JSON.stringify(raw)}`] });
    } else {
      license = normaliseLicense(id);
      if (license === undefined) errors.push({ field: 'metadata.license', messages: [`Invalid license provided: ${id}`] });
    }
  }

  let access = 'open';
  if (input.access_right !== undefined) {
    const ar = input.access_right;
    if (ar === 'open' || ar === 'restricted' || ar === 'embargoed') access = ar;
    else if (ar === 'closed') access = 'restricted'; // closed and restricted both map to restricted files (§5)
    else errors.push({ field: '_schema', messages: ['Unknown access type.'] });
  }
  if (access === 'embargoed') {
    // Raised in post_load, so the error carries no field of its own (§5, derived).
    if (typeof input.embargo_date !== 'string' || !isValidDate(input.embargo_date)) {
      errors.push({ field: '_schema', messages: ['Unknown access type.'] });
    }
  }

  if (input.language !== undefined && input.language !== null) {
    const lang = typeof input.language === 'string' ? input.language.trim().toLowerCase() : '';
    const mapped = /^[a-z]{3}$/.test(lang) ? lang : iso639_1to2[lang];
    if (mapped === undefined) {
      errors.push({ field: 'metadata.language', messages: ['Language must be either ISO-639-1 or 639-2 compatible.'] });
    } else out.language = mapped;
  }

  if (input.communities !== undefined) {
    const c = input.communities;
    if (!Array.isArray(c) || !c.every((x) => isRecord(x) && typeof x.identifier === 'string')) {
      errors.push({ field: 'communities', messages: ["Communities must be an array of objects with an 'identifier' key."] });
    } else if (c.length > 0) {
      out.communities = c.map((x) => ({ identifier: (x as { identifier: string }).identifier }));
    }
  }

  const related: Record<string, unknown>[] = [];
  if (input.related_identifiers !== undefined && input.related_identifiers !== null) {
    const ri = input.related_identifiers;
    if (!Array.isArray(ri)) {
      errors.push({ field: 'metadata.related_identifiers', messages: ['related_identifiers must be a list'] });
    } else {
      ri.forEach((entry, i) => {
        if (!isRecord(entry)) {
          errors.push({ field: `metadata.related_identifiers.${i}`, messages: ['Each related identifier must be an object'] });
          return;
        }
        if (typeof entry.relation !== 'string') {
          errors.push({ field: `metadata.related_identifiers.${i}.relation`, messages: ['relation must be a string'] });
          return;
        }
        if (typeof entry.identifier !== 'string') {
          errors.push({ field: `metadata.related_identifiers.${i}.identifier`, messages: ['identifier must be a string'] });
          return;
        }
        // Layer 2: an unknown relation or an undetectable scheme is dropped silently.
        const relation = relationByLower.get(entry.relation.toLowerCase());
        const scheme = detectScheme(entry.identifier.trim());
        if (relation === undefined || scheme === undefined) return;
        const item: Record<string, unknown> = { identifier: entry.identifier.trim(), relation, scheme };
        if (typeof entry.resource_type === 'string') item.resource_type = entry.resource_type;
        related.push(item);
      });
    }
  }

  if (input.doi !== undefined && input.doi !== null && input.doi !== '') {
    if (typeof input.doi !== 'string') {
      errors.push({ field: 'metadata.doi', messages: ['Not a valid string.'] });
    } else if (opts.sandbox && input.doi.startsWith('10.5281/')) {
      // The sandbox trap of Q20: prereserve_doi says 10.5281 but the sandbox wants 10.5072.
      errors.push({ field: 'metadata.doi', messages: ['Wrong DOI 10.5281 prefix provided, it should be 10.5072 as defined in the rest client'] });
    } else {
      const own = `${opts.sandbox ? '10.5072' : '10.5281'}/zenodo.${opts.recid}`;
      // Zenodo's own reserved DOI is not "external"; any other one is (§5 doi).
      if (input.doi !== own) out.doi = input.doi.trim();
    }
  }

  if (errors.length > 0) return { errors, metadata: {} };

  // --- layer 2: store what validates, drop the rest ---------------------------------------------
  if (typeof input.title === 'string' && input.title.trim().length >= 3) out.title = input.title.trim();
  if (typeof input.upload_type === 'string' && input.upload_type in uploadTypes) {
    const type = input.upload_type;
    const subtypes = uploadTypes[type];
    if (subtypes === undefined) out.upload_type = type;
    else {
      const sub = input[`${type}_type`];
      if (typeof sub === 'string' && subtypes.includes(sub)) {
        out.upload_type = type;
        // publication-thesis became publication-dissertation in 2026 (§5 upload_type).
        out[`${type}_type`] = type === 'publication' && sub === 'thesis' ? 'dissertation' : sub;
      } else if (sub === undefined && (type === 'software' || type === 'publication')) {
        out.upload_type = type;
      }
    }
  }
  if (typeof input.description === 'string' && input.description.trim().length >= 3) out.description = input.description;
  // The deserializer fills a missing publication_date with today on every create and PUT; an
  // invalid one passes it and is then dropped by the RDM schema, so publish fails (Q19).
  if (input.publication_date === undefined || input.publication_date === null) out.publication_date = todayUtc(opts.now);
  else if (typeof input.publication_date === 'string' && isValidDate(input.publication_date)) out.publication_date = input.publication_date;
  out.access_right = access;
  if (access === 'embargoed') out.embargo_date = input.embargo_date;
  if (license === undefined && (access === 'open' || access === 'embargoed')) {
    out.license = input.upload_type === 'dataset' ? 'cc-zero' : 'cc-by-4.0';
  } else if (typeof license === 'string') out.license = license;
  if (Array.isArray(input.creators)) {
    const creators = input.creators.map((c) => normalisePerson(c, false)).filter((c) => c !== undefined);
    if (creators.length > 0) out.creators = creators;
  }
  if (Array.isArray(input.contributors)) {
    const contributors = input.contributors.map((c) => normalisePerson(c, true)).filter((c) => c !== undefined);
    if (contributors.length > 0) out.contributors = contributors;
  }
  if (Array.isArray(input.keywords)) {
    const keywords = input.keywords.filter((k): k is string => typeof k === 'string' && k.trim() !== '');
    if (keywords.length > 0) out.keywords = keywords;
  }
  if (related.length > 0) out.related_identifiers = related;
  if (typeof input.version === 'string' && input.version.length <= 191 && input.version !== '') out.version = input.version;
  for (const key of ['notes', 'method', 'imprint_isbn', 'imprint_place', 'thesis_university', 'partof_title', 'partof_pages',
    'journal_title', 'journal_volume', 'journal_issue', 'journal_pages', 'conference_title', 'conference_acronym',
    'conference_dates', 'conference_place', 'conference_url', 'conference_session', 'conference_session_part']) {
    if (typeof input[key] === 'string' && input[key] !== '') out[key] = input[key];
  }
  for (const key of ['references', 'subjects', 'dates', 'locations', 'grants']) {
    if (Array.isArray(input[key]) && (input[key] as unknown[]).length > 0) out[key] = input[key];
  }
  out.imprint_publisher = typeof input.imprint_publisher === 'string' && input.imprint_publisher !== '' ? input.imprint_publisher : 'Zenodo';
  return { errors: [], metadata: out };
}

/** Publish-time validation of stored metadata (RDM schema, raise_errors=True): all errors at once. */
export function publishErrors(metadata: LegacyMetadata): FieldError[] {
  const missing = ['Missing data for required field.'];
  const errors: FieldError[] = [];
  // RDM reports these under its own field names (resource_type, not upload_type).
  if (metadata.upload_type === undefined) errors.push({ field: 'metadata.resource_type', messages: missing });
  if (metadata.title === undefined) errors.push({ field: 'metadata.title', messages: missing });
  if (metadata.publication_date === undefined) errors.push({ field: 'metadata.publication_date', messages: missing });
  if (!Array.isArray(metadata.creators) || metadata.creators.length === 0) errors.push({ field: 'metadata.creators', messages: missing });
  if (Array.isArray(metadata.contributors)) {
    metadata.contributors.forEach((c, i) => {
      if (!isRecord(c) || typeof c.type !== 'string') errors.push({ field: `metadata.contributors.${i}.role`, messages: missing });
    });
  }
  return errors;
}

/** werkzeug.utils.secure_filename, as applied to multipart upload names (§7). */
export function secureFilename(name: string): string {
  let text = name.normalize('NFKD').replace(/[^\x00-\x7f]/g, '');
  text = text.replace(/[/\\]/g, ' ');
  text = text.split(/\s+/).filter((s) => s !== '').join('_');
  text = text.replace(/[^A-Za-z0-9_.-]/g, '');
  return text.replace(/^[._]+|[._]+$/g, '');
}

const mimeTypes: Record<string, string> = {
  csv: 'text/csv', txt: 'text/plain', json: 'application/json', xml: 'application/xml', zip: 'application/zip',
  gz: 'application/gzip', tar: 'application/x-tar', pdf: 'application/pdf', nc: 'application/x-netcdf',
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', tsv: 'text/tab-separated-values', html: 'text/html',
  md: 'text/markdown', xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', parquet: 'application/octet-stream',
};

/** Guessed from the extension, like the bucket object's `mimetype` (§3.3). */
export function guessMimetype(key: string): string {
  const dot = key.lastIndexOf('.');
  return (dot >= 0 ? mimeTypes[key.slice(dot + 1).toLowerCase()] : undefined) ?? 'application/octet-stream';
}
