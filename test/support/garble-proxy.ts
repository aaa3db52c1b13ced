/**
 * A loopback HTTP proxy in front of the Zenodo emulator that lets Zenodo do the work and then
 * mangles its answer, the way a misbehaving proxy, a load balancer cutting a connection, or a
 * captive portal does. The emulator's own faults (faults.ts) lose answers with a status or a
 * reset; this proxy loses them as a *success* that cannot be read, which is what turned
 * published records into "failed" syncs.
 *
 * Garblings:
 * - `cut`: the original status and Content-Length, half of the body, then the connection is
 *   destroyed (the client sees the answer break off).
 * - `short`: the original status, a Content-Length of half the body and that half: a complete
 *   HTTP answer whose JSON stops mid-way.
 * - `html`: 200 with a `text/html` page instead of the answer.
 * - `text-plain`: the original status and body, but `Content-Type: text/plain`.
 *
 * `hideFromLists` simulates Zenodo's search index lag (reference zenodo-api.md Q15) at the moment
 * it matters: the deposition in the garbled answer is left out of the next N deposition lists.
 */
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const garblings = ['cut', 'short', 'html', 'text-plain'] as const;
export type Garbling = (typeof garblings)[number];

export interface GarbleRule {
  method: string;
  /** Tested against the path without the query string. */
  path: RegExp;
  garble: Garbling;
  /** The first matching request that is garbled (1-based; default 1). */
  nth?: number;
  /** How many matching requests from the `nth` on are garbled (default 1). */
  times?: number;
  /** Leave the deposition of the real answer out of this many following deposition lists. */
  hideFromLists?: number;
}

export interface GarbledAnswer {
  method: string;
  path: string;
  garble: Garbling;
  /** The status the emulator really answered. */
  status: number;
  /** The deposition id in the real answer, when there was one. */
  depositionId: number | undefined;
}

export interface GarbleProxy {
  /** `http://127.0.0.1:N`: use it as the Zenodo URL. */
  readonly url: string;
  /** Replaces the rules; the counts of matching requests, `garbled` and the hidden ids start again. */
  garble(rules: GarbleRule[]): void;
  /** Every answer garbled so far. */
  readonly garbled: readonly GarbledAnswer[];
  close(): Promise<void>;
}

const LIST_PATH = /^\/api\/deposit\/depositions\/?$/;
const HTML_PAGE =
  '<!DOCTYPE html>\n<html><head><title>Service notice</title></head><body><h1>Please wait</h1>' +
  '<p>Your request is being processed. If this page does not refresh, try again later.</p></body></html>\n';

/** Hop-by-hop and length headers: the proxy sets its own. */
const DROPPED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host']);

function copyHeaders(headers: IncomingHttpHeaders, rewrite: (s: string) => string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined || DROPPED.has(key)) continue;
    out[key] = Array.isArray(value) ? value.map(rewrite) : rewrite(value);
  }
  return out;
}

function depositionIdOf(body: Buffer): number | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { id?: unknown };
    return typeof parsed?.id === 'number' ? parsed.id : undefined;
  } catch {
    return undefined;
  }
}

export async function startGarbleProxy(target: string): Promise<GarbleProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  let rules: { rule: GarbleRule; seen: number }[] = [];
  const garbled: GarbledAnswer[] = [];
  /** Deposition id → lists it is still left out of. */
  const hidden = new Map<number, number>();
  let base = '';

  const rewrite = (s: string): string => s.split(upstream.origin).join(base);

  function pick(method: string, path: string): GarbleRule | undefined {
    let chosen: GarbleRule | undefined;
    for (const entry of rules) {
      if (entry.rule.method !== method || !entry.rule.path.test(path)) continue;
      entry.seen++;
      const first = entry.rule.nth ?? 1;
      if (chosen === undefined && entry.seen >= first && entry.seen < first + (entry.rule.times ?? 1)) chosen = entry.rule;
    }
    return chosen;
  }

  function hideLagging(body: Buffer): Buffer {
    if (hidden.size === 0) return body;
    let list: unknown;
    try {
      list = JSON.parse(body.toString('utf8'));
    } catch {
      return body;
    }
    if (!Array.isArray(list)) return body;
    const kept = list.filter((d) => !hidden.has((d as { id?: number }).id ?? -1));
    for (const [id, left] of hidden) {
      if (left <= 1) hidden.delete(id);
      else hidden.set(id, left - 1);
    }
    return Buffer.from(JSON.stringify(kept));
  }

  function answer(req: IncomingMessage, res: ServerResponse, status: number, headers: IncomingHttpHeaders, raw: Buffer): void {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://proxy').pathname;
    let body: Buffer = Buffer.from(rewrite(raw.toString('utf8')));
    if (method === 'GET' && LIST_PATH.test(path) && status === 200) body = hideLagging(body);
    const out = copyHeaders(headers, rewrite);
    const rule = pick(method, path);
    if (rule === undefined) {
      res.writeHead(status, { ...out, 'content-length': String(body.length) });
      res.end(body);
      return;
    }
    const depositionId = depositionIdOf(body);
    garbled.push({ method, path, garble: rule.garble, status, depositionId });
    if (rule.hideFromLists !== undefined && depositionId !== undefined) hidden.set(depositionId, rule.hideFromLists);
    // A 204 has no body to cut: the garbled answer is a 200 carrying part of an error envelope.
    const text = body.length > 0 ? body : Buffer.from(JSON.stringify({ status: 200, message: 'OK' }));
    const shownStatus = body.length > 0 ? status : 200;
    const half = text.subarray(0, Math.max(1, Math.floor(text.length / 2)));
    switch (rule.garble) {
      case 'cut':
        res.writeHead(shownStatus, { ...out, 'content-length': String(text.length) });
        res.write(half, () => res.socket?.destroy());
        return;
      case 'short':
        res.writeHead(shownStatus, { ...out, 'content-length': String(half.length) });
        res.end(half);
        return;
      case 'html': {
        const page = Buffer.from(HTML_PAGE);
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(page.length) });
        res.end(page);
        return;
      }
      case 'text-plain':
        res.writeHead(status, { ...out, 'content-type': 'text/plain; charset=utf-8', 'content-length': String(body.length) });
        res.end(body);
        return;
    }
  }

  const server: Server = createServer((req, res) => {
    const forward = request(
      {
        agent,
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...copyHeaders(req.headers, (s) => s), host: upstream.host, ...(req.headers['content-length'] ? { 'content-length': req.headers['content-length'] } : {}) },
      },
      (up) => {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => answer(req, res, up.statusCode ?? 502, up.headers, Buffer.concat(chunks)));
        // The emulator reset the connection (its own `reset` fault): so does the proxy.
        up.on('error', () => req.socket.destroy());
      },
    );
    forward.on('error', () => req.socket.destroy());
    req.pipe(forward);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    garble(next) {
      rules = next.map((rule) => ({ rule, seen: 0 }));
      garbled.length = 0;
      hidden.clear();
    },
    get garbled() {
      return garbled;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
