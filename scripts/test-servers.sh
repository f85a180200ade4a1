#!/usr/bin/env bash
# Installs (once, cached) what the tests talk to, and starts the servers on 127.0.0.1:
#   - moto in server mode (an S3-compatible server, from PyPI)
#   - Azurite (Microsoft's Azure Storage emulator, from npm)
#   - tansu, a Kafka-protocol broker (crates.io; built once, ~10-20 min on 2 cores)
#   - real consumers of dq's outputs: junitparser, prometheus_client and Dagster (PyPI),
#   - pyarrow and DuckDB (PyPI), the other writers and the reference engine of the
#     differential tests, and the Python `deltalake` package (another Delta writer),
#     and Debian's headless Chromium for the HTML report
# Source it: it exports DQ_TEST_S3_ENDPOINT, DQ_TEST_AZURE_ENDPOINT, DQ_TEST_PYTHON and
# DQ_TEST_DAGSTER_PYTHON and DQ_TEST_CHROMIUM, and stops the servers when the calling shell exits.
set -euo pipefail
CACHE="${DQ_CACHE:-$HOME/.cache/dq}"
MOTO_VERSION="5.2.5"
AZURE_BLOB_VERSION="12.31.1"
AZURITE_VERSION="3.35.0"
JUNITPARSER_VERSION="5.0.3"
PROMETHEUS_CLIENT_VERSION="0.26.0"
DAGSTER_VERSION="1.13.29"
# Writers and the reference engine of the differential tests.
PYARROW_VERSION="26.0.1"
DUCKDB_VERSION="2.0.1"
DELTALAKE_VERSION="1.6.6"
# The reference for distribution statistics (ks_2samp, chisquare).
SCIPY_VERSION="1.17.1"
mkdir -p "$CACHE/logs"

if [ ! -x "$CACHE/venv/bin/moto_server" ] || ! "$CACHE/venv/bin/python" -c "import azure.storage.blob, junitparser, prometheus_client, pyarrow, duckdb, deltalake, scipy" 2>/dev/null; then
  echo "test-servers: installing moto, azure-storage-blob, junitparser, prometheus_client, pyarrow, duckdb, deltalake, scipy into $CACHE/venv" >&2
  python3 -m venv "$CACHE/venv"
  "$CACHE/venv/bin/pip" install -q "moto[server]==$MOTO_VERSION" "azure-storage-blob==$AZURE_BLOB_VERSION" \
    "junitparser==$JUNITPARSER_VERSION" "prometheus_client==$PROMETHEUS_CLIENT_VERSION" \
    "pyarrow==$PYARROW_VERSION" "duckdb==$DUCKDB_VERSION" "deltalake==$DELTALAKE_VERSION" "scipy==$SCIPY_VERSION"
fi
if ! "$CACHE/dagster-venv/bin/python" -c "import dagster" 2>/dev/null; then
  echo "test-servers: installing dagster $DAGSTER_VERSION into $CACHE/dagster-venv" >&2
  python3 -m venv "$CACHE/dagster-venv"
  "$CACHE/dagster-venv/bin/pip" install -q "dagster==$DAGSTER_VERSION"
fi
if ! command -v chromium >/dev/null 2>&1; then
  echo "test-servers: installing Debian's chromium" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ ! -x "$CACHE/azurite/node_modules/.bin/azurite-blob" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "test-servers: installing nodejs and npm" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
  fi
  echo "test-servers: installing azurite $AZURITE_VERSION into $CACHE/azurite" >&2
  mkdir -p "$CACHE/azurite"
  (cd "$CACHE/azurite" && npm install --silent --no-audit --no-fund "azurite@$AZURITE_VERSION" >/dev/null)
fi

TANSU_VERSION="0.6.0"
if [ ! -x "$CACHE/tansu/bin/tansu" ]; then
  echo "test-servers: building tansu $TANSU_VERSION (once; about 10-20 minutes on 2 cores)" >&2
  env -u CARGO_TARGET_DIR cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql \
    --root "$CACHE/tansu" --target-dir "$CACHE/tansu-target" --quiet
  rm -rf "$CACHE/tansu-target"
fi

free_port() { "$CACHE/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
S3_PORT=$(free_port)
AZ_PORT=$(free_port)
AZ_DIR=$(mktemp -d)
KAFKA_PORT=$(free_port)
KAFKA_DIR=$(mktemp -d)

"$CACHE/venv/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$CACHE/logs/moto.log" 2>&1 &
MOTO_PID=$!
(cd "$AZ_DIR" && exec "$CACHE/azurite/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$AZ_PORT" \
  --inMemoryPersistence --skipApiVersionCheck --loose --disableTelemetry >"$CACHE/logs/azurite.log" 2>&1) &
AZ_PID=$!
# tansu reads a .env from its working directory: start it in an empty one, on loopback only.
(cd "$KAFKA_DIR" && exec "$CACHE/tansu/bin/tansu" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
  --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" --storage-engine "sqlite://tansu.db" \
  >"$CACHE/logs/tansu.log" 2>&1) &
KAFKA_PID=$!
stop_test_servers() { kill "$MOTO_PID" "$AZ_PID" "$KAFKA_PID" 2>/dev/null || true; rm -rf "$AZ_DIR" "$KAFKA_DIR"; }
trap stop_test_servers EXIT

# Ready when they answer, then create the bucket and the container the tests use.
"$CACHE/venv/bin/python" - "$S3_PORT" "$AZ_PORT" "$KAFKA_PORT" <<'PY'
import socket, struct, sys, time, urllib.request, urllib.error
s3, az, kafka = sys.argv[1], sys.argv[2], int(sys.argv[3])
def kafka_ready():
    # A real round trip, not just the TCP port: ApiVersions v0 must be answered.
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", kafka), timeout=1) as s:
                client = b"dq-test"
                body = struct.pack(">hhih", 18, 0, 1, len(client)) + client
                s.sendall(struct.pack(">i", len(body)) + body)
                size = struct.unpack(">i", s.recv(4))[0]
                if size > 0:
                    return
        except Exception:
            pass
        time.sleep(0.1)
    sys.exit("the Kafka broker (tansu) did not start")
kafka_ready()
def wait(url, ok_codes):
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError as e:
            if e.code in ok_codes:
                return
        except Exception:
            pass
        time.sleep(0.1)
    sys.exit(f"server at {url} did not start")
wait(f"http://127.0.0.1:{s3}/moto-api/", ())
wait(f"http://127.0.0.1:{az}/devstoreaccount1?comp=list", (400, 403))
req = urllib.request.Request(f"http://127.0.0.1:{s3}/dq-test", method="PUT")
urllib.request.urlopen(req, timeout=5)
from azure.storage.blob import BlobServiceClient
conn = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
        f"BlobEndpoint=http://127.0.0.1:{az}/devstoreaccount1;")
BlobServiceClient.from_connection_string(conn).create_container("dq-test")
PY
export DQ_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export DQ_TEST_KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
export DQ_TEST_PYTHON="$CACHE/venv/bin/python"
export DQ_TEST_DAGSTER_PYTHON="$CACHE/dagster-venv/bin/python"
export DQ_TEST_CHROMIUM="$(command -v chromium)"
export DQ_TEST_AZURE_ENDPOINT="http://127.0.0.1:$AZ_PORT"
echo "test-servers: S3 (moto) at $DQ_TEST_S3_ENDPOINT, Azure (Azurite) at $DQ_TEST_AZURE_ENDPOINT, Kafka (tansu) at $DQ_TEST_KAFKA_BROKERS" >&2
