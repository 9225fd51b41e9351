# The two commands of the README, each setting up .venv (Python >= 3.11) when it is missing:
#   make reproduce   the study's main job: figures and tables into figures/
#   make test        pytest: every notebook, plus integration and bad-input tests
#   make lab         Jupyter Lab on the notebooks, with the project's environment as its kernel
# CONSTRAINTS= (empty) installs without the pinned versions, e.g. over your own CUDA torch build.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CONSTRAINTS ?= constraints.txt
PIP_FLAGS := --quiet --disable-pip-version-check --no-input
# the test run: one thread per process, two pytest workers on the two cores; the tests of the one tiny study run
# (xdist_group 'tiny_study') go to one worker together while the other takes the rest; the 15 slowest tests listed
TEST_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MPLBACKEND=Agg
PYTEST_ARGS ?= -n 2 --dist loadgroup --durations=15

.PHONY: reproduce test lab bench bench-synth bench-train bench-input bench-spectra bench-morphology export readme venv

venv: $(VENV)/.installed

$(VENV)/.installed: settings.ini setup.py pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e '.[dev]' 2> >(grep -v "^WARNING: Location" >&2)
	@touch $@

reproduce: $(VENV)/.installed
	$(VENV)/bin/powderflow reproduce --out figures --notebook-outputs && $(VENV)/bin/nbdev-clean

test: $(VENV)/.installed
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS) tests

lab: $(VENV)/.installed
	$(VENV)/bin/jupyter lab --notebook-dir=nbs $(LAB_ARGS)

bench: $(VENV)/.installed
	OMP_NUM_THREADS=1 $(PY) benchmarks/conversion_throughput.py

bench-synth: $(VENV)/.installed
	OMP_NUM_THREADS=1 $(PY) benchmarks/synthetic_throughput.py

bench-train: $(VENV)/.installed
	$(PY) benchmarks/training_throughput.py

bench-input: $(VENV)/.installed
	$(PY) benchmarks/input_throughput.py

bench-spectra: $(VENV)/.installed
	$(PY) benchmarks/spectra_throughput.py

bench-morphology: $(VENV)/.installed
	OMP_NUM_THREADS=1 $(PY) benchmarks/morphology_throughput.py

# after editing notebooks: export the library, clean the notebooks, rebuild the README from nbs/index.ipynb
export: $(VENV)/.installed
	$(VENV)/bin/nbdev-export && $(VENV)/bin/nbdev-clean && $(MAKE) readme

readme: $(VENV)/.installed
	$(PY) -c "import nbformat; nb = nbformat.read('nbs/index.ipynb', 4); open('README.md', 'w').write('\n\n'.join(c.source for c in nb.cells if c.cell_type == 'markdown') + '\n')"
