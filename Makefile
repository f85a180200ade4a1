# dq — common tasks. CARGO_TARGET_DIR may point at a shared cache (CI does).

CARGO ?= cargo

.PHONY: run test check bench sample-data docs

## Validate the bundled sample lake (exit code 1: the sample has known defects).
run:
	$(CARGO) run --quiet -- validate

## The whole test suite: unit tests and the integration-test binary.
test:
	$(CARGO) test --locked

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
