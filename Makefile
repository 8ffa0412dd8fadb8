# coroscope: `make help` lists every target. The contract is `make demo` and
# `make test`, both of which set up everything they need on a fresh machine
# (Rust toolchain, CPython 3.11 with headers and pip are all they assume).

PYTHON ?= python3
VENV   := .venv
PY     := $(CURDIR)/$(VENV)/bin/python
STAMPS := $(VENV)/.stamps

# Debian packages the checks need (valgrind, chromium) are installed when
# missing, as root or through sudo; a fresh machine may have no package lists yet.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT = $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get
APT_INSTALL = command -v $(1) >/dev/null || { $(APT) install -y -q $(1) || { $(APT) update -q && $(APT) install -y -q $(1); }; }

# uv and maturin live in the venv; later commands find them on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
# cargo builds against the venv's interpreter (pyo3 reads PYO3_PYTHON) in
# target/, maturin in target/maturin: neither invalidates the other's build.
export PYO3_PYTHON := $(PY)
MATURIN_TARGET := target/maturin

.DEFAULT_GOAL := help
.PHONY: help setup develop browser demo tour notebook bench-full benchmarks-md soak test test-rust test-python test-matrix sid-root bench-versions bench-instructions stubtest lint fmt bench clean repeat

help: ## List every target with what it does
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-12s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)

# Python tools, re-installed only when pyproject.toml changes.
$(STAMPS)/deps: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check uv
	uv pip install --quiet --python $(PY) "maturin>=1.16,<2" -r pyproject.toml --all-extras
	@mkdir -p $(STAMPS) && touch $@

setup: $(STAMPS)/deps ## Create .venv and install the Python tools (maturin, pytest, ruff, mypy, ...)

develop: setup ## Build the extension (release) into the venv; incremental after the first time
	@echo "building coroscope (release; the first build takes about 2 minutes, later ones seconds) ..."
	maturin develop --uv --release --quiet --target-dir $(MATURIN_TARGET)

demo: develop ## Set up, build, and run the main job: every mechanism benchmarked side by side (quick)
	$(PY) -m coroscope.bench --quick

tour: develop ## A printed tour: each mechanism awaited once, with what happened
	$(PY) -m coroscope.tour

notebook: develop ## JupyterLab on notebooks/ with a "coroscope" kernel for this venv (ARGS=--no-browser to only print the URL)
	$(PY) -m ipykernel install --user --name coroscope --display-name "Python (coroscope .venv)" >/dev/null
	@echo "kernel 'coroscope' registered for $(PY); starting JupyterLab (Ctrl-C to stop)"
	$(PY) -m jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root) $(ARGS)

bench-full: develop ## The full Python benchmark run (the one BENCHMARKS.md quotes)
	$(PY) -m coroscope.bench

# The newest full run, and the newest cross-version study and instruction counts when there are.
NEWEST_VERSIONS = $(lastword $(sort $(wildcard bench-results/versions/*/)))
NEWEST_INSTRUCTIONS = $(lastword $(sort $(wildcard bench-results/instructions/*.json)))
benchmarks-md: ## Regenerate BENCHMARKS.md from the newest results file in bench-results/ (and the newest bench-versions study)
	$(PY) -m coroscope.bench --report $$(ls bench-results/*.json | tail -1) \
		$(if $(NEWEST_VERSIONS),--versions $(patsubst %/,%,$(NEWEST_VERSIONS))) \
		$(if $(NEWEST_INSTRUCTIONS),--instructions $(NEWEST_INSTRUCTIONS)) > BENCHMARKS.md

soak: develop ## Reliability at full size: 1M awaits per mechanism, 100k-task storms, 8x100k thread wakes, 2,000+ exits (~45 min)
	$(PY) -m coroscope.soak
	$(PY) -m coroscope.exits --runs 20

lint: setup ## cargo fmt --check, clippy -D warnings (and the free-threaded build compiles), every doc link resolves, ruff, no import circle between src/ files
	$(PY) tools/circles.py
	cargo fmt --check
	cargo clippy --all-targets --features bench --quiet -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
	@# src/support/state_lock.rs's free-threaded branch (a Mutex) compiles, though no such build runs here
	cargo rustc --quiet --lib --crate-type rlib --target-dir target/free-threaded -- --cfg Py_GIL_DISABLED -D warnings
	ruff check python tests tools
	ruff format --check python tests tools

fmt: setup ## Format Rust and Python sources in place
	cargo fmt
	ruff format python tests tools
	ruff check --fix python tests tools

test-rust: setup ## Rust tests, including pytests/ (embedded interpreter on an asyncio loop)
	cargo test --quiet

stubtest: develop ## Check the _native stubs against the built module (mypy.stubtest) and type-check the package
	$(PY) -m mypy.stubtest coroscope._native  # and, recursively, its submodules
	$(PY) -m mypy python/coroscope

browser: ## Debian's chromium, for the test that runs every notebook in JupyterLab in a real browser (installed when missing)
	@$(call APT_INSTALL,chromium) || echo "make: could not install chromium through apt: the browser test will be skipped"

valgrind: ## valgrind, whose Callgrind counts instructions (make bench-instructions, count_instructions and its tests; installed when missing)
	@$(call APT_INSTALL,valgrind) || echo "make: could not install valgrind through apt: the instruction-count tests will be skipped"

test-python: develop browser valgrind ## pytest, every Python block of README.md (pytest-markdown-docs), every notebook on a real kernel (nbmake) and in a browser
	$(PY) -m pytest tests README.md --markdown-docs $(wildcard notebooks/*.ipynb) $(if $(wildcard notebooks/*.ipynb),--nbmake)

# pytest runs last so that its summary is the last line of `make test`.
test: lint test-rust stubtest test-python ## Every check; ends with pytest's summary line

# `make test-matrix`, or `make test-matrix VERSIONS="3.11 3.15" JOBS=2` (two at a time).
VERSIONS ?= 3.11 3.12 3.13 3.14 3.15
JOBS     ?= 1
test-matrix: setup ## Stubtest and the whole Python suite on every CPython of VERSIONS (3.11-3.15), each in .venvs/<v>, JOBS at a time; 3.14/3.15 in the sid root when not installed
	$(PY) tools/matrix.py --jobs $(JOBS) --versions $(VERSIONS)

sid-root: setup ## Make (or reuse) the Debian sid root holding CPython 3.14 and 3.15 for the matrix (root only; ~2 min the first time)
	$(PY) tools/sid_root.py

bench-versions: develop ## The cross-version study: the quick benchmarks under every CPython of VERSIONS (as test-matrix finds them), one table and chart
	$(PY) tools/matrix.py --bench --versions $(VERSIONS)

# `make repeat TESTS=tests/test_reliability.py N=20 LOAD=2`
TESTS ?= tests/test_reliability.py
N     ?= 20
LOAD  ?= 0
repeat: develop ## Run TESTS (default tests/test_reliability.py) N times in a row (LOAD=k busy processes beside it) and list every failure
	$(PY) tools/repeat.py --runs $(N) --load $(LOAD) $(TESTS)

CRITERION_BENCHES := drive groups
bench: develop ## Criterion benches (cargo bench); results in target/criterion
	cargo bench --features bench $(foreach b,$(CRITERION_BENCHES),--bench $(b))

# Callgrind needs valgrind (Debian's) and gungraun's runner, of the library's version.
GUNGRAUN := 0.20.0
bench-instructions: develop valgrind ## Every timed group counted in CPU instructions under Callgrind (gungraun), run twice (~25 min); writes bench-results/instructions/
	@gungraun-runner --version 2>/dev/null | grep -q "$(GUNGRAUN)" || cargo install gungraun-runner --version $(GUNGRAUN) --locked
	rm -rf target/gungraun/coroscope/instructions  # two fresh runs: gungraun keeps each case's previous count
	cargo bench --features bench --bench instructions -- --save-summary=json
	cargo bench --features bench --bench instructions -- --save-summary=json
	$(PY) tools/instructions.py
	$(PY) -m coroscope.bench --instructions $$(ls bench-results/instructions/*.json | tail -1)

clean: ## Remove build products and the venv
	cargo clean
	rm -rf $(VENV) .venvs python/coroscope/*.so .pytest_cache .mypy_cache .ruff_cache .hypothesis
