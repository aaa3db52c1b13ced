-- Sign-ins to the status pages (src/http/auth.ts). Before this version the session cookie was a
-- fixed HMAC of [http] token: the same for every browser, valid until the token changed, and not
-- revoked by signing out. Now each sign-in gets a random id, and the cookie is only as good as
-- its row here: /logout deletes the row, expired rows are pruned.
--
-- Only a sha256 of the session id is stored, so a copy of the database (a backup, a read-only
-- role) holds no cookie that would sign anyone in. `token_tag` is an HMAC of [http] token: a
-- session is valid only under the token it was signed in with, so changing the token still
-- signs every browser out.
CREATE TABLE http_sessions (
  id_hash     bytea PRIMARY KEY,
  token_tag   bytea NOT NULL,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL
);

CREATE INDEX http_sessions_expires_at ON http_sessions (expires_at);
