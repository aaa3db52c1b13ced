/**
 * The outbox contract between the sync worker (which writes rows in the transaction that records
 * the published DOI or the failure) and the notify worker (which renders and sends them later).
 * The payload holds facts, not text: mails are rendered at send time, so a template fix reaches
 * mails still waiting in the outbox.
 */
import { z } from 'zod';

export const mailKinds = ['first_version', 'new_version', 'metadata_edit', 'failure', 'delivery_failed'] as const;
export type MailKind = (typeof mailKinds)[number];

export type Audience = 'owner' | 'admin';

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Strings up to this length (code units) are segmented whole; V8's segmenter is superlinear. */
const EXACT_CLIP_LIMIT = 2000;
/** Longest grapheme cluster looked for around a cut (longer ones, e.g. Zalgo text, may be split). */
const CLUSTER_WINDOW = 32;

/**
 * `value` cut to at most `max` user-perceived characters, ending in "…" when cut (never splits an
 * emoji, a surrogate pair or an accent). A short text is counted grapheme by grapheme; a long one
 * is cut after at most `max - 1` code units, moved back to the nearest grapheme boundary, so
 * that a hostile 100,000-character title costs microseconds (segmenting it whole took seconds).
 */
export function clip(value: string, max: number): string {
  if (value.length <= max) return value; // code units ≥ graphemes: it fits
  if (value.length <= EXACT_CLIP_LIMIT) {
    const graphemes = Array.from(segmenter.segment(value), (s) => s.segment);
    if (graphemes.length <= max) return value;
    return `${graphemes.slice(0, Math.max(1, max - 1)).join('').trimEnd()}…`;
  }
  const end = Math.max(1, max - 1);
  const from = Math.max(0, end - CLUSTER_WINDOW);
  let cut = from;
  for (const { index } of segmenter.segment(value.slice(from, end + CLUSTER_WINDOW))) {
    if (from + index > end) break;
    cut = from + index;
  }
  return `${value.slice(0, cut === 0 ? end : cut).trimEnd()}…`;
}

/**
 * Longest text kept in a payload field. Longer text is cut, not refused: a refused payload can
 * never be rendered, and the mail (the owner's DOI) would be lost for a long title. Rows written
 * before this limit existed are cut when read.
 */
export const MAX_PAYLOAD_TEXT = 20_000;
/** Longest list (file names, warnings) kept in a payload. */
export const MAX_PAYLOAD_LIST = 1000;

const text = z.string().transform((v) => clip(v, MAX_PAYLOAD_TEXT));
const nullableText = text.nullable().optional().transform((v) => v ?? null);
const names = z
  .array(text)
  .default([])
  .transform((list) => list.slice(0, MAX_PAYLOAD_LIST));

/** zod schema of `mail_outbox.payload`; lenient on absent optional parts, strict on types. */
export const outboxPayloadSchema = z.object({
  /** Who reads this copy: owners get plain advice, the admin also the error code and sync id. */
  audience: z.enum(['owner', 'admin']).default('owner'),
  /** The admin receives the owners' mail because no valid owner address was found. */
  noOwnerAddress: z.boolean().default(false),
  syncId: z.number().int().nullable().optional().transform((v) => v ?? null),
  dataset: z.object({
    id: text,
    name: text,
    title: text,
    /** The dataset's page on CKAN. */
    url: text,
  }),
  /** Name of the rules.yaml rule that selected the dataset. */
  rule: nullableText,
  version: z
    .object({
      /** Version DOI, e.g. `10.5281/zenodo.124` (bare, without `https://doi.org/`). */
      doi: nullableText,
      /** Concept DOI (all versions). */
      conceptDoi: nullableText,
      /** Zenodo record page, e.g. `https://zenodo.org/records/124`. */
      recordUrl: nullableText,
      /** Version label (CKAN `version` or the resource date). */
      label: nullableText,
    })
    .optional(),
  changes: z.object({ added: names, replaced: names, removed: names }).optional(),
  /** Resources left out of the version, with the reason (format, size, empty file...). */
  skipped: z.array(z.object({ name: text, reason: text })).max(10_000).optional(),
  /** Which licence the record carries and why (CKAN's, or the rule's when CKAN's has no equivalent). */
  license: text.optional(),
  /** What the owner should know about how the dataset was described (creators from the organization...). */
  notes: z.array(text).max(100).optional(),
  error: z
    .object({
      code: text,
      /** What failed, secret-free (the worker redacts tokens before writing it). */
      message: text,
      /** Overrides the built-in advice sentence for `code`. */
      advice: text.optional(),
      /** Zenodo validation messages (`errors[].field` / `messages`). */
      fieldErrors: z
        .array(z.object({ field: text, message: text }))
        .optional()
        .transform((list) => list?.slice(0, MAX_PAYLOAD_LIST)),
    })
    .optional(),
  /** CKAN extra that links a dataset to its Zenodo record (for DATASET_UNMAPPED advice). */
  linkExtra: text.optional(),
  /** Recipient problems found while resolving owners; shown to the admin. */
  warnings: z
    .array(text)
    .optional()
    .transform((list) => list?.slice(0, MAX_PAYLOAD_LIST)),
  /** `delivery_failed` mails: which address could not be reached, for which mail. */
  delivery: z
    .object({
      recipient: text,
      kind: text,
      code: text,
      error: text,
      attempts: z.number().int(),
      outboxId: z.number().int(),
    })
    .optional(),
});

export type OutboxPayload = z.input<typeof outboxPayloadSchema>;
export type ParsedOutboxPayload = z.output<typeof outboxPayloadSchema>;

/** One row for `insertOutbox` (src/db/outbox-queries.ts). */
export interface OutboxInsert {
  /** `sync_runs.id`; null when the failure happened before a sync row existed. */
  syncId: number | null;
  datasetId: string | null;
  recipient: string;
  kind: MailKind;
  payload: OutboxPayload;
}

/** The facts of one mail, before recipients are known. */
export type MailFacts = Omit<OutboxPayload, 'audience' | 'noOwnerAddress' | 'warnings'>;

/**
 * Turns one mail into outbox rows: one per owner; failures also to `[mail] admin` (with the code
 * and sync id); when no owner address is known the admin gets the owners' mail, marked as such.
 * A recipient appears at most once (the admin copy wins when the admin is also an owner), which
 * matches the table's unique (sync_id, recipient, kind).
 */
export function buildOutboxRows(input: {
  kind: Exclude<MailKind, 'delivery_failed'>;
  facts: MailFacts;
  owners: readonly string[];
  admin: string | undefined;
  warnings?: readonly string[];
}): OutboxInsert[] {
  const { kind, facts, owners, admin } = input;
  const warnings = input.warnings && input.warnings.length > 0 ? [...input.warnings] : undefined;
  const syncId = facts.syncId ?? null;
  const datasetId = facts.dataset.id;
  const rows: OutboxInsert[] = [];
  const adminKey = admin?.toLowerCase();
  const seen = new Set<string>();
  if (owners.length === 0) {
    if (admin === undefined) return rows;
    rows.push({
      syncId,
      datasetId,
      recipient: admin,
      kind,
      payload: { ...facts, audience: kind === 'failure' ? 'admin' : 'owner', noOwnerAddress: true, warnings },
    });
    return rows;
  }
  for (const owner of owners) {
    const key = owner.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    const asAdmin = kind === 'failure' && key === adminKey;
    rows.push({ syncId, datasetId, recipient: owner, kind, payload: { ...facts, audience: asAdmin ? 'admin' : 'owner', warnings: asAdmin ? warnings : undefined } });
  }
  if (kind === 'failure' && admin !== undefined && adminKey !== undefined && !seen.has(adminKey)) {
    rows.push({ syncId, datasetId, recipient: admin, kind, payload: { ...facts, audience: 'admin', warnings } });
  }
  return rows;
}

/**
 * Zenodo's validation errors (`errors: [{field, messages[]}]`, legacy `message`) from an error's
 * details, flattened for the failure mail. Anything unexpected is ignored.
 */
export function fieldErrorsFrom(details: unknown): { field: string; message: string }[] | undefined {
  if (details === null || typeof details !== 'object') return undefined;
  const errors = (details as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return undefined;
  const out: { field: string; message: string }[] = [];
  for (const entry of errors as unknown[]) {
    if (entry === null || typeof entry !== 'object') continue;
    const { field, messages, message } = entry as { field?: unknown; messages?: unknown; message?: unknown };
    const name = typeof field === 'string' ? field : '';
    const list = Array.isArray(messages) ? messages.filter((m): m is string => typeof m === 'string') : typeof message === 'string' ? [message] : [];
    for (const m of list) out.push({ field: name, message: m });
  }
  return out.length > 0 ? out : undefined;
}
