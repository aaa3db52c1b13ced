/* eslint-disable @typescript-eslint/no-unsafe-member-access --
   Zenodo answers are untyped JSON; their shape is exactly what these tests assert. */
/**
 * CKAN licence ids → Zenodo licence ids. The expected values below were worked out from the
 * sources cited in src/zenodo/licenses.ts (CKAN's default list, the Open Definition list, Zenodo's
 * vocabulary and legacy mapping), not read back from the implementation.
 */
import { afterAll, beforeAll, describe, expect, it, test } from 'vitest';
import { describeLicense, mapLicense, normaliseLicense, sameLicense, zenodoLicenseIds } from '../../src/zenodo/licenses.js';
import { startZenodoEmulator, type ZenodoEmulator } from '../../src/emulators/zenodo/server.js';
import { call, validMetadata } from '../emulators/zenodo/helpers.js';

describe('mapLicense', () => {
  // ckan/ckan ckan/model/license.py, the default list, in its order.
  const ckanDefaults: [string, string | undefined][] = [
    ['notspecified', undefined], // states no terms: same as no licence
    ['odc-pddl', 'pddl-1.0'],
    ['odc-odbl', 'odbl-1.0'],
    ['odc-by', 'odc-by-1.0'],
    ['cc-zero', 'cc0-1.0'],
    ['cc-by', 'cc-by-4.0'],
    ['cc-by-sa', 'cc-by-sa-4.0'],
    ['gfdl', 'gfdl'], // Zenodo's title-only "GNU Free Documentation License"
    ['other-open', 'other-open'],
    ['other-pd', 'other-pd'],
    ['other-at', 'other-at'],
    ['uk-ogl', 'ogl-uk-3.0'], // CKAN links it to OGL version 3; Zenodo's own `uk-ogl` is v1.0
    ['cc-nc', undefined], // "Non-Commercial (Any)": BY-NC, BY-NC-SA or BY-NC-ND of any version
    ['other-nc', 'other-nc'],
    ['other-closed', 'other-closed'],
  ];
  it.each(ckanDefaults)('maps the CKAN default %j to %j', (ckan, zenodo) => {
    expect(mapLicense(ckan)).toBe(zenodo);
  });

  // okfn/licenses licenses.csv: every id that Zenodo has (by its own mapping, or by the decision
  // commented in licenses.ts for FAL-1.3 and LO-FR-2.0).
  const openDefinition: [string, string][] = [
    ['AAL', 'aal'], ['AFL-3.0', 'afl-3.0'], ['AGPL-3.0', 'agpl-3.0-only'], ['APL-1.0', 'apl-1.0'],
    ['APSL-2.0', 'apsl-2.0'], ['Against-DRM', 'against-drm'], ['Apache-1.1', 'apache-1.1'],
    ['Apache-2.0', 'apache-2.0'], ['Artistic-2.0', 'artistic-2.0'], ['BSD-2-Clause', 'bsd-2-clause'],
    ['BSD-3-Clause', 'bsd-3-clause'], ['BSL-1.0', 'bsl-1.0'], ['BitTorrent-1.1', 'bittorrent-1.1'],
    ['CATOSL-1.1', 'catosl-1.1'], ['CC-BY-4.0', 'cc-by-4.0'], ['CC-BY-NC-4.0', 'cc-by-nc-4.0'],
    ['CC-BY-NC-ND-4.0', 'cc-by-nc-nd-4.0'], ['CC-BY-NC-SA-4.0', 'cc-by-nc-sa-4.0'],
    ['CC-BY-ND-4.0', 'cc-by-nd-4.0'], ['CC-BY-SA-4.0', 'cc-by-sa-4.0'], ['CC0-1.0', 'cc0-1.0'],
    ['CDDL-1.0', 'cddl-1.0'], ['CECILL-2.1', 'cecill-2.1'], ['CNRI-Python', 'cnri-python'],
    ['CPAL-1.0', 'cpal-1.0'], ['CUA-OPL-1.0', 'cua-opl-1.0'], ['DSL', 'dsl'], ['ECL-2.0', 'ecl-2.0'],
    ['EFL-2.0', 'efl-2.0'], ['EPL-1.0', 'epl-1.0'], ['EPL-2.0', 'epl-2.0'], ['EUDatagrid', 'eudatagrid'],
    ['EUPL-1.1', 'eupl-1.1'], ['Entessa', 'entessa'], ['FAL-1.3', 'lal-1.3'], ['Fair', 'fair'],
    ['Frameworx-1.0', 'frameworx-1.0'], ['GPL-2.0', 'gpl-2.0-only'], ['GPL-3.0', 'gpl-3.0-only'],
    ['HPND', 'hpnd'], ['IPA', 'ipa'], ['IPL-1.0', 'ipl-1.0'], ['ISC', 'isc'], ['Intel', 'intel'],
    ['LGPL-2.1', 'lgpl-2.1-only'], ['LGPL-3.0', 'lgpl-3.0-only'], ['LO-FR-2.0', 'etalab-2.0'],
    ['LPL-1.0', 'lpl-1.0'], ['LPL-1.02', 'lpl-1.02'], ['LPPL-1.3c', 'lppl-1.3c'], ['MIT', 'mit'],
    ['MPL-1.0', 'mpl-1.0'], ['MPL-1.1', 'mpl-1.1'], ['MPL-2.0', 'mpl-2.0'], ['MS-PL', 'ms-pl'],
    ['MS-RL', 'ms-rl'], ['MirOS', 'miros'], ['Motosoto', 'motosoto'], ['Multics', 'multics'],
    ['NASA-1.3', 'nasa-1.3'], ['NCSA', 'ncsa'], ['NGPL', 'ngpl'], ['NPOSL-3.0', 'nposl-3.0'], ['NTP', 'ntp'],
    ['Naumen', 'naumen'], ['Nokia', 'nokia'], ['OCLC-2.0', 'oclc-2.0'], ['ODC-BY-1.0', 'odc-by-1.0'],
    ['ODbL-1.0', 'odbl-1.0'], ['OFL-1.1', 'ofl-1.1'], ['OGL-Canada-2.0', 'ogl-canada-2.0'],
    ['OGL-UK-1.0', 'ogl-uk-1.0'], ['OGL-UK-2.0', 'ogl-uk-2.0'], ['OGL-UK-3.0', 'ogl-uk-3.0'],
    ['OGTSL', 'ogtsl'], ['OSL-3.0', 'osl-3.0'], ['PDDL-1.0', 'pddl-1.0'], ['PHP-3.0', 'php-3.0'],
    ['PostgreSQL', 'postgresql'], ['Python-2.0', 'python-2.0'], ['QPL-1.0', 'qpl-1.0'], ['RPL-1.5', 'rpl-1.5'],
    ['RPSL-1.0', 'rpsl-1.0'], ['RSCPL', 'rscpl'], ['SISSL', 'sissl'], ['SPL-1.0', 'spl-1.0'],
    ['SimPL-2.0', 'simpl-2.0'], ['Sleepycat', 'sleepycat'], ['Unlicense', 'unlicense'], ['VSL-1.0', 'vsl-1.0'],
    ['W3C', 'w3c'], ['WXwindows', 'wxwindows'], ['Watcom-1.0', 'watcom-1.0'], ['Xnet', 'xnet'],
    ['ZPL-2.0', 'zpl-2.0'], ['Zlib', 'zlib'], ['dli-model-use', 'dli-model-use'], ['geogratis', 'geogratis'],
    ['hesa-withrights', 'hesa-withrights'], ['localauth-withrights', 'localauth-withrights'],
    ['met-office-cp', 'met-office-cp'], ['mitre', 'mitre'], ['other-at', 'other-at'],
    ['other-closed', 'other-closed'], ['other-nc', 'other-nc'], ['other-open', 'other-open'],
    ['other-pd', 'other-pd'], ['ukclickusepsi', 'ukclickusepsi'], ['ukcrown', 'ukcrown'],
    ['ukcrown-withrights', 'ukcrown-withrights'], ['ukpsi', 'ukpsi'],
    // Open Definition legacy ids: the same licence as the current id.
    ['ODC-PDDL-1.0', 'pddl-1.0'], ['OGL-CA-2.0', 'ogl-canada-2.0'], ['agpl-v3', 'agpl-3.0-only'],
    ['apache2.0', 'apache-2.0'], ['mit-license', 'mit'], ['mozilla2.0', 'mpl-2.0'], ['eclipse-2.0', 'epl-2.0'],
    ['zlib-license', 'zlib'], ['uoi-ncsa', 'ncsa'],
  ];
  it.each(openDefinition)('maps the Open Definition id %j to %j', (od, zenodo) => {
    expect(mapLicense(od)).toBe(zenodo);
  });

  // SPDX ids of CKAN 2.9+ portals, including the national ones Zenodo has.
  const spdx: [string, string][] = [
    ['CC-BY-3.0-AT', 'cc-by-3.0-at'], ['CC-BY-SA-3.0-AT', 'cc-by-sa-3.0-at'], ['CC-BY-3.0-US', 'cc-by-3.0-us'],
    ['CC-BY-SA-2.0-UK', 'cc-by-sa-2.0-uk'], ['CC-BY-NC-ND-3.0-IGO', 'cc-by-nc-nd-3.0-igo'],
    ['etalab-2.0', 'etalab-2.0'], ['NLOD-1.0', 'nlod-1.0'], ['NCGL-UK-2.0', 'ncgl-uk-2.0'],
    ['CDLA-Permissive-1.0', 'cdla-permissive-1.0'], ['CDLA-Sharing-1.0', 'cdla-sharing-1.0'], ['O-UDA-1.0', 'o-uda-1.0'],
    ['CC-PDDC', 'cc-pddc'], ['LAL-1.2', 'lal-1.2'],
    // Old versions keep their own version, never 4.0.
    ['CC-BY-1.0', 'cc-by-1.0'], ['CC-BY-2.0', 'cc-by-2.0'], ['CC-BY-2.5', 'cc-by-2.5'], ['CC-BY-3.0', 'cc-by-3.0'],
    ['CC-BY-SA-2.0', 'cc-by-sa-2.0'], ['CC-BY-SA-2.5', 'cc-by-sa-2.5'], ['CC-BY-SA-3.0', 'cc-by-sa-3.0'],
    ['CC-BY-NC-2.0', 'cc-by-nc-2.0'], ['CC-BY-NC-3.0', 'cc-by-nc-3.0'], ['CC-BY-NC-SA-3.0', 'cc-by-nc-sa-3.0'],
    ['CC-BY-ND-3.0', 'cc-by-nd-3.0'], ['CC-BY-NC-ND-2.5', 'cc-by-nc-nd-2.5'],
    ['GPL-3.0-or-later', 'gpl-3.0-or-later'], ['GPL-3.0+', 'gpl-3.0-or-later'], ['GPL-2.0+', 'gpl-2.0-or-later'],
    ['LGPL-2.1+', 'lgpl-2.1-or-later'], ['AGPL-3.0-or-later', 'agpl-3.0-or-later'], ['GFDL-1.3', 'gfdl-1.3-only'],
    ['GFDL-1.3-or-later', 'gfdl-1.3-or-later'], ['EUPL-1.2', 'eupl-1.2'], ['MIT-0', 'mit-0'], ['0BSD', '0bsd'],
    ['CERN-OHL-S-2.0', 'cern-ohl-s-2.0'],
    // Unversioned spellings of licences that only ever had one version.
    ['cc0', 'cc0-1.0'], ['ODbL', 'odbl-1.0'], ['odc-odbl-1.0', 'odbl-1.0'], ['PDDL', 'pddl-1.0'],
  ];
  it.each(spdx)('maps the SPDX id %j to %j', (id, zenodo) => {
    expect(mapLicense(id)).toBe(zenodo);
  });

  it('ignores case and surrounding whitespace', () => {
    for (const id of ['CC-BY', 'Cc-By', ' cc-by', 'cc-by \n', '\tCC-BY\t', '\u00a0cc-by\u00a0']) {
      expect(mapLicense(id), JSON.stringify(id)).toBe('cc-by-4.0');
    }
    expect(mapLicense('  ODBL-1.0  ')).toBe('odbl-1.0');
  });

  // Vague, unknown, or known but absent from Zenodo: undefined, never a guess.
  const unknown = [
    'notspecified', 'cc-nc', 'other-undefined', 'cc-by-igo', 'cc-by-3.0-igo', 'CC-BY-4.0-IGO',
    'dl-de-by-2.0', 'dl-de-zero-2.0', 'dl-by-de/2.0', 'cc-by-3.0-de', 'CC-BY-SA-3.0-DE', 'NLOD-2.0', 'canada-crown',
    'GFDL-1.3-no-cover-texts-no-invariant-sections', 'gfdl-1.1-only', 'GFDL-1.1', 'Talis', 'CC-BY-5.0',
    '', '   ', 'null', 'undefined', 'none', 'License not specified', 'Creative Commons Attribution',
    'cc by 4.0', 'cc-by-4.0;', 'cc-by-4.0\u0000', 'cc_by_4.0', 'constructor', '__proto__', 'toString',
    'hasOwnProperty', 'my-own-licence', 'x'.repeat(10_000),
  ];
  it.each(unknown.map((id) => [id.length > 40 ? `${id.slice(0, 10)}… (${id.length} chars)` : id, id]))('returns undefined for %j', (_label, id) => {
    expect(mapLicense(id)).toBeUndefined();
    expect(describeLicense(id)).toBeUndefined();
  });

  it('maps every Zenodo id it can return to itself, in any case, and has a title for it', () => {
    const ids = zenodoLicenseIds();
    expect(ids.length).toBeGreaterThan(150);
    for (const id of ids) {
      expect(mapLicense(id), id).toBe(id);
      expect(mapLicense(` ${id.toUpperCase()} `), id).toBe(id);
      expect(describeLicense(id), id).toMatch(/\S{2}/);
    }
  });
});

describe('describeLicense', () => {
  const titles: [string, string][] = [
    ['cc-by', 'Creative Commons Attribution 4.0 International'],
    ['CC-BY-3.0', 'Creative Commons Attribution 3.0 Unported'],
    ['cc-zero', 'Creative Commons Zero v1.0 Universal'],
    ['odc-odbl', 'ODC Open Database License v1.0'],
    ['uk-ogl', 'Open Government Licence v3.0'],
    ['gfdl', 'GNU Free Documentation License'],
    ['other-open', 'Other (Open)'],
    ['etalab-2.0', 'Etalab Open License 2.0'],
  ];
  it.each(titles)('names %j as %j', (id, title) => {
    expect(describeLicense(id)).toBe(title);
  });
});

describe('normaliseLicense and sameLicense', () => {
  // What Zenodo returns → what we sent (reference §5.1 and the snapshot's reverse map). Several of
  // these mean something else when sent: `cc-by` comes back only for CC BY 1.0.
  const returned: [string, string][] = [
    ['cc-zero', 'cc0-1.0'], ['cc-by', 'cc-by-1.0'], ['cc-by-sa', 'cc-by-sa-1.0'], ['cc-nc', 'cc-by-nc-2.0'],
    ['odc-by', 'odc-by-1.0'], ['odc-odbl', 'odbl-1.0'], ['odc-pddl', 'pddl-1.0'], ['uk-ogl', 'ogl-uk-1.0'],
    ['canada-crown', 'ogl-canada-2.0'], ['fal', 'lal-1.2'], ['mit-license', 'mit'], ['apache2.0', 'apache-2.0'],
    ['apache', 'apache-1.0'], ['gpl-3.0', 'gpl-3.0-only'], ['apgl-v3', 'agpl-3.0-only'],
    ['bsd-2-clause-netbsd', 'bsd-2-clause'], ['cc-by-4.0', 'cc-by-4.0'], ['cc-by-sa-4.0', 'cc-by-sa-4.0'],
    ['ogl-uk-3.0', 'ogl-uk-3.0'], ['other-open', 'other-open'], ['CC-BY-NC-4.0', 'cc-by-nc-4.0'],
  ];
  it.each(returned)('reads the returned id %j as %j', (back, sent) => {
    expect(normaliseLicense(back)).toBe(sent);
    expect(sameLicense(sent, back)).toBe(true);
  });

  it('has no licence for nothing, and keeps unknown ids lowercased and trimmed', () => {
    for (const none of [undefined, null, '', '  ']) expect(normaliseLicense(none)).toBeUndefined();
    expect(normaliseLicense(' Some-Licence ')).toBe('some-licence');
  });

  it('treats gfdl as the missing licence Zenodo returns for it, and tells versions apart', () => {
    expect(sameLicense('gfdl', undefined)).toBe(true);
    expect(sameLicense('gfdl', null)).toBe(true);
    expect(sameLicense('cc0-1.0', 'cc-zero')).toBe(true);
    expect(sameLicense('cc-by-4.0', 'cc-zero')).toBe(false);
    expect(sameLicense('cc-by-4.0', 'cc-by')).toBe(false); // Zenodo's answer `cc-by` is CC BY 1.0
    expect(sameLicense('ogl-uk-3.0', 'uk-ogl')).toBe(false); // and `uk-ogl` is OGL v1.0
    expect(sameLicense('cc-by-4.0', undefined)).toBe(false);
  });
});

describe('against the Zenodo emulator over loopback', () => {
  let emu: ZenodoEmulator;
  beforeAll(async () => {
    emu = await startZenodoEmulator({ rateLimit: false });
  });
  afterAll(async () => {
    await emu.close();
  });

  test('every id we send is accepted and reads back as the same licence; unknown ids are refused', async () => {
    const ckanIds = ['notspecified', 'odc-pddl', 'odc-odbl', 'odc-by', 'cc-zero', 'cc-by', 'cc-by-sa', 'gfdl', 'other-open', 'other-pd', 'other-at', 'uk-ogl', 'cc-nc', 'other-nc', 'other-closed'];
    const sent = new Set([...zenodoLicenseIds(), ...ckanIds.map(mapLicense).filter((id) => id !== undefined)]);
    for (const license of sent) {
      const res = await call(emu, 'POST', '/api/deposit/depositions', { json: { metadata: validMetadata({ license }) } });
      expect(res.status, `${license}: ${res.text}`).toBe(201);
      const back = res.body.metadata.license as string | undefined;
      expect(sameLicense(license, back), `${license} came back as ${back}`).toBe(true);
    }
    for (const license of ['other-undefined', 'cc-by-igo', 'dl-de-by-2.0', 'GFDL', 'constructor', 'not-a-licence']) {
      const res = await call(emu, 'POST', '/api/deposit/depositions', { json: { metadata: validMetadata({ license }) } });
      expect(res.status, license).toBe(400);
      expect(res.body.errors).toEqual([{ field: 'metadata.license', messages: [`Invalid license provided: ${license}`] }]);
    }
  });
});
