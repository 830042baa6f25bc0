# Two commands do everything on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test bench clean models

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	rm -rf demo_out
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest examples -q -rxX --featviz-artifacts demo_out/artifacts
	@echo "pictures of the examples: $(CURDIR)/demo_out/artifacts"

test: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python bench/ascent.py

models: $(STAMP)
	$(BIN)/python examples/train_models.py

clean:
	rm -rf $(VENV) demo_out
