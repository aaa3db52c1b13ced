import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { emulateTargets } from '../../src/commands/emulate.js';
import { decodeEncodedWords } from '../../src/emulators/smtp.js';
import { silentLogger } from '../../src/log.js';
import { createMailer } from '../../src/notify/mailer.js';

describe('emulate smtp', () => {
  it('captures mail and prints one summary line per message, subject decoded', async () => {
    let output = '';
    let printed!: () => void;
    const line = new Promise<void>((resolve) => (printed = resolve));
    const stdout = new Writable({
      write(chunk: Buffer, _encoding, done) {
        output += chunk.toString();
        printed();
        done();
      },
    });
    const target = emulateTargets.smtp!;
    const emulator = await target.start({ port: 0, host: '127.0.0.1', tokens: [], faults: undefined, faultSeed: undefined, rateLimit: undefined, seed: undefined, sandbox: false, raw: { reject: ['gone@example.org'] }, stdout });
    const mailer = createMailer({ smtpUrl: emulator.url, from: 'Archive <archive@example.org>', log: silentLogger() });
    try {
      await expect(mailer.send({ to: 'gone@example.org', subject: 'x', text: 't', html: 'h' })).rejects.toMatchObject({ code: 'MAIL_REJECTED' });
      await mailer.send({ to: 'jane@example.org', subject: 'Neue Version: Meerestemperatur 海面水温', text: 'text', html: '<p>html</p>' });
      await line;
      expect(output).toMatch(/^mail from <archive@example\.org> to <jane@example\.org>: "Neue Version: Meerestemperatur 海面水温" \(\d+ bytes\)\n$/);
    } finally {
      mailer.close();
      await emulator.close();
    }
  });

  it('decodes RFC 2047 words', () => {
    expect(decodeEncodedWords('=?UTF-8?B?5rW36Z2i?= =?UTF-8?Q?caf=C3=A9?=')).toBe('海面café');
  });
});
