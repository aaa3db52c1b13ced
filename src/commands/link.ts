import { startDaemon } from '../daemon.js';
import { AppError } from '../errors.js';
import { print, type Command } from './command.js';
import { loadRuntime, settingsOptions, settingsUsage } from './runtime.js';

export const linkCommand: Command = {
  name: 'link',
  summary: 'link a CKAN dataset to an existing Zenodo record',
  usage: `Usage: ckan-zenodo-sync link <dataset id or name> <zenodo record id | DOI | record URL> [options]

For records made by hand before the daemon ran: the next sync publishes a new version of that
record's concept instead of creating a new record. The record must be owned by (or shared with)
the account of [zenodo] token.

Options:
  --force              replace an existing link to another concept
${settingsUsage}`,
  options: { ...settingsOptions, force: { type: 'boolean' } },
  allowPositionals: true,
  async run(ctx) {
    const [dataset, reference] = ctx.positionals;
    if (!dataset || !reference || ctx.positionals.length !== 2) throw new AppError('USAGE', 'give a dataset and a Zenodo record id, DOI or URL');
    const { config, rules, log } = await loadRuntime(ctx, { logLevel: 'warn' });
    const daemon = await startDaemon({ config, rules, log, mode: 'worker', workers: false, schedule: false, http: false, migrate: false });
    try {
      const link = await daemon.link(dataset, reference, { force: ctx.values.force === true });
      print(ctx.io.stdout, `linked ${dataset} to Zenodo concept ${link.conceptRecid ?? '-'} (${link.conceptDoi ?? 'no concept DOI'}); latest version ${link.latestDoi ?? '-'}`);
      if (link.notSelected) print(ctx.io.stdout, `not archived yet: ${link.notSelected}; nothing is published until it is selected`);
      return 0;
    } finally {
      await daemon.stop();
    }
  },
};
