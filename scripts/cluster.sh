#!/usr/bin/env bash
# A production-shaped Temporal cluster on loopback, for running flask-eval across processes/hosts:
#   PostgreSQL (a private cluster: initdb/pg_ctl in the state folder, its own port; not the system service)
#   the real Temporal server (go.temporal.io/server, pinned; persistence postgres12, visibility in
#   PostgreSQL too), schema set up with Temporal's own temporal-sql-tool, namespace `default`
#   the Temporal UI (github.com/temporalio/ui-server/v2), when it built
#
#   scripts/cluster.sh up         build if needed, start what is not running (idempotent); prints versions,
#                                 addresses and start times
#   scripts/cluster.sh down       stop everything it started (data kept; `down --purge` deletes it)
#   scripts/cluster.sh status     what runs, where; exit 0 only when Temporal answers healthy
#   scripts/cluster.sh env        TEMPORAL_ADDRESS=... lines to eval in a shell
#   scripts/cluster.sh build      build the binaries only (scripts/cluster/build.sh)
#   Fault helpers (tests): kill temporal|ui|postgres (SIGKILL; postgres: `pg_ctl -m immediate`),
#                          start temporal|ui|postgres, restart temporal|ui|postgres
#
# Environment: FLASK_CLUSTER_DIR (state, default .flask-eval/cluster), FLASK_CLUSTER_PORT (frontend gRPC
# port, default 27233, at most 32759; the cluster uses the next 10 ports too), FLASK_CLUSTER_PG_PORT (default port+10),
# FLASK_CLUSTER_UI_PORT (default port+9), FLASK_CLUSTER_NO_UI=1, TEMPORAL_CLI (the official CLI, for
# health checks and namespace creation). Ports are fixed at the first `up` (cluster.env) and reused.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/cluster/versions.sh"

DIR="${FLASK_CLUSTER_DIR:-$CLUSTER_ROOT/.flask-eval/cluster}"
ENV_FILE="$DIR/cluster.env"
PGDATA="$DIR/pg"
PGRUN="$DIR/pg-run"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"

say() { printf '%s\n' "$*"; }
die() { printf 'cluster: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
secs_since() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

find_cli() {
  for c in "${TEMPORAL_CLI:-}" /opt/temporal-cli/temporal "$CLUSTER_BIN_DIR/temporal" "$(command -v temporal || true)"; do
    [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return; }
  done
  die "the official Temporal CLI is needed for health checks (set TEMPORAL_CLI, or run scripts/install-temporal.sh)"
}

find_pg_bin() {
  local d
  for d in "$(dirname "$(readlink -f "$(command -v pg_ctl 2>/dev/null || echo /nonexistent)")")" /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && { echo "$d"; return; }
  done
  die "PostgreSQL server binaries not found: apt-get install -y postgresql"
}

# PostgreSQL refuses to run as root: as root, the data folder belongs to the `postgres` user and
# every server-side command runs as it.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_env_file() {
  local base="${FLASK_CLUSTER_PORT:-27233}"
  # Temporal stores membership ports in a PostgreSQL smallint: past 32767 the server dies at start
  # ("value out of range for type smallint").
  [ "$base" -ge 1024 ] && [ $((base + 8)) -le 32767 ] || die "FLASK_CLUSTER_PORT must be between 1024 and 32759 (got $base)"
  mkdir -p "$DIR"
  umask 077
  cat >"$ENV_FILE" <<EOF
# Written by scripts/cluster.sh at the first \`up\`; ports and passwords of this cluster (loopback only).
FRONTEND_PORT=$base
FRONTEND_HTTP_PORT=$((base + 1))
HISTORY_PORT=$((base + 2))
MATCHING_PORT=$((base + 3))
WORKER_PORT=$((base + 4))
FRONTEND_MEMBERSHIP_PORT=$((base + 5))
HISTORY_MEMBERSHIP_PORT=$((base + 6))
MATCHING_MEMBERSHIP_PORT=$((base + 7))
WORKER_MEMBERSHIP_PORT=$((base + 8))
UI_PORT=${FLASK_CLUSTER_UI_PORT:-$((base + 9))}
PG_PORT=${FLASK_CLUSTER_PG_PORT:-$((base + 10))}
PG_SUPERUSER_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
TEMPORAL_DB_USER=temporal
TEMPORAL_DB_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
EOF
  umask 022
}

load_env() {
  [ -f "$ENV_FILE" ] || return 1
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  ADDRESS="127.0.0.1:$FRONTEND_PORT"
}

# ---------------------------------------------------------------- PostgreSQL
pg_running() { [ -d "$PGDATA" ] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

psql_super() { # sql... (as the superuser over TCP, like any client)
  PGPASSWORD="$PG_SUPERUSER_PASSWORD" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tA "$@"
}

pg_init() {
  [ -f "$PGDATA/PG_VERSION" ] && return 0
  say "initdb: a private PostgreSQL cluster in $PGDATA (port $PG_PORT)"
  mkdir -p "$PGDATA" "$PGRUN"
  chmod 700 "$PGDATA"
  chmod 755 "$DIR"
  local pw="$DIR/.pg-superuser-pw"
  (umask 077; printf '%s\n' "$PG_SUPERUSER_PASSWORD" >"$pw")
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$PGDATA" "$PGRUN" "$pw"
    runuser -u postgres -- test -x "$DIR" ||
      die "the postgres user cannot reach $DIR: every parent folder must be traversable (chmod o+x)"
  fi
  as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --pwfile="$pw" --auth-local=scram-sha-256 \
    --auth-host=scram-sha-256 --encoding=UTF8 --no-locale >"$DIR/initdb.log" 2>&1 ||
    { rm -f "$pw"; cat "$DIR/initdb.log" >&2; die "initdb failed"; }
  rm -f "$pw"
  as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null <<EOF

# scripts/cluster.sh: loopback only, its own port and socket folder (never the system service's)
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGRUN'
max_connections = 200
logging_collector = off
EOF
}

pg_start() {
  pg_running && return 0
  port_free "$PG_PORT" || die "port $PG_PORT (PostgreSQL) is taken by another process"
  local t0; t0=$(now_ms)
  touch "$DIR/postgres.log"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR/postgres.log"
  as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$DIR/postgres.log" -w -t 60 start >/dev/null ||
    { tail -20 "$DIR/postgres.log" >&2; die "PostgreSQL did not start (log: $DIR/postgres.log)"; }
  say "postgresql started in $(secs_since "$t0") s"
}

pg_stop() { # mode: fast | immediate
  pg_running || return 0
  as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m "${1:-fast}" -w -t 60 stop >/dev/null
}

# The temporal role and both databases with Temporal's schema, by Temporal's own tool. Safe to rerun:
# existing databases are kept and update-schema applies only the versions not applied yet.
pg_schema() {
  if [ "$(psql_super -c "SELECT 1 FROM pg_roles WHERE rolname = '$TEMPORAL_DB_USER'")" != 1 ]; then
    psql_super -c "CREATE ROLE $TEMPORAL_DB_USER LOGIN CREATEDB PASSWORD '$TEMPORAL_DB_PASSWORD'"
  fi
  local db kind
  for db in temporal temporal_visibility; do
    kind=temporal; [ "$db" = temporal_visibility ] && kind=visibility
    export SQL_PLUGIN=postgres12 SQL_HOST=127.0.0.1 SQL_PORT="$PG_PORT" SQL_USER="$TEMPORAL_DB_USER" SQL_PASSWORD="$TEMPORAL_DB_PASSWORD"
    if [ "$(psql_super -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
      "$TEMPORAL_SQL_TOOL_BIN" --db "$db" create-database >>"$DIR/schema.log" 2>&1 || { tail "$DIR/schema.log" >&2; die "create-database $db failed"; }
    fi
    if [ "$(psql_super -d "$db" -c "SELECT 1 FROM pg_tables WHERE tablename = 'schema_version'")" != 1 ]; then
      "$TEMPORAL_SQL_TOOL_BIN" --db "$db" setup-schema -v 0.0 >>"$DIR/schema.log" 2>&1 || { tail "$DIR/schema.log" >&2; die "setup-schema $db failed"; }
    fi
    "$TEMPORAL_SQL_TOOL_BIN" --db "$db" update-schema -d "$TEMPORAL_SCHEMA_DIR/postgresql/v12/$kind/versioned" >>"$DIR/schema.log" 2>&1 ||
      { tail "$DIR/schema.log" >&2; die "update-schema $db failed"; }
    unset SQL_PLUGIN SQL_HOST SQL_PORT SQL_USER SQL_PASSWORD
  done
  say "schema: temporal $(psql_super -d temporal -c 'SELECT curr_version FROM schema_version'), temporal_visibility $(psql_super -d temporal_visibility -c 'SELECT curr_version FROM schema_version') (temporal-sql-tool, postgresql/v12)"
}

# ---------------------------------------------------------------- Temporal server
temporal_config() {
  mkdir -p "$DIR/temporal"
  (umask 077; cat >"$DIR/temporal/config.yaml" <<EOF
# Written by scripts/cluster.sh. Temporal server $TEMPORAL_SERVER_VERSION, all four services in one process,
# persistence and visibility in PostgreSQL (postgres12 plugin), loopback only.
log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
    postgres-default:
      sql:
        pluginName: postgres12
        databaseName: temporal
        connectAddr: "127.0.0.1:$PG_PORT"
        connectProtocol: tcp
        user: $TEMPORAL_DB_USER
        password: "$TEMPORAL_DB_PASSWORD"
        maxConns: 20
        maxIdleConns: 20
        maxConnLifetime: 1h
    postgres-visibility:
      sql:
        pluginName: postgres12
        databaseName: temporal_visibility
        connectAddr: "127.0.0.1:$PG_PORT"
        connectProtocol: tcp
        user: $TEMPORAL_DB_USER
        password: "$TEMPORAL_DB_PASSWORD"
        maxConns: 4
        maxIdleConns: 4
        maxConnLifetime: 1h
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
  pprof:
    port: 0
services:
  frontend:
    rpc: { grpcPort: $FRONTEND_PORT, membershipPort: $FRONTEND_MEMBERSHIP_PORT, bindOnIP: 127.0.0.1, httpPort: $FRONTEND_HTTP_PORT }
  history:
    rpc: { grpcPort: $HISTORY_PORT, membershipPort: $HISTORY_MEMBERSHIP_PORT, bindOnIP: 127.0.0.1 }
  matching:
    rpc: { grpcPort: $MATCHING_PORT, membershipPort: $MATCHING_MEMBERSHIP_PORT, bindOnIP: 127.0.0.1 }
  worker:
    rpc: { grpcPort: $WORKER_PORT, membershipPort: $WORKER_MEMBERSHIP_PORT, bindOnIP: 127.0.0.1 }
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:$FRONTEND_PORT"
      httpAddress: "127.0.0.1:$FRONTEND_HTTP_PORT"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: "$DIR/temporal/dynamicconfig.yaml"
  pollInterval: 10s
EOF
  )
  cp "$HERE/cluster/dynamicconfig.yaml" "$DIR/temporal/dynamicconfig.yaml"
}

# A process that exited but was not reaped yet (a zombie: here PID 1 reaps orphans lazily) counts as gone.
proc_alive() { [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]; }
pid_alive() { [ -f "$1" ] && proc_alive "$(cat "$1")"; }

cluster_healthy() { "$CLI" operator cluster health --address "$ADDRESS" --command-timeout 3s 2>/dev/null | grep -q SERVING; }
# Stop waiting as soon as the server answers, or is gone (a bad config exits at once).
healthy_or_dead() { cluster_healthy || ! pid_alive "$DIR/temporal.pid"; }

wait_for() { # what seconds command...
  local what="$1" secs="$2"; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.3
  done
}

temporal_start() {
  if pid_alive "$DIR/temporal.pid"; then return 0; fi
  local p
  for p in $FRONTEND_PORT $FRONTEND_HTTP_PORT $HISTORY_PORT $MATCHING_PORT $WORKER_PORT $FRONTEND_MEMBERSHIP_PORT $HISTORY_MEMBERSHIP_PORT $MATCHING_MEMBERSHIP_PORT $WORKER_MEMBERSHIP_PORT; do
    port_free "$p" || die "port $p (Temporal) is taken by another process"
  done
  local t0; t0=$(now_ms)
  # setsid: the server outlives this script and the terminal; its own process group for `down`.
  setsid "$TEMPORAL_SERVER_BIN" --config-file "$DIR/temporal/config.yaml" --allow-no-auth start \
    >>"$DIR/temporal.log" 2>&1 </dev/null &
  echo $! >"$DIR/temporal.pid"
  if ! wait_for "Temporal" 120 healthy_or_dead; then
    tail -20 "$DIR/temporal.log" >&2
    die "the Temporal server did not become healthy in 120 s (log: $DIR/temporal.log)"
  fi
  if ! pid_alive "$DIR/temporal.pid"; then
    tail -20 "$DIR/temporal.log" >&2
    die "the Temporal server exited at start (log: $DIR/temporal.log)"
  fi
  say "temporal-server started in $(secs_since "$t0") s (pid $(cat "$DIR/temporal.pid"))"
}

namespace_ready() { "$CLI" workflow count --address "$ADDRESS" -n "$NAMESPACE" --command-timeout 3s >/dev/null 2>&1; }

namespace_ensure() {
  if ! "$CLI" operator namespace describe --address "$ADDRESS" -n "$NAMESPACE" --command-timeout 5s >/dev/null 2>&1; then
    "$CLI" operator namespace create --address "$ADDRESS" -n "$NAMESPACE" --retention 72h --command-timeout 10s >/dev/null ||
      die "could not create namespace $NAMESPACE"
    say "namespace $NAMESPACE created (retention 72h)"
  fi
  wait_for "namespace" 30 namespace_ready || die "namespace $NAMESPACE does not answer"
}

stop_pidfile() { # pidfile signal
  local f="$1" sig="${2:-TERM}"
  pid_alive "$f" || { rm -f "$f"; return 0; }
  local pid; pid="$(cat "$f")"
  kill -"$sig" "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do proc_alive "$pid" || break; sleep 0.1; done
  proc_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  # wait for the ports to be let go (a restart right after must be able to bind them)
  for i in $(seq 1 50); do proc_alive "$pid" || break; sleep 0.1; done
  rm -f "$f"
}

# ---------------------------------------------------------------- UI
ui_start() {
  [ -n "${FLASK_CLUSTER_NO_UI:-}" ] && return 0
  [ -x "$TEMPORAL_UI_BIN" ] || { say "temporal UI: not built (see scripts/cluster/build.sh output)"; return 0; }
  pid_alive "$DIR/ui.pid" && return 0
  port_free "$UI_PORT" || die "port $UI_PORT (UI) is taken by another process"
  mkdir -p "$DIR/ui/config"
  cat >"$DIR/ui/config/base.yaml" <<EOF
# Written by scripts/cluster.sh: Temporal UI $TEMPORAL_UI_VERSION on loopback.
temporalGrpcAddress: "$ADDRESS"
host: 127.0.0.1
port: $UI_PORT
enableUi: true
defaultNamespace: $NAMESPACE
disableNewsFetch: true
notifyOnNewVersion: false
refreshInterval: 0s
cors:
  cookieInsecure: true
  allowOrigins: ["http://127.0.0.1:$UI_PORT"]
EOF
  local t0; t0=$(now_ms)
  setsid "$TEMPORAL_UI_BIN" --root "$DIR/ui" --config config --env cluster start >>"$DIR/ui.log" 2>&1 </dev/null &
  echo $! >"$DIR/ui.pid"
  if wait_for "UI" 30 curl -fs -o /dev/null "http://127.0.0.1:$UI_PORT/"; then
    say "temporal UI started in $(secs_since "$t0") s: http://127.0.0.1:$UI_PORT"
  else
    say "temporal UI did not answer in 30 s (log: $DIR/ui.log)"
  fi
}

# ---------------------------------------------------------------- commands
versions() {
  say "versions: temporal-server $("$TEMPORAL_SERVER_BIN" --version 2>/dev/null | awk '{print $NF}') (go.temporal.io/server v$TEMPORAL_SERVER_VERSION)," \
    "postgresql $("$PG_BIN/postgres" --version | awk '{print $3}')," \
    "ui-server $([ -x "$TEMPORAL_UI_BIN" ] && echo "v$TEMPORAL_UI_VERSION" || echo 'not built')," \
    "temporal CLI $("$CLI" --version | awk '{print $3}')"
}

cmd_up() {
  local t0; t0=$(now_ms)
  local started_any=""
  "$HERE/cluster/build.sh"
  [ -f "$ENV_FILE" ] || write_env_file
  load_env
  pg_init
  pg_running || started_any=1
  pg_start
  pg_schema
  temporal_config
  pid_alive "$DIR/temporal.pid" || started_any=1
  temporal_start
  namespace_ensure
  ui_start
  # The first `up` that found everything running keeps its start time.
  { [ -f "$DIR/started_at" ] && [ -z "$started_any" ]; } || date -u +%Y-%m-%dT%H:%M:%SZ >"$DIR/started_at"
  versions
  say "started at $(cat "$DIR/started_at")"
  say "cluster up in $(secs_since "$t0") s: TEMPORAL_ADDRESS=$ADDRESS (namespace $NAMESPACE), PostgreSQL 127.0.0.1:$PG_PORT, state $DIR"
}

cmd_down() {
  load_env || { say "no cluster in $DIR"; return 0; }
  stop_pidfile "$DIR/ui.pid" TERM
  stop_pidfile "$DIR/temporal.pid" TERM
  pg_stop fast
  say "cluster stopped (state kept in $DIR)"
  if [ "${1:-}" = --purge ]; then rm -rf "$DIR"; say "state deleted"; fi
}

cmd_status() {
  load_env || { say "no cluster in $DIR (run: scripts/cluster.sh up)"; return 1; }
  local ok=0
  if pg_running; then say "postgresql: running on 127.0.0.1:$PG_PORT"; else say "postgresql: stopped"; ok=1; fi
  if pid_alive "$DIR/temporal.pid"; then
    if cluster_healthy; then say "temporal: SERVING at $ADDRESS (pid $(cat "$DIR/temporal.pid"))"; else say "temporal: running, not healthy (pid $(cat "$DIR/temporal.pid"))"; ok=1; fi
  else say "temporal: stopped"; ok=1; fi
  if pid_alive "$DIR/ui.pid"; then say "ui: http://127.0.0.1:$UI_PORT (pid $(cat "$DIR/ui.pid"))"; else say "ui: not running"; fi
  [ -f "$DIR/started_at" ] && say "started at $(cat "$DIR/started_at")"
  return $ok
}

PG_BIN="$(find_pg_bin)"
CLI="$(find_cli)"
case "${1:-}" in
  up) cmd_up ;;
  down) shift; cmd_down "$@" ;;
  status) cmd_status ;;
  build) "$HERE/cluster/build.sh" ;;
  env) load_env || die "no cluster in $DIR"; say "TEMPORAL_ADDRESS=$ADDRESS"; say "TEMPORAL_NAMESPACE=$NAMESPACE" ;;
  kill|start|restart)
    load_env || die "no cluster in $DIR"
    case "$1:${2:-}" in
      kill:temporal) stop_pidfile "$DIR/temporal.pid" KILL ;;
      kill:ui) stop_pidfile "$DIR/ui.pid" KILL ;;
      kill:postgres) pg_stop immediate ;;
      start:temporal) temporal_start ;;
      start:ui) ui_start ;;
      start:postgres) pg_start ;;
      restart:temporal) stop_pidfile "$DIR/temporal.pid" TERM; temporal_start ;;
      restart:ui) stop_pidfile "$DIR/ui.pid" TERM; ui_start ;;
      restart:postgres) pg_stop fast; pg_start ;;
      *) die "usage: cluster.sh kill|start|restart temporal|ui|postgres" ;;
    esac ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
