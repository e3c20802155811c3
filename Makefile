# Two commands for a newcomer: `make demo` and `make test` (see README.md).
# Both create the environment first (tools/setup_env.sh, idempotent).
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_CONFIG ?= configs/demo/siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py
DEMO_WORK_DIR ?= work_dirs/demo
# the repository root on the path, as OpenMMLab's launchers do: the study
# bench (projects/study_bench) is importable by name from tools and tests
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))

.PHONY: env data demo test lint clean-env

env:
	bash tools/setup_env.sh

data: env
	$(PY) tools/data/fetch_fashion_mnist.py

demo: env data
	$(PY) tools/run_demo.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR)

# tests set one torch thread per process (tests/conftest.py), so two
# pytest-xdist workers keep both cores of a 2-core machine busy
TEST_WORKERS ?= 2
test: env data
	$(PY) -m pytest tests -q -p no:cacheprovider -n $(TEST_WORKERS)

lint: env
	$(PY) -m flake8 mmsiameseim tools tests configs || true

clean-env:
	rm -rf $(VENV)
