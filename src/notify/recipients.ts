/**
 * Who gets a mail about a dataset (DESIGN.md "Data flow" 5): the owners named by the rule's
 * `notify` list, read from the dataset dict and, for `creator` / `org_admins`, from CKAN's user and
 * organization records (reference/ckan-api.md §6). Everything read here is hostile input: CKAN's
 * `maintainer_email` is a free string that may hold several addresses, a display name, a user
 * UUID, or an attempt at header injection. Only plain, validated addresses come out.
 */
import type { NotifyTarget } from '../rules/types.js';
import { peopleEmails } from '../zenodo/creators.js';
import { CONTROL, isValidAddress } from './address.js';

export { isValidAddress } from './address.js';

/**
 * What the notifier needs from CKAN. The scanner's CKAN client satisfies it (`user_show`,
 * `organization_show`); keeping it this small means tests and the sync worker can pass anything
 * that answers these two questions.
 */
export interface OwnerDirectory {
  /**
   * The user's e-mail address; `{ hidden: true }` when CKAN returned the user without `email`
   * (CKAN includes it only for the user themself or a sysadmin, ckan-api.md §6); undefined when
   * the user is unknown or has no address.
   */
  userEmail(userId: string): Promise<{ email: string } | { hidden: true } | undefined>;
  /**
   * Addresses of the organization's admins (`users[]` with `capacity == "admin"`); `hidden` counts
   * the admins CKAN listed without an address; `membersHidden` is true when CKAN withheld the
   * member list itself (`ckan.auth.public_user_details = false`).
   */
  orgAdminEmails(orgId: string): Promise<{ emails: string[]; hidden: number; membersHidden?: boolean }>;
}

/** The two CKAN calls `ownerDirectoryFromCkan` needs (the scanner's CKAN client has them). */
export interface CkanOwnerLookups {
  userShow(id: string): Promise<{ email?: string | null }>;
  organizationShow(idOrName: string, opts?: { includeUsers?: boolean }): Promise<{ users?: { id: string | null; name: string; capacity: string | null }[] }>;
}

/**
 * An OwnerDirectory over CKAN's `user_show` and `organization_show` (ckan-api.md §6). A user dict
 * without `email` means the token is not a sysadmin's (CKAN users always have an address), so it
 * counts as hidden. Organization `users[]` never carry addresses, so each admin is looked up.
 */
export function ownerDirectoryFromCkan(ckan: CkanOwnerLookups): OwnerDirectory {
  const userEmail = async (userId: string): Promise<{ email: string } | { hidden: true } | undefined> => {
    const user = await ckan.userShow(userId);
    const email = typeof user.email === 'string' ? user.email.trim() : '';
    return email === '' ? { hidden: true } : { email };
  };
  return {
    userEmail,
    async orgAdminEmails(orgId: string) {
      const org = await ckan.organizationShow(orgId, { includeUsers: true });
      const users = org.users ?? [];
      if (users.length === 0) return { emails: [], hidden: 0, membersHidden: true };
      const emails: string[] = [];
      let hidden = 0;
      for (const admin of users.filter((u) => (u.capacity ?? '').toLowerCase() === 'admin')) {
        const found = await userEmail(admin.id ?? admin.name);
        if (found && 'email' in found) emails.push(found.email);
        else hidden++;
      }
      return { emails, hidden, membersHidden: false };
    },
  };
}

/** The part of a CKAN dataset dict this module reads; everything is optional and untyped. */
export interface OwnerFields {
  id?: unknown;
  name?: unknown;
  maintainer_email?: unknown;
  author_email?: unknown;
  /** Read for addresses only when `author_email` is empty (ckanext-scheming person lists). */
  author?: unknown;
  /** Read for addresses only when `maintainer_email` is empty. */
  maintainer?: unknown;
  creator_user_id?: unknown;
  owner_org?: unknown;
  organization?: unknown;
  [key: string]: unknown;
}

export interface ResolvedRecipients {
  /** Validated, deduplicated (case-insensitively) owner addresses, in `notify` order. */
  owners: string[];
  /** Things an operator should know (hidden addresses, invalid values): log them, show them to the admin. */
  warnings: string[];
}

// "Jane Doe <jane@example.org>": take the address between the angle brackets.
const NAME_ADDR = /^[^<>]*<([^<>]+)>$/u;

/**
 * Splits a free-text CKAN field into addresses: several addresses may be separated by `,` or `;`
 * (common in `maintainer_email`), each may carry a display name (`Name <addr>`). Values with
 * control characters (CR/LF header-injection attempts) are rejected whole, not repaired: a field
 * like `a@x.org\r\nBcc: evil@y.org` names no one we should trust.
 */
export function parseAddressField(value: unknown): { valid: string[]; invalid: string[] } {
  const valid: string[] = [];
  const invalid: string[] = [];
  if (typeof value !== 'string') return { valid, invalid };
  const trimmed = value.trim();
  if (trimmed === '') return { valid, invalid };
  if (CONTROL.test(trimmed)) return { valid, invalid: [trimmed] };
  for (const part of trimmed.split(/[,;]/u)) {
    let candidate = part.trim();
    if (candidate === '') continue;
    const named = NAME_ADDR.exec(candidate);
    if (named?.[1] !== undefined) candidate = named[1].trim();
    if (candidate.toLowerCase().startsWith('mailto:')) candidate = candidate.slice(7);
    if (isValidAddress(candidate)) valid.push(candidate);
    else invalid.push(part.trim());
  }
  return { valid, invalid };
}

/** Deduplicates addresses case-insensitively, keeping the first spelling and the order. */
export function dedupeAddresses(addresses: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const address of addresses) {
    const key = address.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(address);
  }
  return out;
}

function stringField(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function orgId(dataset: OwnerFields): string | undefined {
  const org = dataset.organization;
  if (org !== null && typeof org === 'object' && 'id' in org) {
    const id = stringField((org as { id?: unknown }).id);
    if (id !== undefined) return id;
  }
  return stringField(dataset.owner_org);
}

/** Shortens hostile values quoted in warnings, and makes control characters visible. */
function quote(value: string): string {
  const visible = value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/gu, '\uFFFD');
  return JSON.stringify(visible.length > 80 ? `${visible.slice(0, 77)}...` : visible);
}

/**
 * Resolves the rule's `notify` list for one dataset, in the list's order. `creator` and
 * `org_admins` need `directory` (CKAN lookups); without it they are skipped with a warning. A
 * lookup that fails is a warning, not an error: a mail to the other owners (or to the admin) is
 * better than none.
 */
export async function resolveRecipients(
  dataset: OwnerFields,
  notify: readonly NotifyTarget[],
  directory?: OwnerDirectory,
): Promise<ResolvedRecipients> {
  const found: string[] = [];
  const warnings: string[] = [];
  const fromField = (field: string, value: unknown): void => {
    const { valid, invalid } = parseAddressField(value);
    found.push(...valid);
    for (const bad of invalid) warnings.push(`${field} ${quote(bad)} is not a valid e-mail address; ignored`);
  };
  for (const target of notify) {
    switch (target) {
      case 'maintainer_email':
      case 'author_email': {
        if (stringField(dataset[target]) !== undefined) {
          fromField(target, dataset[target]);
          break;
        }
        // ckanext-scheming portals (EnviDat) leave `*_email` empty and keep the addresses in the
        // person list of `author` / `maintainer` (a JSON string or an array of {name, email, ...}).
        const people = target === 'author_email' ? dataset.author : dataset.maintainer;
        for (const address of peopleEmails(people)) fromField(target, address);
        break;
      }
      case 'creator': {
        const userId = stringField(dataset.creator_user_id);
        if (userId === undefined) {
          warnings.push('creator: the dataset has no creator_user_id');
          break;
        }
        if (!directory) {
          warnings.push('creator: no CKAN directory available to look up the creator');
          break;
        }
        try {
          const found = await directory.userEmail(userId);
          if (found && 'hidden' in found) {
            warnings.push(
              `creator: CKAN did not return the e-mail address of user ${quote(userId)}; CKAN shows user e-mail addresses only to sysadmins, so set [ckan] api_token to a sysadmin's token to notify dataset creators`,
            );
          } else if (found === undefined) {
            warnings.push(`creator: user ${quote(userId)} has no e-mail address in CKAN`);
          } else {
            fromField('creator', found.email);
          }
        } catch (error) {
          warnings.push(`creator: looking up user ${quote(userId)} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
        break;
      }
      case 'org_admins': {
        const id = orgId(dataset);
        if (id === undefined) {
          warnings.push('org_admins: the dataset belongs to no organization');
          break;
        }
        if (!directory) {
          warnings.push('org_admins: no CKAN directory available to look up the organization admins');
          break;
        }
        try {
          const { emails, hidden, membersHidden } = await directory.orgAdminEmails(id);
          for (const email of emails) fromField('org_admins', email);
          if (membersHidden === true) {
            warnings.push(
              `org_admins: CKAN did not list the members of organization ${quote(id)} (ckan.auth.public_user_details is off); set [ckan] api_token to a sysadmin's token to notify organization admins`,
            );
          }
          if (hidden > 0) {
            warnings.push(
              `org_admins: CKAN did not return the e-mail address of ${hidden} admin(s) of organization ${quote(id)}; CKAN shows user e-mail addresses only to sysadmins, so set [ckan] api_token to a sysadmin's token`,
            );
          }
        } catch (error) {
          warnings.push(`org_admins: looking up organization ${quote(id)} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
        break;
      }
      default:
        // Literal addresses from rules.yaml (validated by the rules loader, checked again here).
        fromField('notify', target);
    }
  }
  return { owners: dedupeAddresses(found), warnings };
}
