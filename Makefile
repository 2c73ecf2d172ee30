# ARBIG: `make run` starts the whole app (simulated gateway by default) at http://127.0.0.1:8000;
# `make test` runs the whole test suite. Both set up what they need first.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench services set-password stop status rotate-mcp-token

# First time: minutes (vnpy_ctp, the CTP broker library, compiles from C++); pip's output goes to
# var/install.log, the console gets one line per step.
$(STAMP): pyproject.toml scripts/setup_venv.sh
	@scripts/setup_venv.sh

services: $(STAMP)
	@scripts/ensure_services.sh

run: $(STAMP)
	@scripts/ensure_services.sh
	@echo "==> starting ARBIG (core + web service); Ctrl-C stops both"
	@$(PY) -m scripts.run_app

# Stop trading now: every strategy stopped, every open order cancelled, through the core's local
# control channel (works while Redis is down or hung). Positions stay open: close them from the page.
stop: $(STAMP)
	$(PY) -m core_service.cli --via local emergency-stop

status: $(STAMP)
	$(PY) -m core_service.cli --via local status

test: $(STAMP)
	@scripts/ensure_services.sh --chromium
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	scripts/ensure_services.sh
	$(PY) -m bench.bench_core

set-password: $(STAMP)
	$(PY) -m web_service.set_password

# A new bearer token for the MCP endpoint (http://127.0.0.1:8000/mcp) in var/mcp_token.txt (mode 0600); the
# running web service refuses the old one from its next request. The token is never printed: read the file.
rotate-mcp-token: $(STAMP)
	$(PY) -m web_service.mcp.token rotate
