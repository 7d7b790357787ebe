#!/usr/bin/env bash
# Build the project's Dockerfile with a real OCI builder, without a Docker engine or a registry:
# buildah (Debian's package) with the vfs storage driver and chroot isolation. The registry being
# unreachable, FROM node:20-bookworm-slim is a stand-in made here and stored under that name:
# Debian bookworm (debootstrap --variant=minbase from Debian's mirror), this host's Node 20 and npm
# in /usr/local, a `node` user (uid 1000), and the host's CA bundle (NODE_EXTRA_CA_CERTS), for a
# network that reaches the npm registry through a TLS proxy. Then `smoke` runs the image's store,
# worker and cli (host network) against a Temporal dev server, as the compose services run.
#
#   scripts/oci-build.sh build     stand-in base (first time), then buildah build -t flask-eval:local .
#   scripts/oci-build.sh smoke     store + worker + `review --limit 6 --detach` in the built image
#   scripts/oci-build.sh clean     delete the storage (FLASK_OCI_DIR, default $TMPDIR/flask-eval-oci)
# Needs root, buildah and debootstrap (apt-get install -y buildah debootstrap).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${FLASK_OCI_DIR:-${TMPDIR:-/tmp}/flask-eval-oci}"
B=(buildah --storage-driver vfs --root "$DIR/storage" --runroot "$DIR/run")
RUN=("${B[@]}" run --isolation chroot --user node)

base() {
  local rootfs="$DIR/rootfs"
  if [ ! -x "$rootfs/usr/local/bin/node" ]; then
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$DIR/debootstrap.log"
    local node npm
    node="$(command -v node)"; npm="$(dirname "$(readlink -f "$(command -v npm)")")/.."
    mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/local/lib/node_modules"
    cp "$(readlink -f "$node")" "$rootfs/usr/local/bin/node"
    cp -a "$(cd "$npm" && pwd)" "$rootfs/usr/local/lib/node_modules/npm"
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
    chroot "$rootfs" groupadd -g 1000 node
    chroot "$rootfs" useradd -u 1000 -g node -s /bin/bash -m node
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  fi
  mkdir -p "$rootfs/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  local ctr
  ctr="$("${B[@]}" from scratch)"
  "${B[@]}" copy "$ctr" "$rootfs" / >/dev/null
  "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="$("$rootfs/usr/local/bin/node" -p process.versions.node)" \
    --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt --cmd node "$ctr"
  "${B[@]}" commit --rm -q "$ctr" docker.io/library/node:20-bookworm-slim >/dev/null
  echo "oci-build: stand-in node:20-bookworm-slim: Debian $(cat "$rootfs/etc/debian_version"), node $("$rootfs/usr/local/bin/node" -v)"
}

build() {
  mkdir -p "$DIR"
  "${B[@]}" inspect --type image docker.io/library/node:20-bookworm-slim >/dev/null 2>&1 || base
  local t0=$SECONDS
  "${B[@]}" build --isolation chroot --pull-never --layers=false -t flask-eval:local -f "$ROOT/Dockerfile" "$ROOT"
  echo "oci-build: flask-eval:local built in $((SECONDS - t0)) s"
  "${B[@]}" images
}

smoke() {
  local cli="${TEMPORAL_CLI:-$ROOT/.flask-eval/bin/temporal}" port=$((20000 + RANDOM % 10000)) results="$DIR/results"
  "$cli" server start-dev --ip 127.0.0.1 --port "$port" --headless --log-level error >"$DIR/dev-server.log" 2>&1 &
  dev=$!
  rm -rf "$results" && mkdir -p "$results" && chown 1000:1000 "$results"
  local env=(--env "TEMPORAL_ADDRESS=127.0.0.1:$port" --env TEMPORAL_NAMESPACE=default)
  local mount=(-v "$results:/results" --env FLASK_STATE_DIR=/results)
  # Globals, not locals: the EXIT trap runs after this function has returned.
  store="$("${B[@]}" from flask-eval:local)"; worker="$("${B[@]}" from flask-eval:local)"; tool="$("${B[@]}" from flask-eval:local)"
  pids=("$dev")
  trap '{ kill "${pids[@]}"; sleep 3; "${B[@]}" rm "$store" "$worker" "$tool"; } >/dev/null 2>&1 || true' EXIT
  "${RUN[@]}" "${mount[@]}" "${env[@]}" "$store" -- node bin/flask-eval.js server start --foreground >"$DIR/store.log" 2>&1 &
  pids+=($!)
  healthy "${RUN[@]}" "${mount[@]}" "${env[@]}" "$store" -- node bin/flask-eval.js server check
  "${RUN[@]}" "${env[@]}" "$worker" -- node bin/flask-eval.js worker >"$DIR/worker.log" 2>&1 &
  pids+=($!)
  healthy "${RUN[@]}" "${env[@]}" "$worker" -- node bin/flask-eval.js worker --check
  "${RUN[@]}" "${mount[@]}" "${env[@]}" "$tool" -- node bin/flask-eval.js review --model gpt4 --limit 6 --run oci-smoke --detach
  local sql="SELECT count(*)::INT AS n, count(DISTINCT idx)::INT AS d FROM reviews WHERE run_id = 'oci-smoke'" out=''
  for _ in $(seq 90); do
    out="$("${RUN[@]}" "${mount[@]}" "${env[@]}" "$tool" -- node bin/flask-eval.js query --format jsonl "$sql" 2>/dev/null || true)"
    [ "$(echo "$out" | tr -d ' ')" = '{"n":6,"d":6}' ] && break
    sleep 2
  done
  echo "oci-smoke: landed $out"
  [ "$(echo "$out" | tr -d ' ')" = '{"n":6,"d":6}' ]
}

# A healthcheck, repeated until it passes (2 s apart, 2 min at most), as the engine would.
healthy() {
  local out
  for _ in $(seq 60); do
    if out="$("$@" 2>&1)"; then
      grep '^ok:' <<<"$out"
      return 0
    fi
    sleep 2
  done
  echo "$out"
  return 1
}

case "${1:-}" in
  build) build ;;
  smoke) smoke ;;
  clean) "${B[@]}" rm --all >/dev/null 2>&1 || true; rm -rf "$DIR" ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
