/**
 * SQL for `http_sessions` (sql/0004_http_sessions.sql): the status pages' sign-ins. The HTTP
 * layer hashes the session id and the token before they get here; no cookie value or token is
 * ever stored. Times come from the caller's clock, the same one that decides the cookie's
 * Max-Age, so a session ends when its cookie does.
 */
import type { Queryable } from './database.js';

export interface SessionStore {
  create(session: { idHash: Buffer; tokenTag: Buffer; createdAt: Date; expiresAt: Date }): Promise<void>;
  /** true when a session with this id exists for this token and has not expired at `now`. */
  isValid(idHash: Buffer, tokenTag: Buffer, now: Date): Promise<boolean>;
  delete(idHash: Buffer): Promise<void>;
  /** Deletes the sessions expired at `now`; returns how many. */
  pruneExpired(now: Date): Promise<number>;
}

export function createSessionQueries(q: Queryable): SessionStore {
  return {
    async create({ idHash, tokenTag, createdAt, expiresAt }) {
      await q.query('INSERT INTO http_sessions (id_hash, token_tag, created_at, expires_at) VALUES ($1, $2, $3, $4)', [idHash, tokenTag, createdAt, expiresAt]);
    },
    async isValid(idHash, tokenTag, now) {
      const result = await q.query('SELECT 1 FROM http_sessions WHERE id_hash = $1 AND token_tag = $2 AND expires_at > $3', [idHash, tokenTag, now]);
      return (result.rowCount ?? 0) > 0;
    },
    async delete(idHash) {
      await q.query('DELETE FROM http_sessions WHERE id_hash = $1', [idHash]);
    },
    async pruneExpired(now) {
      const result = await q.query('DELETE FROM http_sessions WHERE expires_at <= $1', [now]);
      return result.rowCount ?? 0;
    },
  };
}
