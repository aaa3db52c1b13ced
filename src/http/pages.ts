/**
 * The status pages. Readable without JavaScript; /static/app.js only turns the "Archive now" form
 * into a fetch with the Bearer header. Every dynamic value passes through escapeHtml / safeHref /
 * doiLink (src/http/html.ts).
 */
import { doiLink, escapeHtml, formatBytes, formatDuration, formatTime, layout, safeHref } from './html.js';
import type { DatasetStatus, DatasetView, FileChange, Overview } from './status-data.js';

export interface PageContext {
  ckanUrl: string;
  /** The visitor proved they know the token (cookie): offer "Sign out". */
  signedIn: boolean;
}

function ckanDatasetUrl(ckanUrl: string, nameOrId: string): string | null {
  return safeHref(`${ckanUrl.replace(/\/+$/, '')}/dataset/${encodeURIComponent(nameOrId)}`);
}

function datasetPath(id: string): string {
  return `/datasets/${encodeURIComponent(id)}`;
}

function statusBadge(status: DatasetStatus): string {
  const cls = { ok: 's-ok', queued: 's-queued', syncing: 's-syncing', failed: 's-failed', inactive: 's-inactive', pending: 's-queued' }[status.kind];
  const detail = status.detail === null || status.detail === '' ? '' : ` <span class="muted">${escapeHtml(status.detail)}</span>`;
  return `<span class="badge ${cls}">${escapeHtml(status.label)}</span>${detail}`;
}

function counts(record: Record<string, number>, empty: string): string {
  const entries = Object.entries(record);
  if (entries.length === 0) return `<p class="muted">${escapeHtml(empty)}</p>`;
  return `<dl class="facts">${entries.map(([k, v]) => `<dt>${escapeHtml(k.replaceAll('_', ' '))}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

function changeList(changes: FileChange[]): string {
  if (changes.length === 0) return '<p class="muted">No file changes (metadata only).</p>';
  const verb = { add: 'added', replace: 'replaced', delete: 'removed' };
  return `<ul class="files">${changes
    .map((c) => `<li>${escapeHtml(verb[c.action])}: <span class="mono">${escapeHtml(c.filename)}</span>${c.action === 'delete' ? '' : ` <span class="muted">(${escapeHtml(formatBytes(c.size))})</span>`}</li>`)
    .join('')}</ul>`;
}

export function renderOverview(o: Overview, ctx: PageContext): string {
  const scan = o.lastScan;
  const scanCard = scan
    ? `<dl class="facts">
<dt>Started</dt><dd>${formatTime(scan.startedAt)}</dd>
<dt>Took</dt><dd>${scan.finishedAt ? escapeHtml(formatDuration(scan.finishedAt.getTime() - scan.startedAt.getTime())) : 'still running'}</dd>
<dt>Outcome</dt><dd>${escapeHtml(scan.status)}${scan.kind === 'reconcile' ? ' (reconciliation)' : ''}</dd>
<dt>Datasets seen</dt><dd>${escapeHtml(scan.datasetsSeen)}</dd>
<dt>Selected</dt><dd>${escapeHtml(scan.datasetsSelected)}</dd>
<dt>Syncs queued</dt><dd>${escapeHtml(scan.jobsEnqueued)}</dd>
${o.nextScanAt ? `<dt>Next scan</dt><dd>${formatTime(o.nextScanAt)}</dd>` : ''}
</dl>${scan.error ? `<p class="error">${escapeHtml(scan.error)}</p>` : ''}`
    : `<p class="muted">No scan has run yet.</p>${o.nextScanAt ? `<p>Next scan: ${formatTime(o.nextScanAt)}</p>` : ''}`;

  const failures =
    o.failures.length === 0
      ? '<p class="muted">Nothing needs attention.</p>'
      : o.failures
          .map(
            (f) => `<div class="failure">
<h3><a href="${escapeHtml(datasetPath(f.datasetId))}">${escapeHtml(f.title ?? f.name ?? f.datasetId)}</a></h3>
<p><span class="badge s-failed">${escapeHtml(f.errorCode ?? 'failed')}</span> ${formatTime(f.finishedAt)} — ${escapeHtml(f.summary)}</p>
${f.errorMessage ? `<p class="mono">${escapeHtml(f.errorMessage)}</p>` : ''}
<p><strong>What to do:</strong> ${escapeHtml(f.advice)}</p>
</div>`,
          )
          .join('\n');

  const rows = o.datasets
    .map((d) => {
      const label = d.title ?? d.name ?? d.datasetId;
      const ckan = ckanDatasetUrl(ctx.ckanUrl, d.name ?? d.datasetId);
      return `<tr>
<td><a href="${escapeHtml(datasetPath(d.datasetId))}">${escapeHtml(label)}</a>${ckan ? `<br><a class="muted" href="${ckan}">in CKAN<span class="sr-only"> (${escapeHtml(label)})</span></a>` : ''}</td>
<td>${d.rule === null ? '<span class="muted">—</span>' : escapeHtml(d.rule)}</td>
<td>${doiLink(d.conceptDoi, 'doi-badge')}</td>
<td>${doiLink(d.latestDoi)}${d.latestVersionLabel ? ` <span class="muted">v${escapeHtml(d.latestVersionLabel)}</span>` : ''}<br>${formatTime(d.latestAt)}</td>
<td>${statusBadge(d.status)}</td>
</tr>`;
    })
    .join('\n');

  const body = `
<h1>Archive status</h1>
<div class="cards">
<section class="card" aria-labelledby="h-scan"><h2 id="h-scan">Last scan</h2>${scanCard}</section>
<section class="card" aria-labelledby="h-queue"><h2 id="h-queue">Sync queue</h2>${counts(o.queue, 'Queue empty.')}
${o.openSyncs.length > 0 ? `<p>${escapeHtml(o.openSyncs.length)} sync(s) in progress.</p>` : ''}</section>
<section class="card" aria-labelledby="h-24h"><h2 id="h-24h">Syncs, last 24 h</h2>${counts(o.syncsLast24h, 'No sync finished in the last 24 hours.')}</section>
</div>
<section aria-labelledby="h-fail"><h2 id="h-fail">Failures needing attention</h2>
${failures}
</section>
<section aria-labelledby="h-datasets"><h2 id="h-datasets">Archived datasets</h2>
<form class="search" role="search" method="get" action="/">
<label for="q">Search by title or name</label>
<input type="search" id="q" name="q" value="${escapeHtml(o.query)}" maxlength="200">
<button type="submit">Search</button>
${o.query !== '' ? '<a href="/">Clear</a>' : ''}
</form>
${
  o.datasets.length === 0
    ? `<p class="muted">${o.query !== '' ? 'No linked dataset matches.' : 'No dataset is linked to Zenodo yet.'}</p>`
    : `<table>
<caption>${escapeHtml(o.datasets.length)} linked dataset(s)${o.query !== '' ? ` matching “${escapeHtml(o.query)}”` : ''}${
        o.datasets.length >= o.datasetLimit ? ` (first ${escapeHtml(o.datasetLimit)}; search to narrow)` : ''
      }</caption>
<thead><tr><th scope="col">Dataset</th><th scope="col">Rule</th><th scope="col">Concept DOI</th><th scope="col">Latest version</th><th scope="col">State</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`
}
</section>`;
  return layout({ title: 'Archive status', body, signedIn: ctx.signedIn });
}

/** Fixed messages for the no-JavaScript archive form's redirect (never echo request text). */
export const ARCHIVE_MESSAGES: Record<string, { text: string; ok: boolean }> = {
  queued: { text: 'Sync queued.', ok: true },
  'already-queued': { text: 'A sync of this dataset is already queued.', ok: true },
  denied: { text: 'Wrong token: nothing was queued.', ok: false },
  disabled: { text: 'Archiving from this page is disabled: set [http] token to enable it.', ok: false },
  failed: { text: 'The sync could not be queued; see the daemon log.', ok: false },
};

function formatDetail(detail: unknown): string {
  if (detail === null || detail === undefined) return '';
  let text: string;
  try {
    text = JSON.stringify(detail);
  } catch {
    return '';
  }
  if (text === '{}' || text === '[]') return '';
  return ` <span class="mono muted">${escapeHtml(text.length > 300 ? `${text.slice(0, 300)}…` : text)}</span>`;
}

const KIND_TITLES: Record<string, string> = {
  first_version: 'First version',
  new_version: 'New version',
  metadata_edit: 'Metadata update',
};

export function renderDataset(v: DatasetView, ctx: PageContext & { message: string | undefined }): string {
  const name = v.dataset?.name ?? v.datasetId;
  const title = v.dataset?.title ?? name;
  const ckan = ckanDatasetUrl(ctx.ckanUrl, name);
  const message = ctx.message === undefined ? undefined : ARCHIVE_MESSAGES[ctx.message];

  const facts = `<dl class="facts">
<dt>CKAN</dt><dd>${ckan ? `<a href="${ckan}">${escapeHtml(name)}</a>` : escapeHtml(name)}</dd>
${v.dataset?.organization ? `<dt>Organisation</dt><dd>${escapeHtml(v.dataset.organization)}</dd>` : ''}
<dt>Rule</dt><dd>${v.dataset?.rule ? escapeHtml(v.dataset.rule) : '<span class="muted">none selects it</span>'}</dd>
<dt>Concept DOI</dt><dd>${doiLink(v.link?.conceptDoi, 'doi-badge')}</dd>
<dt>Latest version</dt><dd>${doiLink(v.link?.latestDoi)}${v.link?.latestVersionLabel ? ` <span class="muted">v${escapeHtml(v.link.latestVersionLabel)}</span>` : ''}</dd>
<dt>State</dt><dd>${statusBadge(v.status)}</dd>
</dl>`;

  const timeline =
    v.versions.length === 0
      ? '<p class="muted">No version published yet.</p>'
      : `<ol class="timeline">${v.versions
          .map(
            (ver) => `<li><h3>${ver.versionLabel ? `Version ${escapeHtml(ver.versionLabel)}` : escapeHtml(KIND_TITLES[ver.kind ?? ''] ?? 'Version')} · ${formatTime(ver.at)}</h3>
<p>DOI ${doiLink(ver.doi)}</p>
${ver.license ? `<p>Licence ${escapeHtml(ver.license)}</p>\n` : ''}${changeList(ver.changes)}</li>`,
          )
          .join('\n')}</ol>`;

  const syncs =
    v.syncs.length === 0
      ? '<p class="muted">No sync has run for this dataset.</p>'
      : v.syncs
          .map(
            (s) => `<details${s.state === 'failed' || s === v.syncs[0] ? ' open' : ''}>
<summary>Sync #${escapeHtml(s.id)} · ${escapeHtml(s.state.replaceAll('_', ' '))} · ${formatTime(s.startedAt)} <span class="muted">(${escapeHtml(s.trigger)}${s.kind ? `, ${escapeHtml(s.kind.replaceAll('_', ' '))}` : ''}${s.attempts > 1 ? `, ${escapeHtml(s.attempts)} attempts` : ''})</span></summary>
${
  s.error
    ? `<div class="failure"><p><span class="badge s-failed">${escapeHtml(s.error.code)}</span> ${escapeHtml(s.error.summary)}</p>${
        s.error.message ? `<p class="mono">${escapeHtml(s.error.message)}</p>` : ''
      }<p><strong>What to do:</strong> ${escapeHtml(s.error.advice)}</p></div>`
    : ''
}
${s.license && !s.doi ? `<p>Licence ${escapeHtml(s.license)}</p>` : ''}
${s.steps.length === 0 ? '' : `<ol class="steps">${s.steps.map((st) => `<li>${escapeHtml(st.step)} · ${formatTime(st.at)}${formatDetail(st.detail)}</li>`).join('')}</ol>`}
</details>`,
          )
          .join('\n');

  const mails =
    v.mails.length === 0
      ? '<p class="muted">No mail sent about this dataset.</p>'
      : `<table aria-labelledby="h-mails">
<thead><tr><th scope="col">Recipient</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Sent</th></tr></thead>
<tbody>${v.mails
          .map(
            (m) => `<tr><td class="mono">${escapeHtml(m.recipient)}</td><td>${escapeHtml(m.kind.replaceAll('_', ' '))}</td><td>${escapeHtml(m.status)}${
              m.lastError ? `<br><span class="muted">${escapeHtml(m.lastError)}</span>` : ''
            }</td><td>${formatTime(m.sentAt)}</td></tr>`,
          )
          .join('\n')}</tbody></table>`;

  const archiveAction = `${datasetPath(v.datasetId)}/archive`;
  const archive = `<form method="post" action="${escapeHtml(archiveAction)}" data-sync-url="${escapeHtml(`/api/datasets/${encodeURIComponent(v.datasetId)}/sync`)}" id="archive-form">
<p>Queues a sync now, without waiting for the next scan. Needs the operator token (<code>[http] token</code>).</p>
<label for="archive-token">Operator token</label>
<input type="password" id="archive-token" name="token" autocomplete="current-password" required>
<button type="submit">Archive now</button>
</form>
<div id="archive-status" role="status" aria-live="polite" class="${message ? (message.ok ? 'notice' : 'error') : ''}">${message ? escapeHtml(message.text) : ''}</div>`;

  const body = `
<p><a href="/">← All datasets</a></p>
<h1>${escapeHtml(title)}</h1>
${facts}
<section aria-labelledby="h-archive"><h2 id="h-archive">Archive now</h2>${archive}</section>
<section aria-labelledby="h-versions"><h2 id="h-versions">Version history</h2>${timeline}</section>
<section aria-labelledby="h-syncs"><h2 id="h-syncs">Sync attempts</h2>${syncs}</section>
<section aria-labelledby="h-mails"><h2 id="h-mails">Mails sent</h2>${mails}</section>`;
  return layout({ title, body, script: true, signedIn: ctx.signedIn });
}

export function renderLogin(options: { configured: boolean; failed: boolean; retryAfterSeconds?: number }): string {
  const body = options.configured
    ? `<h1>Sign in</h1>
<p>The status pages of this service are private. Enter the operator token (<code>[http] token</code>) to read them, or set <code>[http] public_status = true</code> to open them to everyone who can reach this address.</p>
${options.failed ? '<p class="error" role="alert">Wrong token.</p>' : ''}
${options.retryAfterSeconds !== undefined ? `<p class="error" role="alert">Too many wrong tokens from your address: try again in ${Math.ceil(options.retryAfterSeconds / 60)} min.</p>` : ''}
<form method="post" action="/login">
<label for="login-token">Operator token</label>
<input type="password" id="login-token" name="token" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`
    : `<h1>Status pages disabled</h1>
<p>The status pages are private and no operator token is configured: set <code>[http] token</code> to enable signing in, or <code>[http] public_status = true</code> to make them public.</p>`;
  return layout({ title: 'Sign in', body });
}

export function renderMessage(title: string, text: string): string {
  return layout({ title, body: `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p><p><a href="/">Back to the overview</a></p>` });
}
