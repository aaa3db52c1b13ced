/**
 * Owner overrides of the Zenodo metadata, like GitHub's `.zenodo.json`: a CKAN extra (by default
 * `zenodo_metadata`) holding a JSON object of Zenodo legacy deposit metadata (reference
 * zenodo-api.md §5), merged over what src/zenodo/metadata.ts maps from the dataset.
 *
 * A published Zenodo version is permanent, and Zenodo itself checks little before publish (it
 * silently drops what its schema refuses, Q19, and ignores unknown communities, Q18). So the
 * override is validated here, field by field, before a single request is sent, and EVERY problem
 * is reported at once, with its path and what is allowed, in words a dataset owner understands.
 * The text is hostile input: its size, list lengths and nesting are bounded.
 *
 * Fields deliberately NOT accepted (each gets its own explanation when an owner tries):
 * - `access_right` (and `embargo_date`, `access_conditions`): access is decided by the operator's
 *   rule. Anyone who can edit a dataset's extras can write an override; if it could say `open`,
 *   a dataset editor could publish files the operator chose to keep `restricted` or `closed`, and
 *   a published version cannot be unpublished. Narrowing access is a rule matter too (rules can
 *   match on extras), so there is one place where access is decided.
 * - `doi`: Zenodo takes a DOI given here as an EXTERNAL DOI, and a record with an external DOI can
 *   never get a new version (Q12); on the sandbox a 10.5281 DOI is refused outright (Q20).
 * - `prereserve_doi`, `conceptdoi`, `conceptrecid`: assigned by Zenodo, output only (§3.1).
 * - `publication_date`: every version is dated the day it is published; a fixed date would be
 *   copied into every later version, and Zenodo resets it on each new version anyway (§4.2).
 *
 * `upload_type` IS accepted (with `publication_type` / `image_type`): it changes how the record is
 * classified, not who can read it, and a metadata edit can change it again later.
 */
import { z } from 'zod';
import { Bad, bad, checked } from '../config/checked.js';
import { quote } from '../config/problem-text.js';
import { suggest } from '../config/suggest.js';
import { UPLOAD_TYPES } from '../rules/schema.js';
import {
  canonicalGrantId, communityKey, contributorKey, enrichPerson, grantKey, isRecord, isSubtypeKey, keywordKey, listOf,
  relatedIdentifierKey, subjectKey, unionBy,
} from './metadata-lists.js';

export const DEFAULT_OVERRIDE_KEY = 'zenodo_metadata';
/** UTF-8 bytes of the JSON text. Real overrides are a few kB; this bounds parsing and problems. */
export const MAX_OVERRIDE_BYTES = 100_000;
/** A hostile override could have thousands of bad entries; the owner needs the first ones. */
export const MAX_OVERRIDE_PROBLEMS = 50;

export interface OverrideProblem {
  /** Where, starting with the extra's key: `zenodo_metadata.creators[1].orcid`. */
  path: string;
  message: string;
}

export interface OverridePerson {
  name: string;
  affiliation?: string;
  /** Bare form, `0000-0002-1825-0097`, checksum verified. */
  orcid?: string;
  gnd?: string;
}

export interface OverrideContributor extends OverridePerson {
  type: ContributorType;
}

export interface OverrideRelatedIdentifier {
  identifier: string;
  relation: RelationType;
  resource_type?: string;
  scheme?: string;
}

export interface OverrideSubject {
  term: string;
  identifier: string;
  scheme?: string;
}

export interface ZenodoOverride {
  title?: string;
  description?: string;
  creators?: OverridePerson[];
  contributors?: OverrideContributor[];
  /** `10.13039/501100000780::283595`; a plain award number is stored in that (EC) form. */
  grants?: { id: string }[];
  communities?: { identifier: string }[];
  keywords?: string[];
  related_identifiers?: OverrideRelatedIdentifier[];
  subjects?: OverrideSubject[];
  /** As the owner wrote it, lowercased; the caller checks it against the licence table. */
  license?: string;
  /** ISO 639-1 or 639-2/3 code, lowercased. */
  language?: string;
  notes?: string;
  version?: string;
  upload_type?: string;
  publication_type?: string;
  image_type?: string;
}

export type ReadOverrideResult = { ok: true; value: ZenodoOverride | undefined } | { ok: false; problems: OverrideProblem[] };

// ------------------------------------------------------------------------------------------------
// Vocabularies (reference §5)

/** DataCite contributor types as Zenodo's legacy API names them (§5 contributors: `type`). */
export const CONTRIBUTOR_TYPES = [
  'ContactPerson', 'DataCollector', 'DataCurator', 'DataManager', 'Distributor', 'Editor', 'HostingInstitution',
  'Producer', 'ProjectLeader', 'ProjectManager', 'ProjectMember', 'RegistrationAgency', 'RegistrationAuthority',
  'RelatedPerson', 'Researcher', 'ResearchGroup', 'RightsHolder', 'Supervisor', 'Sponsor', 'WorkPackageLeader', 'Other',
] as const;
export type ContributorType = (typeof CONTRIBUTOR_TYPES)[number];

/**
 * The relations Zenodo accepts and returns (§5, ZR:ser `RELATION_TYPE_MAPPING`). This is the
 * reference's list: it also has hasVersion, isVersionOf and isPublishedIn, which the brief's list
 * lacked. Zenodo lowercases the relation on input, so any capitalisation is accepted here and
 * stored in Zenodo's own spelling.
 */
export const RELATION_TYPES = [
  'isCitedBy', 'cites', 'isSupplementTo', 'isSupplementedBy', 'isContinuedBy', 'continues', 'isDescribedBy',
  'describes', 'hasMetadata', 'isMetadataFor', 'hasVersion', 'isVersionOf', 'isNewVersionOf', 'isPreviousVersionOf',
  'isPartOf', 'hasPart', 'isPublishedIn', 'isReferencedBy', 'references', 'isDocumentedBy', 'documents',
  'isCompiledBy', 'compiles', 'isVariantFormOf', 'isOriginalFormOf', 'isIdenticalTo', 'isReviewedBy', 'reviews',
  'isDerivedFrom', 'isSourceOf', 'isRequiredBy', 'requires', 'isObsoletedBy', 'obsoletes', 'isAlternateIdentifier',
] as const;
export type RelationType = (typeof RELATION_TYPES)[number];

/** Sub-types of the upload types that have them (§5 upload_type, RDM resource types). */
const SUBTYPES: Readonly<Record<string, readonly string[]>> = {
  publication: [
    'annotationcollection', 'book', 'section', 'conferencepaper', 'datamanagementplan', 'article', 'patent',
    'preprint', 'deliverable', 'milestone', 'proposal', 'report', 'softwaredocumentation', 'taxonomictreatment',
    'technicalnote', 'thesis', 'workingpaper', 'other', 'journal', 'dissertation', 'standard', 'peerreview',
  ],
  image: ['figure', 'plot', 'drawing', 'diagram', 'photo', 'other'],
};

/** `resource_type` of a related identifier: an upload type or `<type>-<subtype>`. */
const RESOURCE_TYPES: readonly string[] = [
  ...UPLOAD_TYPES,
  ...Object.entries(SUBTYPES).flatMap(([type, subs]) => subs.map((s) => `${type}-${s}`)),
];

/** Identifier schemes Zenodo's idutils knows that an owner is likely to name. */
const SCHEMES = [
  'doi', 'url', 'arxiv', 'urn', 'ark', 'isbn', 'issn', 'eissn', 'lissn', 'handle', 'pmid', 'pmcid', 'orcid', 'gnd',
  'ror', 'isni', 'swh', 'lsid', 'purl', 'w3id', 'ads', 'ean13', 'ean8', 'istc', 'upc', 'ascl', 'hal', 'bioproject',
  'biosample', 'ensembl', 'genome', 'refseq', 'sra', 'uniprot', 'crossreffunderid',
] as const;

/**
 * Zenodo detects the scheme of a related identifier itself and silently DROPS one it cannot
 * recognise (§5; the emulator does the same). These are the forms we can recognise with
 * confidence; a miss is reported so that the owner's link does not vanish without a word.
 */
const DETECTABLE: readonly RegExp[] = [
  /^(doi:|https?:\/\/(dx\.)?doi\.org\/)?10\.\d{4,9}\/\S+$/i,
  /^https?:\/\/[^\s/?#]+\.[^\s/?#]+\S*$/i,
  /^(arxiv:)?\d{4}\.\d{4,5}(v\d+)?$/i,
  /^urn:[a-z0-9][a-z0-9-]{0,31}:\S+$/i,
  /^ark:\/?\d+\/\S+$/i,
  /^(97[89])?\d{9}[\dX]$/i, // ISBN, dashes removed below
  /^\d{4}-\d{3}[\dX]$/i, // ISSN
  /^hdl:\S+\/\S+$/i,
  /^pmid:\d+$/i,
  /^pmc\d+$/i,
  /^swh:1:[a-z]{3}:[0-9a-f]{40}\S*$/i,
];

// ------------------------------------------------------------------------------------------------
// Field checks

/** A short rendering of what the owner wrote, for "(got ...)". */
function got(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return quote(value);
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : `a ${typeof value}`;
}

/** A field: `check` gets the value (never undefined: a missing required field says so itself). */
const field = checked;

const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

interface TextOptions {
  what: string;
  min?: number;
  max: number;
  /** Newlines and runs of whitespace collapse to one space (titles, names, keywords). */
  oneLine?: boolean;
}

function text(opts: TextOptions) {
  return (value: unknown): string | Bad => {
    if (typeof value !== 'string') return bad(`must be ${opts.what} in double quotes (got ${got(value)})`);
    if (CONTROL.test(value)) {
      return bad(`contains control characters, which break Zenodo's exports (DataCite XML, OAI-PMH); remove them`);
    }
    const cleaned = opts.oneLine === true ? value.replace(/\s+/g, ' ').trim() : value.trim();
    const min = opts.min ?? 1;
    if (cleaned.length < min) {
      return bad(cleaned === '' ? `is empty; write ${opts.what} or leave the field out` : `must be at least ${min} characters long (got ${got(cleaned)})`);
    }
    if (cleaned.length > opts.max) return bad(`is ${cleaned.length} characters long; at most ${opts.max} are allowed`);
    return opts.oneLine === true ? cleaned : value;
  };
}

/** ISO 7064 11,2 check character of the first 15 digits of an ORCID iD. */
export function orcidCheckDigit(digits15: string): string {
  let total = 0;
  for (const ch of digits15) total = (total + Number(ch)) * 2;
  const result = (12 - (total % 11)) % 11;
  return result === 10 ? 'X' : String(result);
}

const ORCID_EXAMPLE = 'an ORCID such as 0000-0002-1825-0097';

function orcid(value: unknown): string | Bad {
  if (typeof value !== 'string') return bad(`must be ${ORCID_EXAMPLE} (got ${got(value)})`);
  const bare = value.trim().replace(/^(https?:\/\/)?(www\.)?orcid\.org\//i, '').replace(/^orcid:/i, '').toUpperCase();
  if (!/^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$/.test(bare)) return bad(`must be ${ORCID_EXAMPLE} (got ${got(value)})`);
  const digits = bare.replace(/-/g, '');
  if (orcidCheckDigit(digits.slice(0, 15)) !== digits[15]) {
    return bad(`is not a valid ORCID: its last character is a check digit that does not match (got ${got(value)}); copy the iD from the person's orcid.org page`);
  }
  return bare;
}

/** GND ids for persons and organisations, as idutils accepts them. */
function gnd(value: unknown): string | Bad {
  const bare = typeof value === 'string' ? value.trim().replace(/^gnd:/i, '') : '';
  if (!/^((1|10)\d{7}[\dX]|[47]\d{6}-\d|[1-9]\d{0,7}-[\dX]|3\d{7}[\dX])$/i.test(bare)) {
    return bad(`must be a GND identifier such as 118572121 or 4022153-2 (got ${got(value)})`);
  }
  return bare.toUpperCase();
}

const nameText = text({ what: 'a name', max: 255, oneLine: true });

function personName(value: unknown): string | Bad {
  const name = nameText(value);
  if (name instanceof Bad) return name;
  // Zenodo splits a name with exactly one comma into family and given name (§5 creators); more
  // commas are almost always two people in one entry.
  if (name.split(',').length > 2) {
    return bad(`must be one person, written "Family, Given" with one comma (got ${got(name)}); give each person an entry of their own`);
  }
  return name;
}

function oneOfFolded<const T extends readonly string[]>(allowed: T, what: string) {
  const byLower = new Map(allowed.map((a) => [a.toLowerCase(), a]));
  return (value: unknown): T[number] | Bad => {
    const hit = typeof value === 'string' ? byLower.get(value.trim().toLowerCase()) : undefined;
    if (hit !== undefined) return hit;
    const hint = typeof value === 'string' ? suggest(value.trim(), allowed) : '';
    return bad(`must be ${what}, one of ${allowed.join(', ')} (got ${got(value)})${hint}`);
  };
}

function communityIdentifier(value: unknown): string | Bad {
  const example = 'the identifier of a Zenodo community, the last part of its address zenodo.org/communities/<identifier>';
  if (typeof value !== 'string') return bad(`must be ${example} (got ${got(value)})`);
  const id = value.trim();
  const fromUrl = /\/communities\/([^/?#\s]+)/.exec(id)?.[1];
  if (fromUrl !== undefined) return bad(`must be the community's identifier, not its address (got ${got(value)}); write ${quote(fromUrl.toLowerCase())}`);
  if (/^[a-z0-9][a-z0-9_-]{0,99}$/.test(id)) return id;
  const lower = id.toLowerCase();
  const hint = /^[a-z0-9][a-z0-9_-]{0,99}$/.test(lower) ? `; did you mean ${quote(lower)}?` : '';
  return bad(`must be ${example}: lowercase letters, digits, "-" and "_" (got ${got(value)})${hint}`);
}

function grantId(value: unknown): string | Bad {
  const example = 'a grant such as "10.13039/501100000780::283595" (funder DOI or ROR id, "::", award number) or an EC award number such as "283595"';
  if (typeof value !== 'string') return bad(`must be ${example} (got ${got(value)})`);
  const id = value.trim();
  if (/^\d{1,20}$/.test(id)) return canonicalGrantId(id);
  if (/^(10\.13039\/\d{3,12}|0[a-z0-9]{8})::[^\s:][^\s]{0,99}$/i.test(id)) return id;
  return bad(`must be ${example} (got ${got(value)})`);
}

function relatedIdentifier(value: unknown): string | Bad {
  const identifier = text({ what: 'an identifier', max: 2000, oneLine: true })(value);
  if (identifier instanceof Bad) return identifier;
  const forIsbn = identifier.replace(/-/g, '');
  if (DETECTABLE.some((re) => re.test(identifier) || re.test(forIsbn))) return identifier;
  return bad(
    `is not an identifier Zenodo can recognise, so Zenodo would silently drop it (got ${got(value)}); ` +
      'give a DOI (10.1234/abc), a web address (https://...), an arXiv id (2101.00001), a URN, an ARK, an ISBN, an ISSN, hdl:<handle> or pmid:<number>',
  );
}

function language(value: unknown): string | Bad {
  const code = typeof value === 'string' ? value.trim().toLowerCase() : '';
  // Zenodo maps two-letter codes to three-letter ones and refuses anything else with a 400 (§5).
  if (/^[a-z]{2,3}$/.test(code)) return code;
  return bad(`must be a language code, ISO 639-1 such as "en" or ISO 639-2 such as "eng" (got ${got(value)})`);
}

function licenseId(value: unknown): string | Bad {
  const id = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (/^[a-z0-9][a-z0-9.+_-]{0,99}$/.test(id)) return id;
  return bad(`must be a licence id such as "cc-by-4.0", "cc0-1.0" or "mit" (got ${got(value)})`);
}

function scheme(value: unknown): string | Bad {
  return oneOfFolded(SCHEMES, 'an identifier scheme')(value);
}

// ------------------------------------------------------------------------------------------------
// Objects and lists

/** Unknown keys: the issue's message is the list of allowed keys, turned into problems below. */
function strict<S extends z.core.$ZodLooseShape>(shape: S, example: string) {
  const keys = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? keys.join(', ') : `must be an object such as ${example} (got ${got(issue.input)})`),
  });
}

/**
 * A list checked entry by entry, so that each bad entry is reported at its own index. Not
 * `z.array`: this one stops at `max` entries instead of checking (and reporting on) 50,000
 * entries of a hostile list.
 */
function list<T>(item: z.ZodType<T>, opts: { max: number; what: string; example: string; nonEmpty?: string }) {
  return z.unknown().transform((value, ctx): T[] => {
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: 'is missing' });
      return z.NEVER;
    }
    if (!Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: `must be a list of ${opts.what} in square brackets, e.g. ${opts.example} (got ${got(value)})` });
      return z.NEVER;
    }
    if (value.length === 0 && opts.nonEmpty !== undefined) {
      ctx.addIssue({ code: 'custom', message: opts.nonEmpty });
      return z.NEVER;
    }
    if (value.length > opts.max) {
      ctx.addIssue({ code: 'custom', message: `has ${value.length} entries; at most ${opts.max} ${opts.what} are allowed` });
      return z.NEVER;
    }
    const out: T[] = [];
    value.forEach((raw, i) => {
      const result = item.safeParse(raw);
      if (result.success) {
        out.push(result.data);
        return;
      }
      for (const issue of result.error.issues) {
        const path = [i, ...issue.path.filter((k): k is string | number => typeof k !== 'symbol')];
        if (issue.code === 'unrecognized_keys') {
          for (const key of issue.keys) ctx.addIssue({ code: 'custom', message: unknownKeyMessage(key, issue.message.split(', ')), path: [...path, key] });
        } else ctx.addIssue({ code: 'custom', message: issue.message, path });
      }
    });
    return out;
  });
}

function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  return `is not a field Zenodo accepts here${suggest(key, allowed)} (allowed: ${allowed.join(', ')})`;
}

const personShape = {
  name: field(personName),
  affiliation: field(text({ what: 'an affiliation', max: 255, oneLine: true })).optional(),
  orcid: field(orcid).optional(),
  gnd: field(gnd).optional(),
};
const PERSON_EXAMPLE = '{"name": "Doe, Jane", "affiliation": "Marine Institute", "orcid": "0000-0002-1825-0097"}';

const creator = strict(personShape, PERSON_EXAMPLE);
const contributor = strict(
  { ...personShape, type: field(oneOfFolded(CONTRIBUTOR_TYPES, 'a contributor type')) },
  '{"name": "Doe, Jane", "type": "DataCurator"}',
);

const relatedIdentifierEntry = strict(
  {
    identifier: field(relatedIdentifier),
    relation: field(oneOfFolded(RELATION_TYPES, 'a relation')),
    resource_type: field(oneOfFolded(RESOURCE_TYPES, 'a resource type')).optional(),
    scheme: field(scheme).optional(),
  },
  '{"identifier": "10.1234/abc", "relation": "isSupplementTo"}',
);

const subjectEntry = strict(
  {
    term: field(text({ what: 'a subject term', max: 255, oneLine: true })),
    identifier: field(text({ what: 'a subject identifier', max: 2000, oneLine: true })),
    scheme: field(text({ what: 'a subject scheme', max: 50, oneLine: true })).optional(),
  },
  '{"term": "Oceanography", "identifier": "https://id.loc.gov/authorities/subjects/sh85094290", "scheme": "url"}',
);

const overrideShape = {
  title: field(text({ what: 'a title', min: 3, max: 1000, oneLine: true })).optional(),
  description: field(text({ what: 'a description (HTML or plain text)', min: 3, max: 50_000 })).optional(),
  creators: list(creator, { max: 500, what: 'creators', example: `[${PERSON_EXAMPLE}]`, nonEmpty: 'is empty; name at least one creator, or leave the field out to keep the dataset\'s authors' }).optional(),
  contributors: list(contributor, { max: 500, what: 'contributors', example: '[{"name": "Doe, Jane", "type": "DataCurator"}]' }).optional(),
  grants: list(strict({ id: field(grantId) }, '{"id": "10.13039/501100000780::283595"}'), { max: 50, what: 'grants', example: '[{"id": "10.13039/501100000780::283595"}]' }).optional(),
  communities: list(strict({ identifier: field(communityIdentifier) }, '{"identifier": "marine"}'), { max: 20, what: 'communities', example: '[{"identifier": "marine"}]' }).optional(),
  keywords: list(field(text({ what: 'a keyword', max: 255, oneLine: true })), { max: 100, what: 'keywords', example: '["ocean", "temperature"]' }).optional(),
  related_identifiers: list(relatedIdentifierEntry, { max: 200, what: 'related identifiers', example: '[{"identifier": "10.1234/abc", "relation": "isSupplementTo"}]' }).optional(),
  subjects: list(subjectEntry, { max: 100, what: 'subjects', example: '[{"term": "Oceanography", "identifier": "https://...", "scheme": "url"}]' }).optional(),
  license: field(licenseId).optional(),
  language: field(language).optional(),
  notes: field(text({ what: 'notes (HTML or plain text)', max: 50_000 })).optional(),
  version: field(text({ what: 'a version', max: 191, oneLine: true })).optional(),
  upload_type: field(oneOfFolded(UPLOAD_TYPES, 'an upload type')).optional(),
  publication_type: field(oneOfFolded(SUBTYPES.publication!, 'a publication type')).optional(),
  image_type: field(oneOfFolded(SUBTYPES.image!, 'an image type')).optional(),
};
const overrideSchema = z.strictObject(overrideShape, {
  error: (issue) => (issue.code === 'unrecognized_keys' ? Object.keys(overrideShape).join(', ') : 'must be a JSON object'),
});

/** The top-level fields an override may set. */
export const OVERRIDE_FIELDS: readonly string[] = Object.keys(overrideShape);

const ACCESS_REASON = 'access is decided by the portal\'s archiving rule (rules.yaml), so that a dataset editor cannot publish files the operator keeps restricted or closed; ask the portal operator to change the rule';
/** Keys refused with a reason of their own (see the file comment). */
const REFUSED: Readonly<Record<string, string>> = {
  access_right: `cannot be set here: ${ACCESS_REASON}`,
  embargo_date: `cannot be set here: ${ACCESS_REASON}`,
  access_conditions: `cannot be set here: ${ACCESS_REASON}`,
  doi: 'cannot be set here: Zenodo registers a DOI for every version itself; a DOI given here would make the record one with an external DOI, which can never get a new version',
  prereserve_doi: 'cannot be set here: Zenodo fills it in itself',
  conceptdoi: 'cannot be set here: Zenodo assigns it when the record is first published',
  conceptrecid: 'cannot be set here: Zenodo assigns it when the record is created',
  publication_date: 'cannot be set here: every version is dated the day it is published; a fixed date would be copied into every later version',
};

// ------------------------------------------------------------------------------------------------
// JSON with positions

class JsonSyntax extends Error {
  constructor(readonly at: number, readonly expected: string) {
    super(`expected ${expected} at ${at}`);
  }
}

const MAX_DEPTH = 64;

/**
 * Where a text that JSON.parse refused goes wrong. JSON.parse's own message gives a position
 * only for some errors (Node 20: `Unexpected token '}', "{"a":}" is not valid JSON` has none),
 * and an owner editing a one-line extra needs the column.
 */
function locateJsonError(s: string): JsonSyntax | undefined {
  let i = 0;
  const ws = (): void => {
    while (i < s.length && ' \t\n\r'.includes(s[i]!)) i++;
  };
  const fail = (expected: string): never => {
    throw new JsonSyntax(i, expected);
  };
  const literal = (word: string): void => {
    if (s.startsWith(word, i)) i += word.length;
    else fail('a value (text in double quotes, a number, true, false, null, {...} or [...])');
  };
  const string = (): void => {
    i++; // opening quote
    for (;;) {
      if (i >= s.length) fail('a closing double quote');
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail('no line break or control character inside a text (write a line break as \\n)');
      if (c === 0x5c) {
        const e = s[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
            i += 2;
            fail('four hex digits after \\u');
          }
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else {
          i++;
          fail('one of \\" \\\\ \\/ \\b \\f \\n \\r \\t \\u after a backslash');
        }
      } else i++;
    }
  };
  const number = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(s.slice(i, i + 400));
    if (m === null) return fail('a number');
    i += m[0].length;
  };
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) fail(`at most ${MAX_DEPTH} levels of nesting`);
    ws();
    const c = s[i];
    if (c === '{') {
      i++;
      ws();
      if (s[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (s[i] !== '"') fail('a field name in double quotes');
        string();
        ws();
        if (s[i] !== ':') fail('":" after the field name');
        i++;
        value(depth + 1);
        ws();
        if (s[i] === ',') {
          i++;
          ws();
          if (s[i] === '}') fail('another field after the comma (remove the comma before "}")');
          continue;
        }
        if (s[i] === '}') {
          i++;
          return;
        }
        fail('"," or "}" after the value');
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (s[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (s[i] === ',') {
          i++;
          ws();
          if (s[i] === ']') fail('another value after the comma (remove the comma before "]")');
          continue;
        }
        if (s[i] === ']') {
          i++;
          return;
        }
        fail('"," or "]" after the value');
      }
    }
    if (c === '"') return string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    fail(c === "'" ? 'double quotes (JSON does not allow single quotes)' : 'a value (text in double quotes, a number, true, false, null, {...} or [...])');
  };
  try {
    value(0);
    ws();
    if (i < s.length) fail('the end of the text after the JSON object');
    return undefined;
  } catch (error) {
    if (error instanceof JsonSyntax) return error;
    throw error;
  }
}

function lineAndColumn(s: string, at: number): { line: number; column: number } {
  const before = s.slice(0, at);
  const line = before.split('\n').length;
  return { line, column: at - before.lastIndexOf('\n') };
}

function jsonProblem(raw: string, key: string, error: unknown): string {
  const syntax = locateJsonError(raw);
  if (syntax === undefined) return `the extra ${quote(key)} is not valid JSON: ${error instanceof Error ? error.message.slice(0, 200) : String(error)}`;
  const { line, column } = lineAndColumn(raw, syntax.at);
  const found = syntax.at >= raw.length ? 'the end of the text' : quote(raw.slice(syntax.at, syntax.at + 10));
  return `the extra ${quote(key)} is not valid JSON: expected ${syntax.expected} at line ${line}, column ${column} (found ${found})`;
}

// ------------------------------------------------------------------------------------------------
// Reading

function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_][\w-]{0,63}$/.test(key)) out += `.${key}`;
    else out += `[${quote(String(key))}]`;
  }
  return out;
}

/** The raw value of the extra: from `extras[]`, or a top-level field (ckanext-scheming). */
function findRaw(source: object, key: string): { value: unknown } | { problem: string } | undefined {
  const dataset = source as { extras?: unknown; [key: string]: unknown };
  const fromExtras: unknown[] = [];
  if (Array.isArray(dataset.extras)) {
    for (const extra of dataset.extras) if (isRecord(extra) && extra.key === key) fromExtras.push(extra.value);
  }
  if (fromExtras.length > 1) return { problem: `the extra ${quote(key)} appears ${fromExtras.length} times; keep one` };
  const topLevel = Object.prototype.hasOwnProperty.call(dataset, key) && key !== 'extras' ? dataset[key] : undefined;
  const inExtras = fromExtras[0];
  const present = (v: unknown): boolean => v !== undefined && v !== null && !(typeof v === 'string' && v.trim() === '');
  if (present(inExtras) && present(topLevel)) {
    const same = (typeof inExtras === 'string' ? inExtras : JSON.stringify(inExtras)) === (typeof topLevel === 'string' ? topLevel : JSON.stringify(topLevel));
    if (!same) return { problem: `${quote(key)} is given both as a dataset field and as an extra, with different content; keep one` };
  }
  if (present(inExtras)) return { value: inExtras };
  if (present(topLevel)) return { value: topLevel };
  return undefined;
}

/**
 * The owner override of `dataset` under `key`: `value: undefined` when there is none (absent,
 * null or empty), the checked override when it is valid, else every problem (at most
 * MAX_OVERRIDE_PROBLEMS, the last one saying how many more there were).
 *
 * `dataset` is any CKAN dataset dict (`{ extras?: unknown; [key: string]: unknown }` in spirit);
 * typed `object` so that interfaces without an index signature, such as CkanDatasetLike, fit.
 */
export function readOverride(dataset: object, key: string): ReadOverrideResult {
  const found = findRaw(dataset, key);
  if (found === undefined) return { ok: true, value: undefined };
  if ('problem' in found) return { ok: false, problems: [{ path: formatPath('', [key]).replace(/^\./, ''), message: found.problem }] };
  const root = formatPath('', [key]).replace(/^\./, '');
  const fail = (message: string): ReadOverrideResult => ({ ok: false, problems: [{ path: root, message }] });

  let value: unknown = found.value;
  let size: number;
  if (typeof value === 'string') {
    size = Buffer.byteLength(value, 'utf8');
    if (size > MAX_OVERRIDE_BYTES) return fail(`is ${size} bytes long; an override may have at most ${MAX_OVERRIDE_BYTES} bytes`);
    try {
      value = JSON.parse(value);
    } catch (error) {
      return fail(jsonProblem(value as string, key, error));
    }
  } else {
    try {
      size = Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
    } catch {
      // A cycle or nesting too deep for the stack: not something an owner typed.
      return fail('is not a JSON object that can be read (nested too deeply)');
    }
    if (size > MAX_OVERRIDE_BYTES) return fail(`is ${size} bytes long; an override may have at most ${MAX_OVERRIDE_BYTES} bytes`);
  }
  if (!isRecord(value)) {
    return fail(`must be a JSON object of Zenodo metadata, e.g. {"keywords": ["ocean"]} (got ${got(value)})`);
  }

  const problems: OverrideProblem[] = [];
  const result = overrideSchema.safeParse(value);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
      if (issue.code === 'unrecognized_keys') {
        for (const unknown of issue.keys) {
          problems.push({ path: formatPath(root, [...path, unknown]), message: REFUSED[unknown] ?? unknownKeyMessage(unknown, OVERRIDE_FIELDS) });
        }
      } else problems.push({ path: formatPath(root, path), message: issue.message });
    }
  }
  problems.push(...crossFieldProblems(value, root));
  if (!result.success || problems.length > 0) {
    problems.sort((a, b) => order(a.path, root) - order(b.path, root));
    if (problems.length > MAX_OVERRIDE_PROBLEMS) {
      const more = problems.length - (MAX_OVERRIDE_PROBLEMS - 1);
      problems.splice(MAX_OVERRIDE_PROBLEMS - 1, problems.length, { path: root, message: `and ${more} more problems; fix the ones above first` });
    }
    return { ok: false, problems };
  }
  const override: ZenodoOverride = result.data;
  return { ok: true, value: override };
}

/** Problems in the order of the fields in OVERRIDE_FIELDS, then unknown keys. */
function order(path: string, root: string): number {
  const field = /^[.[]"?([\w-]+)/.exec(path.slice(root.length))?.[1];
  const at = field === undefined ? -1 : OVERRIDE_FIELDS.indexOf(field);
  return at === -1 ? OVERRIDE_FIELDS.length : at;
}

function crossFieldProblems(value: Record<string, unknown>, root: string): OverrideProblem[] {
  const problems: OverrideProblem[] = [];
  const type = typeof value.upload_type === 'string' ? value.upload_type.trim().toLowerCase() : undefined;
  for (const [sub, needs] of [['publication_type', 'publication'], ['image_type', 'image']] as const) {
    if (value[sub] !== undefined && type !== needs) {
      problems.push({ path: `${root}.${sub}`, message: `only goes with "upload_type": "${needs}" in the same override` });
    }
  }
  // Zenodo keeps an image only with its sub-type; without one publish fails (§5 upload_type).
  if (type === 'image' && value.image_type === undefined) {
    problems.push({ path: `${root}.upload_type`, message: `"image" needs an "image_type" too, one of ${SUBTYPES.image!.join(', ')}` });
  }
  return problems;
}

// ------------------------------------------------------------------------------------------------
// Applying

/** Fields of the override that replace the mapping's value. */
const REPLACED = ['title', 'description', 'license', 'language', 'notes', 'version', 'creators'] as const;

/**
 * `mapped` (the full metadata payload of src/zenodo/metadata.ts) with `override` merged over it.
 * Scalars and `creators` replace; keywords, communities, related identifiers, grants, subjects
 * and contributors are unions in which the mapping's own entries stay first and stay as they are
 * (the link back to CKAN in related_identifiers must survive any override). Pure: `mapped` is
 * not changed.
 */
export function applyOverride(mapped: Record<string, unknown>, override: ZenodoOverride): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(mapped);
  for (const field of REPLACED) {
    const v = override[field];
    if (v !== undefined) out[field] = structuredClone(v);
  }
  if (override.upload_type !== undefined) {
    // A sub-type belongs to its type: the mapping's `publication_type` must not outlive a switch to `image`.
    for (const key of Object.keys(out)) if (isSubtypeKey(key)) delete out[key];
    out.upload_type = override.upload_type;
    if (override.publication_type !== undefined) out.publication_type = override.publication_type;
    if (override.image_type !== undefined) out.image_type = override.image_type;
  }
  const union = <T>(field: string, extra: readonly T[] | undefined, key: (v: unknown) => string | undefined, merge?: (kept: unknown, dup: unknown) => unknown): void => {
    if (extra === undefined || extra.length === 0) return;
    out[field] = unionBy<unknown>(listOf(out[field]), structuredClone(extra), key, merge);
  };
  union('keywords', override.keywords, keywordKey);
  union('communities', override.communities, communityKey);
  union('related_identifiers', override.related_identifiers, relatedIdentifierKey);
  union('grants', override.grants, grantKey);
  union('subjects', override.subjects, subjectKey);
  // The owner's word on a person (an ORCID, an affiliation) completes an entry already there.
  union('contributors', override.contributors, contributorKey, enrichPerson);
  return out;
}
