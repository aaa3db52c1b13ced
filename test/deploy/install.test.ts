/**
 * The systemd install steps of deploy/README.md, run by deploy/test-install.sh: a service user, the
 * documented owners and modes, and the daemon started as that user (check-config, migrate, run
 * until /readyz answers, SIGTERM). The script needs root to create the user; CI runs as root.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { inject, it, expect } from 'vitest';

const script = fileURLToPath(new URL('../../deploy/test-install.sh', import.meta.url));

it('installs as documented and the service user checks the config, migrates, serves /readyz and stops cleanly', async () => {
  if (process.getuid?.() !== 0) {
    throw new Error('test/deploy/install.test.ts must run as root: deploy/test-install.sh creates a system user and files owned by it. Run it as root (as CI does), e.g. sudo npx vitest run test/deploy/install.test.ts');
  }
  const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile('bash', [script], {
      timeout: 150_000,
      env: {
        ...process.env,
        // A user name of its own, so that a real ckan-zenodo-sync user on this machine is never touched.
        CZS_SERVICE_USER: `czs-it-${randomBytes(3).toString('hex')}`,
        CZS_ADMIN_DATABASE_URL: inject('adminDatabaseUrl'),
        CZS_ROLE_PASSWORD: randomBytes(12).toString('hex'),
      },
    }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
  expect(result, `deploy/test-install.sh failed:\n${result.stdout}\n${result.stderr}`).toMatchObject({ code: 0 });
  expect(result.stdout).toContain('configuration is valid');
  // The documented modes (root:ckan-zenodo-sync 0640) are what the service needs: no advice to chmod 600.
  expect(`${result.stdout}${result.stderr}`).not.toMatch(/readable by|chmod 600/);
  expect(result.stdout).toMatch(/applied 0001_initial/);
  expect(result.stdout).toMatch(/\/readyz: 200 on 127\.0\.0\.1:\d+/);
  expect(result.stdout.trimEnd().split('\n').at(-1)).toBe('install test passed');
}, 180_000);
