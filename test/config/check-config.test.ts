import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

async function checkConfig(args: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = capture();
  const stderr = capture();
  const code = await main(['check-config', ...args], { stdout: stdout.stream, stderr: stderr.stream, env });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'czs-check-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ckan-zenodo-sync check-config', () => {
  it('prints every problem of both files with its line, exits 1, and shows no stack trace', async () => {
    const settings = join(dir, 'bad.ini');
    const rules = join(dir, 'bad.yaml');
    await writeFile(
      settings,
      [
        '[ckan]', //                     1
        'url = https://ckan.example.org', // 2
        'page_size = 5000', //           3
        '', //                           4
        '[sync]', //                     5
        'concurency = 4', //             6
        '', //                           7
        '[schedule]', //                 8
        'scan = every hour', //          9
      ].join('\n'),
    );
    await writeFile(
      rules,
      [
        'rules:', //                     1
        '  - name: tagged', //           2
        '    when:', //                  3
        '      tagz: [zenodo]', //       4
        '    zenodo:', //                5
        '      access_right: public', // 6
      ].join('\n'),
    );
    const { code, stdout, stderr } = await checkConfig(['--settings', settings, '--rules', rules]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toEqual([
      `${settings}:3 ckan.page_size: 5000 is out of range (allowed: 1..1000)`,
      expect.stringMatching(new RegExp(`^${settings}:6 sync\\.concurency: unknown key \\(allowed in \\[sync\\]: .*\\); did you mean "concurrency"\\?$`)),
      expect.stringMatching(new RegExp(`^${settings}:9 schedule\\.scan: "every hour" is not a valid cron expression`)),
      expect.stringMatching(new RegExp(`^${rules}:4 rules\\[0\\]\\.when\\.tagz: unknown key .*did you mean "tags"\\?$`)),
      `${rules}:6 rules[0].zenodo.access_right: must be one of open, embargoed, restricted, closed (got "public")`,
      '5 problems found; nothing was started.',
    ]);
    expect(stderr).not.toMatch(/\bat .*\(/);
  });

  it('accepts the example settings and rules of the repository and summarises them', async () => {
    const { code, stdout, stderr } = await checkConfig(['--settings', 'settings.example.ini', '--rules', 'rules.yaml']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('source: https://ckan.example.org');
    expect(stdout).toContain('zenodo: https://sandbox.zenodo.org');
    expect(stdout).toMatch(/^database: embedded in \S+data\/pg$/m);
    expect(stdout).toContain('mail: no smtp_url set, mails will be written to the log\n');
    expect(stdout).toContain('rules: 1 (tagged)');
  });

  it('shows a database URL without its password', async () => {
    const { code, stdout } = await checkConfig(['--settings', 'settings.example.ini', '--rules', 'rules.yaml'], {
      DATABASE_URL: 'postgres://archive:hunter2@db.example.org:5432/czs',
      CKAN_ZENODO_MAIL_SMTP_URL: 'smtp://mailer:s3cret@mail.example.org:587',
    });
    expect(code).toBe(0);
    expect(stdout).toContain('database: postgres://archive:***@db.example.org:5432/czs');
    expect(stdout).toContain('mail: smtp://mailer:***@mail.example.org:587');
    expect(stdout).not.toMatch(/hunter2|s3cret/);
  });

  it('without --settings and without ./settings.ini uses the environment, and reports a missing rules file', async () => {
    const { code, stderr } = await checkConfig(['--rules', join(dir, 'missing.yaml')], {});
    expect(code).toBe(1);
    expect(stderr).toContain('env ckan.url: is required');
    expect(stderr).toContain(`${join(dir, 'missing.yaml')} (file): cannot be read: ENOENT`);
  });
});
