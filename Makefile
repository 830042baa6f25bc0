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
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest examples -q -rxX --featviz-artifacts demo_out/artifacts --featviz-report demo_out/report.html
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/featviz layers examples/models/textures_cnn.keras
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/featviz render examples/models/textures_cnn.keras --layer conv1 --channels 0:8 --steps 200 --out demo_out/textures_conv1_raw.png
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/featviz render examples/models/textures_cnn.keras --layer conv1 --channels 0:8 --steps 200 --priors standard --out demo_out/textures_conv1_standard.png
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/featviz render examples/models/digits_cnn.keras --layer conv2 --channels 0:16 --priors standard --out demo_out/digits_conv2_standard.png
	@echo
	@echo "pictures of the examples: $(CURDIR)/demo_out/artifacts"
	@echo "HTML report of the example suite: $(CURDIR)/demo_out/report.html"
	@echo "filter grids: $(CURDIR)/demo_out/textures_conv1_raw.png, textures_conv1_standard.png, digits_conv2_standard.png"

test: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python bench/ascent.py
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python bench/priors_and_properties.py
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python bench/bounds.py
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python bench/applications.py

models: $(STAMP)
	$(BIN)/python examples/train_models.py

clean:
	rm -rf $(VENV) demo_out
