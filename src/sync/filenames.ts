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
// Unicode letters, marks and digits plus a few safe punctuation characters survive; the rest
// (separators, control characters, quotes, shell and URL metacharacters) becomes "_".
const UNSAFE = /[^\p{L}\p{M}\p{N}._()+-]+/gu;

export function sanitiseFilename(raw: string): string {
  let name = raw.normalize('NFC').replace(UNSAFE, '_');
  name = name.replace(/_+/g, '_').replace(/^[._]+/, '').replace(/[._]+$/, '');
  if (name === '') return '';
  return truncateBytes(name, MAX_BYTES);
}

function truncateBytes(name: string, max: number): string {
  if (Buffer.byteLength(name) <= max) return name;
  const { stem, ext } = splitExtension(name);
  const keepExt = Buffer.byteLength(ext) <= 16 ? ext : '';
  let cut = stem;
  while (Buffer.byteLength(cut + keepExt) > max) cut = Array.from(cut).slice(0, -1).join('');
  return cut.replace(/[._]+$/, '') + keepExt;
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

const FORMAT_EXTENSIONS: Record<string, string> = {
  csv: '.csv', tsv: '.tsv', json: '.json', geojson: '.geojson', xml: '.xml', xls: '.xls', xlsx: '.xlsx',
  pdf: '.pdf', zip: '.zip', netcdf: '.nc', nc: '.nc', txt: '.txt', shp: '.zip', kml: '.kml', parquet: '.parquet',
  html: '.html', rdf: '.rdf', ods: '.ods', docx: '.docx', doc: '.doc', png: '.png', jpeg: '.jpg', jpg: '.jpg', tiff: '.tif',
};

/** The name a resource would get on its own, before collisions are resolved. */
export function baseFilename(resource: FilenameSource): string {
  const fromName = sanitiseFilename(resource.name ?? '');
  const fromUrl = sanitiseFilename(lastUrlSegment(resource.url));
  let name = fromName || fromUrl || sanitiseFilename(`resource-${resource.id}`) || 'resource';
  const format = (resource.format ?? '').trim().toLowerCase();
  const wanted = resource.datastoreExport ? '.csv' : (FORMAT_EXTENSIONS[format] ?? '');
  const { ext } = splitExtension(name);
  if (wanted && ext.toLowerCase() !== wanted) {
    // The URL often carries the real extension when the resource name is a title ("Bus stops").
    const urlExt = splitExtension(fromUrl).ext.toLowerCase();
    if (!resource.datastoreExport && ext === '' && urlExt !== '' && urlExt !== wanted) name += urlExt;
    else if (resource.datastoreExport || ext === '') name = truncateBytes(name + wanted, MAX_BYTES);
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
  for (const resource of resources) {
    if (result.has(resource.id)) continue;
    const base = baseFilename(resource);
    let candidate = base;
    for (let n = 2; taken.has(candidate.toLowerCase()); n++) {
      const { stem, ext } = splitExtension(base);
      candidate = truncateBytes(`${stem}-${n}`, MAX_BYTES - Buffer.byteLength(ext)) + ext;
    }
    taken.add(candidate.toLowerCase());
    result.set(resource.id, candidate);
  }
  return result;
}
