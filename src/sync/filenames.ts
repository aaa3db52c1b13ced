/**
 * Zenodo filenames for CKAN resources. Names come from CKAN (hostile input) and become keys in a
 * Zenodo bucket, so they are sanitised (no separators, control characters, dot-names), kept short,
 * and made unique case-insensitively (two keys differing only in case would collide on
 * case-insensitive file systems of whoever downloads the record). Once assigned, a resource keeps
 * its name across versions (stored in the DB), so a changed file *replaces* its predecessor.
 */

export interface FilenameSource {
  id: string;
  name?: string | null | undefined;
  url?: string | null | undefined;
  format?: string | null | undefined;
  /** True when the file is a DataStore CSV export (the name then ends in .csv). */
  datastoreExport?: boolean;
}

/** Zenodo keys are URL path segments; keep well under common file system limits (255 bytes). */
const MAX_BYTES = 180;
/** Longer "extensions" are part of the name, not a type (`report.2021-final-version-approved`). */
const MAX_EXT_BYTES = 16;
// Unicode letters, marks and digits plus a few safe punctuation characters survive; the rest
// (separators, control and bidi-override characters, quotes, shell and URL metacharacters)
// becomes "_".
const UNSAFE = /[^\p{L}\p{M}\p{N}._()+-]+/gu;
// Names come from CKAN and can be any length (a 60,000-character name once blocked the event
// loop for 36 s): everything below is linear in the input. Regexes anchored only at the end
// (`/[._]+$/`) are not: V8 retries them from every position, so trims are done by hand.
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function isTrimmed(code: number): boolean {
  return code === 0x2e /* . */ || code === 0x5f /* _ */;
}

function trimTrailing(name: string): string {
  let end = name.length;
  while (end > 0 && isTrimmed(name.charCodeAt(end - 1))) end--;
  return name.slice(0, end);
}

/**
 * Code units of a raw name looked at: its start and its end (where the extension is). Plenty for
 * a 180-byte result after runs of unsafe characters collapse, and it bounds String.normalize,
 * which is quadratic in ICU on long runs of combining marks of alternating classes (100,000 of
 * them: 3.4 s).
 */
const INPUT_HEAD = 1024;
const INPUT_TAIL = 1024;

export function sanitiseFilename(input: string): string {
  const raw = input.length <= INPUT_HEAD + INPUT_TAIL ? input : `${input.slice(0, INPUT_HEAD)}_${input.slice(-INPUT_TAIL)}`;
  // Leading dots hide files; a leading combining mark would attach to whatever is shown before
  // the name. A start-anchored regex is tried at position 0 only, so it stays linear.
  const name = trimTrailing(raw.normalize('NFC').replace(UNSAFE, '_').replace(/_+/g, '_').replace(/^[._\p{M}]+/u, ''));
  if (name === '') return '';
  return truncateBytes(name, MAX_BYTES);
}

/**
 * The longest prefix of `text` of at most `max` UTF-8 bytes, cut between graphemes (an emoji
 * sequence or a letter with its accents is not split) when at least one whole grapheme fits, else
 * between code points. Looks at no more than `max` + a few code units of `text`.
 */
function prefixBytes(text: string, max: number): string {
  if (max <= 0) return '';
  // Fast path (Intl.Segmenter costs ~2 µs a grapheme): between two ASCII characters other than
  // CR LF there is always a grapheme boundary.
  let ascii = 0;
  while (ascii < text.length && ascii <= max && text.charCodeAt(ascii) < 0x80) ascii++;
  if (ascii > max || ascii === text.length) {
    const cut = Math.min(max, text.length);
    if (cut === text.length || text.charCodeAt(cut - 1) !== 0x0d || text.charCodeAt(cut) !== 0x0a) return text.slice(0, cut);
  }
  // Every code unit is at least one UTF-8 byte, so nothing beyond `max` code units can fit; the
  // slack makes the grapheme that straddles the limit visible as a whole (it is then left out).
  const window = text.slice(0, max + 8);
  let bytes = 0;
  let out = '';
  for (const { segment } of segmenter.segment(window)) {
    const size = Buffer.byteLength(segment);
    if (bytes + size > max) break;
    bytes += size;
    out += segment;
  }
  if (out !== '' || window === '') return out;
  // The first grapheme alone is too long (a letter with thousands of combining marks).
  for (const codePoint of window) {
    const size = Buffer.byteLength(codePoint);
    if (bytes + size > max) break;
    bytes += size;
    out += codePoint;
  }
  return out;
}

function truncateBytes(name: string, max: number): string {
  if (Buffer.byteLength(name) <= max) return name;
  const { stem, ext } = splitExtension(name);
  const keepExt = Buffer.byteLength(ext) <= MAX_EXT_BYTES ? ext : '';
  const body = keepExt === '' ? name : stem;
  return trimTrailing(prefixBytes(body, max - Buffer.byteLength(keepExt))) + keepExt;
}

/** `name` with `suffix` before its extension, cut so that it fits in MAX_BYTES: suffix and extension survive. */
function withSuffix(name: string, suffix: string): string {
  const { stem, ext } = splitExtension(name);
  const keepExt = Buffer.byteLength(ext) <= MAX_EXT_BYTES ? ext : '';
  const body = keepExt === '' ? name : stem;
  const room = MAX_BYTES - Buffer.byteLength(suffix) - Buffer.byteLength(keepExt);
  return trimTrailing(prefixBytes(body, room)) + suffix + keepExt;
}

export function splitExtension(name: string): { stem: string; ext: string } {
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || dot === name.length - 1) return { stem: name, ext: '' };
  return { stem: name.slice(0, dot), ext: name.slice(dot) };
}

function lastUrlSegment(url: string | null | undefined): string {
  if (!url) return '';
  try {
    const segment = new URL(url).pathname.split('/').filter(Boolean).pop() ?? '';
    return decodeURIComponent(segment);
  } catch {
    return '';
  }
}

// A Map, not an object literal: a CKAN format such as "constructor" must not find Object's members.
const FORMAT_EXTENSIONS = new Map<string, string>(Object.entries({
  csv: '.csv', tsv: '.tsv', json: '.json', geojson: '.geojson', xml: '.xml', xls: '.xls', xlsx: '.xlsx',
  pdf: '.pdf', zip: '.zip', netcdf: '.nc', nc: '.nc', txt: '.txt', shp: '.zip', kml: '.kml', parquet: '.parquet',
  html: '.html', rdf: '.rdf', ods: '.ods', docx: '.docx', doc: '.doc', png: '.png', jpeg: '.jpg', jpg: '.jpg', tiff: '.tif',
}));

/** The name a resource would get on its own, before collisions are resolved. */
export function baseFilename(resource: FilenameSource): string {
  const fromName = sanitiseFilename(resource.name ?? '');
  const fromUrl = sanitiseFilename(lastUrlSegment(resource.url));
  let name = fromName || fromUrl || sanitiseFilename(`resource-${resource.id}`) || 'resource';
  const format = (resource.format ?? '').trim().toLowerCase();
  const wanted = resource.datastoreExport ? '.csv' : (FORMAT_EXTENSIONS.get(format) ?? '');
  const { ext } = splitExtension(name);
  if (wanted && ext.toLowerCase() !== wanted) {
    // The URL often carries the real extension when the resource name is a title ("Bus stops").
    const urlExt = splitExtension(fromUrl).ext.toLowerCase();
    if (!resource.datastoreExport && ext === '' && urlExt !== '' && urlExt !== wanted) name = truncateBytes(name + urlExt, MAX_BYTES);
    else if (resource.datastoreExport || ext === '') name = truncateBytes(name + wanted, MAX_BYTES);
  } else if (!wanted && ext === '') {
    // No format, or one we have no extension for: the URL's extension is the best evidence of
    // the type. data.birmingham.gov.uk (shared/fixtures/ckan-real, "purchase-card-transactions")
    // has uploads with `format: ""` named "Purchase Card transactions - November 2014" whose URL
    // ends in `purchasecardsnov2014.xls`; without this the archived file had no extension at all.
    // Only a plain word counts ("v1.2" is a version, not a type).
    const urlExt = splitExtension(fromUrl).ext;
    if (/^\.[A-Za-z][A-Za-z0-9]{0,9}$/.test(urlExt)) name = truncateBytes(name + urlExt.toLowerCase(), MAX_BYTES);
  }
  return name;
}

/**
 * Assigns every resource a unique filename. Names already stored for a resource are kept (they are
 * what the archived versions use); new resources get their base name, suffixed `-2`, `-3`, … when
 * it collides case-insensitively with a name taken earlier in CKAN's resource order.
 */
export function assignFilenames(resources: readonly FilenameSource[], stored: ReadonlyMap<string, string>): Map<string, string> {
  const taken = new Set<string>();
  const result = new Map<string, string>();
  for (const resource of resources) {
    const kept = stored.get(resource.id);
    if (kept !== undefined && !taken.has(kept.toLowerCase())) {
      taken.add(kept.toLowerCase());
      result.set(resource.id, kept);
    }
  }
  // Next suffix to try per base name: thousands of resources with one name stay linear.
  const nextSuffix = new Map<string, number>();
  for (const resource of resources) {
    if (result.has(resource.id)) continue;
    const base = baseFilename(resource);
    let candidate = base;
    if (taken.has(candidate.toLowerCase())) {
      let n = nextSuffix.get(base.toLowerCase()) ?? 2;
      // The suffix is kept whole however long the stem (cutting it off would give back the base
      // name, which is taken, for every n).
      while (taken.has((candidate = withSuffix(base, `-${n}`)).toLowerCase())) n++;
      nextSuffix.set(base.toLowerCase(), n + 1);
    }
    taken.add(candidate.toLowerCase());
    result.set(resource.id, candidate);
  }
  return result;
}
