import { formatProblem } from '../config/types.js';
import { loadSettings } from '../config/settings.js';
import { loadRules } from '../rules/load.js';
import { redactText } from '../log.js';
import { print, type Command } from './command.js';
import { settingsOptions, settingsUsage } from './runtime.js';

export const checkConfigCommand: Command = {
  name: 'check-config',
  summary: 'validate settings.ini and rules.yaml, reporting every problem at once',
  usage: `Usage: ckan-zenodo-sync check-config [options]

Reads the settings (file and environment) and the rules, and prints every problem of both, one
per line as FILE:LINE section.key: what is wrong (what is allowed). Exit code 0 when valid, 1 if not.

Options:
${settingsUsage}`,
  options: { ...settingsOptions },
  async run(ctx) {
    const settingsPath = typeof ctx.values.settings === 'string' ? ctx.values.settings : undefined;
    const rulesPath = typeof ctx.values.rules === 'string' ? ctx.values.rules : 'rules.yaml';
    const [settings, rules] = await Promise.all([loadSettings({ path: settingsPath, env: ctx.io.env }), loadRules(rulesPath)]);
    const problems = [...settings.problems, ...rules.problems];
    if (problems.length > 0 || !settings.config || !rules.rules) {
      for (const problem of problems) print(ctx.io.stderr, formatProblem(problem));
      print(ctx.io.stderr, `${problems.length} problem(s) found.`);
      return 1;
    }
    const c = settings.config;
    const lines = [
      `settings: ${c.settingsPath ?? 'environment and defaults (no settings file)'}`,
      `CKAN: ${c.ckan.url}${c.ckan.apiToken ? ' (with API token)' : ' (no API token: private datasets are invisible and write-back is impossible)'}`,
      `Zenodo: ${c.zenodo.url}${c.zenodo.token ? ' (with token)' : ' (no token yet: set [zenodo] token or ZENODO_TOKEN before `run`)'}`,
      `database: ${c.database.url ? redactText(c.database.url) : `embedded PostgreSQL in ${c.database.dataDir}`}`,
      `mail: ${c.mail.smtpUrl ? redactText(c.mail.smtpUrl) : 'no smtp_url set, mails will be written to the log instead of sent'}`,
      `http: ${c.http.listen}${c.http.token ? '' : ' (no token: "Archive now" and the status page need [http] token, or public_status = true)'}`,
      `rules (${rules.rules.rules.length}): ${rules.rules.rules.map((r) => r.name).join(', ')}`,
      'configuration is valid',
    ];
    for (const line of lines) print(ctx.io.stdout, line);
    return 0;
  },
};
