#!/usr/bin/env bash
# Listing benchmark on S3 (moto, started by scripts/test-servers.sh): 730 daily
# partitions x 3 small files, `dq validate` with a 7-day scope on the partition column
# (only the scope's partitions are listed and read) and with a 7-day scope on a data column
# (every file is listed and its footer read). Usage: scripts/bench_listing.sh [DQ_BINARY]
cd "$(dirname "$0")/.."
DQ="${1:-${CARGO_TARGET_DIR:-target}/release/dq}"
source scripts/test-servers.sh >/dev/null
set +e +u +o pipefail
WORK="$(mktemp -d)"
"$DQ" sample-lake --rows 1000 --core-only --out "$WORK/small" >/dev/null
SRC="$(ls "$WORK"/small/silver/orders/*/part-0.parquet | head -1)"
"$HOME/.cache/dq/venv/bin/python" - "$DQ_TEST_S3_ENDPOINT" "$SRC" <<'PY'
import sys, datetime, boto3
endpoint, source = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test",
                  aws_secret_access_key="test", region_name="us-east-1")
data = open(source, "rb").read()
first = datetime.date(2024, 11, 21)
for day in range(730):
    for part in range(3):
        key = f"listing-bench/silver/orders/date={first + datetime.timedelta(days=day)}/part-{part}.parquet"
        s3.put_object(Bucket="dq-test", Key=key, Body=data)
PY
mkdir -p "$WORK/project/rules"
printf 'default_env: s3\nenvironments:\n  s3: { lake: "s3://dq-test/listing-bench", as_of: "2026-11-21T00:00:00Z", storage: { endpoint: "%s", allow_http: "true", region: us-east-1 } }\n' \
  "$DQ_TEST_S3_ENDPOINT" >"$WORK/project/dq.yaml"
for scope in "date >= current_date - interval '7 days'" "created_at >= now() - interval '7 days'"; do
  printf 'layer: silver\ndatasets:\n  - name: orders\n    partitioning: [{ name: date, type: date }]\n    scope: "%s"\n    checks:\n      - row_count: { min: 0 }\n' \
    "$scope" >"$WORK/project/rules/silver.yaml"
  for run in 1 2 3; do
    (cd "$WORK/project" && AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
      /usr/bin/time -f "scope [$scope]: %e s" "$DQ" validate --format json --output report.json >/dev/null 2>time.txt
     tail -1 time.txt
     python3 -c "import json; d = json.load(open('report.json'))['datasets'][0]; print(f\"  {d['files']} files listed, {d['rows_in_scope']} rows in scope\")")
  done
done
rm -rf "$WORK"
