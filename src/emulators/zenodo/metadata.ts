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
 * Licence ids the legacy shim accepts, as input (trimmed, lowercased) → the id it returns (§5.1).
 * Computed from zenodo/zenodo-rdm@6386403 `legacy/zenodo_legacy` (LEGACY_ALIASES, then
 * legacy_to_rdm_map.json, answered through its reverse in which the last duplicate wins) for every
 * id src/zenodo/licenses.ts may send, every id Zenodo returns for those, and CKAN's legacy ids.
 * A subset of production's ~520 ids: an id missing here is refused like an unknown one.
 * Re-sending an answer can change the licence, as in production: `cc-by` comes back for CC BY 1.0
 * but means 4.0 when sent.
 */
const licenses: ReadonlyMap<string, string> = new Map(Object.entries({
  '0bsd': '0bsd', aal: 'attribution', 'afl-3.0': 'afl-3.0', 'against-drm': 'against-drm',
  'agpl-3.0-only': 'apgl-v3', 'agpl-3.0-or-later': 'agpl-3.0-or-later', apache: 'apache2.0',
  'apache-1.0': 'apache', 'apache-1.1': 'apache-1.1', 'apache-2.0': 'apache2.0', 'apache2.0': 'apache2.0',
  'apgl-v3': 'apgl-v3', 'apl-1.0': 'apl1.0', 'apl1.0': 'apl1.0', 'apsl-2.0': 'apsl-2.0',
  'artistic-2.0': 'artistic-license-2.0', 'artistic-license-2.0': 'artistic-license-2.0',
  attribution: 'attribution', 'bittorrent-1.1': 'bittorrent-1.1', 'bsd-1-clause': 'bsd-license',
  'bsd-2-clause': 'bsd-2-clause-netbsd', 'bsd-2-clause-netbsd': 'bsd-2-clause-netbsd',
  'bsd-2-clause-patent': 'bsd-2-clause-patent', 'bsd-3-clause': 'bsd-3-clause',
  'bsd-3-clause-clear': 'bsd-3-clause-clear', 'bsd-4-clause': 'bsd-4-clause', 'bsd-license': 'bsd-license',
  'bsl-1.0': 'bsl1.0', 'bsl1.0': 'bsl1.0', 'ca-tosl1.1': 'ca-tosl1.1', 'canada-crown': 'canada-crown',
  'catosl-1.1': 'ca-tosl1.1', 'cc-by': 'cc-by-4.0', 'cc-by-1.0': 'cc-by', 'cc-by-2.0': 'cc-by-2.0',
  'cc-by-2.5': 'cc-by-2.5', 'cc-by-3.0': 'cc-by-3.0', 'cc-by-3.0-at': 'cc-by-3.0-at',
  'cc-by-3.0-us': 'cc-by-3.0-us', 'cc-by-4.0': 'cc-by-4.0', 'cc-by-nc-1.0': 'cc-by-nc-1.0',
  'cc-by-nc-2.0': 'cc-nc', 'cc-by-nc-2.5': 'cc-by-nc-2.5', 'cc-by-nc-3.0': 'cc-by-nc-3.0',
  'cc-by-nc-4.0': 'cc-by-nc-4.0', 'cc-by-nc-nd-1.0': 'cc-by-nc-nd-1.0', 'cc-by-nc-nd-2.0': 'cc-by-nc-nd-2.0',
  'cc-by-nc-nd-2.5': 'cc-by-nc-nd-2.5', 'cc-by-nc-nd-3.0': 'cc-by-nc-nd-3.0',
  'cc-by-nc-nd-3.0-igo': 'cc-by-nc-nd-3.0-igo', 'cc-by-nc-nd-4.0': 'cc-by-nc-nd-4.0',
  'cc-by-nc-sa-1.0': 'cc-by-nc-sa-1.0', 'cc-by-nc-sa-2.0': 'cc-by-nc-sa-2.0',
  'cc-by-nc-sa-2.5': 'cc-by-nc-sa-2.5', 'cc-by-nc-sa-3.0': 'cc-by-nc-sa-3.0',
  'cc-by-nc-sa-4.0': 'cc-by-nc-sa-4.0', 'cc-by-nd-1.0': 'cc-by-nd-1.0', 'cc-by-nd-2.0': 'cc-by-nd-2.0',
  'cc-by-nd-2.5': 'cc-by-nd-2.5', 'cc-by-nd-3.0': 'cc-by-nd-3.0', 'cc-by-nd-4.0': 'cc-by-nd-4.0',
  'cc-by-sa': 'cc-by-sa-4.0', 'cc-by-sa-1.0': 'cc-by-sa', 'cc-by-sa-2.0': 'cc-by-sa-2.0',
  'cc-by-sa-2.0-uk': 'cc-by-sa-2.0-uk', 'cc-by-sa-2.5': 'cc-by-sa-2.5', 'cc-by-sa-3.0': 'cc-by-sa-3.0',
  'cc-by-sa-3.0-at': 'cc-by-sa-3.0-at', 'cc-by-sa-4.0': 'cc-by-sa-4.0', 'cc-nc': 'cc-nc', 'cc-pddc': 'cc-pddc',
  'cc-zero': 'cc-zero', 'cc0-1.0': 'cc-zero', 'cddl-1.0': 'cddl1', 'cddl-1.1': 'cddl-1.1', cddl1: 'cddl1',
  'cdla-permissive-1.0': 'cdla-permissive-1.0', 'cdla-sharing-1.0': 'cdla-sharing-1.0',
  'cecill-2.0': 'cecill-2.0', 'cecill-2.1': 'cecill-2.1', 'cecill-b': 'cecill-b', 'cecill-c': 'cecill-c',
  'cern-ohl-p-2.0': 'cern-ohl-p-2.0', 'cern-ohl-s-2.0': 'cern-ohl-s-2.0', 'cern-ohl-w-2.0': 'cern-ohl-w-2.0',
  'cnri-python': 'cnri-python', 'cpal-1.0': 'cpal_1.0', 'cpal_1.0': 'cpal_1.0', 'cua-opl-1.0': 'cuaoffice',
  cuaoffice: 'cuaoffice', 'dli-model-use': 'dli-model-use', dsl: 'dsl', 'ecl-2.0': 'ecl2', ecl2: 'ecl2',
  'eclipse-1.0': 'eclipse-1.0', 'efl-2.0': 'ver2_eiffel', entessa: 'entessa', 'epl-1.0': 'eclipse-1.0',
  'epl-2.0': 'epl-2.0', 'etalab-2.0': 'etalab-2.0', eudatagrid: 'eudatagrid', 'eupl-1.0': 'eupl-1.0',
  'eupl-1.1': 'eupl-1.1', 'eupl-1.2': 'eupl-1.2', eurofound: 'eurofound', fair: 'fair', frameworx: 'frameworx',
  'frameworx-1.0': 'frameworx', 'geo-no-fee-unrestricted': 'geo-no-fee-unrestricted', geogratis: 'geogratis',
  'gfdl-1.1-invariants-only': 'gfdl-1.1-invariants-only',
  'gfdl-1.1-invariants-or-later': 'gfdl-1.1-invariants-or-later',
  'gfdl-1.1-no-invariants-only': 'gfdl-1.1-no-invariants-only',
  'gfdl-1.1-no-invariants-or-later': 'gfdl-1.1-no-invariants-or-later',
  'gfdl-1.1-or-later': 'gfdl-1.1-or-later', 'gfdl-1.2-invariants-only': 'gfdl-1.2-invariants-only',
  'gfdl-1.2-invariants-or-later': 'gfdl-1.2-invariants-or-later',
  'gfdl-1.2-no-invariants-only': 'gfdl-1.2-no-invariants-only',
  'gfdl-1.2-no-invariants-or-later': 'gfdl-1.2-no-invariants-or-later', 'gfdl-1.2-only': 'gfdl-1.2-only',
  'gfdl-1.2-or-later': 'gfdl-1.2-or-later', 'gfdl-1.3-invariants-only': 'gfdl-1.3-invariants-only',
  'gfdl-1.3-invariants-or-later': 'gfdl-1.3-invariants-or-later',
  'gfdl-1.3-no-invariants-only': 'gfdl-1.3-no-invariants-only',
  'gfdl-1.3-no-invariants-or-later': 'gfdl-1.3-no-invariants-or-later', 'gfdl-1.3-only': 'gfdl-1.3-only',
  'gfdl-1.3-or-later': 'gfdl-1.3-or-later', 'gpl-1.0-only': 'gpl-1.0-only',
  'gpl-1.0-or-later': 'gpl-1.0-or-later', 'gpl-2.0': 'gpl-2.0', 'gpl-2.0-only': 'gpl-2.0',
  'gpl-2.0-or-later': 'gpl-2.0-or-later', 'gpl-3.0': 'gpl-3.0', 'gpl-3.0-only': 'gpl-3.0',
  'gpl-3.0-or-later': 'gpl-3.0-or-later', 'hesa-withrights': 'hesa-withrights', hpnd: 'hpnd', ibmpl: 'ibmpl',
  intel: 'intel-osl', 'intel-osl': 'intel-osl', ipa: 'ipafont', ipafont: 'ipafont', 'ipl-1.0': 'ibmpl',
  isc: 'isc-license', 'isc-license': 'isc-license', 'lal-1.2': 'fal', 'lal-1.3': 'lal-1.3',
  'lgpl-2.0-only': 'lgpl-2.0-only', 'lgpl-2.0-or-later': 'lgpl-2.0-or-later', 'lgpl-2.1': 'lgpl-2.1',
  'lgpl-2.1-only': 'lgpl-2.1', 'lgpl-2.1-or-later': 'lgpl-2.1-or-later', 'lgpl-3.0': 'lgpl-3.0',
  'lgpl-3.0-only': 'lgpl-3.0', 'lgpl-3.0-or-later': 'lgpl-3.0-or-later',
  'localauth-withrights': 'localauth-withrights', 'lpl-1.0': 'lpl-1.0', 'lpl-1.02': 'lucent1.02',
  'lppl-1.3c': 'lppl-1.3c', 'lucent1.02': 'lucent1.02', 'met-office-cp': 'met-office-cp', miros: 'miros',
  mit: 'mit-license', 'mit-0': 'mit-0', 'mit-license': 'mit-license', mitre: 'mitre', motosoto: 'motosoto',
  mozilla: 'mozilla', 'mozilla1.1': 'mozilla1.1', 'mpl-1.0': 'mozilla', 'mpl-1.1': 'mozilla1.1',
  'mpl-2.0': 'mpl-2.0', 'ms-pl': 'ms-pl', 'ms-rl': 'ms-rl', multics: 'multics', 'nasa-1.3': 'nasa1.3',
  'nasa1.3': 'nasa1.3', naumen: 'naumen', 'ncgl-uk-2.0': 'ncgl-uk-2.0', ncsa: 'uoi-ncsa', nethack: 'nethack',
  ngpl: 'nethack', 'nist-pd': 'nist-pd', 'nlod-1.0': 'nlod-1.0', nokia: 'nokia', 'nosl3.0': 'nosl3.0',
  notspecified: 'notspecified', 'nposl-3.0': 'nosl3.0', ntp: 'ntp-license', 'ntp-license': 'ntp-license',
  'o-uda-1.0': 'o-uda-1.0', 'oclc-2.0': 'oclc2', oclc2: 'oclc2', 'odbl-1.0': 'odc-odbl', 'odc-by': 'odc-by',
  'odc-by-1.0': 'odc-by', 'odc-odbl': 'odc-odbl', 'odc-pddl': 'odc-pddl', 'odc-pddl-1.0': 'odc-pddl',
  'ofl-1.1': 'ofl-1.1', 'ogl-canada-2.0': 'canada-crown', 'ogl-uk-1.0': 'uk-ogl', 'ogl-uk-2.0': 'ogl-uk-2.0',
  'ogl-uk-3.0': 'ogl-uk-3.0', ogtsl: 'opengroup', opengroup: 'opengroup', 'osl-3.0': 'osl-3.0',
  'other-at': 'other-at', 'other-closed': 'other-closed', 'other-nc': 'other-nc', 'other-open': 'other-open',
  'other-pd': 'other-pd', 'pddl-1.0': 'odc-pddl', php: 'php', 'php-3.0': 'php', postgresql: 'postgresql',
  'psf-2.0': 'pythonsoftfoundation', 'python-2.0': 'pythonpl', pythonpl: 'cnri-python',
  pythonsoftfoundation: 'pythonpl', 'qpl-1.0': 'qpl-1.0', real: 'real', ricohpl: 'ricohpl',
  'rpl-1.5': 'rpl1.5', 'rpl1.5': 'rpl1.5', 'rpsl-1.0': 'real', rscpl: 'ricohpl', 'simpl-2.0': 'simpl-2.0',
  sissl: 'sun-issl', sleepycat: 'sleepycat', 'spl-1.0': 'sunpublic', 'sun-issl': 'sun-issl',
  sunpublic: 'sunpublic', sybase: 'sybase', 'uk-ogl': 'uk-ogl', ukclickusepsi: 'ukclickusepsi',
  ukcrown: 'ukcrown', 'ukcrown-withrights': 'ukcrown-withrights', ukpsi: 'ukpsi', unlicense: 'unlicense',
  'uoi-ncsa': 'uoi-ncsa', 'upl-1.0': 'upl-1.0', ver2_eiffel: 'ver2_eiffel', vovidapl: 'vovidapl',
  'vsl-1.0': 'vovidapl', w3c: 'w3c', 'watcom-1.0': 'sybase', wtfpl: 'wtfpl', wxwindows: 'wxwindows',
  x11: 'x11', xnet: 'xnet', zlib: 'zlib-license', 'zlib-license': 'zlib-license', 'zpl-2.0': 'zpl-2.0',
}));

/**
 * Ids the shim keeps as title-only custom licences (legacy_licenses.json), matched on the raw
 * id as sent, without trimming or lowercasing (ZR:deser `load_rights`): `GFDL` is refused.
 * They are lost from the answer (§5.1, Q17). Only those that no alias or map entry catches first.
 */
const customLicenses = new Set(['gfdl', 'fal']);

/** Returns the id the shim would give back for `id`, null when it keeps it as a title-only licence, or undefined when it refuses it. */
export function normaliseLicense(id: string): string | null | undefined {
  const mapped = licenses.get(id.trim().toLowerCase());
  if (mapped !== undefined) return mapped;
  return customLicenses.has(id) ? null : undefined;
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
