/**
 * Server-rendered HTML for the status pages. Everything that comes from CKAN (titles, names,
 * organisations), from Zenodo or from error messages is hostile text: it goes through the one
 * `escapeHtml` below, always inside double-quoted attributes or element content, and links are
 * built only through `safeHref` (http/https only). A title such as `<script>…` renders as text.
 */

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes text for element content and for (double- or single-quoted) attribute values. */
export function escapeHtml(value: string | number | boolean | null | undefined): string {
  const text = value === null || value === undefined ? '' : String(value);
  return text.replace(/[&<>"'`]/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** A URL safe to put in href: absolute http(s) only (no javascript:, data:, relative tricks), escaped. */
export function safeHref(url: string | null | undefined): string | null {
  if (url === null || url === undefined) return null;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return null;
    return escapeHtml(parsed.href);
  } catch {
    return null;
  }
}

/** `10.5281/zenodo.1` from `doi:10.5281/…`, `https://doi.org/10.5281/…` or the bare DOI; null if it is none. */
export function bareDoi(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim().replace(/^(?:doi:|https?:\/\/(?:dx\.)?doi\.org\/)/i, '');
  return /^10\.\d{4,9}\/\S+$/.test(trimmed) ? trimmed : null;
}

export function doiUrl(doi: string): string {
  return `https://doi.org/${doi.split('/').map(encodeURIComponent).join('/')}`;
}

/** A DOI as a link to its resolver, or its escaped text when it does not look like a DOI. */
export function doiLink(value: string | null | undefined, className = 'doi'): string {
  if (value === null || value === undefined || value === '') return '<span class="muted">—</span>';
  const doi = bareDoi(value);
  if (doi === null) return escapeHtml(value);
  return `<a class="${className}" href="${safeHref(doiUrl(doi)) ?? ''}">${escapeHtml(doi)}</a>`;
}

export function formatTime(date: Date | null | undefined): string {
  if (!date) return '<span class="muted">—</span>';
  const iso = date.toISOString();
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(`${iso.slice(0, 16).replace('T', ' ')} UTC`)}</time>`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return 'size unknown';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${units[unit] ?? 'B'}`;
}

// Colours chosen for ≥ 4.5:1 contrast against their backgrounds (text #1b1f24 on #fff is 16:1;
// links #0b57d0 on #fff 6.6:1; badge texts on their tints ≥ 5.9:1; muted #555 on #fff 7.4:1).
const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;background:#fff}
header,main,footer{max-width:72rem;margin:0 auto;padding:0 1rem}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:1rem;border-bottom:1px solid #d0d7de;padding-top:.75rem;padding-bottom:.75rem}
header .brand{font-weight:700;font-size:1.1rem;color:#1b1f24;text-decoration:none}
nav ul{list-style:none;display:flex;gap:1rem;margin:0;padding:0}
a{color:#0b57d0}
a:focus-visible,button:focus-visible,input:focus-visible,summary:focus-visible{outline:3px solid #b3261e;outline-offset:2px}
.skip{position:absolute;left:-999px}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.skip:focus{left:1rem;top:.5rem;background:#fff;padding:.25rem .5rem;z-index:1}
h1{font-size:1.6rem;margin:1rem 0 .5rem}
h2{font-size:1.25rem;margin:1.5rem 0 .5rem}
h3{font-size:1.05rem;margin:1rem 0 .25rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:.75rem}
.card{border:1px solid #d0d7de;border-radius:6px;padding:.75rem}
.card h2{margin-top:0;font-size:1.05rem}
dl.facts{display:grid;grid-template-columns:auto 1fr;gap:.1rem .75rem;margin:0}
dl.facts dt{color:#555}
dl.facts dd{margin:0}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{text-align:left;vertical-align:top;padding:.4rem .5rem;border-bottom:1px solid #d0d7de}
th{background:#f3f5f7}
.muted{color:#555}
.badge{display:inline-block;border-radius:4px;padding:0 .4rem;font-size:.9rem;font-weight:600;white-space:nowrap}
.s-ok{background:#dcf5e3;color:#0f5323}
.s-queued{background:#e6effc;color:#0b3d91}
.s-syncing{background:#fff1c2;color:#5c4300}
.s-failed{background:#fde4e2;color:#8c1d18}
.s-inactive{background:#eceff1;color:#37474f}
a.doi{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9rem}
a.doi-badge{display:inline-block;border-radius:4px;background:#0b57d0;color:#fff;padding:0 .4rem;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem;text-decoration:none}
a.doi-badge:hover{text-decoration:underline}
form.search{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap;margin:.5rem 0}
input[type=search],input[type=password]{font:inherit;padding:.3rem .5rem;border:1px solid #6e7781;border-radius:4px;min-width:16rem}
button{font:inherit;padding:.3rem .9rem;border:1px solid #0b57d0;border-radius:4px;background:#0b57d0;color:#fff;cursor:pointer}
button:hover{background:#0842a0}
.failure{border-left:4px solid #b3261e;padding:.25rem .75rem;margin:.5rem 0;background:#fff8f7}
.notice{border:1px solid #0b57d0;background:#f0f5ff;padding:.5rem .75rem;border-radius:4px}
.error{border:1px solid #b3261e;background:#fff8f7;padding:.5rem .75rem;border-radius:4px}
ol.timeline{list-style:none;padding:0;margin:0;border-left:3px solid #0b57d0}
ol.timeline>li{position:relative;margin:0 0 1rem 0;padding-left:1rem}
ol.timeline>li::before{content:"";position:absolute;left:-.55rem;top:.4rem;width:.8rem;height:.8rem;border-radius:50%;background:#0b57d0}
ul.files{margin:.25rem 0;padding-left:1.25rem}
ol.steps{margin:.25rem 0;padding-left:1.5rem;font-size:.95rem}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9rem;overflow-wrap:anywhere}
footer{border-top:1px solid #d0d7de;margin-top:2rem;padding-top:.5rem;padding-bottom:1rem;color:#555;font-size:.9rem}
[aria-live]:empty{display:none}
`;

export interface LayoutOptions {
  title: string;
  body: string;
  /** Include /static/app.js (only pages with the "Archive now" button need it). */
  script?: boolean;
  signedIn?: boolean;
}

export function layout(options: LayoutOptions): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${escapeHtml(options.title)} · ckan-zenodo-sync</title>
<style>${STYLE}</style>
${options.script ? '<script src="/static/app.js" defer></script>' : ''}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
<a class="brand" href="/">ckan-zenodo-sync</a>
<nav aria-label="Main"><ul><li><a href="/">Overview</a></li><li><a href="/api/status">JSON</a></li><li><a href="/metrics">Metrics</a></li>${
    options.signedIn ? '<li><form method="post" action="/logout"><button type="submit">Sign out</button></form></li>' : ''
  }</ul></nav>
</header>
<main id="main">
${options.body}
</main>
<footer>Read-only status of the CKAN → Zenodo archive. Times are UTC.</footer>
</body>
</html>
`;
}
