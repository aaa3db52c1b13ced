/**
 * CKAN licence ids → Zenodo licence ids (reference zenodo-api.md §5.1). Pure: no I/O.
 *
 * Policy: a DOI is forever, so we map only what we know exactly. `mapLicense` returns `undefined`
 * for an id we do not know or whose terms are not precise enough to state on a permanent record;
 * the caller refuses to archive then instead of inventing a licence.
 *
 * Sources (read 2026-08, snapshots named by their commits):
 * - Zenodo: zenodo/zenodo-rdm@6386403 `app_data/vocabularies/licenses.csv` (the RDM vocabulary: the
 *   ids and titles below) and `legacy/zenodo_legacy/{licenses.py,data/legacy_to_rdm_map.json,
 *   data/legacy_licenses.json}` (how the legacy deposit API we use maps an input id and what it
 *   returns, §5.1). Every id in ZENODO_LICENSES was checked to be a vocabulary id that the legacy
 *   API maps to itself.
 * - CKAN: ckan/ckan@2dbe2c1 `ckan/model/license.py` (the default licence list).
 * - Open Definition: okfn/licenses@98a3a6f `licenses.csv` and `licenses/groups/ckan.json`.
 */

/**
 * The Zenodo ids we send, with the title Zenodo shows for each (its vocabulary's `title__en`).
 * Lowercase SPDX-style RDM ids, so the record means one exact licence version; Zenodo's legacy
 * short ids (`cc-by`, `uk-ogl`) are never sent because its alias table decides their version.
 *
 * Deliberately curated rather than all 446 vocabulary ids: every data and content licence Zenodo
 * has, every id of the Open Definition list that Zenodo has, and the common software licences.
 * Adding another vocabulary id is one line here (and one in the emulator's table).
 *
 * Left out on purpose:
 * - `gfdl-1.1-only`: Zenodo returns it as `gfdl`, which is also what it keeps for CKAN's
 *   unversioned `gfdl` (see below), so a read-back could not tell the two apart.
 * - `notspecified`: Zenodo has it ("License Not Specified"), but it states no terms at all; it is
 *   the same as a dataset without a licence, which we refuse (see INPUT_ALIASES).
 */
const ZENODO_LICENSES: ReadonlyMap<string, string> = new Map(Object.entries({
  // CKAN's `gfdl` ("GNU Free Documentation License", no version). Zenodo has the same id in
  // `legacy_licenses.json` with the same title and no version, and stores it as a title-only
  // custom licence: the record states exactly what CKAN states, no more. Zenodo then returns no
  // `license` at all (§5.1, Q17), which `sameLicense` treats as equal. It only works lowercase.
  gfdl: 'GNU Free Documentation License',
  '0bsd': 'BSD Zero Clause License',
  aal: 'Attribution Assurance License',
  'afl-3.0': 'Academic Free License v3.0',
  'against-drm': 'Against DRM',
  'agpl-3.0-only': 'GNU Affero General Public License v3.0 only',
  'agpl-3.0-or-later': 'GNU Affero General Public License v3.0 or later',
  'apache-1.0': 'Apache License 1.0',
  'apache-1.1': 'Apache License 1.1',
  'apache-2.0': 'Apache License 2.0',
  'apl-1.0': 'Adaptive Public License 1.0',
  'apsl-2.0': 'Apple Public Source License 2.0',
  'artistic-2.0': 'Artistic License 2.0',
  'bittorrent-1.1': 'BitTorrent Open Source License v1.1',
  'bsd-1-clause': 'BSD 1-Clause License',
  'bsd-2-clause': 'BSD 2-Clause "Simplified" License',
  'bsd-2-clause-patent': 'BSD-2-Clause Plus Patent License',
  'bsd-3-clause': 'BSD 3-Clause "New" or "Revised" License',
  'bsd-3-clause-clear': 'BSD 3-Clause Clear License',
  'bsd-4-clause': 'BSD 4-Clause "Original" or "Old" License',
  'bsl-1.0': 'Boost Software License 1.0',
  'catosl-1.1': 'Computer Associates Trusted Open Source License 1.1',
  'cc-by-1.0': 'Creative Commons Attribution 1.0 Generic',
  'cc-by-2.0': 'Creative Commons Attribution 2.0 Generic',
  'cc-by-2.5': 'Creative Commons Attribution 2.5 Generic',
  'cc-by-3.0': 'Creative Commons Attribution 3.0 Unported',
  'cc-by-3.0-at': 'Creative Commons Attribution 3.0 Austria',
  'cc-by-3.0-us': 'Creative Commons Attribution 3.0 United States',
  'cc-by-4.0': 'Creative Commons Attribution 4.0 International',
  'cc-by-nc-1.0': 'Creative Commons Attribution Non Commercial 1.0 Generic',
  'cc-by-nc-2.0': 'Creative Commons Attribution Non Commercial 2.0 Generic',
  'cc-by-nc-2.5': 'Creative Commons Attribution Non Commercial 2.5 Generic',
  'cc-by-nc-3.0': 'Creative Commons Attribution Non Commercial 3.0 Unported',
  'cc-by-nc-4.0': 'Creative Commons Attribution Non Commercial 4.0 International',
  'cc-by-nc-nd-1.0': 'Creative Commons Attribution Non Commercial No Derivatives 1.0 Generic',
  'cc-by-nc-nd-2.0': 'Creative Commons Attribution Non Commercial No Derivatives 2.0 Generic',
  'cc-by-nc-nd-2.5': 'Creative Commons Attribution Non Commercial No Derivatives 2.5 Generic',
  'cc-by-nc-nd-3.0': 'Creative Commons Attribution Non Commercial No Derivatives 3.0 Unported',
  'cc-by-nc-nd-3.0-igo': 'Creative Commons Attribution Non Commercial No Derivatives 3.0 IGO',
  'cc-by-nc-nd-4.0': 'Creative Commons Attribution Non Commercial No Derivatives 4.0 International',
  'cc-by-nc-sa-1.0': 'Creative Commons Attribution Non Commercial Share Alike 1.0 Generic',
  'cc-by-nc-sa-2.0': 'Creative Commons Attribution Non Commercial Share Alike 2.0 Generic',
  'cc-by-nc-sa-2.5': 'Creative Commons Attribution Non Commercial Share Alike 2.5 Generic',
  'cc-by-nc-sa-3.0': 'Creative Commons Attribution Non Commercial Share Alike 3.0 Unported',
  'cc-by-nc-sa-4.0': 'Creative Commons Attribution Non Commercial Share Alike 4.0 International',
  'cc-by-nd-1.0': 'Creative Commons Attribution No Derivatives 1.0 Generic',
  'cc-by-nd-2.0': 'Creative Commons Attribution No Derivatives 2.0 Generic',
  'cc-by-nd-2.5': 'Creative Commons Attribution No Derivatives 2.5 Generic',
  'cc-by-nd-3.0': 'Creative Commons Attribution No Derivatives 3.0 Unported',
  'cc-by-nd-4.0': 'Creative Commons Attribution No Derivatives 4.0 International',
  'cc-by-sa-1.0': 'Creative Commons Attribution Share Alike 1.0 Generic',
  'cc-by-sa-2.0': 'Creative Commons Attribution Share Alike 2.0 Generic',
  'cc-by-sa-2.0-uk': 'Creative Commons Attribution Share Alike 2.0 England and Wales',
  'cc-by-sa-2.5': 'Creative Commons Attribution Share Alike 2.5 Generic',
  'cc-by-sa-3.0': 'Creative Commons Attribution Share Alike 3.0 Unported',
  'cc-by-sa-3.0-at': 'Creative Commons Attribution-Share Alike 3.0 Austria',
  'cc-by-sa-4.0': 'Creative Commons Attribution Share Alike 4.0 International',
  'cc-pddc': 'Creative Commons Public Domain Dedication and Certification',
  'cc0-1.0': 'Creative Commons Zero v1.0 Universal',
  'cddl-1.0': 'Common Development and Distribution License 1.0',
  'cddl-1.1': 'Common Development and Distribution License 1.1',
  'cdla-permissive-1.0': 'Community Data License Agreement Permissive 1.0',
  'cdla-sharing-1.0': 'Community Data License Agreement Sharing 1.0',
  'cecill-2.0': 'CeCILL Free Software License Agreement v2.0',
  'cecill-2.1': 'CeCILL Free Software License Agreement v2.1',
  'cecill-b': 'CeCILL-B Free Software License Agreement',
  'cecill-c': 'CeCILL-C Free Software License Agreement',
  'cern-ohl-p-2.0': 'CERN Open Hardware Licence Version 2 - Permissive',
  'cern-ohl-s-2.0': 'CERN Open Hardware Licence Version 2 - Strongly Reciprocal',
  'cern-ohl-w-2.0': 'CERN Open Hardware Licence Version 2 - Weakly Reciprocal',
  'cnri-python': 'CNRI Python License',
  'cpal-1.0': 'Common Public Attribution License 1.0',
  'cua-opl-1.0': 'CUA Office Public License v1.0',
  'dli-model-use': 'Statistics Canada: Data Liberation Initiative (DLI) - Model Data Use Licence',
  dsl: 'Design Science License',
  'ecl-2.0': 'Educational Community License v2.0',
  'efl-2.0': 'Eiffel Forum License v2.0',
  entessa: 'Entessa Public License v1.0',
  'epl-1.0': 'Eclipse Public License 1.0',
  'epl-2.0': 'Eclipse Public License 2.0',
  'etalab-2.0': 'Etalab Open License 2.0',
  eudatagrid: 'EU DataGrid Software License',
  'eupl-1.0': 'European Union Public License 1.0',
  'eupl-1.1': 'European Union Public License 1.1',
  'eupl-1.2': 'European Union Public License 1.2',
  eurofound: 'Eurofound license',
  fair: 'Fair License',
  'frameworx-1.0': 'Frameworx Open License 1.0',
  'geo-no-fee-unrestricted': 'No Fee Unrestricted Use License Agreement For Government Geographic Data (Canada)',
  geogratis: 'Geogratis Licence Agreement',
  'gfdl-1.1-invariants-only': 'GNU Free Documentation License v1.1 only - invariants',
  'gfdl-1.1-invariants-or-later': 'GNU Free Documentation License v1.1 or later - invariants',
  'gfdl-1.1-no-invariants-only': 'GNU Free Documentation License v1.1 only - no invariants',
  'gfdl-1.1-no-invariants-or-later': 'GNU Free Documentation License v1.1 or later - no invariants',
  'gfdl-1.1-or-later': 'GNU Free Documentation License v1.1 or later',
  'gfdl-1.2-invariants-only': 'GNU Free Documentation License v1.2 only - invariants',
  'gfdl-1.2-invariants-or-later': 'GNU Free Documentation License v1.2 or later - invariants',
  'gfdl-1.2-no-invariants-only': 'GNU Free Documentation License v1.2 only - no invariants',
  'gfdl-1.2-no-invariants-or-later': 'GNU Free Documentation License v1.2 or later - no invariants',
  'gfdl-1.2-only': 'GNU Free Documentation License v1.2 only',
  'gfdl-1.2-or-later': 'GNU Free Documentation License v1.2 or later',
  'gfdl-1.3-invariants-only': 'GNU Free Documentation License v1.3 only - invariants',
  'gfdl-1.3-invariants-or-later': 'GNU Free Documentation License v1.3 or later - invariants',
  'gfdl-1.3-no-invariants-only': 'GNU Free Documentation License v1.3 only - no invariants',
  'gfdl-1.3-no-invariants-or-later': 'GNU Free Documentation License v1.3 or later - no invariants',
  'gfdl-1.3-only': 'GNU Free Documentation License v1.3 only',
  'gfdl-1.3-or-later': 'GNU Free Documentation License v1.3 or later',
  'gpl-1.0-only': 'GNU General Public License v1.0 only',
  'gpl-1.0-or-later': 'GNU General Public License v1.0 or later',
  'gpl-2.0-only': 'GNU General Public License v2.0 only',
  'gpl-2.0-or-later': 'GNU General Public License v2.0 or later',
  'gpl-3.0-only': 'GNU General Public License v3.0 only',
  'gpl-3.0-or-later': 'GNU General Public License v3.0 or later',
  'hesa-withrights': 'Higher Education Statistics Agency Copyright with data.gov.uk rights',
  hpnd: 'Historical Permission Notice and Disclaimer',
  intel: 'Intel Open Source License',
  ipa: 'IPA Font License',
  'ipl-1.0': 'IBM Public License v1.0',
  isc: 'ISC License',
  'lal-1.2': 'Licence Art Libre 1.2',
  'lal-1.3': 'Licence Art Libre 1.3',
  'lgpl-2.0-only': 'GNU Library General Public License v2 only',
  'lgpl-2.0-or-later': 'GNU Library General Public License v2 or later',
  'lgpl-2.1-only': 'GNU Lesser General Public License v2.1 only',
  'lgpl-2.1-or-later': 'GNU Lesser General Public License v2.1 or later',
  'lgpl-3.0-only': 'GNU Lesser General Public License v3.0 only',
  'lgpl-3.0-or-later': 'GNU Lesser General Public License v3.0 or later',
  'localauth-withrights': 'Local Authority Copyright with data.gov.uk rights',
  'lpl-1.0': 'Lucent Public License Version 1.0',
  'lpl-1.02': 'Lucent Public License v1.02',
  'lppl-1.3c': 'LaTeX Project Public License v1.3c',
  'met-office-cp': 'Met Office UK Climate Projections Licence Agreement',
  miros: 'The MirOS Licence',
  mit: 'MIT License',
  'mit-0': 'MIT No Attribution',
  mitre: 'MITRE Collaborative Virtual Workspace License (CVW License)',
  motosoto: 'Motosoto License',
  'mpl-1.0': 'Mozilla Public License 1.0',
  'mpl-1.1': 'Mozilla Public License 1.1',
  'mpl-2.0': 'Mozilla Public License 2.0',
  'ms-pl': 'Microsoft Public License',
  'ms-rl': 'Microsoft Reciprocal License',
  multics: 'Multics License',
  'nasa-1.3': 'NASA Open Source Agreement 1.3',
  naumen: 'Naumen Public License',
  'ncgl-uk-2.0': 'Non-Commercial Government Licence',
  ncsa: 'University of Illinois/NCSA Open Source License',
  ngpl: 'Nethack General Public License',
  'nist-pd': 'NIST Public Domain Notice',
  'nlod-1.0': 'Norwegian Licence for Open Government Data',
  nokia: 'Nokia Open Source License',
  'nposl-3.0': 'Non-Profit Open Software License 3.0',
  ntp: 'NTP License',
  'o-uda-1.0': 'Open Use of Data Agreement v1.0',
  'oclc-2.0': 'OCLC Research Public License 2.0',
  'odbl-1.0': 'ODC Open Database License v1.0',
  'odc-by-1.0': 'Open Data Commons Attribution License v1.0',
  'ofl-1.1': 'SIL Open Font License 1.1',
  'ogl-canada-2.0': 'Open Government Licence - Canada',
  'ogl-uk-1.0': 'Open Government Licence v1.0',
  'ogl-uk-2.0': 'Open Government Licence v2.0',
  'ogl-uk-3.0': 'Open Government Licence v3.0',
  ogtsl: 'Open Group Test Suite License',
  'osl-3.0': 'Open Software License 3.0',
  'other-at': 'Other (Attribution)',
  'other-closed': 'Other (Not Open)',
  'other-nc': 'Other (Non-Commercial)',
  'other-open': 'Other (Open)',
  'other-pd': 'Other (Public Domain)',
  'pddl-1.0': 'ODC Public Domain Dedication & License 1.0',
  'php-3.0': 'PHP License v3.0',
  postgresql: 'PostgreSQL License',
  'psf-2.0': 'Python Software Foundation License 2.0',
  'python-2.0': 'Python License 2.0',
  'qpl-1.0': 'Q Public License 1.0',
  'rpl-1.5': 'Reciprocal Public License 1.5',
  'rpsl-1.0': 'RealNetworks Public Source License v1.0',
  rscpl: 'Ricoh Source Code Public License',
  'simpl-2.0': 'Simple Public License 2.0',
  sissl: 'Sun Industry Standards Source License v1.1',
  sleepycat: 'Sleepycat License',
  'spl-1.0': 'Sun Public License v1.0',
  ukclickusepsi: 'UK Click Use PSI',
  ukcrown: 'UK Crown Copyright',
  'ukcrown-withrights': 'UK Crown Copyright with data.gov.uk rights',
  ukpsi: 'UK PSI Public Sector Information',
  unlicense: 'The Unlicense',
  'upl-1.0': 'Universal Permissive License v1.0',
  'vsl-1.0': 'Vovida Software License v1.0',
  w3c: 'W3C Software Notice and License (2002-12-31)',
  'watcom-1.0': 'Sybase Open Watcom Public License 1.0',
  wtfpl: 'Do What The F*ck You Want To Public License',
  wxwindows: 'wxWindows Library License',
  x11: 'X11 License',
  xnet: 'X.Net License',
  zlib: 'zlib License',
  'zpl-2.0': 'Zope Public License 2.0',
}));

/**
 * Input ids (lowercase) that differ from the Zenodo id they mean: CKAN's defaults, Open
 * Definition ids, and SPDX ids that SPDX itself deprecated in favour of an exact successor.
 * Every Zenodo id above is accepted as input too (any case).
 */
const INPUT_ALIASES: ReadonlyMap<string, string> = new Map(Object.entries({
  // --- CKAN default list (ckan/model/license.py) -----------------------------------------------
  // Unversioned `cc-by` / `cc-by-sa` ("Creative Commons Attribution [Share-Alike]") link to the
  // Open Definition pages, whose CKAN group lists CC-BY-4.0 / CC-BY-SA-4.0 in their place; Zenodo's
  // own alias table maps `cc-by`/`cc-by-sa` to 4.0 too. Two sources agree, so 4.0.
  'cc-by': 'cc-by-4.0',
  'cc-by-sa': 'cc-by-sa-4.0',
  // CC0, ODC-BY, ODbL and PDDL have only ever had version 1.0: the unversioned ids are exact.
  'cc-zero': 'cc0-1.0',
  'odc-by': 'odc-by-1.0',
  'odc-odbl': 'odbl-1.0',
  'odc-pddl': 'pddl-1.0',
  // "UK Open Government Licence (OGL)": CKAN's definition links to version 3 since ckan/ckan
  // e886a3e (2022), and before that to the "current version" URL, which has been v3.0 since 2014.
  // Zenodo's legacy alias maps `uk-ogl` to OGL v1.0 (an artefact of its 2013 list), so we must
  // not send `uk-ogl` itself.
  'uk-ogl': 'ogl-uk-3.0',
  // Deliberately absent, so they map to undefined:
  // - `notspecified` ("License not specified"): states no terms; the same as no licence at all.
  // - `cc-nc` ("Creative Commons Non-Commercial (Any)"): "Any" covers BY-NC, BY-NC-SA and
  //   BY-NC-ND of any version, whose terms differ (derivatives allowed or not, share-alike or
  //   not). Zenodo maps it to CC BY-NC 2.0 (CKAN's example URL), which would grant rights a BY-NC-ND
  //   licensor never gave. The portal must name the exact licence.
  // - `other-undefined`, and anything else we do not list.
  // The generic `other-open`, `other-pd`, `other-at`, `other-nc`, `other-closed` are NOT aliases:
  // Zenodo has the same ids with the same titles ("Other (Open)", ...), both taken from the Open
  // Definition list, so the record states exactly the category CKAN states. They are in
  // ZENODO_LICENSES and pass through unchanged.

  // --- Open Definition ids whose Zenodo id is spelt differently -------------------------------
  'agpl-3.0': 'agpl-3.0-only', // OD "GNU Affero GPL v3"; SPDX deprecated AGPL-3.0 for AGPL-3.0-only
  'gpl-2.0': 'gpl-2.0-only',
  'gpl-3.0': 'gpl-3.0-only',
  'lgpl-2.1': 'lgpl-2.1-only',
  'lgpl-3.0': 'lgpl-3.0-only',
  // Free Art License 1.3 is the English name of the Licence Art Libre 1.3 (SPDX LAL-1.3).
  'fal-1.3': 'lal-1.3',
  // OD "Open License 2.0" (France) = Licence Ouverte 2.0, which SPDX calls Etalab-2.0; Zenodo's
  // etalab-2.0 links to the same text.
  'lo-fr-2.0': 'etalab-2.0',
  // Deliberately absent: `GFDL-1.3-no-cover-texts-no-invariant-sections` (Zenodo has 1.3 only /
  // or-later variants; the OD id says neither), `Talis` (Zenodo has no such licence).

  // OD legacy ids (the `legacy_ids` column), each the same licence as its current OD id.
  'odc-pddl-1.0': 'pddl-1.0',
  'ogl-ca-2.0': 'ogl-canada-2.0',
  'agpl-v3': 'agpl-3.0-only',
  'apl1.0': 'apl-1.0',
  'apache2.0': 'apache-2.0',
  'artistic-license-2.0': 'artistic-2.0',
  'bsl1.0': 'bsl-1.0',
  'ca-tosl1.1': 'catosl-1.1',
  cddl1: 'cddl-1.0',
  'cpal_1.0': 'cpal-1.0',
  ecl2: 'ecl-2.0',
  'eclipse-1.0': 'epl-1.0',
  'eclipse-2.0': 'epl-2.0',
  ibmpl: 'ipl-1.0',
  'isc-license': 'isc',
  'intel-osl': 'intel',
  'mit-license': 'mit',
  'mozilla1.1': 'mpl-1.1',
  'mozilla2.0': 'mpl-2.0',
  'nasa1.3': 'nasa-1.3',
  'uoi-ncsa': 'ncsa',
  'nosl3.0': 'nposl-3.0',
  oclc2: 'oclc-2.0',
  'sun-issl': 'sissl',
  'zlib-license': 'zlib',

  // --- Spellings of the one-version data licences seen on portals ------------------------------
  cc0: 'cc0-1.0',
  odbl: 'odbl-1.0',
  'odc-odbl-1.0': 'odbl-1.0',
  pddl: 'pddl-1.0',

  // --- SPDX ids that SPDX deprecated for an exact successor ------------------------------------
  'gpl-1.0': 'gpl-1.0-only',
  'gpl-1.0+': 'gpl-1.0-or-later',
  'gpl-2.0+': 'gpl-2.0-or-later',
  'gpl-3.0+': 'gpl-3.0-or-later',
  'lgpl-2.0': 'lgpl-2.0-only',
  'lgpl-2.0+': 'lgpl-2.0-or-later',
  'lgpl-2.1+': 'lgpl-2.1-or-later',
  'lgpl-3.0+': 'lgpl-3.0-or-later',
  'gfdl-1.2': 'gfdl-1.2-only',
  'gfdl-1.3': 'gfdl-1.3-only',
  // Not in any list we map, so undefined: the national licences Zenodo does not have
  // (dl-de-by-2.0, dl-de-zero-2.0, cc-by-3.0-de and other CC ports but AT/US/UK, nlod-2.0),
  // cc-by-igo / cc-by-3.0-igo (Zenodo has only cc-by-nc-nd-3.0-igo), canada-crown (Canadian
  // Crown Copyright; Zenodo maps that id to the Open Government Licence – Canada, which is a
  // different licence).
}));

/**
 * Ids Zenodo RETURNS for what we sent, where they differ from it (§5.1: the answer is the reverse
 * of `legacy_to_rdm_map.json` in which the last duplicate wins). Computed from the snapshot for
 * every id in ZENODO_LICENSES. Some of these ids mean something else when SENT, which is why this
 * table, not INPUT_ALIASES, reads answers: `cc-by` comes back only for CC BY 1.0 (sending it means
 * 4.0), `uk-ogl` only for OGL v1.0, `cc-nc` for CC BY-NC 2.0, `canada-crown` for OGL-Canada 2.0.
 */
const RETURNED_ALIASES: ReadonlyMap<string, string> = new Map(Object.entries({
  apache: 'apache-1.0',
  'apache2.0': 'apache-2.0',
  'apgl-v3': 'agpl-3.0-only',
  'apl1.0': 'apl-1.0',
  'artistic-license-2.0': 'artistic-2.0',
  attribution: 'aal',
  'bsd-2-clause-netbsd': 'bsd-2-clause',
  'bsd-license': 'bsd-1-clause',
  'bsl1.0': 'bsl-1.0',
  'ca-tosl1.1': 'catosl-1.1',
  'canada-crown': 'ogl-canada-2.0',
  'cc-by': 'cc-by-1.0',
  'cc-by-sa': 'cc-by-sa-1.0',
  'cc-nc': 'cc-by-nc-2.0',
  'cc-zero': 'cc0-1.0',
  cddl1: 'cddl-1.0',
  'cpal_1.0': 'cpal-1.0',
  cuaoffice: 'cua-opl-1.0',
  ecl2: 'ecl-2.0',
  'eclipse-1.0': 'epl-1.0',
  fal: 'lal-1.2',
  frameworx: 'frameworx-1.0',
  'gpl-2.0': 'gpl-2.0-only',
  'gpl-3.0': 'gpl-3.0-only',
  ibmpl: 'ipl-1.0',
  'intel-osl': 'intel',
  ipafont: 'ipa',
  'isc-license': 'isc',
  'lgpl-2.1': 'lgpl-2.1-only',
  'lgpl-3.0': 'lgpl-3.0-only',
  'lucent1.02': 'lpl-1.02',
  'mit-license': 'mit',
  mozilla: 'mpl-1.0',
  'mozilla1.1': 'mpl-1.1',
  'nasa1.3': 'nasa-1.3',
  nethack: 'ngpl',
  'nosl3.0': 'nposl-3.0',
  'ntp-license': 'ntp',
  oclc2: 'oclc-2.0',
  'odc-by': 'odc-by-1.0',
  'odc-odbl': 'odbl-1.0',
  'odc-pddl': 'pddl-1.0',
  opengroup: 'ogtsl',
  php: 'php-3.0',
  pythonpl: 'python-2.0',
  pythonsoftfoundation: 'psf-2.0',
  real: 'rpsl-1.0',
  ricohpl: 'rscpl',
  'rpl1.5': 'rpl-1.5',
  'sun-issl': 'sissl',
  sunpublic: 'spl-1.0',
  sybase: 'watcom-1.0',
  'uk-ogl': 'ogl-uk-1.0',
  'uoi-ncsa': 'ncsa',
  ver2_eiffel: 'efl-2.0',
  vovidapl: 'vsl-1.0',
  'zlib-license': 'zlib',
}));

function key(id: string): string {
  return id.trim().toLowerCase();
}

/**
 * The Zenodo licence id for a CKAN licence id (CKAN default, Open Definition or SPDX id; any case,
 * surrounding whitespace ignored), or undefined when we do not know it exactly.
 */
export function mapLicense(id: string): string | undefined {
  const k = key(id);
  const aliased = INPUT_ALIASES.get(k);
  if (aliased !== undefined) return aliased;
  return ZENODO_LICENSES.has(k) ? k : undefined;
}

/**
 * Our id for a licence id as Zenodo returns it (or as we sent it), so that what we sent and what
 * Zenodo shows compare equal (Q17). Zenodo's meaning wins where an id is both a CKAN id and an
 * answer: `cc-by` read back from Zenodo is CC BY 1.0 (see RETURNED_ALIASES); map CKAN ids with
 * `mapLicense`. undefined/null/blank → undefined (no licence in the answer: what Zenodo returns for
 * `gfdl`, see `sameLicense`); other unknown ids come back lowercased and trimmed.
 */
export function normaliseLicense(id: string | undefined | null): string | undefined {
  if (id === undefined || id === null) return undefined;
  const k = key(id);
  if (k === '') return undefined;
  return RETURNED_ALIASES.get(k) ?? (ZENODO_LICENSES.has(k) ? k : INPUT_ALIASES.get(k) ?? k);
}

/** True when two licence ids (ours or Zenodo's) mean the same; `gfdl` equals "no licence returned". */
export function sameLicense(a: string | undefined | null, b: string | undefined | null): boolean {
  // Zenodo keeps `gfdl` as a title-only licence and returns no id for it (§5.1).
  const fold = (x: string | undefined): string | undefined => (x === 'gfdl' ? undefined : x);
  return fold(normaliseLicense(a)) === fold(normaliseLicense(b));
}

/**
 * The title Zenodo shows for the licence a CKAN id (or one of our Zenodo ids) maps to, e.g.
 * "Creative Commons Attribution 4.0 International"; undefined when `mapLicense` does not know it.
 */
export function describeLicense(id: string): string | undefined {
  const mapped = mapLicense(id);
  return mapped === undefined ? undefined : ZENODO_LICENSES.get(mapped);
}

/** Every Zenodo id `mapLicense` can return, sorted (for validation messages and tests). */
export function zenodoLicenseIds(): string[] {
  return [...ZENODO_LICENSES.keys()].sort();
}
