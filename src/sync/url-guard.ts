/**
 * SSRF guard for resource URLs. CKAN resource URLs are written by dataset owners, so a URL could
 * point the daemon at the machine it runs on (a database admin page, a cloud metadata service at
 * 169.254.169.254) and publish the answer on Zenodo. Hosts that resolve to loopback, private,
 * link-local and other non-public addresses are refused unless the operator allow-lists them.
 *
 * The check runs at connection time (a custom DNS lookup on the download dispatcher), so a name
 * that resolves to a public address during a check and a private one when connecting (DNS
 * rebinding) is still caught, and so is every redirect hop.
 */
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { AppError } from '../errors.js';

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8], ['2001:db8::', 32], ['100::', 64],
] as const) blocked.addSubnet(net, prefix, 'ipv6');

/** IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4, compatible) are judged by it. */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:(?:0:)?|64:ff9b::|::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:(?:0:)?|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  const sixToFour = /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4}):/.exec(lower);
  if (sixToFour) {
    const hi = parseInt(sixToFour[1]!, 16);
    const lo = parseInt(sixToFour[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return undefined;
}

export function isPublicAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return !blocked.check(bare, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(bare);
    if (v4 !== undefined) return !blocked.check(v4, 'ipv4');
    return !blocked.check(bare, 'ipv6');
  }
  return false;
}

export interface HostPolicy {
  /** Entries of `[sync] allowed_hosts`: host names or addresses, optionally with `:port`. */
  allowedHosts: readonly string[];
  /**
   * The origin of `[ckan] url`: the operator chose it, so downloads from it are allowed even on a
   * loopback or private address. The origin, not the host: other ports of a private host are
   * other services (a database, an admin page), exactly what the guard is for; list them in
   * `[sync] allowed_hosts` when the portal really serves files there.
   */
  portalOrigin?: string;
}

function normaliseHost(host: string): string {
  return host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

export function isAllowListed(url: URL, policy: HostPolicy): boolean {
  if (policy.portalOrigin !== undefined && url.origin === policy.portalOrigin) return true;
  const host = normaliseHost(url.hostname);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return policy.allowedHosts.some((entry) => {
    const e = entry.trim().toLowerCase();
    const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(e.includes(':') && !e.includes('.') && !e.startsWith('[') ? `[${e}]` : e);
    if (!m) return false;
    return normaliseHost(m[1]!) === host && (m[2] === undefined || m[2] === port);
  });
}

/**
 * Checks what can be checked before connecting: the scheme, and hosts written as IP addresses
 * (which never go through DNS). Throws SSRF_REFUSED with an actionable message.
 */
export function checkUrl(raw: string, policy: HostPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Never echo credentials, even of a URL too broken to parse them out.
    const shown = raw.slice(0, 200).replace(/\/\/[^/@\s]*@/, '//…@');
    throw new AppError('SSRF_REFUSED', `the resource URL "${shown}" is not a valid URL; fix it in CKAN`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AppError('SSRF_REFUSED', `the resource URL uses the ${url.protocol.replace(':', '')}: scheme; only http and https downloads are allowed (fix the resource URL in CKAN)`);
  }
  if (url.username || url.password) {
    throw new AppError(
      'SSRF_REFUSED',
      `the resource URL for host ${url.hostname} carries credentials, which would end up in logs and mails: remove them from the URL in CKAN. A private CKAN resource needs none (the daemon sends the CKAN API token, [ckan] api_token); a file on another server must be downloadable without them, e.g. from an internal host listed in [sync] allowed_hosts`,
    );
  }
  const host = normaliseHost(url.hostname);
  if (isIP(host) !== 0 && !isPublicAddress(host) && !isAllowListed(url, policy)) {
    throw refused(url.hostname, host);
  }
  if ((host === 'localhost' || host.endsWith('.localhost')) && !isAllowListed(url, policy)) throw refused(url.hostname, '127.0.0.1');
  return url;
}

function refused(host: string, address: string): AppError {
  return new AppError(
    'SSRF_REFUSED',
    `refused to download from ${host} (${address}): it is a loopback, private or link-local address. If this host is meant to serve resources, add it to [sync] allowed_hosts`,
    { details: { host, address } },
  );
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net/tls connect options that refuses non-public addresses unless the host is
 * allow-listed. Used by the download dispatcher so every connection, redirects included, is checked.
 */
export function guardedLookup(policy: HostPolicy) {
  return (hostname: string, options: { all?: boolean; family?: number }, callback: LookupCallback): void => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (err, addresses) => {
      if (err) return callback(err, '');
      const list = addresses;
      // The port is not known here; it was checked against the policy before connecting.
      const portalHost = policy.portalOrigin === undefined ? [] : [normaliseHost(new URL(policy.portalOrigin).hostname)];
      const hosts = [...policy.allowedHosts.map((h) => h.replace(/:\d+$/, '')), ...portalHost];
      const allowed = hosts.length > 0 && isAllowListed(new URL(`http://${hostname.includes(':') ? `[${hostname}]` : hostname}`), { allowedHosts: hosts });
      const bad = list.find((a) => !isPublicAddress(a.address));
      if (bad && !allowed) return callback(refused(hostname, bad.address), '');
      if (options.all) return callback(null, list);
      const first = list[0];
      if (!first) return callback(new Error(`no address for ${hostname}`), '');
      callback(null, first.address, first.family);
    });
  };
}
