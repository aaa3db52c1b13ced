/**
 * Turns what a sync did into outbox rows (src/notify decides how they read). Recipients are
 * resolved here, at the moment the DOI is recorded, so the rows can be written in that same
 * transaction (DESIGN.md "Data flow" 5).
 */
import type { Logger } from '../log.js';
import { redactText } from '../log.js';
import { buildOutboxRows, clip, fieldErrorsFrom, type MailFacts } from '../notify/payload.js';
import { resolveRecipients, type OwnerDirectory } from '../notify/recipients.js';
import type { MailContext } from './worker.js';
import type { OutboxRow } from './ports.js';

export interface MailBuilderOptions {
  ckanUrl: string;
  admin: string | undefined;
  linkExtra: string;
  directory: OwnerDirectory | undefined;
  /** Secrets that must never reach a mail (tokens), scrubbed from error messages. */
  secrets: readonly string[];
  log: Logger;
  /** Zenodo record page for a deposition id (the API's `links.html` can be the deposit page). */
  recordUrl(depositionId: number, htmlUrl: string | null): string;
}

export function createMailBuilder(options: MailBuilderOptions): (context: MailContext) => Promise<OutboxRow[]> {
  return async (context) => {
    const { dataset, plan, deposition, rule } = context;
    const name = dataset?.name ?? plan?.dataset.name ?? context.datasetId;
    const facts: MailFacts = {
      syncId: context.syncId ?? null,
      dataset: {
        id: dataset?.id ?? context.datasetId,
        name,
        // Cut here already, so the outbox row stays small; the renderer cuts further to its limits.
        title: clip((dataset?.title ?? plan?.dataset.title ?? name) || name, 2000),
        url: `${options.ckanUrl.replace(/\/+$/, '')}/dataset/${encodeURIComponent(name)}`,
      },
      rule: rule?.name ?? plan?.ruleName ?? null,
      linkExtra: options.linkExtra,
    };
    if (deposition) {
      facts.version = {
        doi: deposition.doi,
        conceptDoi: deposition.conceptDoi,
        recordUrl: options.recordUrl(deposition.id, deposition.htmlUrl),
        label: typeof deposition.metadata.version === 'string' ? deposition.metadata.version : null,
      };
    }
    if (plan && context.kind !== 'failure') {
      facts.changes = {
        added: plan.files.filter((f) => f.action === 'add').map((f) => f.filename),
        replaced: plan.files.filter((f) => f.action === 'replace').map((f) => f.filename),
        removed: plan.delete.filter((d) => !plan.files.some((f) => f.filename === d.filename)).map((d) => d.filename),
      };
      if (plan.skipped.length > 0) facts.skipped = plan.skipped.map((s) => ({ name: s.name, reason: s.reason }));
      if (plan.license !== undefined) facts.license = plan.license;
      if (plan.warnings !== undefined && plan.warnings.length > 0) facts.notes = plan.warnings;
    }
    if (context.error) {
      facts.error = {
        code: context.error.code,
        message: redactText(context.error.message, options.secrets),
        fieldErrors: fieldErrorsFrom(context.error.details),
      };
    }
    const recipients = dataset && rule ? await resolveRecipients(dataset, rule.notify, options.directory) : { owners: [], warnings: [] };
    for (const warning of recipients.warnings) options.log.warn({ datasetId: context.datasetId, warning }, 'mail recipient problem');
    return buildOutboxRows({ kind: context.kind, facts, owners: recipients.owners, admin: options.admin, warnings: recipients.warnings }).map((row) => ({
      recipient: row.recipient,
      kind: row.kind,
      payload: row.payload,
    }));
  };
}
