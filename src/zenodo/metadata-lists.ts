/**
 * How two lists of Zenodo legacy metadata are merged (owner overrides in override.ts, curation
 * carried over from Zenodo in curation.ts). One place, so that both merges agree on when two
 * entries are "the same" — otherwise an entry sent in one form and read back from Zenodo in
 * another would be sent twice.
 */

export type Entry = Record<string, unknown>;

export function isRecord(value: unknown): value is Entry {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The entries of `base` in their order, then those of `extra` whose key no entry before them
 * has. An entry without a key (wrong shape) is kept as it is: dropping it here would hide data.
 * `merge` decides what a duplicate adds to the entry already there.
 */
export function unionBy<T>(base: readonly T[], extra: readonly T[], key: (item: T) => string | undefined, merge?: (kept: T, dup: T) => T): T[] {
  const out: T[] = [];
  const index = new Map<string, number>();
  for (const item of [...base, ...extra]) {
    const k = key(item);
    if (k === undefined) {
      out.push(item);
      continue;
    }
    const at = index.get(k);
    if (at === undefined) {
      index.set(k, out.length);
      out.push(item);
    } else if (merge !== undefined) out[at] = merge(out[at]!, item);
  }
  return out;
}

const fold = (s: string): string => s.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();

export function keywordKey(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? fold(value) : undefined;
}

export function communityKey(value: unknown): string | undefined {
  return isRecord(value) && typeof value.identifier === 'string' ? fold(value.identifier) : undefined;
}

/**
 * A person's name as a set of words: "Jane Doe" (as CKAN writes it) and "Doe, Jane" (as Zenodo
 * returns it after splitting family and given name, reference §5 creators) are the same person.
 */
export function personNameKey(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const words = fold(name).split(/[\s,.;]+/).filter((w) => w !== '');
  return words.length === 0 ? undefined : words.sort().join(' ');
}

/** Contributors: the same person may hold several roles, so the role is part of the key. */
export function contributorKey(value: unknown): string | undefined {
  if (!isRecord(value)) return undefined;
  const name = personNameKey(value.name);
  if (name === undefined) return undefined;
  return `${name}|${typeof value.type === 'string' ? value.type.toLowerCase() : ''}`;
}

export function relatedIdentifierKey(value: unknown): string | undefined {
  if (!isRecord(value) || typeof value.identifier !== 'string' || typeof value.relation !== 'string') return undefined;
  return `${fold(value.identifier)}|${value.relation.toLowerCase()}`;
}

/**
 * The European Commission, the one funder the reference names (§5 grants): a plain award number
 * means an EC FP7 grant. Zenodo stores funders by ROR id and returns FP7 grants as the bare award
 * number, others as `<funder DOI or ROR>::<award>`, so the same grant can come back in another
 * form than it was sent (zenodo-rdm legacy serializer `dump_grants`).
 */
export const EC_FUNDER_DOI = '10.13039/501100000780';
const EC_FUNDER_ROR = '00k4n6c32';

/** `283595` → `10.13039/501100000780::283595`; anything else unchanged. */
export function canonicalGrantId(id: string): string {
  const trimmed = id.trim();
  return /^\d+$/.test(trimmed) ? `${EC_FUNDER_DOI}::${trimmed}` : trimmed;
}

export function grantKey(value: unknown): string | undefined {
  if (!isRecord(value) || typeof value.id !== 'string') return undefined;
  const id = canonicalGrantId(value.id).toLowerCase();
  const [funder, award] = id.split('::', 2) as [string, string | undefined];
  if (award === undefined) return id;
  return `${funder === EC_FUNDER_DOI ? EC_FUNDER_ROR : funder}::${award}`;
}

export function subjectKey(value: unknown): string | undefined {
  if (!isRecord(value)) return undefined;
  if (typeof value.identifier === 'string' && value.identifier.trim() !== '') return `id:${fold(value.identifier)}`;
  return typeof value.term === 'string' ? `term:${fold(value.term)}` : undefined;
}

export function referenceKey(value: unknown): string | undefined {
  return typeof value === 'string' ? value.trim().replace(/\s+/g, ' ') : undefined;
}

const PERSON_IDS = ['orcid', 'gnd', 'affiliation'] as const;

/**
 * The entry kept, with the identifiers and affiliation it lacks taken from `from` (a value it
 * already has always wins: the kept entry is the more authoritative source).
 */
export function enrichPerson(kept: unknown, from: unknown): unknown {
  if (!isRecord(kept) || !isRecord(from)) return kept;
  const out: Entry = { ...kept };
  for (const field of PERSON_IDS) {
    const own = out[field];
    const theirs = from[field];
    if ((own === undefined || own === null || own === '') && typeof theirs === 'string' && theirs.trim() !== '') out[field] = theirs;
  }
  return out;
}

/** A list value, or [] for anything that is not a list (Zenodo omits empty lists). */
export function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

const TYPES_WITH_SUBTYPES = ['publication', 'image', 'software', 'poster', 'presentation', 'dataset', 'video', 'lesson', 'physicalobject', 'other', 'model', 'workflow'];

/** `publication_type`, `image_type`, `software_type`...: the sub-type field of an upload type (§5). */
export function isSubtypeKey(key: string): boolean {
  return key.endsWith('_type') && TYPES_WITH_SUBTYPES.includes(key.slice(0, -'_type'.length));
}
