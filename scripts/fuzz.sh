#!/usr/bin/env bash
# Longer, randomised runs of the differential harness and of the parser fuzzers.
#   DQ_FUZZ_SEED   seed of the adversarial lakes (default: random, printed)
#   DQ_FUZZ_CASES  lakes per run (default 60)
#   DQ_FUZZ_PROPTEST_CASES  inputs per parser property (default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test-servers.sh
export DQ_FUZZ_SEED="${DQ_FUZZ_SEED:-$(python3 -c 'import random; print(random.randrange(1, 2**31))')}"
export DQ_FUZZ_CASES="${DQ_FUZZ_CASES:-60}"
export PROPTEST_CASES="${DQ_FUZZ_PROPTEST_CASES:-20000}"
echo "fuzz: seed $DQ_FUZZ_SEED, $DQ_FUZZ_CASES lakes, $PROPTEST_CASES inputs per parser property" >&2
cargo test --locked --test it writers -- --include-ignored --nocapture
cargo test --locked --lib fuzz -- --nocapture
