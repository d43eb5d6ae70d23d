# Developer tasks. `make test` installs what the OCR tests need first.
PYTHON ?= python
CJK_FONT_PACKAGE ?= fonts-wqy-microhei

.PHONY: fonts test test-fast bench lint

# The Chinese OCR tests render text in a CJK font; install one when none is present.
fonts:
	@fc-list :lang=zh | grep -q . || { \
		echo "installing $(CJK_FONT_PACKAGE)"; \
		apt-get install -y --no-install-recommends $(CJK_FONT_PACKAGE) || \
		sudo apt-get install -y --no-install-recommends $(CJK_FONT_PACKAGE); }

test: fonts
	PYTHONPATH=src $(PYTHON) -m pytest -q

test-fast:
	PYTHONPATH=src $(PYTHON) -m pytest -q -m "not slow"

bench: fonts
	PYTHONPATH=src:. $(PYTHON) bench/bench_local.py --write bench/RESULTS.md

lint:
	$(PYTHON) -m ruff check src tests bench
