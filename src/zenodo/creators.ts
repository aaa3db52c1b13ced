/**
 * Creators from CKAN's `author` / `maintainer` fields. Pure: no I/O.
 *
 * A Zenodo DOI is permanent, so a creator list must be one a curator would accept: real people or
 * organisations, never an e-mail address, a user id or a fragment of JSON. CKAN gives us these
 * fields in many shapes:
 *  - plain text ("Jane Doe; John Smith", "Doe, Jane", "Ministry of Housing and Urban Development");
 *  - ckanext-scheming person lists, as a JSON *string* (EnviDat) or a real array, of objects with
 *    `name`, `given_name`, `affiliation`, `email`, `identifier`...;
 *  - one such object alone (EnviDat's `maintainer`);
 *  - ckanext-fluent multilingual objects (`{"en": "...", "de": "..."}`);
 *  - a CKAN user id or user name (HDX puts the maintainer's user UUID there).
 * Every value is hostile: anything may be malformed, huge, deeply nested or of the wrong type.
 * Nothing here throws, and every step is linear in the input (inputs over a cap are ignored).
 */
import { CONTROL, isValidAddress } from '../notify/address.js';

/** One person or organisation named by a dataset. */
export interface Person {
  /** "Family, Given" when both parts are known (Zenodo's legacy creator format, reference §5). */
  name: string;
  affiliation?: string;
  /** Bare ORCID iD (`0000-0002-1825-0097`), checksum-verified. */
  orcid?: string;
  email?: string;
}

/** A creator as the legacy deposit API takes it (reference zenodo-api.md §5). */
export interface CreatorEntry {
  name: string;
  affiliation?: string;
  orcid?: string;
}

// Inputs beyond these limits are not author lists but accidents or attacks: they are ignored (or
// cut) instead of being processed, so that a hostile dataset cannot stall a worker.
/** Characters of a JSON person list we parse; EnviDat's 20-author list is about 6 000. */
const MAX_INPUT = 1_000_000;
/** Characters of plain-text names we read: some 3 000 names, far beyond any real author field. */
const MAX_PLAIN = 64_000;
/** People (and array elements) read from one field. */
const MAX_ENTRIES = 2_000;
/** Nesting we follow: a JSON string inside a fluent object inside a list is about the worst seen. */
const MAX_DEPTH = 4;
/**
 * Zenodo-RDM keeps person and affiliation names as free strings; 255 characters is a safe ceiling
 * for every index and export format (DataCite's XML included) and far above any real name.
 */
export const MAX_NAME_LENGTH = 255;

// ------------------------------------------------------------------------------------------------
// Text

// C0/C1 controls, DEL, zero-width and bidirectional-override characters: they break Zenodo's XML
// exports and can make a name display differently from what it is.
const INVISIBLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/gu;
const LINE_BREAKS = /[\n\r\u0085\u2028\u2029]+/u;
// Values portals use to mean "nobody": a curator would never accept them as a creator.
const PLACEHOLDERS = new Set(['null', 'none', 'nil', 'n/a', 'na', 'n.a.', '-', '--', '?', 'unknown', 'not specified', 'not available', 'tbd', 'tba', 'undefined']);
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/iu;
// CKAN user names are lowercase letters, digits, `-` and `_` (ckan-api.md); `.` is in the set too
// because the local part of a mailbox ("foi.mailbox") shows up where a name should be.
const USER_NAME = /^[a-z0-9._-]+$/u;
const USER_NAME_MARK = /[0-9._-]/u;
const LANGUAGE_KEY = /^[a-z]{2,3}(?:[-_][a-z0-9]{2,8})?$/iu;

function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The value a ckanext-fluent object stands for: English first, else the first string value,
 * else the first other value (fluent lists of tags are per-language arrays).
 */
function pickLanguage(obj: Record<string, unknown>): unknown {
  const en = own(obj, 'en');
  if (en !== undefined && en !== null) return en;
  let other: unknown;
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (typeof value === 'string' && value.trim() !== '') return value;
    if (other === undefined && value !== null && value !== undefined) other = value;
  }
  return other;
}

function isFluent(obj: Record<string, unknown>): boolean {
  const keys = Object.keys(obj);
  return keys.length > 0 && keys.length <= 200 && keys.every((k) => LANGUAGE_KEY.test(k));
}

/** Invisible characters removed, whitespace collapsed, trimmed; `undefined` when nothing is left. */
function clean(raw: string): string | undefined {
  if (raw.length > MAX_INPUT) return undefined;
  const s = raw.replace(INVISIBLE, '').replace(/\s+/gu, ' ').trim();
  return s === '' ? undefined : s;
}

/** A string from one field of a person object (plain, or a fluent object of strings). */
function fieldText(value: unknown): string | undefined {
  if (typeof value === 'string') return clean(value);
  if (isRecord(value) && isFluent(value)) {
    const picked = pickLanguage(value);
    return typeof picked === 'string' ? clean(picked) : undefined;
  }
  return undefined;
}

/** Cuts at `max` characters with an ellipsis, never between the two halves of a surrogate pair. */
function cap(s: string, max = MAX_NAME_LENGTH): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, max - 1);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${cut.trimEnd()}…`;
}

function isPlaceholder(s: string): boolean {
  return PLACEHOLDERS.has(s.toLowerCase());
}

/** A single lowercase token with a digit, `.`, `-` or `_`: a CKAN user name, not a person. */
function isUserName(s: string): boolean {
  return USER_NAME.test(s) && USER_NAME_MARK.test(s);
}

// ------------------------------------------------------------------------------------------------
// E-mail addresses inside names

/** An address as written in free text: `<a@b.org>`, `(a@b.org)`, `mailto:a@b.org`, `a@b.org.`. */
function addressFromToken(token: string): string | undefined {
  let t = token.replace(/^[<(["']+|[>)\]"'.,;:]+$/gu, '');
  if (t.toLowerCase().startsWith('mailto:')) t = t.slice(7);
  return isValidAddress(t) ? t : undefined;
}

/**
 * Removes every whitespace-separated token holding an `@` from `text` (an address, or a broken
 * one: neither belongs in a creator name) and returns the valid addresses found. Commas right
 * after such a token are kept, because they may separate names ("Jane Doe <j@x.org>, John Smith").
 */
function stripAddresses(text: string): { rest: string; emails: string[] } {
  if (!text.includes('@')) return { rest: text, emails: [] };
  const emails: string[] = [];
  // Space out brackets so that "Jane Doe<j@x.org>" keeps "Doe".
  const spaced = text.replace(/</gu, ' <').replace(/>/gu, '> ');
  const kept: string[] = [];
  for (const token of spaced.split(' ')) {
    if (!token.includes('@')) {
      kept.push(token);
      continue;
    }
    const address = addressFromToken(token);
    if (address !== undefined) emails.push(address);
    if (token.endsWith(',')) kept.push(',');
  }
  const rest = kept
    .join(' ')
    .replace(/[<([]\s*[>)\]]/gu, ' ')
    .replace(/\s+,/gu, ',')
    .replace(/\s+/gu, ' ')
    .trim();
  return { rest, emails };
}

function addressesIn(text: string | undefined): string[] {
  if (text === undefined) return [];
  const out: string[] = [];
  for (const token of text.split(/[\s,;]+/u)) {
    const address = token.includes('@') ? addressFromToken(token) : undefined;
    if (address !== undefined) out.push(address);
  }
  return out;
}

/**
 * The addresses in a person's `email` field. A value with control characters is refused whole,
 * as the notifier does with `maintainer_email` (src/notify/recipients.ts): "a@x.org\r\nBcc: b@y.org"
 * is an injection attempt, not two addresses.
 */
function emailsOf(obj: Record<string, unknown>): string[] {
  for (const key of ['email', 'mail', 'e-mail']) {
    const raw = own(obj, key);
    const value = isRecord(raw) && isFluent(raw) ? pickLanguage(raw) : raw;
    if (typeof value !== 'string' || value.trim() === '') continue;
    return CONTROL.test(value) ? [] : addressesIn(fieldText(value));
  }
  return [];
}

// ------------------------------------------------------------------------------------------------
// Names

/**
 * The final check on one name: `undefined` when it is not something a curator would accept as a
 * creator (a placeholder, an id, a user name, JSON debris, no letters at all).
 */
function finalName(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const s = clean(raw.replace(/"/gu, ''))?.replace(/^[\s,;:|]+|[\s,;:|]+$/gu, '');
  if (s === undefined || s === '') return undefined;
  if (/[{}@]/u.test(s) || UUID.test(s) || isPlaceholder(s) || isUserName(s)) return undefined;
  if (!/\p{L}/u.test(s)) return undefined;
  return cap(s);
}

// Words that mark an organisation, not a person: a comma or " and " next to them is part of the
// name ("Department of Fish and Game", "University of Bern, Institute of Geography").
const ORG_WORDS = new Set([
  'university', 'universität', 'université', 'universidad', 'università', 'universiteit', 'institute', 'institut', 'instituto',
  'istituto', 'department', 'dept', 'ministry', 'ministère', 'ministerium', 'council', 'office', 'agency', 'centre', 'center',
  'service', 'services', 'bureau', 'laboratory', 'laboratories', 'lab', 'group', 'team', 'foundation', 'society', 'association',
  'college', 'school', 'hospital', 'survey', 'authority', 'commission', 'museum', 'library', 'company', 'inc', 'ltd', 'gmbh',
  'ag', 'sa', 'llc', 'plc', 'corp', 'corporation', 'programme', 'program', 'project', 'network', 'unit', 'division',
  'directorate', 'government', 'city', 'county', 'state', 'national', 'federal', 'board', 'trust', 'organisation',
  'organization', 'committee', 'consortium', 'partnership', 'initiative', 'observatory', 'station', 'administration',
  'data', 'statistics', 'portal', 'of', 'for', 'the', 'and', 'und', 'et', 'payable', 'accounts', 'finance', 'research',
  'bundesamt', 'amt', 'secretariat', 'faculty', 'academy', 'region', 'municipality', 'police', 'press',
]);
// Lowercase (or capitalised) particles of family names: they do not break the "Given Family" shape.
const PARTICLES = new Set(['van', 'von', 'der', 'den', 'de', 'del', 'della', 'dei', 'di', 'da', 'das', 'dos', 'du', 'la', 'le', 'ten', 'ter', 'te', 'y', 'bin', 'ibn', 'al', 'el', 'zu', 'vom', 'zur']);
const NAME_WORD = /^(?:\p{Lu}\.?|\p{Lu}[\p{L}\p{M}'’.-]*)$/u;

function words(s: string): string[] {
  return s.split(' ').filter((w) => w !== '');
}

function bare(word: string): string {
  return word.toLowerCase().replace(/[.,]+$/u, '');
}

/** A capitalised word, an initial ("J."), or a family-name particle ("van"); never an org word. */
function isNameWord(word: string): boolean {
  const key = bare(word);
  if (ORG_WORDS.has(key)) return false;
  return PARTICLES.has(key) || NAME_WORD.test(word);
}

/** "Jane Doe", "J. R. Smith", "Ana de la Cruz": 2–4 name words, not only initials or particles. */
function isFullName(s: string): boolean {
  if (s.includes(',')) return false;
  const ws = words(s);
  if (ws.length < 2 || ws.length > 5 || !ws.every(isNameWord)) return false;
  const last = ws[ws.length - 1]!;
  if (PARTICLES.has(bare(last)) || last.length < 2 || last.endsWith('.')) return false;
  return ws.some((w) => !PARTICLES.has(bare(w)) && w.replace(/\./gu, '').length >= 2);
}

/** One half of "Family, Given": 1–4 name words. */
function isNamePart(s: string): boolean {
  const ws = words(s);
  return ws.length >= 1 && ws.length <= 4 && ws.every(isNameWord);
}

/** "Doe, Jane" or "van der Berg, J.": exactly one comma, both sides name-like. */
function isFamilyGiven(s: string): boolean {
  const parts = s.split(',');
  return parts.length === 2 && isNamePart(parts[0]!.trim()) && isNamePart(parts[1]!.trim());
}

function hasOrgWord(s: string): boolean {
  return words(s).some((w) => ORG_WORDS.has(bare(w)));
}

interface Named {
  name: string;
  affiliation?: string;
}

/**
 * Reads one `;`/line-break separated chunk as names. A comma separates people only when the
 * chunk is clearly a list: "Jane Doe, John Smith" (full names), "Doe, Jane, Smith, John"
 * (Family, Given pairs); "Doe, Jane" is one person, written the way Zenodo wants it. "Jane Doe,
 * University of Bern" is a person with an affiliation. Anything else stays whole: an
 * organisation's name may hold commas.
 */
function splitCommas(chunk: string): Named[] {
  const pieces = chunk.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (pieces.length === 0) return [];
  if (pieces.length === 1) return [{ name: pieces[0]! }];
  const first = pieces[0]!;
  const rest = pieces.slice(1);
  if (pieces.every(isFullName)) {
    // "De Souza, Ana Maria" is one person written family-first, not two people.
    const twoAndParticle = pieces.length === 2 && PARTICLES.has(bare(words(first)[0] ?? ''));
    if (!twoAndParticle) return pieces.map((name) => ({ name }));
  }
  if (pieces.length >= 4 && pieces.length % 2 === 0 && pieces.every((p) => isNamePart(p) && words(p).length <= 3)) {
    const out: Named[] = [];
    for (let i = 0; i < pieces.length; i += 2) out.push({ name: `${pieces[i]!}, ${pieces[i + 1]!}` });
    return out;
  }
  if (isFullName(first) && hasOrgWord(rest[0]!) && !rest.some(isFullName)) {
    return [{ name: first, affiliation: rest.join(', ') }];
  }
  // "Doe, Jane, University of Bern"
  if (pieces.length >= 3 && isNamePart(first) && isNamePart(rest[0]!) && hasOrgWord(rest[1]!) && !isNamePart(rest[1]!)) {
    return [{ name: `${first}, ${rest[0]!}`, affiliation: rest.slice(1).join(', ') }];
  }
  return [{ name: pieces.join(', ') }];
}

const TRAILING_PARENS = /^(.*\S)\s*\(([^()]+)\)$/u;

/** "Jane Doe (University of Bern)": a person with the affiliation in brackets. */
function withBracketedAffiliation(n: Named): Named {
  if (n.affiliation !== undefined) return n;
  const m = TRAILING_PARENS.exec(n.name);
  if (!m) return n;
  const [, name, inner] = m as unknown as [string, string, string];
  return (isFullName(name) || isFamilyGiven(name)) && hasOrgWord(inner) ? { name, affiliation: inner.trim() } : n;
}

function isPersonal(n: Named): boolean {
  return n.affiliation === undefined && (isFullName(n.name) || isFamilyGiven(n.name));
}

/**
 * " and " / "&" separate only names that are clearly personal on every side ("Jane Doe and John
 * Smith", "Doe, Jane & Smith, John"); inside anything else they are part of the name ("Ministry of
 * Housing and Urban Development", "Department of Fish & Game", "Johnson & Johnson").
 */
function splitChunk(chunk: string): Named[] {
  const parts = chunk.split(/\s+(?:and|&)\s+/iu);
  if (parts.length >= 2) {
    const names = parts.map((p) => splitCommas(p));
    if (names.every((ns) => ns.length > 0 && ns.every(isPersonal))) return names.flat();
  }
  return splitCommas(chunk).map(withBracketedAffiliation);
}

// ------------------------------------------------------------------------------------------------
// ORCID

const ORCID_SHAPE = /^(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dX])$/u;
const ORCID_PREFIX = /^(?:(?:https?:\/\/)?(?:www\.)?orcid\.org\/|orcid:\s*)/iu;

/** ISO 7064 MOD 11-2 over the first 15 digits, as ORCID specifies for its check character. */
function orcidChecksumOk(digits: string): boolean {
  let total = 0;
  for (let i = 0; i < 15; i++) total = (total + Number(digits[i])) * 2;
  const result = (12 - (total % 11)) % 11;
  return digits[15] === (result === 10 ? 'X' : String(result));
}

type OrcidResult = { orcid: string } | { invalid: string } | undefined;

/**
 * A bare, verified ORCID iD from `0000-0002-1825-0097`, `https://orcid.org/...`, `orcid.org/...`
 * or `orcid:...`. `invalid` when the value is meant as an ORCID (shape or prefix) but its check
 * digit is wrong; `undefined` when it is no ORCID at all (another identifier scheme).
 */
export function parseOrcid(value: unknown): OrcidResult {
  const t = fieldText(value);
  if (t === undefined || t.length > 200) return undefined;
  const prefixed = ORCID_PREFIX.test(t);
  const body = t.replace(ORCID_PREFIX, '').replace(/\/+$/u, '').toUpperCase();
  const m = ORCID_SHAPE.exec(body);
  if (!m) return prefixed ? { invalid: t } : undefined;
  const digits = `${m[1]!}${m[2]!}${m[3]!}${m[4]!}`;
  if (!orcidChecksumOk(digits)) return { invalid: t };
  return { orcid: `${m[1]!}-${m[2]!}-${m[3]!}-${m[4]!}` };
}

// ------------------------------------------------------------------------------------------------
// Collecting people from any shape

interface Collected {
  people: Person[];
  /** Addresses found anywhere, also those of entries that name no one. */
  emails: string[];
  /** Non-empty values that named no one, as written (for the owner's warning). */
  rejected: string[];
  /** ORCIDs that were dropped, with whose they were. */
  badOrcids: { name: string; value: string }[];
  /** The field held JSON that does not parse. */
  malformedJson: boolean;
  /** The field was longer than we read (MAX_INPUT, MAX_PLAIN). */
  tooLong: boolean;
  examined: number;
}

const PERSON_KEYS = [
  'name', 'given_name', 'family_name', 'surname', 'last_name', 'first_name', 'givenName', 'familyName',
  'full_name', 'email', 'affiliation', 'identifier', 'orcid',
];

function isPersonObject(obj: Record<string, unknown>): boolean {
  return PERSON_KEYS.some((k) => Object.hasOwn(obj, k));
}

function firstText(obj: Record<string, unknown>, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const t = fieldText(own(obj, key));
    if (t !== undefined && !isPlaceholder(t)) return t;
  }
  return undefined;
}

/** Affiliation text, with any address or id removed; `undefined` when nothing sensible remains. */
function cleanAffiliation(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const { rest } = stripAddresses(raw);
  const s = clean(rest.replace(/"/gu, ''));
  if (s === undefined || isPlaceholder(s) || /[{}]/u.test(s) || UUID.test(s) || !/\p{L}/u.test(s)) return undefined;
  return cap(s);
}

/**
 * The affiliation of a scheming person. EnviDat adds `affiliation_02` and `affiliation_03`; we take
 * the first non-empty one rather than joining them: the legacy API carries one affiliation per
 * creator and Zenodo-RDM stores that string as ONE affiliation (matched against ROR by name), so
 * "A; B" would show as an institution that does not exist.
 */
function affiliationOf(obj: Record<string, unknown>): string | undefined {
  const direct = firstText(obj, ['affiliation', 'affiliation_02', 'affiliation_03', 'organisation', 'organization']);
  if (direct !== undefined) return cleanAffiliation(direct);
  const list = own(obj, 'affiliations');
  if (Array.isArray(list)) {
    for (const item of list.slice(0, 20)) {
      const t = isRecord(item) && !isFluent(item) ? fieldText(own(item, 'name')) : fieldText(item);
      const a = cleanAffiliation(t);
      if (a !== undefined) return a;
    }
  }
  return undefined;
}

/** "Family, Given" from the parts a scheming schema gives, tolerating each portal's habits. */
function composeName(nameField: string | undefined, given: string | undefined, family: string | undefined): string | undefined {
  if (family !== undefined && given !== undefined) return `${family}, ${given}`;
  if (family !== undefined && nameField !== undefined) {
    // `name` holds the full name and `family_name` tells which part is the family name.
    if (nameField.includes(',')) return nameField;
    const lower = nameField.toLowerCase();
    const familyLower = family.toLowerCase();
    if (lower !== familyLower && lower.endsWith(` ${familyLower}`)) return `${family}, ${nameField.slice(0, -family.length - 1)}`;
    return nameField;
  }
  if (given !== undefined && nameField !== undefined) {
    // EnviDat: `name` is the family name. Other schemas put the full name there.
    if (nameField.includes(',')) return nameField;
    if (nameField.toLowerCase() === given.toLowerCase()) return nameField;
    if (nameField.toLowerCase().startsWith(`${given.toLowerCase()} `)) return `${nameField.slice(given.length + 1)}, ${given}`;
    return `${nameField}, ${given}`;
  }
  return family ?? nameField ?? given;
}

function collectObject(obj: Record<string, unknown>, out: Collected): void {
  const emails: string[] = [];
  const part = (t: string | undefined): string | undefined => {
    if (t === undefined) return undefined;
    const { rest, emails: found } = stripAddresses(t);
    emails.push(...found);
    return rest === '' ? undefined : rest;
  };
  const nameField = part(firstText(obj, ['name', 'full_name']));
  const given = part(firstText(obj, ['given_name', 'first_name', 'givenName']));
  const family = part(firstText(obj, ['family_name', 'surname', 'last_name', 'familyName']));
  const composed = composeName(nameField, given, family);
  const name = finalName(composed);

  const ownEmails = emailsOf(obj);
  const allEmails = [...ownEmails, ...emails];
  out.emails.push(...allEmails);

  if (name === undefined) {
    const shown = composed ?? allEmails[0];
    if (shown !== undefined) out.rejected.push(shown);
    return;
  }
  const person: Person = { name };
  const affiliation = affiliationOf(obj);
  if (affiliation !== undefined && affiliation.toLowerCase() !== name.toLowerCase()) person.affiliation = affiliation;

  const scheme = fieldText(own(obj, 'identifier_scheme'))?.toLowerCase();
  const candidates: unknown[] = [own(obj, 'orcid')];
  if (scheme === undefined || scheme === '' || scheme === 'orcid') candidates.push(own(obj, 'identifier'));
  for (const candidate of candidates) {
    const found = parseOrcid(candidate);
    if (found === undefined) continue;
    if ('orcid' in found) {
      person.orcid = found.orcid;
      break;
    }
    out.badOrcids.push({ name, value: found.invalid });
  }
  if (person.orcid !== undefined) {
    // An ORCID that was dropped for one key but found under another is not worth a warning.
    out.badOrcids = out.badOrcids.filter((b) => b.name !== name);
  }
  if (allEmails[0] !== undefined) person.email = allEmails[0];
  out.people.push(person);
}

function collectPlain(text: string, out: Collected): void {
  for (const rawChunk of text.split(LINE_BREAKS).flatMap((line) => line.split(';'))) {
    if (out.people.length >= MAX_ENTRIES) return;
    const chunk = clean(rawChunk);
    if (chunk === undefined) continue;
    const { rest, emails } = stripAddresses(chunk);
    out.emails.push(...emails);
    if (rest === '' || !/\p{L}/u.test(rest)) {
      // An address alone names no one; it still counts for the owner mail.
      out.rejected.push(chunk);
      continue;
    }
    const named = splitChunk(rest.replace(/^[\s,]+|[\s,]+$/gu, ''));
    const accepted: Person[] = [];
    for (const n of named.slice(0, MAX_ENTRIES - out.people.length)) {
      const name = finalName(n.name);
      if (name === undefined) {
        out.rejected.push(n.name);
        continue;
      }
      const person: Person = { name };
      const affiliation = cleanAffiliation(n.affiliation);
      if (affiliation !== undefined) person.affiliation = affiliation;
      accepted.push(person);
    }
    // "Jane Doe <jane@example.org>": the address is hers. With several names in one chunk we
    // cannot tell whose it is; it still reaches the owner mail through `emails`.
    if (accepted.length === 1 && emails[0] !== undefined) accepted[0]!.email = emails[0];
    out.people.push(...accepted);
  }
}

function collect(value: unknown, out: Collected, depth: number): void {
  // Wrappers (a JSON string, a fluent object) count as well as list elements, hence the slack.
  if (depth > MAX_DEPTH || out.examined >= MAX_ENTRIES + 100 || out.people.length >= MAX_ENTRIES) return;
  out.examined++;
  if (typeof value === 'string') {
    if (value.length > MAX_INPUT) {
      out.tooLong = true;
      return;
    }
    const t = value.trim();
    if (t.startsWith('[') || t.startsWith('{') || (t.startsWith('"') && t.endsWith('"') && t.length >= 2)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(t);
      } catch {
        // Half a JSON list is debris, not a name: reading it as text gives creators like
        // `[{"name": "Doe"`.
        if (t.startsWith('[') || t.startsWith('{')) {
          out.malformedJson = true;
          return;
        }
        parsed = t.slice(1, -1);
      }
      collect(parsed, out, depth + 1);
      return;
    }
    // Cutting a long text short could cut a name in half, and a DOI's creators are permanent.
    if (t.length > MAX_PLAIN) out.tooLong = true;
    else collectPlain(t, out);
    return;
  }
  if (Array.isArray(value)) {
    const n = Math.min(value.length, MAX_ENTRIES);
    for (let i = 0; i < n; i++) {
      const item: unknown = value[i];
      if (typeof item === 'string' || isRecord(item) || Array.isArray(item)) collect(item, out, depth + 1);
    }
    return;
  }
  if (isRecord(value)) {
    if (isPersonObject(value)) collectObject(value, out);
    else if (isFluent(value)) collect(pickLanguage(value), out, depth + 1);
  }
}

function dedupe(people: Person[]): Person[] {
  const byKey = new Map<string, Person>();
  for (const p of people) {
    const key = p.name.toLowerCase();
    const seen = byKey.get(key);
    if (seen === undefined) {
      byKey.set(key, { ...p });
      continue;
    }
    seen.affiliation ??= p.affiliation;
    seen.orcid ??= p.orcid;
    seen.email ??= p.email;
  }
  return [...byKey.values()].map((p) => {
    const out: Person = { name: p.name };
    if (p.affiliation !== undefined) out.affiliation = p.affiliation;
    if (p.orcid !== undefined) out.orcid = p.orcid;
    if (p.email !== undefined) out.email = p.email;
    return out;
  });
}

function dedupeEmails(emails: string[]): string[] {
  const seen = new Set<string>();
  return emails.filter((e) => {
    const key = e.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function gather(value: unknown): Collected {
  const out: Collected = { people: [], emails: [], rejected: [], badOrcids: [], malformedJson: false, tooLong: false, examined: 0 };
  try {
    collect(value, out, 0);
  } catch {
    // Hostile objects (getters, proxies) may throw while being read: what was read so far stands.
  }
  out.people = dedupe(out.people);
  out.emails = dedupeEmails(out.emails);
  return out;
}

// ------------------------------------------------------------------------------------------------
// Public API

/**
 * The people an `author` / `maintainer` value names, in order, de-duplicated case-insensitively.
 * Accepts plain text, scheming person lists (JSON string or array), a single person object,
 * fluent multilingual objects, and anything else (which names no one). Never throws.
 */
export function parsePeople(value: unknown): Person[] {
  return gather(value).people;
}

/** Valid e-mail addresses in such a value (for owner mails), de-duplicated case-insensitively. */
export function peopleEmails(value: unknown): string[] {
  return gather(value).emails;
}

/** A short, single-line, quoted form of a hostile value for a warning. */
function quote(value: string): string {
  const visible = value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/gu, ' ');
  return JSON.stringify(visible.length > 80 ? `${visible.slice(0, 77)}...` : visible);
}

function toCreator(p: Person): CreatorEntry {
  const c: CreatorEntry = { name: p.name };
  if (p.affiliation !== undefined) c.affiliation = p.affiliation;
  if (p.orcid !== undefined) c.orcid = p.orcid;
  return c;
}

function organizationName(org: unknown): { name: string; slug: boolean } | undefined {
  try {
    return readOrganizationName(org);
  } catch {
    // A hostile object (a getter that throws) names no one.
    return undefined;
  }
}

function readOrganizationName(org: unknown): { name: string; slug: boolean } | undefined {
  if (!isRecord(org)) return undefined;
  const check = (t: string | undefined): string | undefined =>
    t === undefined || isPlaceholder(t) || UUID.test(t) || /[{}@]/u.test(t) || !/\p{L}/u.test(t) ? undefined : cap(t);
  const title = check(fieldText(own(org, 'title')));
  if (title !== undefined) return { name: title, slug: false };
  const slug = check(fieldText(own(org, 'name')));
  return slug === undefined ? undefined : { name: slug, slug: true };
}

/**
 * Zenodo creators for a dataset: the author's people, else the maintainer's, else the
 * organisation's title (its slug only when it has no title). Each fallback, each value that names
 * no one, and each ORCID left out is explained in `warnings` in plain English. `undefined` when
 * nobody can be named: the caller must not publish then (a DOI's creators are permanent, and
 * "Unknown" is not a creator).
 */
export function mapCreators(
  dataset: { author?: unknown; maintainer?: unknown; organization?: unknown },
  warnings: string[],
): CreatorEntry[] | undefined {
  for (const field of ['author', 'maintainer'] as const) {
    const found = gather(dataset[field]);
    if (found.people.length > 0) {
      if (field === 'maintainer') warnings.push('the dataset names no author; the maintainer is listed as creator');
      for (const bad of found.badOrcids) {
        warnings.push(`the ORCID ${quote(bad.value)} of ${quote(bad.name)} is not a valid ORCID iD (wrong check digit); the creator is listed without it`);
      }
      return found.people.map(toCreator);
    }
    if (found.tooLong) {
      warnings.push(`the ${field} field is too long to be a list of names; it is not used for the creators`);
    } else if (found.malformedJson) {
      warnings.push(`the ${field} field holds a list that is not valid JSON; it is not used for the creators`);
    } else if (found.rejected.length > 0) {
      warnings.push(
        `the ${field} ${quote(found.rejected[0]!)} is not a name (it looks like a user name, an e-mail address or an id); it is not used for the creators`,
      );
    }
  }
  const org = organizationName(dataset.organization);
  if (org === undefined) return undefined;
  warnings.push(
    org.slug
      ? `the dataset names no usable author or maintainer and its organization has no title; the organization's short name "${org.name}" is listed as creator`
      : `the dataset names no usable author or maintainer; the organization "${org.name}" is listed as creator`,
  );
  return [{ name: org.name }];
}
