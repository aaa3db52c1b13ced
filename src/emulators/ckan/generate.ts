/**
 * Realistic synthetic CKAN datasets for tests and benchmarks: organizations, tags (a share tagged
 * `zenodo`), extras, 1..n resources of mixed formats and sizes, and timestamps that include
 * "bulk harvest" runs sharing one millisecond (the case that makes `metadata_modified` keyset
 * scans need an `id` tie-breaker, reference ckan-api.md §3.4). Same options = same datasets.
 */
import { seededRandom } from '../faults.js';
import { formatCkanTimestamp } from './timestamps.js';

export interface GenerateOptions {
  count: number;
  /** Share of datasets tagged `zenodo`, in [0, 1]. */
  taggedShare: number;
  seed: number;
  /** Resources per dataset (default 2). */
  resourcesPerDataset?: number;
  /** Share of private datasets (default 0: a private dataset is only archived by a rule that asks for it). */
  privateShare?: number;
  /** Share of datasets with the extra `archive: "true"` (default 0.05). */
  archiveExtraShare?: number;
  /** First `metadata_modified`, ms since the epoch (default 2021-01-01T00:00:00Z). */
  startMs?: number;
  /** URL that link (non-upload) resources point to (default `http://files.example.org`). */
  linkBase?: string;
}

export interface GeneratedTag {
  id: string;
  name: string;
  display_name: string;
  state: 'active';
  vocabulary_id: null;
}

export interface GeneratedResource {
  id: string;
  package_id: string;
  name: string;
  description: string;
  format: string;
  mimetype: string | null;
  url: string;
  url_type: 'upload' | null;
  size: number | null;
  hash: string;
  created: string;
  last_modified: string | null;
  metadata_modified: string;
  position: number;
  state: 'active';
  datastore_active: boolean;
  resource_type: null;
  [key: string]: unknown;
}

export interface GeneratedDataset {
  id: string;
  name: string;
  title: string;
  notes: string;
  type: 'dataset';
  state: 'active';
  private: boolean;
  license_id: string;
  license_title: string;
  author: string;
  author_email: string;
  maintainer: string;
  maintainer_email: string;
  creator_user_id: string;
  owner_org: string;
  organization: { id: string; name: string; title: string; type: 'organization'; description: string; image_url: string; created: string; is_organization: true; approval_status: 'approved'; state: 'active' };
  metadata_created: string;
  metadata_modified: string;
  url: string;
  version: string;
  isopen: boolean;
  tags: GeneratedTag[];
  extras: { key: string; value: string }[];
  groups: { id: string; name: string; title: string; display_name: string; description: string; image_display_url: string }[];
  resources: GeneratedResource[];
  num_resources: number;
  num_tags: number;
  relationships_as_object: [];
  relationships_as_subject: [];
  [key: string]: unknown;
}

const ORGS = [
  ['marine-institute', 'Marine Institute'],
  ['met-office', 'Met Office'],
  ['city-transport', 'City Transport Authority'],
  ['national-statistics', 'National Statistics Office'],
  ['geo-survey', 'Geological Survey'],
  ['health-agency', 'Public Health Agency'],
  ['university-data-lab', 'University Data Lab'],
  ['environment-ministry', 'Ministry of the Environment'],
] as const;
const TOPICS = ['ocean', 'climate', 'temperature', 'salinity', 'census', 'transport', 'AIR QUALITY', 'health', 'geology', 'Ελλάδα', 'budget', 'rainfall'];
const GROUPS = ['climate', 'oceans', 'health', 'economy'];
const LICENSES = [['cc-by', 'Creative Commons Attribution'], ['cc-by-sa', 'Creative Commons Attribution Share-Alike'], ['odc-odbl', 'Open Data Commons Open Database License (ODbL)'], ['cc-zero', 'Creative Commons CCZero'], ['other-open', 'Other (Open)']] as const;
const FORMATS = [['CSV', 'text/csv', 'csv'], ['JSON', 'application/json', 'json'], ['NetCDF', 'application/x-netcdf', 'nc'], ['XLSX', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'xlsx'], ['PDF', 'application/pdf', 'pdf'], ['ZIP', 'application/zip', 'zip'], ['GeoJSON', 'application/geo+json', 'geojson']] as const;
const SUBJECTS = ['Sea surface temperature', 'Bus punctuality', 'Hourly rainfall', 'Household survey', 'Borehole logs', 'Air quality readings', 'Hospital admissions', 'Budget outturn', 'Tide gauge levels', 'Bird counts'];
const PLACES = ['Galway', 'Dublin bay', 'the North Atlantic', 'Zürich', 'Athens', 'Kraków', 'the Alps', 'Nairobi', 'Osaka'];

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)]!;
}

function uuid(random: () => number): string {
  const word = (): string => Math.floor(random() * 0x100000000).toString(16).padStart(8, '0');
  const a = word();
  const b = word();
  const c = word();
  const d = word();
  return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-${'89ab'[Math.floor(random() * 4)]!}${c.slice(1, 4)}-${c.slice(4)}${d}`;
}

export function generateDatasets(options: GenerateOptions): GeneratedDataset[] {
  const random = seededRandom(options.seed);
  const perDataset = options.resourcesPerDataset ?? 2;
  const privateShare = options.privateShare ?? 0;
  const archiveShare = options.archiveExtraShare ?? 0.05;
  const linkBase = (options.linkBase ?? 'http://files.example.org').replace(/\/+$/, '');
  const orgs = ORGS.map(([name, title]) => ({
    id: uuid(random), name, title, type: 'organization' as const, description: `${title}: open data.`, image_url: '',
    created: '2019-03-01T09:00:00', is_organization: true as const, approval_status: 'approved' as const, state: 'active' as const,
  }));
  const creators = Array.from({ length: 5 }, () => uuid(random));
  let clockMs = options.startMs ?? Date.UTC(2021, 0, 1);
  let harvestLeft = 0;
  let micros = 0;
  const out: GeneratedDataset[] = [];
  for (let i = 0; i < options.count; i++) {
    // Mostly spread out; sometimes a harvest run where many datasets share one millisecond.
    if (harvestLeft > 0) {
      harvestLeft--;
      micros = Math.min(999, micros + 1 + Math.floor(random() * 3));
    } else {
      clockMs += 1000 + Math.floor(random() * 120_000);
      micros = Math.floor(random() * 1000);
      if (random() < 0.02) harvestLeft = 5 + Math.floor(random() * 30);
    }
    const modified = formatCkanTimestamp(clockMs * 1000 + micros);
    const created = formatCkanTimestamp((clockMs - 86_400_000 * (1 + Math.floor(random() * 300))) * 1000 + Math.floor(random() * 1_000_000) % 1000);
    const id = uuid(random);
    const org = pick(random, orgs);
    const subject = pick(random, SUBJECTS);
    const place = pick(random, PLACES);
    const name = `${subject}-${place}-${i}`.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 100);
    const tagNames = new Set<string>();
    if (random() < options.taggedShare) tagNames.add('zenodo');
    const extraTags = Math.floor(random() * 4);
    for (let t = 0; t < extraTags; t++) tagNames.add(pick(random, TOPICS));
    const tags = [...tagNames].sort().map((n) => ({ id: uuid(random), name: n, display_name: n, state: 'active' as const, vocabulary_id: null }));
    const extras: { key: string; value: string }[] = [];
    if (random() < archiveShare) extras.push({ key: 'archive', value: 'true' });
    if (random() < 0.3) extras.push({ key: 'spatial', value: JSON.stringify({ type: 'Point', coordinates: [Math.round(random() * 360 - 180), Math.round(random() * 180 - 90)] }) });
    if (random() < 0.2) extras.push({ key: 'update_frequency', value: pick(random, ['daily', 'monthly', 'yearly']) });
    extras.sort((a, b) => (a.key < b.key ? -1 : 1));
    const resources: GeneratedResource[] = [];
    for (let r = 0; r < perDataset; r++) {
      const [format, mimetype, ext] = pick(random, FORMATS);
      const rid = uuid(random);
      const upload = random() < 0.85;
      const file = `${name.slice(0, 40)}-${r + 1}.${ext}`;
      resources.push({
        id: rid, package_id: id, name: `${subject} ${r + 1} (${format})`, description: `${subject} for ${place}, part ${r + 1}.`,
        format, mimetype: upload ? mimetype : null,
        url: upload ? `http://ckan.example.org/dataset/${id}/resource/${rid}/download/${file}` : `${linkBase}/${id}/${file}`,
        url_type: upload ? 'upload' : null,
        size: upload && random() < 0.95 ? 1024 + Math.floor(random() * 2 * 1024 * 1024) : null,
        hash: '', created: modified, last_modified: upload ? modified : null, metadata_modified: modified, position: r, state: 'active',
        datastore_active: upload && format === 'CSV' && random() < 0.5, resource_type: null,
      });
    }
    const [licenseId, licenseTitle] = pick(random, LICENSES);
    const person = pick(random, ['Ada Byrne', 'Nikos Papadopoulos', 'Yuki Tanaka', 'Grace Otieno', 'Jan Nowak']);
    const group = random() < 0.4 ? [pick(random, GROUPS)] : [];
    out.push({
      id, name, title: `${subject} — ${place} (${2000 + (i % 25)})`, notes: `${subject} collected in ${place}.\n\nSee the **resources** for details.`,
      type: 'dataset', state: 'active', private: random() < privateShare, license_id: licenseId, license_title: licenseTitle,
      author: person, author_email: `${person.split(' ')[0]!.toLowerCase()}@example.org`, maintainer: org.title, maintainer_email: `data@${org.name}.example.org`,
      creator_user_id: pick(random, creators), owner_org: org.id, organization: org, metadata_created: created, metadata_modified: modified,
      url: '', version: '1.0', isopen: true, tags, extras,
      groups: group.map((g) => ({ id: g, name: g, title: g, display_name: g, description: '', image_display_url: '' })),
      resources, num_resources: resources.length, num_tags: tags.length, relationships_as_object: [], relationships_as_subject: [],
    });
  }
  return out;
}
