# The few verbs a council analyst or developer uses. Everything runs inside .venv/.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := demo

.PHONY: install demo test lint format bench clean

install: $(STAMP)

# Re-install when the pins change; requirements.lock pins the whole tree so a fresh clone gets
# exactly what CI tested.
$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/nis synth --families 200 --seed 2026 --out $(DEMO)/extracts --defects 0.01
	$(BIN)/nis validate --source $(DEMO)/extracts --report $(DEMO)/validation_report.xlsx || [ $$? -eq 1 ]
	$(BIN)/nis run --census 2026-03-31 --source $(DEMO)/extracts --out $(DEMO)/submissions
	@echo "Submission written under $(DEMO)/submissions/"

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy nis_pipeline extracts schemas transforms exports flows synth
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/end_to_end.py --families 20000 --repeat 3

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
