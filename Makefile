# dq — common tasks. CARGO_TARGET_DIR may point at a shared cache (CI does).

CARGO ?= cargo

.PHONY: run test test-fast fuzz check bench sample-data docs

## Validate the bundled sample lake (exit code 1: the sample has known defects).
run:
	$(CARGO) run --quiet -- validate

## The whole test suite, with the S3 (moto) and Azure (Azurite) servers it starts on 127.0.0.1.
test:
	bash scripts/test.sh

## Only the tests that need no server (cloud tests are skipped as ignored).
test-fast:
	$(CARGO) test --locked

## The differential test on many more lakes than CI's, from a random seed (or DQ_FUZZ_SEED),
## then the parser fuzzers for longer. A mismatch prints the seed that reproduces it.
fuzz:
	bash scripts/fuzz.sh

## Formatting and lints.
check:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

## Whole-process benchmark against hand-written DuckDB SQL (release build, 10M rows).
bench:
	python3 scripts/bench.py

## Rebuild the committed sample lake and the generated docs.
sample-data:
	rm -rf sample-data && $(CARGO) run --quiet -- sample-lake --out sample-data

docs:
	$(CARGO) run --quiet -- rules --markdown > docs/RULES.md
	$(CARGO) run --quiet -- schema rules > schema/rules.schema.json
	$(CARGO) run --quiet -- schema project > schema/dq.schema.json
