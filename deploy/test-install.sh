#!/usr/bin/env bash
# Runs the systemd install steps of deploy/README.md as far as a machine without systemd allows,
# inside a throwaway root (DESTDIR under /tmp), and proves the service user can start the daemon
# with exactly the documented owners and modes:
#   - a system user and group (ckan-zenodo-sync unless CZS_SERVICE_USER is set),
#   - /etc/ckan-zenodo-sync root:<group> 0750, settings.ini, rules.yaml and a secret file
#     root:<group> 0640, env root:root 0600 (read by systemd as root, not by the service),
#   - the state directory owned by the user (what StateDirectory= creates),
#   - a PostgreSQL role and a database it owns (the README's "Database" snippet),
# then, as that user: check-config, migrate, and run until /readyz answers 200, then SIGTERM.
# Everything it created (user, group, files, role, database) is removed on exit.
#
# Needs: root, a built checkout (npm run build), a PostgreSQL superuser URL in CZS_ADMIN_DATABASE_URL
# (default postgres://postgres@127.0.0.1:5432/postgres) whose server accepts the new role from
# 127.0.0.1 without a password (trust) — or set CZS_ROLE_PASSWORD if it wants one.
# Prints "install test passed" as its last line on success; any failure exits non-zero with the step.
set -euo pipefail

fail() { echo "install test FAILED: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || fail "must run as root (it creates a system user and files owned by it); run: sudo $0"
for tool in useradd userdel runuser setpriv install curl openssl; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ -f $repo/dist/cli.js ]] || fail "$repo/dist is missing: run npm run build first"
node_bin=$(command -v node) || fail "node is not installed"
svc=${CZS_SERVICE_USER:-ckan-zenodo-sync}
admin_url=${CZS_ADMIN_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
suffix="$$_$(date +%s)"
db_name="czs_install_$suffix"
db_role="czs_install_$suffix"

getent passwd "$svc" >/dev/null && fail "user $svc exists already; this test creates and deletes it, so it will not touch an existing one (set CZS_SERVICE_USER to another name)"
getent group "$svc" >/dev/null && fail "group $svc exists already (set CZS_SERVICE_USER to another name)"

destdir=$(mktemp -d /tmp/czs-install.XXXXXX)
chmod 0755 "$destdir"
opt=$destdir/opt/ckan-zenodo-sync
etc=$destdir/etc/ckan-zenodo-sync
state=$destdir/var/lib/ckan-zenodo-sync
daemon_pid=
user_created=
db_created=

# SQL through the project's own pg driver, so no psql is needed.
sql() {
  (cd "$repo" && CZS_SQL="$1" CZS_URL="$admin_url" "$node_bin" --input-type=module -e '
    import pg from "pg";
    const c = new pg.Client({ connectionString: process.env.CZS_URL });
    await c.connect();
    try { await c.query(process.env.CZS_SQL); } finally { await c.end(); }')
}

cleanup() {
  local rc=$?
  set +e
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid"; wait "$daemon_pid" 2>/dev/null
  fi
  if [[ -n $db_created ]]; then
    sql "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" || echo "cleanup: could not drop database $db_name" >&2
    sql "DROP ROLE IF EXISTS $db_role" || echo "cleanup: could not drop role $db_role" >&2
  fi
  if [[ -n $user_created ]]; then
    userdel "$svc" || echo "cleanup: could not delete user $svc" >&2
    getent group "$svc" >/dev/null && groupdel "$svc"
  fi
  rm -rf "$destdir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo "== $*"; }

step "install the package files (package.json \"files\") into $opt"
install -d -m 0755 "$opt"
mapfile -t files < <("$node_bin" -e 'for (const f of require(process.argv[1]).files) console.log(f)' "$repo/package.json")
for f in "${files[@]}" package.json; do
  [[ -e $repo/$f ]] || fail "package.json \"files\" lists $f, which does not exist"
  install -d -m 0755 "$opt/$(dirname "$f")"
  cp -R "$repo/$f" "$opt/$f"
done
# The production dependencies; a real install has its own (npm ci && npm run build && npm prune).
ln -s "$(readlink -f "$repo/node_modules")" "$opt/node_modules"
chmod -R u=rwX,go=rX "$opt"

step "useradd --system --user-group $svc"
useradd --system --user-group --home-dir /var/lib/ckan-zenodo-sync --no-create-home --shell /usr/sbin/nologin "$svc"
user_created=1

step "the database: role $db_role with login, database $db_name owned by it"
role_password=${CZS_ROLE_PASSWORD:-}
if [[ -n $role_password ]]; then
  sql "CREATE ROLE $db_role LOGIN PASSWORD '$role_password'"
else
  sql "CREATE ROLE $db_role LOGIN"
fi
db_created=1
sql "CREATE DATABASE $db_name OWNER $db_role"
db_host_port=$(CZS_URL="$admin_url" "$node_bin" -e 'const u = new URL(process.env.CZS_URL); console.log(`${u.hostname}:${u.port || 5432}`)')
database_url="postgres://$db_role${role_password:+:$role_password}@$db_host_port/$db_name"

step "config directory root:$svc 0750, settings and secrets root:$svc 0640, env root:root 0600"
install -d -o root -g "$svc" -m 0750 "$etc"
# The state directory as StateDirectory=ckan-zenodo-sync with StateDirectoryMode=0750 creates it.
install -d -o "$svc" -g "$svc" -m 0750 "$state"
# CKAN and Zenodo on a closed loopback port: the start-up scan must not leave this machine.
closed_port=$("$node_bin" -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
http_port=$("$node_bin" -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
sed -e "s|^url = https://ckan.example.org|url = http://127.0.0.1:$closed_port|" \
    -e "s|^url = https://sandbox.zenodo.org|url = http://127.0.0.1:$closed_port|" \
    -e "s|^data_dir = ./data/pg|data_dir = /var/lib/ckan-zenodo-sync/pg|" \
    -e "s|^spool_dir = ./data/spool|spool_dir = $state/spool|" \
    -e "s|^listen = 127.0.0.1:8080|listen = 127.0.0.1:$http_port|" \
    -e "s|^token =\$|token_file = $etc/http_token|" \
    "$repo/settings.example.ini" > "$destdir/settings.ini"
grep -q "^token_file = $etc/http_token" "$destdir/settings.ini" || fail "settings.example.ini changed: could not set [http] token_file"
install -o root -g "$svc" -m 0640 "$destdir/settings.ini" "$etc/settings.ini"
install -o root -g "$svc" -m 0640 "$repo/rules.yaml" "$etc/rules.yaml"
(umask 077 && openssl rand -hex 32 > "$destdir/http_token")
install -o root -g "$svc" -m 0640 "$destdir/http_token" "$etc/http_token"
rm -f "$destdir/settings.ini" "$destdir/http_token"
install -o root -g root -m 0600 "$repo/deploy/systemd/env.example" "$etc/env"
sed -i -e "s|^ZENODO_TOKEN=\$|ZENODO_TOKEN=install-test-not-a-real-token|" -e "s|^DATABASE_URL=\$|DATABASE_URL=$database_url|" "$etc/env"

step "the service user cannot read env (systemd reads it as root)"
if runuser -u "$svc" -- cat "$etc/env" >/dev/null 2>&1; then fail "$svc can read $etc/env; it must be root:root 0600"; fi

# What systemd does: EnvironmentFile read as root, a clean environment, the service user, the
# state directory as working directory.
mapfile -t unit_env < <(grep -E '^[A-Z_]+=.+' "$etc/env")
cd "$state"
as_service() {
  runuser -u "$svc" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/var/lib/ckan-zenodo-sync "${unit_env[@]}" \
    "$node_bin" "$opt/bin/ckan-zenodo-sync.js" "$@"
}

step "check-config as $svc"
as_service check-config --settings "$etc/settings.ini" --rules "$etc/rules.yaml" || fail "check-config as $svc"

step "migrate as $svc"
as_service migrate --settings "$etc/settings.ini" || fail "migrate as $svc"

step "run as $svc until /readyz answers"
log=$(mktemp "$destdir/run-log.XXXXXX")
# setpriv, not runuser: it execs the daemon as the user (no parent that reports 143 on SIGTERM),
# so $! is the daemon and its exit status after the drain is what systemd would see.
setpriv --reuid="$svc" --regid="$svc" --init-groups env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/var/lib/ckan-zenodo-sync "${unit_env[@]}" \
  "$node_bin" "$opt/bin/ckan-zenodo-sync.js" run --settings "$etc/settings.ini" --rules "$etc/rules.yaml" >"$log" 2>&1 &
daemon_pid=$!
ready=
for _ in $(seq 1 120); do
  if ! kill -0 "$daemon_pid" 2>/dev/null; then cat "$log" >&2; fail "run as $svc exited before /readyz answered"; fi
  if curl -fsS --max-time 2 "http://127.0.0.1:$http_port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.5
done
[[ -n $ready ]] || { cat "$log" >&2; fail "/readyz did not answer 200 within 60 s"; }
echo "/readyz: 200 on 127.0.0.1:$http_port"

step "stop (SIGTERM) and wait for the drain"
kill -TERM "$daemon_pid"
run_rc=0
wait "$daemon_pid" || run_rc=$?
daemon_pid=
[[ $run_rc -eq 0 ]] || { cat "$log" >&2; fail "run exited with $run_rc after SIGTERM"; }

# The Upgrade section's way back: dump, drop and recreate the database owned by the role, restore
# with --no-owner as the role; the restored schema must be complete (migrate has nothing to do).
dump=$destdir/backup.dump
dump_err=$destdir/pg_dump.err
if ! command -v pg_dump >/dev/null || ! command -v pg_restore >/dev/null; then
  echo "== backup and restore not checked: pg_dump or pg_restore is not installed"
elif ! pg_dump --format=custom --file="$dump" "$database_url" 2>"$dump_err" && grep -q "server version mismatch" "$dump_err"; then
  # pg_dump refuses a newer server (the tests' embedded PostgreSQL 17 beside Debian's 15 tools).
  echo "== backup and restore not checked: $(grep -m1 'detail:' "$dump_err" | sed 's/^pg_dump: detail: //')"
else
  step "backup (pg_dump), new empty database, restore (pg_restore --no-owner), migrate"
  [[ -s $dump ]] || { cat "$dump_err" >&2; fail "pg_dump of $db_name"; }
  sql "DROP DATABASE $db_name WITH (FORCE)"
  sql "CREATE DATABASE $db_name OWNER $db_role"
  pg_restore --no-owner --exit-on-error --dbname "$database_url" "$dump" || fail "pg_restore into $db_name"
  migrated=$(as_service migrate --settings "$etc/settings.ini") || fail "migrate after the restore"
  echo "$migrated"
  [[ $migrated == "database is up to date"* ]] || fail "the restored database was not up to date: $migrated"
fi

echo "install test passed"
