# Two commands: `make bench` and `make test`. Each sets up from nothing (venv + install), then runs.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# CPU build of torch from this machine's disk; on a GPU machine pre-install your CUDA torch instead.
TORCH_SPEC ?= torch==2.13.0

.PHONY: test bench setup lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# torch is pinned in the same resolution as the project, so pip never swaps in a CUDA build;
	@# a torch already in the venv (e.g. your CUDA build) is kept.
	@if $(PY) -c "import torch" 2>/dev/null; then \
	  $(PY) -m pip install -q -e ".[dev]" -e examples/zoo_plugin_example; \
	else \
	  $(PY) -m pip install -q "$(TORCH_SPEC)" -e ".[dev]" -e examples/zoo_plugin_example; \
	fi
	$(PY) -c "import torch, lightning, zoo, datamodules, zoo_plugin_example"
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m benchmarks.make_bench

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) runs .pytest_cache
