# `make demo` and `make test` bootstrap their own virtualenv on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
LEGACY_VENV ?= .venv-1.3.12
PYTEST_ARGS ?=

.PHONY: demo test test-legacy lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

# livekit-agents 1.3.12, the version of the user report: openai 1.x on httpx.
$(LEGACY_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(LEGACY_VENV)
	$(LEGACY_VENV)/bin/pip install -q --upgrade pip
	$(LEGACY_VENV)/bin/pip install -q -e '.[test]' 'livekit-agents==1.3.12' \
		'livekit-plugins-openai==1.3.12' 'openai<2' httpx \
		'livekit-plugins-anthropic==1.3.12' 'livekit-plugins-google==1.3.12' \
		'livekit-plugins-aws==1.3.12' 'livekit-plugins-mistralai==1.3.12' \
		'livekit-plugins-groq==1.3.12' 'mistralai<2' 'anthropic<1' 'google-api-core<2.41'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/pytest examples -q
	@echo
	@echo "== __snapshots__/examples/test_seed/test_ice_cream.yaml =="
	@cat __snapshots__/examples/test_seed/test_ice_cream.yaml
	@echo
	@echo "== snaprun show examples/test_seed.py::test_ice_cream =="
	@$(VENV)/bin/snaprun show examples/test_seed.py::test_ice_cream

test: $(VENV)/.installed
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The committed cassettes hold the requests the latest livekit-agents sends; 1.3.12 sends other
# bodies, so this leg records the examples afresh against the scripted server, into a scratch
# folder that is never committed, then replays them: both must match the committed goldens.
# The seed example is a strict xfail on 1.3.12 (README), so its golden goes unused there.
LEGACY_OPTIONS = -o snaprun_cassette_dir=build/cassettes-1.3.12 --snapshot-warn-unused

test-legacy: $(LEGACY_VENV)/.installed
	rm -rf build/cassettes-1.3.12
	$(LEGACY_VENV)/bin/pytest --record-mode=once $(LEGACY_OPTIONS) $(PYTEST_ARGS)
	$(LEGACY_VENV)/bin/pytest $(LEGACY_OPTIONS) $(PYTEST_ARGS) examples

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check snaprun tests examples benchmarks
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(LEGACY_VENV) .pytest_cache .mypy_cache
