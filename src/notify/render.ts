/**
 * Mail rendering (pure apart from reading template files): the outbox payload plus logic-less
 * mustache templates give a subject, a text part and an HTML part. Templates live in
 * `templates/mail` at the package root; `[mail] templates` names a folder whose files (same names)
 * replace the defaults one by one. HTML templates escape every value (mustache's default); the
 * text templates are rendered without escaping.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mustache from 'mustache';
import { AppError } from '../errors.js';
import { clip, outboxPayloadSchema, type Audience, type MailKind, type ParsedOutboxPayload } from './payload.js';

export type { OutboxPayload } from './payload.js';

/** The folder with the templates shipped with the package (src/notify → ../../templates/mail, same from dist/notify). */
export const defaultTemplatesDir = fileURLToPath(new URL('../../templates/mail', import.meta.url));

/** Template files by name (`new_version.subject`, `_dois.html`, ...), without `.mustache`. */
export type TemplateSet = Readonly<Record<string, string>>;

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export interface RenderOptions {
  audience: Audience;
  /** Folder overriding default templates by file name. */
  templatesDir?: string;
  /** Pre-loaded templates (see loadTemplates); avoids reading files for every mail. */
  templates?: TemplateSet;
}

function readTemplateDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.mustache')) continue;
    out[file.slice(0, -'.mustache'.length)] = readFileSync(join(dir, file), 'utf8');
  }
  return out;
}

/**
 * Reads the default templates, then the operator's folder on top. Every template is parsed
 * here, so a broken override is reported once, at load time, with its file name.
 */
export function loadTemplates(templatesDir?: string): TemplateSet {
  const set = readTemplateDir(defaultTemplatesDir);
  if (templatesDir !== undefined) {
    let overrides: Record<string, string>;
    try {
      overrides = readTemplateDir(templatesDir);
    } catch (error) {
      throw new AppError('CONFIG_INVALID', `[mail] templates: cannot read ${templatesDir}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    for (const [name, body] of Object.entries(overrides)) {
      try {
        mustache.parse(body);
      } catch (error) {
        throw new AppError('CONFIG_INVALID', `[mail] templates: ${join(templatesDir, `${name}.mustache`)} is not a valid mustache template: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
      set[name] = body;
    }
  }
  return set;
}

// --- text helpers ------------------------------------------------------------------------------

const CONTROL_OR_BREAK = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/gu;

/**
 * Makes a value safe for one header line: control characters (CR, LF, TAB, NUL...) and Unicode
 * line separators become a space, runs of spaces collapse. Letters of any script are kept.
 */
export function oneLine(value: string): string {
  return value.replace(CONTROL_OR_BREAK, ' ').replace(/\s+/gu, ' ').trim();
}

/** Truncates to `max` user-perceived characters (never splits an emoji, surrogate pair or accent). */
export function truncateGraphemes(value: string, max: number): string {
  return clip(value, max);
}

const SUBJECT_TITLE_MAX = 80;
const SUBJECT_MAX = 200;
/**
 * Limits of what a dataset (or a remote server) puts in a mail body. A title of 100,000
 * characters is an attack or an accident, not something an owner needs to read in full; the
 * mail must still go out with its DOIs.
 */
export const BODY_LIMITS = { title: 500, name: 200, item: 300, message: 4000, list: 200 } as const;

/** One line, cut to `max`: cutting after oneLine, so collapsed blanks do not count. */
function line(value: string, max: number): string {
  return clip(oneLine(clip(value, max * 4)), max);
}

/** A list of one-line items, at most BODY_LIMITS.list of them, then "… and N more". */
function lines(list: readonly string[], max: number = BODY_LIMITS.item): string[] {
  const items = list.slice(0, BODY_LIMITS.list + 1).map((v) => line(v, max)).filter((s) => s !== '');
  if (list.length <= BODY_LIMITS.list) return items;
  return [...items.slice(0, BODY_LIMITS.list), `… and ${list.length - BODY_LIMITS.list} more`];
}

/** `10.5281/zenodo.1`, `doi:10.5281/...` or `https://doi.org/10.5281/...` → bare DOI. */
function bareDoi(value: string | null): string | null {
  if (value === null) return null;
  const trimmed = oneLine(value).replace(/^doi:\s*/iu, '').replace(/^https?:\/\/(dx\.)?doi\.org\//iu, '');
  return trimmed === '' ? null : trimmed;
}

function doiUrl(doi: string): string {
  return `https://doi.org/${doi.split('/').map((part) => encodeURIComponent(part)).join('/')}`;
}

/** Only http(s) URLs become links (a hostile `javascript:` value stays out of href attributes). */
function safeUrl(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const trimmed = oneLine(value);
  try {
    const url = new URL(trimmed);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

// --- failures in an owner's words ----------------------------------------------------------------

interface FailureText {
  /** What failed, for someone who does not know the system. */
  summary: string;
  /** One sentence: what they can do. */
  advice: string;
}

/**
 * One advice sentence per permanent error code (DESIGN.md: permanent errors stop the sync "with an
 * actionable message to the owner and the admin"). `linkExtra` and `datasetName` make the
 * DATASET_UNMAPPED / LINK_CONFLICT advice concrete.
 */
export function describeFailure(code: string, context: { linkExtra?: string; datasetName?: string } = {}): FailureText {
  const extra = context.linkExtra ?? 'zenodo_doi';
  const name = context.datasetName ?? '<dataset>';
  switch (code) {
    case 'ZENODO_FORBIDDEN':
      return {
        summary: "Zenodo refused to let the archive account change this dataset's Zenodo record.",
        advice: "Share the Zenodo record with the archive account (on Zenodo, give it edit rights on the record), or ask the record's owner to do so; the next change to the dataset will then be archived.",
      };
    case 'FILE_TOO_LARGE':
      return {
        summary: 'A file of the dataset is too large for Zenodo.',
        advice: "The file is larger than Zenodo's 50 GB limit (which also applies to all files of a record together): split it into smaller files, or exclude it from archiving in the rule's resource settings.",
      };
    case 'TOO_MANY_FILES':
      return {
        summary: 'The dataset has more files than Zenodo accepts in one record.',
        advice: "Zenodo accepts at most 100 files per record: bundle files into a ZIP archive, or limit the archived formats in the rule's resource settings.",
      };
    case 'ZENODO_VALIDATION':
      return {
        summary: "Zenodo rejected the dataset's description (its metadata).",
        advice: 'Correct the fields Zenodo complained about (listed above, when Zenodo named them) in the CKAN dataset; saving the dataset starts a new attempt.',
      };
    case 'DATASET_UNMAPPED':
      return {
        summary: 'The dataset is not linked to a Zenodo record, and the archiving rule does not allow creating one.',
        advice: `To link it, add the extra "${extra}" to the dataset with the DOI of its Zenodo record (for example 10.5281/zenodo.123456), or ask the administrator to run \`ckan-zenodo-sync link ${name} <DOI>\`.`,
      };
    case 'LINK_CONFLICT':
      return {
        summary: 'The dataset names a different Zenodo record than the one it is archived in.',
        advice: `Correct the extra "${extra}" so that it names this dataset's own Zenodo record, or, if the dataset should move to the other record, ask the administrator to run \`ckan-zenodo-sync link ${name} <DOI>\`.`,
      };
    case 'ZENODO_AUTH':
      return {
        summary: 'Zenodo did not accept the access token of the archive service.',
        advice: "Nothing needs to change in the dataset: the administrator must renew the Zenodo token ([zenodo] token, with the deposit:write and deposit:actions scopes), after which archiving resumes.",
      };
    case 'CKAN_AUTH':
      return {
        summary: 'CKAN did not accept the API token of the archive service.',
        advice: 'Nothing needs to change in the dataset: the administrator must renew the CKAN API token ([ckan] api_token) of the archive service, after which archiving resumes.',
      };
    case 'DOWNLOAD_REFUSED':
    case 'SSRF_REFUSED':
      return {
        summary: 'A file of the dataset points to an address the archive service is not allowed to download from.',
        advice: 'For security, files are only downloaded from public web addresses: upload the file to CKAN or link it from a public http(s) address, or ask the administrator to allow that host ([sync] allowed download hosts).',
      };
    case 'DOWNLOAD_FAILED':
      return {
        summary: 'A file of the dataset could not be downloaded.',
        advice: 'Check that every resource link of the dataset works and returns the file itself (not a login page or an error page), then save the dataset to start a new attempt.',
      };
    case 'ZENODO_LIMIT_EXCEEDED':
      return {
        summary: 'Zenodo refused the upload because the record reached one of its limits (storage quota or number of files).',
        advice: "Reduce the files archived in the rule's resource settings, or request a quota increase for the record from Zenodo support, then save the dataset to start a new attempt.",
      };
    case 'LICENSE_UNKNOWN':
      return {
        summary: 'The dataset was not archived because its licence is missing or has no exact equivalent on Zenodo, and a published record keeps its licence for good.',
        advice: 'Edit the dataset in CKAN and choose its licence (for example "Creative Commons Attribution"); saving the dataset starts a new attempt. If all datasets of this kind share one licence, the administrator can set it in the archiving rule instead.',
      };
    case 'CREATORS_UNKNOWN':
      return {
        summary: 'The dataset was not archived because it names nobody who could be listed as its creator on Zenodo.',
        advice: 'Edit the dataset in CKAN and fill in the author (several people as "Family, Given; Family, Given"), or give it an organization; saving the dataset starts a new attempt.',
      };
    case 'METADATA_OVERRIDE_INVALID':
      return {
        summary: "The dataset's Zenodo metadata override (a CKAN extra) is not valid, so nothing was published.",
        advice: 'Correct the fields listed above in the extra, or remove the extra; saving the dataset starts a new attempt.',
      };
    case 'ZENODO_EMPTY_FILE':
      return {
        summary: 'A file of the dataset is empty (0 bytes), and Zenodo does not accept empty files.',
        advice: 'Upload the content of the empty resource, or remove the resource from the dataset; saving the dataset starts a new attempt.',
      };
    case 'NO_FILES':
      return {
        summary: 'The dataset has no file that the archiving rule selects.',
        advice: "Add a resource with a downloadable file, or check the formats allowed by the rule's resource settings.",
      };
    case 'ZENODO_NOT_FOUND':
      return {
        summary: 'The Zenodo record linked to this dataset cannot be found, or the archive account cannot see it.',
        advice: `Check that the record named by the extra "${extra}" exists and is shared with the archive account, or correct the extra.`,
      };
    case 'INTERNAL':
      return {
        summary: 'An unexpected error stopped the archiving.',
        advice: 'This is not caused by your dataset: the administrator has been told and will look into it.',
      };
    default:
      return {
        summary: 'The archiving stopped with an error.',
        advice: 'The administrator has been told; if the problem persists, contact them with the details below.',
      };
  }
}

const kindNames: Record<string, string> = {
  first_version: 'first archive',
  new_version: 'new version',
  metadata_edit: 'metadata update',
  failure: 'archiving failure',
  delivery_failed: 'delivery failure',
};

// --- the view ----------------------------------------------------------------------------------

function buildView(kind: MailKind, p: ParsedOutboxPayload, audience: Audience): Record<string, unknown> {
  const title = line(p.dataset.title, BODY_LIMITS.title) || line(p.dataset.name, BODY_LIMITS.title) || line(p.dataset.id, BODY_LIMITS.name);
  const doi = bareDoi(p.version?.doi ?? null);
  const conceptDoi = bareDoi(p.version?.conceptDoi ?? null);
  const changes = p.changes ?? { added: [], replaced: [], removed: [] };
  const added = lines(changes.added);
  const replaced = lines(changes.replaced);
  const removed = lines(changes.removed);
  const datasetName = line(p.dataset.name, BODY_LIMITS.name);
  const context = { ...(p.linkExtra === undefined ? {} : { linkExtra: line(p.linkExtra, BODY_LIMITS.name) }), datasetName };
  const failure = p.error ? describeFailure(p.error.code, context) : undefined;
  const warnings = lines(p.warnings ?? [], BODY_LIMITS.message);
  const isAdmin = audience === 'admin';
  return {
    title,
    subjectTitle: truncateGraphemes(title, SUBJECT_TITLE_MAX),
    datasetName,
    datasetId: line(p.dataset.id, BODY_LIMITS.name),
    datasetUrl: safeUrl(p.dataset.url),
    rule: p.rule === null ? null : line(p.rule, BODY_LIMITS.name),
    syncId: p.syncId === null ? null : String(p.syncId),
    isAdmin,
    isOwner: !isAdmin,
    reason: isAdmin || p.noOwnerAddress ? 'you are the administrator of this archive service ([mail] admin)' : 'you are listed as an owner or contact of the dataset',
    noOwnerAddress: p.noOwnerAddress,
    showWarnings: (isAdmin || p.noOwnerAddress) && warnings.length > 0,
    warnings,
    version: p.version
      ? {
          doi,
          doiUrl: doi === null ? null : doiUrl(doi),
          conceptDoi,
          conceptDoiUrl: conceptDoi === null ? null : doiUrl(conceptDoi),
          recordUrl: safeUrl(p.version.recordUrl),
          label: p.version.label === null ? null : line(p.version.label, BODY_LIMITS.name) || null,
        }
      : null,
    doi,
    skipped: (p.skipped ?? []).map((s) => ({ name: oneLine(s.name), reason: oneLine(s.reason) })),
    hasSkipped: (p.skipped ?? []).length > 0,
    license: p.license === undefined ? null : oneLine(p.license),
    notes: (p.notes ?? []).map(oneLine),
    hasNotes: (p.notes ?? []).length > 0,
    hasFileChanges: added.length + replaced.length + removed.length > 0,
    added,
    replaced,
    removed,
    hasAdded: added.length > 0,
    hasReplaced: replaced.length > 0,
    hasRemoved: removed.length > 0,
    error: p.error
      ? {
          code: line(p.error.code, BODY_LIMITS.name),
          message: clip(p.error.message.trim(), BODY_LIMITS.message),
          summary: failure?.summary,
          advice: p.error.advice === undefined ? failure?.advice : clip(p.error.advice, BODY_LIMITS.message),
          fieldErrors: (p.error.fieldErrors ?? []).slice(0, BODY_LIMITS.list).map((f) => ({ field: line(f.field, BODY_LIMITS.name), message: line(f.message, BODY_LIMITS.item) })),
          hasFieldErrors: (p.error.fieldErrors ?? []).length > 0,
        }
      : null,
    delivery: p.delivery
      ? {
          ...p.delivery,
          recipient: line(p.delivery.recipient, BODY_LIMITS.item),
          kindName: kindNames[p.delivery.kind] ?? line(p.delivery.kind, BODY_LIMITS.name),
          error: line(p.delivery.error, BODY_LIMITS.message),
        }
      : null,
    kind,
  };
}

const identity = (value: unknown): string => String(value);

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/**
 * HTML escaping for our templates, whose attributes are always quoted: the five characters that
 * matter there. (mustache's default also encodes `/` and `=`, which turns every link into
 * `https:&#x2F;&#x2F;...`: valid, but it breaks plain-text link detection in some clients.)
 */
const escapeHtml = (value: unknown): string => String(value).replace(/[&<>"']/gu, (c) => HTML_ESCAPES[c] ?? c);

/**
 * Renders one mail from an `OutboxPayload` (typed `unknown` because it usually comes back from
 * the database as JSON and is validated here). `kind` picks the templates `<kind>.subject`, `<kind>.text`, `<kind>.html`;
 * the payload is validated first (it comes back from the database as JSON). The subject is forced
 * onto one line and capped, whatever an override template does.
 */
export function renderMail(kind: MailKind, payload: unknown, options: RenderOptions): RenderedMail {
  const parsed = outboxPayloadSchema.safeParse(payload);
  if (!parsed.success) {
    throw new AppError('INTERNAL', `outbox payload for a ${kind} mail is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const templates = options.templates ?? loadTemplates(options.templatesDir);
  const pick = (name: string): string => {
    const body = templates[name];
    if (body === undefined) throw new AppError('INTERNAL', `mail template ${name}.mustache is missing`);
    return body;
  };
  const view = buildView(kind, parsed.data, options.audience);
  const subject = truncateGraphemes(oneLine(mustache.render(pick(`${kind}.subject`), view, templates, { escape: identity })), SUBJECT_MAX);
  const withSubject = { ...view, subject };
  const text = `${mustache.render(pick(`${kind}.text`), withSubject, templates, { escape: identity }).replace(/\n{3,}/gu, '\n\n').trim()}\n`;
  const html = mustache.render(pick(`${kind}.html`), withSubject, templates, { escape: escapeHtml });
  return { subject, text, html };
}
