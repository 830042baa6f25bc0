# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Our own runs install exact versions from a constraints file: constraints/newest.txt (the locked
# newest set, .venv) or constraints/oldest.txt (the supported floors, .venv-oldest).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OLD := .venv-oldest
OLDSTAMP := $(OLD)/.installed

.PHONY: venv venv-oldest demo lint ruff format test test-fast test-oldest check-install dist bench clean models lock examples-run

$(STAMP): pyproject.toml constraints/newest.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints/newest.txt -e ".[cpu,test]"
	touch $(STAMP)

venv: $(STAMP)

# The oldest supported set, installed the way a user's project has it, then pytest-featviz on top:
# `pip install -e .` must change none of the user's packages (constraints/check_install.py).
$(OLDSTAMP): pyproject.toml constraints/oldest.txt constraints/check_install.py
	rm -rf $(OLD)
	$(PY) -m venv $(OLD)
	$(OLD)/bin/pip install --quiet --upgrade pip
	$(OLD)/bin/pip install --quiet -r constraints/oldest.txt
	$(OLD)/bin/python constraints/check_install.py unchanged -- -e .
	$(OLD)/bin/pip install --quiet -c constraints/oldest.txt -e ".[cpu,test]"
	touch $(OLDSTAMP)

venv-oldest: $(OLDSTAMP)

venv: $(STAMP)

demo: $(STAMP)
	rm -rf demo_out
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest examples -q -rxX --featviz-artifacts demo_out/artifacts --featviz-report demo_out/report.html
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/featviz layers examples/models/textures_cnn.keras
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/featviz render examples/models/textures_cnn.keras --layer conv1 --channels 0:8 --steps 200 --out demo_out/textures_conv1_raw.png
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/featviz render examples/models/textures_cnn.keras --layer conv1 --channels 0:8 --steps 200 --priors standard --out demo_out/textures_conv1_standard.png
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/featviz render examples/models/digits_cnn.keras --layer conv2 --channels 0:16 --priors standard --out demo_out/digits_conv2_standard.png
	@echo
	@echo "pictures of the examples: $(CURDIR)/demo_out/artifacts"
	@echo "HTML report of the example suite: $(CURDIR)/demo_out/report.html"
	@echo "filter grids: $(CURDIR)/demo_out/textures_conv1_raw.png, textures_conv1_standard.png, digits_conv2_standard.png"

# Lint and type-check (config in pyproject.toml: [tool.ruff], [tool.mypy]); `make test` runs the same checks.
lint: ruff
	$(BIN)/python -m mypy

# ruff's lint and format checks: the part of `make lint` that `make test` runs first.
ruff: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Apply the automatic lint fixes and the formatter.
format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# `make lint`'s checks and the suite: mypy (about 10 s of one core) runs beside the suite and reports after
# it; either failing fails the target.
test: ruff
	@$(BIN)/python -m mypy > $(VENV)/mypy.log 2>&1 & types=$$!; \
	echo "$(BIN)/python -m pytest -n 2 --dist loadgroup -q  (mypy beside it)"; \
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -n 2 --dist loadgroup -q; suite=$$?; \
	wait $$types; typed=$$?; echo "mypy:"; cat $(VENV)/mypy.log; \
	test $$suite -eq 0 && test $$typed -eq 0

# The fast tier while working: the package's doctests and tests/unit (no subprocesses, no pytester runs).
test-fast: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -n 2 --dist loadgroup -q -m "not integration" pytest_featviz tests/unit

test-oldest: $(OLDSTAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(OLD)/bin/python -m pytest -n 2 --dist loadgroup -q

# With a plain `tensorflow` (the GPU build) installed, installing pytest-featviz adds no tensorflow-cpu.
check-install: $(STAMP)
	$(BIN)/python constraints/check_install.py no-second-tensorflow

dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/python -m twine check --strict dist/*

# Re-lock the newest set from the working .venv (after upgrading it deliberately).
lock: $(STAMP)
	$(BIN)/pip freeze --exclude-editable | grep -v '^pytest-featviz' > constraints/newest.txt

bench: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python bench/ascent.py
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python bench/priors_and_properties.py
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python bench/bounds.py
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python bench/applications.py
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python bench/exemplars.py

models: $(STAMP)
	$(BIN)/python examples/train_models.py

# The run files of a real examples run (and of a one-test run with a real failure) that the report's
# browser tests read (tests/integration/data/examples_run/); rerun when the run file's schema changes.
examples-run: $(STAMP)
	$(BIN)/python tests/integration/data/make_examples_run.py

clean:
	rm -rf $(VENV) $(OLD) demo_out dist build
