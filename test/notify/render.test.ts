import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeFailure, renderMail, truncateGraphemes } from '../../src/notify/render.js';
import type { OutboxPayload } from '../../src/notify/payload.js';

const base: OutboxPayload = {
  audience: 'owner',
  syncId: 42,
  dataset: { id: 'd-1', name: 'sea-temp', title: 'Sea surface temperature', url: 'https://ckan.example.org/dataset/sea-temp' },
  rule: 'tagged',
  version: { doi: '10.5281/zenodo.124', conceptDoi: '10.5281/zenodo.100', recordUrl: 'https://zenodo.org/records/124', label: '2024-05' },
  changes: { added: ['new.csv'], replaced: ['data.csv'], removed: ['old.nc'] },
};

/** The HTML part as a reader sees it: tags dropped, entities decoded. */
function visible(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(Number(dec)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function failure(code: string, extra: Partial<NonNullable<OutboxPayload['error']>> = {}): OutboxPayload {
  return { ...base, version: undefined, changes: undefined, error: { code, message: `detail for ${code}`, ...extra } };
}

describe('renderMail', () => {
  it('new version: subject names what happened with the DOI; both DOIs are links; changes listed by name', () => {
    const mail = renderMail('new_version', base, { audience: 'owner' });
    expect(mail.subject).toBe('New version archived on Zenodo: Sea surface temperature (10.5281/zenodo.124)');
    for (const part of [mail.text, visible(mail.html)]) {
      expect(part).toContain('https://doi.org/10.5281/zenodo.124');
      expect(part).toContain('https://doi.org/10.5281/zenodo.100');
      expect(part).toContain('https://zenodo.org/records/124');
      expect(part).toContain('new.csv');
      expect(part).toContain('data.csv');
      expect(part).toContain('old.nc');
      expect(part).toContain('2024-05');
    }
    expect(mail.text).toMatch(/this exact version/i);
    expect(mail.text).toMatch(/all versions.*concept DOI/i);
    expect(mail.html).toContain('href="https://doi.org/10.5281/zenodo.100"');
    expect(mail.html).toContain('<meta charset="utf-8">');
  });

  it.each([
    ['first_version', 'Dataset archived on Zenodo: Sea surface temperature (10.5281/zenodo.124)'],
    ['metadata_edit', 'Zenodo description updated: Sea surface temperature (10.5281/zenodo.124)'],
  ] as const)('%s subject', (kind, subject) => {
    const mail = renderMail(kind, base, { audience: 'owner' });
    expect(mail.subject).toBe(subject);
    expect(mail.text).toContain('https://doi.org/10.5281/zenodo.100');
  });

  it('escapes dataset values in HTML and never lets a hostile URL become a link', () => {
    const mail = renderMail('new_version', { ...base, dataset: { ...base.dataset, title: '<script>alert(1)</script>', url: 'javascript:alert(1)' } }, { audience: 'owner' });
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('&lt;script&gt;');
    expect(mail.html).not.toContain('javascript:');
    expect(mail.text).toContain('<script>alert(1)</script>');
  });

  it('keeps the subject on one line and the DOI visible when the title is long or multi-line', () => {
    const title = `Line one\r\nBcc: evil@example.com\n${'海'.repeat(300)}`;
    const mail = renderMail('new_version', { ...base, dataset: { ...base.dataset, title } }, { audience: 'owner' });
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(mail.subject).toContain('Line one Bcc: evil@example.com');
    expect(mail.subject.endsWith('(10.5281/zenodo.124)')).toBe(true);
    expect(mail.subject).toContain('…');
  });

  it('truncates on grapheme boundaries (emoji and accents are never cut in half)', () => {
    const flags = '🇯🇵'.repeat(10);
    const cut = truncateGraphemes(flags, 5);
    expect(cut).toBe(`${'🇯🇵'.repeat(4)}…`);
    expect(truncateGraphemes('short', 10)).toBe('short');
  });

  it('marks the owners\' mail sent to the admin when no owner address exists', () => {
    const mail = renderMail('new_version', { ...base, noOwnerAddress: true, warnings: ['maintainer_email "n/a" is not a valid e-mail address; ignored'] }, { audience: 'owner' });
    for (const part of [mail.text, visible(mail.html)]) {
      expect(part).toContain('No owner address was found for this dataset; this is the mail its owners would have received');
      expect(part).toContain('is not a valid e-mail address');
    }
    expect(mail.subject.startsWith('[no owner address] ')).toBe(true);
  });

  const adviceCases: [string, RegExp][] = [
    ['ZENODO_FORBIDDEN', /Share the Zenodo record with the archive account/],
    ['FILE_TOO_LARGE', /larger than Zenodo's 50 GB limit/],
    ['TOO_MANY_FILES', /at most 100 files per record/],
    ['ZENODO_VALIDATION', /Correct the fields Zenodo complained about/],
    ['DATASET_UNMAPPED', /add the extra "zenodo_doi".*ckan-zenodo-sync link sea-temp <DOI>/],
    ['LINK_CONFLICT', /names this dataset's own Zenodo record/],
    ['ZENODO_AUTH', /renew the Zenodo token/],
    ['CKAN_AUTH', /renew the CKAN API token/],
    ['DOWNLOAD_REFUSED', /only downloaded from public web addresses/],
    ['SSRF_REFUSED', /only downloaded from public web addresses/],
    ['DOWNLOAD_FAILED', /Check that every resource link of the dataset works/],
    ['ZENODO_LIMIT_EXCEEDED', /request a quota increase/],
    ['ZENODO_EMPTY_FILE', /Upload the content of the empty resource, or remove the resource/],
    ['INTERNAL', /not caused by your dataset/],
  ];
  it.each(adviceCases)('failure %s: the owner gets the advice sentence, the admin copy adds code and sync id', (code, advice) => {
    const owner = renderMail('failure', failure(code), { audience: 'owner' });
    expect(owner.subject).toBe('Archiving on Zenodo failed: Sea surface temperature');
    expect(owner.text).toMatch(advice);
    expect(visible(owner.html)).toMatch(advice);
    expect(owner.text).toContain(describeFailure(code).summary);
    expect(owner.text).toContain(`detail for ${code}`);
    expect(owner.text).not.toContain('Sync id');
    const admin = renderMail('failure', { ...failure(code), audience: 'admin' }, { audience: 'admin' });
    expect(admin.subject).toBe(`[${code}] Archiving on Zenodo failed: Sea surface temperature`);
    expect(admin.text).toMatch(advice);
    expect(admin.text).toMatch(new RegExp(`Error code:\\s+${code}`));
    expect(admin.text).toMatch(/Sync id:\s+42/);
    expect(admin.html).toContain(`<code>${code}</code>`);
  });

  it('lists Zenodo field messages for a validation failure', () => {
    const mail = renderMail('failure', failure('ZENODO_VALIDATION', { fieldErrors: [{ field: 'metadata.creators', message: 'Missing data for required field.' }] }), { audience: 'owner' });
    expect(mail.text).toContain('metadata.creators: Missing data for required field.');
    expect(mail.html).toContain('<code>metadata.creators</code>');
  });

  it('uses the rule\'s link extra in the DATASET_UNMAPPED advice', () => {
    const mail = renderMail('failure', { ...failure('DATASET_UNMAPPED'), linkExtra: 'doi' }, { audience: 'owner' });
    expect(mail.text).toContain('add the extra "doi"');
  });

  it('takes templates from [mail] templates by file name, falling back to the defaults for the rest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mail-templates-'));
    writeFileSync(join(dir, 'new_version.subject.mustache'), 'Nouvelle version : {{subjectTitle}} ({{doi}})');
    const mail = renderMail('new_version', base, { audience: 'owner', templatesDir: dir });
    expect(mail.subject).toBe('Nouvelle version : Sea surface temperature (10.5281/zenodo.124)');
    expect(mail.text).toContain('https://doi.org/10.5281/zenodo.100');
  });

  it('rejects a payload that is not an outbox payload', () => {
    expect(() => renderMail('new_version', { dataset: 'x' }, { audience: 'owner' })).toThrow(/payload/);
  });

  it('delivery_failed names the address and the mail', () => {
    const mail = renderMail('delivery_failed', { ...base, audience: 'admin', delivery: { recipient: 'gone@example.org', kind: 'new_version', code: 'MAIL_REJECTED', error: '550 User unknown', attempts: 1, outboxId: 7 } }, { audience: 'admin' });
    expect(mail.subject).toBe('Mail could not be delivered to gone@example.org: Sea surface temperature');
    expect(mail.text).toContain('550 User unknown');
    expect(mail.text).toContain('new version');
  });
});
