/**
 * Deterministic CKAN datasets for scanner tests and the bench (stand-in until the emulator ships
 * its own generator): `taggedShare` of them carry the free tag `zenodo`; timestamps are spread
 * over years with a few exact ties (bulk harvests share a Solr millisecond, reference §3.4).
 */
export interface GeneratedDataset {
  id: string;
  name: string;
  title: string;
  metadata_modified: string;
  private: boolean;
  tags: { name: string }[];
  organization: { id: string; name: string; title: string };
  owner_org: string;
  resources: { id: string; name: string; url: string; format: string; size: number }[];
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

function hex(random: () => number, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += Math.floor(random() * 16).toString(16);
  return out;
}

export function generateDatasets(opts: { count: number; taggedShare: number; seed: number; resourcesPerDataset: number }): GeneratedDataset[] {
  const random = rng(opts.seed);
  const out: GeneratedDataset[] = [];
  const taggedEvery = opts.taggedShare > 0 ? Math.round(1 / opts.taggedShare) : Infinity;
  let t = Date.UTC(2019, 0, 1);
  for (let i = 0; i < opts.count; i++) {
    // Every 40th dataset shares its timestamp with the previous one.
    if (i % 40 !== 0) t += 1000 + Math.floor(random() * 3_600_000);
    const micros = String(Math.floor(random() * 1000)).padStart(3, '0');
    const id = `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-a${hex(random, 3)}-${String(i).padStart(12, '0')}`;
    const org = ['marine-institute', 'met-office', 'unesco'][i % 3] as string;
    out.push({
      id,
      name: `dataset-${i}`,
      title: `Dataset number ${i}`,
      metadata_modified: `${new Date(t).toISOString().slice(0, 23)}${micros}`,
      private: i % 97 === 0 && i % taggedEvery !== 0,
      tags: i % taggedEvery === 0 ? [{ name: 'zenodo' }, { name: 'ocean' }] : [{ name: 'ocean' }],
      organization: { id: `org-${org}`, name: org, title: org },
      owner_org: `org-${org}`,
      resources: Array.from({ length: opts.resourcesPerDataset }, (_, r) => ({
        id: `${id.slice(0, 24)}r${r}${String(i).padStart(11, '0')}`,
        name: `file-${r}.csv`,
        url: `http://files.example/${i}/file-${r}.csv`,
        format: 'CSV',
        size: 1000 + r,
      })),
    });
  }
  return out;
}
