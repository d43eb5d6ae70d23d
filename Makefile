# docmill — `make run` starts the service on embedded defaults; `make test` runs the checks.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench fonts libreoffice clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/docmill serve --host $(HOST) --port $(PORT)

# CJK fonts for the generated Chinese test documents (Debian's fonts-wqy-microhei).
fonts:
	@fc-list :lang=zh 2>/dev/null | grep -q . || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei fontconfig >/dev/null; \
	  else echo "note: no CJK font; install fonts-wqy-microhei for the Chinese OCR tests"; fi; }

# LibreOffice headless for Office input (Debian packages; Office uploads are a 415 without it).
libreoffice:
	@command -v soffice >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      libreoffice-core libreoffice-writer libreoffice-calc libreoffice-impress fonts-liberation2 >/dev/null; \
	  else echo "note: no LibreOffice; install libreoffice-core/-writer/-calc/-impress for Office input"; fi; }

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test: $(VENV)/.dev-installed fonts libreoffice lint
	$(BIN)/pytest

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
