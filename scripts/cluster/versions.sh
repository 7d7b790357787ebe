# Pinned versions and where their binaries live; sourced by scripts/cluster.sh and build.sh.
#
# Each pin is the newest release whose go.mod `go` line the installed Go (1.26.8, GOTOOLCHAIN=local)
# can build: Temporal server v1.32.2 / v1.31.5 and ui-server v2.56.1+ ask for go 1.26.10.
# Server 1.32.1 matches the official CLI at /opt/temporal-cli (1.9.1 = Server 1.32.0).
TEMPORAL_SERVER_VERSION="${TEMPORAL_SERVER_VERSION:-1.32.1}"
TEMPORAL_UI_VERSION="${TEMPORAL_UI_VERSION:-2.55.0}"

CLUSTER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER_BIN_DIR="${FLASK_CLUSTER_BIN:-$CLUSTER_ROOT/.flask-eval/bin}"
# One folder per version: a pin change builds next to the old binaries, never over them.
SERVER_DIR="$CLUSTER_BIN_DIR/temporal-server-$TEMPORAL_SERVER_VERSION"
TEMPORAL_SERVER_BIN="$SERVER_DIR/temporal-server"
TEMPORAL_SQL_TOOL_BIN="$SERVER_DIR/temporal-sql-tool"
TEMPORAL_SCHEMA_DIR="$SERVER_DIR/schema"
UI_DIR="$CLUSTER_BIN_DIR/temporal-ui-server-$TEMPORAL_UI_VERSION"
TEMPORAL_UI_BIN="$UI_DIR/ui-server"
