/**
 * Curation kept across versions. A record adopted with `link` (or edited by hand on zenodo.org)
 * may carry metadata the CKAN mapping knows nothing about: grants, contributors with ORCIDs,
 * communities, hand-added related identifiers, locations... A PUT replaces the metadata as a
 * whole (reference zenodo-api.md Q5, Q21), so every field the mapping does not own must be sent
 * again, as the latest published version has it, or the next version silently loses it.
 *
 * Pure: no I/O. `latest` is `metadata` of the deposition GET exactly as Zenodo returns it (§3.1,
 * §5), which also holds output-only keys that must never be sent back (see OUTPUT_ONLY).
 */
import {
  communityKey, contributorKey, enrichPerson, grantKey, isRecord, isSubtypeKey, listOf, personNameKey, referenceKey,
  relatedIdentifierKey, subjectKey, unionBy, type Entry,
} from './metadata-lists.js';

/**
 * Fields the mapping decides (DESIGN.md "CKAN → Zenodo metadata"): taken from `mapped` only, even
 * when `mapped` leaves them out. `version` and `publication_date` belong to one version (Zenodo
 * itself drops the one and resets the other on a new version, §4.2); `embargo_date` and
 * `access_conditions` belong with `access_right`, which the rule decides.
 */
// Keywords are CKAN's tags: a tag removed in CKAN must leave the next version (and the trigger tag
// `zenodo`, sent as a keyword by earlier releases, must not live on through the union).
const MAPPING_OWNS = new Set([
  'title', 'description', 'license', 'upload_type', 'access_right', 'publication_date', 'version', 'embargo_date',
  'access_conditions', 'keywords',
]);

/**
 * Keys Zenodo returns in `metadata` that are not input:
 * - `doi`: the version's own DOI (dump_only, ZR:ser `MetadataSchema.doi`). Sent back into a new
 *   version it would claim the previous version's DOI, or, on the sandbox, fail with "Wrong DOI
 *   10.5281 prefix" (§9, Q20).
 * - `prereserve_doi`: always added to the output, hard-coded to 10.5281 (§3.1, §9).
 * - `relations`: legacy Zenodo's version chain (`relations.version`), computed by the server.
 * - `conceptdoi`, `conceptrecid`, `doi_url`, `access_right_category`: legacy output fields,
 *   computed from the record; harmless to drop, wrong to echo.
 * - `imprint_publisher`: always "Zenodo" in the output; Zenodo-RDM's deserializer sets the
 *   publisher to the constant "Zenodo" whatever is sent (ZR:deser `publisher = Constant`).
 */
const OUTPUT_ONLY = new Set([
  'doi', 'prereserve_doi', 'relations', 'conceptdoi', 'conceptrecid', 'doi_url', 'access_right_category',
  'imprint_publisher',
]);

/** List fields merged as unions (the mapping's entries first), and how entries are matched. */
const UNIONS: Readonly<Record<string, { key: (v: unknown) => string | undefined; merge?: (kept: unknown, dup: unknown) => unknown }>> = {
  // A community curated on Zenodo (or accepted by its curators) must survive the next version.
  communities: { key: communityKey },
  related_identifiers: { key: relatedIdentifierKey },
  grants: { key: grantKey },
  contributors: { key: contributorKey, merge: enrichPerson },
  subjects: { key: subjectKey },
  references: { key: referenceKey },
};

function present(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'string') return value.trim() !== '';
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

/**
 * Creators come from the mapping (the names and their order follow CKAN), but when the latest
 * version lists the same person — "Jane Doe" from CKAN is "Doe, Jane" on Zenodo — with an ORCID,
 * GND or affiliation that the mapping lacks, that enrichment is kept. Each Zenodo creator
 * enriches at most one mapped creator.
 */
function enrichCreators(mapped: unknown, latest: unknown): unknown {
  if (!Array.isArray(mapped)) return mapped;
  const pool = listOf(latest).filter(isRecord);
  const used = new Set<number>();
  return mapped.map((creator: unknown) => {
    if (!isRecord(creator)) return creator;
    const key = personNameKey(creator.name);
    if (key === undefined) return creator;
    const at = pool.findIndex((c, i) => !used.has(i) && personNameKey(c.name) === key);
    if (at === -1) return creator;
    used.add(at);
    return enrichPerson(creator, pool[at]);
  });
}

/**
 * The payload to PUT for a new version (or edit) of a record: `mapped` for the fields the
 * mapping owns, the latest published version's curation for everything else. `latest`
 * undefined (a first version) returns a copy of `mapped`. Neither argument is changed.
 *
 * - title, description, license, upload_type, access_right, publication_date, version, keywords
 *   (and access's embargo_date, access_conditions): from `mapped` only;
 * - creators: from `mapped`, enriched with ORCID/GND/affiliation of the same person on Zenodo;
 * - communities, related_identifiers, grants, contributors, subjects, references:
 *   union, the mapping's entries first (and kept as they are on a duplicate);
 * - a sub-type (`publication_type`, `image_type`, ...): from Zenodo only when the mapping has
 *   the same upload_type and no sub-type of its own;
 * - anything else (notes, method, language, dates, locations, journal_*, conference_*,
 *   imprint_*, partof_*, thesis_*, fields we do not know): `mapped` when it has one, else Zenodo's;
 * - output-only keys (doi, prereserve_doi, relations, ...): dropped.
 */
export function mergeCuration(mapped: Record<string, unknown>, latest: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Entry = structuredClone(mapped);
  for (const key of OUTPUT_ONLY) delete out[key];
  if (latest === undefined || !isRecord(latest)) return out;
  const theirs: Entry = structuredClone(latest);

  out.creators = enrichCreators(out.creators, theirs.creators);

  const mappedHasSubtype = Object.keys(out).some((k) => isSubtypeKey(k) && present(out[k]));
  const sameType = typeof out.upload_type === 'string' && out.upload_type === theirs.upload_type;

  for (const [key, value] of Object.entries(theirs)) {
    if (MAPPING_OWNS.has(key) || OUTPUT_ONLY.has(key) || key === 'creators' || !present(value)) continue;
    const union = UNIONS[key];
    if (union !== undefined) {
      if (!Array.isArray(value)) continue; // a shape we do not understand is not worth a refused PUT
      out[key] = unionBy<unknown>(listOf(out[key]), value, union.key, union.merge);
      continue;
    }
    if (isSubtypeKey(key)) {
      if (sameType && !mappedHasSubtype) out[key] = value;
      continue;
    }
    if (!present(out[key])) out[key] = value;
  }
  return out;
}

/**
 * `metadata` as Zenodo returned it, without the output-only keys: what may be sent back, and what
 * to compare (or fingerprint) against a payload built by `mergeCuration`.
 */
export function withoutOutputOnly(metadata: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) if (!OUTPUT_ONLY.has(key)) out[key] = structuredClone(value);
  return out;
}
