import { formatProblem } from '../config/types.js';
import { loadSettings } from '../config/settings.js';
import { loadRules } from '../rules/load.js';
import { redactUrl } from '../log.js';
import { print, type Command } from './command.js';
import { settingsOptions, settingsUsage } from './runtime.js';

/** A database or SMTP URL for display: the password (in the authority or the query) replaced by ***. */
export function redactDatabaseUrl(url: string): string {
  return redactUrl(url);
}

export const checkConfigCommand: Command = {
  name: 'check-config',
  summary: 'validate settings.ini and rules.yaml, reporting every problem at once',
  usage: `Usage: ckan-zenodo-sync check-config [options]

Reads the settings (file and environment) and the rules, and prints every problem of both, one
per line as FILE:LINE path: what is wrong (what is allowed). Exit code 0 when valid, 1 if not.
Warnings (secrets in files other users can read) are printed as "warning: ..." and do not fail.

Options:
${settingsUsage}

Example:
  ckan-zenodo-sync check-config --settings settings.ini --rules rules.yaml`,
  options: { ...settingsOptions },
  async run(ctx) {
    const settingsPath = typeof ctx.values.settings === 'string' ? ctx.values.settings : undefined;
    const rulesPath = typeof ctx.values.rules === 'string' ? ctx.values.rules : 'rules.yaml';
    const [settings, rules] = await Promise.all([loadSettings({ path: settingsPath, env: ctx.io.env }), loadRules(rulesPath)]);
    const problems = [...settings.problems, ...rules.problems];
    for (const warning of settings.warnings) print(ctx.io.stderr, `warning: ${formatProblem(warning)}`);
    if (problems.length > 0 || !settings.config || !rules.rules) {
      for (const problem of problems) print(ctx.io.stderr, formatProblem(problem));
      print(ctx.io.stderr, `${problems.length} problem${problems.length === 1 ? '' : 's'} found; nothing was started.`);
      return 1;
    }
    const c = settings.config;
    const names = rules.rules.rules.map((r) => r.name);
    const lines = [
      `settings: ${c.settingsPath ?? 'environment and defaults (no settings file)'}`,
      `source: ${c.ckan.url}${c.ckan.apiToken ? ' (with API token)' : ' (no API token: private datasets are invisible and write-back is impossible)'}`,
      `zenodo: ${c.zenodo.url}${c.zenodo.token ? ' (with token)' : ' (no token yet: set [zenodo] token or ZENODO_TOKEN before `run`)'}`,
      `database: ${c.database.url ? redactDatabaseUrl(c.database.url) : `embedded in ${c.database.dataDir}`}`,
      c.mail.smtpUrl ? `mail: ${redactDatabaseUrl(c.mail.smtpUrl)}` : 'mail: no smtp_url set, mails will be written to the log',
      `rules: ${names.length} (${names.join(', ')}) from ${rules.rules.file}`,
      'configuration is valid',
    ];
    for (const line of lines) print(ctx.io.stdout, line);
    return 0;
  },
};
