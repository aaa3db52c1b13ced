/**
 * What dataset owners write in the CKAN extra that links a dataset to Zenodo: a record id, a DOI
 * (`10.5281/zenodo.N`, also sandbox `10.5072/zenodo.N`, with or without https://doi.org/), or a
 * record URL (`https://zenodo.org/records/N`, `/record/N`, `/deposit/N`, `/doi/…`).
 */
export interface ZenodoReference {
  /** A Zenodo record id (a version or a concept), as a string of digits. */
  id: string;
}

export function parseZenodoReference(raw: string): ZenodoReference | undefined {
  const value = raw.trim();
  if (/^\d{1,12}$/.test(value)) return { id: value };
  const doi = /^(?:https?:\/\/(?:dx\.)?doi\.org\/|doi:)?10\.(?:5281|5072)\/zenodo\.(\d{1,12})$/i.exec(value);
  if (doi) return { id: doi[1]! };
  const url = /^https?:\/\/(?:sandbox\.)?zenodo\.org\/(?:records?|deposit|uploads)\/(\d{1,12})(?:[/?#].*)?$/i.exec(value);
  if (url) return { id: url[1]! };
  return undefined;
}
