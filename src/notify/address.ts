/**
 * What counts as one plain e-mail address. Its own module so that pure code outside src/notify
 * (the creator parsing in src/zenodo/creators.ts, which finds addresses in ckanext-scheming author
 * lists) validates exactly as the notifier does, without importing the recipient resolution.
 */

// Control characters (C0, DEL, C1) and Unicode line/paragraph separators: never in an address.
export const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;
// A deliberately plain shape: local@domain, no spaces, quotes, brackets, commas, semicolons or
// backslashes (none of which an owner's real address needs, and all of which appear in injection
// attempts). Non-ASCII letters are allowed (internationalised addresses and IDN domains).
const ADDRESS = /^[^\s@"<>(),;:\\[\]]{1,64}@(?:[^\s@"<>(),;:\\[\].]{1,63}\.)+[^\s@"<>(),;:\\[\].\d][^\s@"<>(),;:\\[\].]{0,62}$/u;

/** True for one plain address such as `jane@example.org` (no display name, no list). */
export function isValidAddress(value: string): boolean {
  if (value.length > 254 || CONTROL.test(value)) return false;
  return ADDRESS.test(value);
}
