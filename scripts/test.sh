#!/usr/bin/env bash
# The whole test suite, with the real S3 and Azure servers the cloud tests need.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test-servers.sh
cargo test --locked -- --include-ignored
