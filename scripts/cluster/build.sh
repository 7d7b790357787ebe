#!/usr/bin/env bash
# Builds the real Temporal server, its SQL schema tool and the Temporal UI server from the Go module
# proxy at the pinned versions (scripts/cluster/versions.sh) into .flask-eval/bin/ (-trimpath, -s -w).
# Idempotent: a version folder that is complete is kept. CGO follows the environment (set
# CGO_ENABLED=0 for static binaries to copy to other hosts, as the official release builds do; a
# change of that setting misses Go's build cache and costs a full rebuild).
#
#   scripts/cluster/build.sh            server + sql tool (required), then the UI (optional: a failure
#                                       is reported and the cluster runs without it)
#   FLASK_CLUSTER_NO_UI=1               skip the UI
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/versions.sh"

command -v go >/dev/null || { echo "cluster build: Go is needed (apt-get install golang, or https://go.dev/dl)" >&2; exit 1; }
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

# go install into a scratch GOBIN, then move into place: an interrupted build never leaves a
# half-written binary where `up` would find it.
install_pkgs() { # dest-dir pkg@version...
  local dest="$1"; shift
  local scratch; scratch="$(mktemp -d "$CLUSTER_BIN_DIR/.build-XXXXXX")"
  if ! GOBIN="$scratch" go install -trimpath -ldflags "-s -w" "$@"; then rm -rf "$scratch"; return 1; fi
  mkdir -p "$dest"
  echo "$scratch"
}

mkdir -p "$CLUSTER_BIN_DIR"
if [ -x "$TEMPORAL_SERVER_BIN" ] && [ -x "$TEMPORAL_SQL_TOOL_BIN" ] && [ -d "$TEMPORAL_SCHEMA_DIR/postgresql/v12" ]; then
  echo "temporal-server $TEMPORAL_SERVER_VERSION: already built in $SERVER_DIR"
else
  echo "Building go.temporal.io/server v$TEMPORAL_SERVER_VERSION (temporal-server, temporal-sql-tool) from the Go module proxy..."
  t0=$(date +%s)
  scratch="$(install_pkgs "$SERVER_DIR" "go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION" "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION")"
  # The schema files ship in the module; copy them so a `go clean -modcache` cannot take them away.
  moddir="$(go mod download -json "go.temporal.io/server@v$TEMPORAL_SERVER_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
  rm -rf "$TEMPORAL_SCHEMA_DIR" && mkdir -p "$TEMPORAL_SCHEMA_DIR"
  cp -r "$moddir/schema/postgresql" "$TEMPORAL_SCHEMA_DIR/" && chmod -R u+w "$TEMPORAL_SCHEMA_DIR"
  mv "$scratch/sql" "$TEMPORAL_SQL_TOOL_BIN"
  mv "$scratch/server" "$TEMPORAL_SERVER_BIN"
  rm -rf "$scratch"
  echo "built temporal-server $TEMPORAL_SERVER_VERSION in $(( $(date +%s) - t0 )) s"
fi

if [ -n "${FLASK_CLUSTER_NO_UI:-}" ]; then
  echo "temporal UI: skipped (FLASK_CLUSTER_NO_UI)"
elif [ -x "$TEMPORAL_UI_BIN" ]; then
  echo "temporal ui-server $TEMPORAL_UI_VERSION: already built in $UI_DIR"
else
  echo "Building github.com/temporalio/ui-server/v2 v$TEMPORAL_UI_VERSION (its module embeds the built web UI)..."
  t0=$(date +%s)
  if scratch="$(install_pkgs "$UI_DIR" "github.com/temporalio/ui-server/v2/cmd/server@v$TEMPORAL_UI_VERSION")"; then
    mv "$scratch/server" "$TEMPORAL_UI_BIN" && rm -rf "$scratch"
    echo "built ui-server $TEMPORAL_UI_VERSION in $(( $(date +%s) - t0 )) s"
  else
    echo "cluster build: the Temporal UI did not build; the cluster runs without it" >&2
  fi
fi
