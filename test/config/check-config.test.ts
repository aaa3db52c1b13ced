import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
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

  it('refuses a short or low-entropy [http] token, naming the line and how to make a strong one, without showing it', async () => {
    const rules = join(dir, 'rules.yaml');
    await writeFile(rules, 'rules:\n  - name: tagged\n    when: { tags: [zenodo] }\n');
    for (const [token, why] of [
      ['a', /it has 1 characters \(at least 32 needed\)/],
      ['http-test-token', /it has 15 characters/],
      ['a'.repeat(64), /only 1 different characters/],
      ['abcabcabcabcabcabcabcabcabcabcabcabc', /only 3 different characters/],
      ['12345678901234567890123456789012', /at most 106 bits of entropy/],
    ] as const) {
      const settings = join(dir, 'weak.ini');
      await writeFile(settings, `[ckan]\nurl = https://ckan.example.org\n[http]\ntoken = ${token}\n`, { mode: 0o600 });
      await chmod(settings, 0o600);
      const { code, stdout, stderr } = await checkConfig(['--settings', settings, '--rules', rules]);
      expect(code, token).toBe(1);
      expect(stdout).toBe('');
      expect(stderr, token).toMatch(new RegExp(`^${settings}:4 http\\.token: is too weak: `));
      expect(stderr, token).toMatch(why);
      expect(stderr).toContain('openssl rand -hex 32');
      if (token.length > 3) expect(stderr).not.toContain(token);
    }
    // From the environment too, named by its variable.
    const env = await checkConfig(['--settings', 'settings.example.ini', '--rules', rules], { CKAN_ZENODO_HTTP_TOKEN: 'short-token' });
    expect(env.code).toBe(1);
    expect(env.stderr).toMatch(/^env CKAN_ZENODO_HTTP_TOKEN: is too weak: it has 11 characters/m);
    // What `openssl rand -hex 32` and `-base64 24` print passes.
    for (const token of ['5f0c8e7a1d2b49c6a3e8f7d1c0b2a4968e1f3d5c7b9a0e2f4d6c8b0a1e3f5d7c', 'q3Zs8vL0pR2mX7tK9wY4bN6cF1hJ5gDa']) {
      const ok = await checkConfig(['--settings', 'settings.example.ini', '--rules', rules], { CKAN_ZENODO_HTTP_TOKEN: token });
      expect(ok.code, ok.stderr).toBe(0);
    }
  });

  it('warns (and still passes) when the settings file or a secret file can be read by other users, naming the chmod fix', async () => {
    const rules = join(dir, 'rules.yaml');
    await writeFile(rules, 'rules:\n  - name: tagged\n    when: { tags: [zenodo] }\n');
    const tokenFile = join(dir, 'http-token');
    await writeFile(tokenFile, 'q3Zs8vL0pR2mX7tK9wY4bN6cF1hJ5gDa\n');
    await chmod(tokenFile, 0o644);
    const settings = join(dir, 'open.ini');
    await writeFile(settings, `[ckan]\nurl = https://ckan.example.org\napi_token = ckan-secret\n[http]\ntoken_file = ${tokenFile}\n`);
    await chmod(settings, 0o640);
    const { code, stderr } = await checkConfig(['--settings', settings, '--rules', rules]);
    expect(code).toBe(0);
    expect(stderr.trimEnd().split('\n')).toEqual([
      `warning: ${settings} (file): "${settings}" holds secrets and is readable by its group (mode 640); run chmod 600 "${settings}"`,
      `warning: ${settings}:5 http.token_file: "${tokenFile}" holds a secret and is readable by its group and other users (mode 644); run chmod 600 "${tokenFile}"`,
    ]);
    expect(stderr).not.toContain('ckan-secret');

    await chmod(settings, 0o600);
    await chmod(tokenFile, 0o600);
    expect((await checkConfig(['--settings', settings, '--rules', rules])).stderr).toBe('');
    // A settings file without secrets in it may be readable by everyone.
    const plain = join(dir, 'plain.ini');
    await writeFile(plain, '[ckan]\nurl = https://ckan.example.org\n');
    await chmod(plain, 0o644);
    expect((await checkConfig(['--settings', plain, '--rules', rules])).stderr).toBe('');
  });
});
