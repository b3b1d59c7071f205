# Berth: `make demo` installs everything and runs a first container; `make test` runs the whole test suite.
.PHONY: demo test deps lint typecheck unit bench stop clean

demo:
	scripts/demo.sh

test:
	scripts/test.sh

deps:
	scripts/install-deps.sh

lint:
	.venv/bin/ruff check berth tests bench

typecheck:
	.venv/bin/mypy

unit:
	.venv/bin/python -m pytest -p no:cacheprovider -m "not privileged and not e2e"

bench:
	.venv/bin/python bench/run_all.py

stop:
	-kill $$(cat /run/berth/berthd.pid) 2>/dev/null
