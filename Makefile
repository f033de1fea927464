# opsense: build the book and run the tests (see README.md).
#
#   make book      install into .venv if needed, execute the chapters through
#                  Jupyter Book's cache, build the site into _build/html
#   make test      install into .venv if needed, then: unit tests, nbval over
#                  book/*.ipynb, the PDF (when TeX is installed), a clean
#                  warnings-as-errors build with execution off, checks of the built
#                  HTML (tests/site/) and of the PDF (tests/test_pdf.py)
#   make pdf       the whole book as one PDF (LaTeX builder, execution off; needs TeX)
#   make lab       JupyterLab on book/, with the venv's Python as its kernel
#   make execute   re-execute chapters in place (maintainers; NB=book/x.ipynb for one)
#   make reproduce re-run every chapter with `opsense run --all`; record book/reproduction.json
#                  (PRESET=paper: the paper presets, book/reproduction-paper.json)
#   make robustness the Robustness page's sweeps on Dask; record book/robustness.json (hours)
#   make linkcheck check external links (needs internet; the weekly workflow)
#   make lock      regenerate requirements-lock.txt from pyproject.toml
#   make clean     remove _build (site, execution cache, MathJax); distclean: also .venv
#
# Installing: `pip install -e .[book,test]` constrained by requirements-lock.txt,
# re-run only when pyproject.toml or the lock is newer than the stamp file
# .venv/.opsense-installed.
#
# One _config.yml serves every build. It says `execute_notebooks: cache`, which
# is what `make book` uses. Builds that need another mode (`make test`: "off",
# so the site shows exactly the outputs nbval has just checked; the weekly job:
# `make book EXECUTE=force`) get a copy of _config.yml with only that key
# replaced, written to _build/config/_config.MODE.yml and passed to
# `jupyter-book build --config`. Nothing else differs between the builds except
# what every build fills in: the footer names the version and commit the site was
# built from, `LAUNCH_REF=TAG` (release builds) pins the launch and licence links to
# that tag, and a PDF made by `make pdf` is copied into the site and linked.
#
# MathJax 3.2.2 is fetched once from the npm registry (`npm pack`, checked
# against a pinned SHA-256) into _build/static/mathjax/, which _config.yml
# serves as _static/mathjax/ so the site renders math offline.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON  ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.opsense-installed
LOCK    := requirements-lock.txt
BUILD   := _build
EXECUTE ?= cache
NB      ?= $(wildcard book/*.ipynb)
# Unit-test selection of `make test`; `make test PYTEST_MARK=` runs slow tests too.
PYTEST_MARK ?= not slow

MATHJAX_VERSION := 3.2.2
MATHJAX_SHA256  := 1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09
MATHJAX_DIR     := $(BUILD)/static/mathjax
MATHJAX         := $(MATHJAX_DIR)/tex-mml-chtml.js

TEST_OUT := $(BUILD)/test
TEST_HTML := $(TEST_OUT)/_build/html

# The PDF: LaTeX from Jupyter Book (execution off) in $(PDF_OUT), latexmk (XeLaTeX) there,
# and the result copied to $(PDF_DIR)/opsense.pdf, from where HTML builds copy it into
# the site. Without TeX (latexmk, xelatex) `make test` skips the PDF and says so.
PDF_OUT   := $(BUILD)/pdf
PDF_LATEX := $(PDF_OUT)/_build/latex
PDF_DIR   := $(PDF_OUT)/site
PDF       := $(PDF_DIR)/opsense.pdf
HAVE_TEX  := $(shell command -v latexmk >/dev/null 2>&1 && command -v xelatex >/dev/null 2>&1 && echo yes)

# What the footer says the site was built from (override for builds outside git).
# Read-only git commands only (no `describe --dirty`, which may rewrite the index).
BUILD_VERSION  ?= $(shell sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml)
BUILD_COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILD_DESCRIBE ?= $(shell d=$$(git describe --tags --always 2>/dev/null) && \
                    { [ -z "$$(git --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null)" ] \
                      && echo "$$d" || echo "$$d-dirty"; })
# Release builds: `make book LAUNCH_REF=v1.2.3` (Binder/Colab/licence links at the tag).
LAUNCH_REF ?=
export OPSENSE_BUILD_VERSION  := $(BUILD_VERSION)
export OPSENSE_BUILD_COMMIT   := $(BUILD_COMMIT)
export OPSENSE_BUILD_DESCRIBE := $(BUILD_DESCRIBE)
export OPSENSE_LAUNCH_REF     := $(LAUNCH_REF)
export OPSENSE_PDF_DIR        := $(PDF_DIR)

# Tools of the venv come first (kernels, papermill, jupyter-book).
export PATH := $(abspath $(BIN)):$(PATH)
export PYTHONDONTWRITEBYTECODE := 1

# _config.yml with execute.execute_notebooks replaced: argv = MODE OUTFILE. Also, from the
# environment: the footer names the version and commit of the build (OPSENSE_BUILD_*);
# OPSENSE_LAUNCH_REF (`make ... LAUNCH_REF=v1.2.3`, the release workflow) pins the Binder and
# Colab links and the licence links to that tag instead of repository.branch; a PDF in
# OPSENSE_PDF_DIR (written by `make pdf`) is copied into the site root and linked from the
# sidebar. Written only when it changes.
define WRITE_CONFIG
import html, os, sys, yaml
mode, out = sys.argv[1], sys.argv[2]
if mode not in ("off", "cache", "force", "auto"):
    sys.exit(f"EXECUTE must be off, cache, force or auto, got {mode!r}")
with open("_config.yml", encoding="utf-8") as f:
    cfg = yaml.safe_load(f)
cfg["execute"]["execute_notebooks"] = mode
env = os.environ
repo = cfg["repository"]["url"].rstrip("/")
branch = cfg["repository"].get("branch", "main")
ref = env.get("OPSENSE_LAUNCH_REF", "").strip()
html_cfg, sphinx_cfg = cfg["html"], cfg["sphinx"]["config"]
footer = html_cfg.get("extra_footer", "").rstrip("\n")
if ref:
    cfg["repository"]["branch"] = ref
    sphinx_cfg.setdefault("thebe_config", {})["repository_branch"] = ref
    footer = footer.replace(f"{repo}/blob/{branch}/", f"{repo}/blob/{ref}/")
version, describe, commit = (env.get(k, "").strip() or "unknown" for k in
                             ("OPSENSE_BUILD_VERSION", "OPSENSE_BUILD_DESCRIBE", "OPSENSE_BUILD_COMMIT"))
e = html.escape
source = (f'<a href="{e(repo)}/commit/{e(commit)}"><code>{e(describe)}</code></a>' if commit != "unknown"
          else f"<code>{e(describe)}</code>")
footer += (f'\n<p class="opsense-build">opsense {e(version)}, built from {source}'
           f' (commit <code>{e(commit[:12])}</code>).</p>\n')
html_cfg["extra_footer"] = footer
pdf_dir = env.get("OPSENSE_PDF_DIR", "")
if pdf_dir and os.path.isfile(os.path.join(pdf_dir, "opsense.pdf")):
    sphinx_cfg["html_extra_path"] = [*sphinx_cfg.get("html_extra_path", []), pdf_dir]
    sphinx_cfg.setdefault("html_context", {})["opsense_pdf"] = "opsense.pdf"
text = ("# Generated by the Makefile from _config.yml; do not edit.\n"
        + yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
try:
    with open(out, encoding="utf-8") as f:
        if f.read() == text:
            sys.exit(0)
except FileNotFoundError:
    pass
with open(out, "w", encoding="utf-8") as f:
    f.write(text)
endef
export WRITE_CONFIG

# MathJax: npm pack into a temp dir, verify, copy the CHTML bundle and its fonts.
define FETCH_MATHJAX
import hashlib, pathlib, shutil, subprocess, sys, tarfile, tempfile
version, sha256, dest = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
if shutil.which("npm") is None:
    sys.exit(f"error: npm is needed (once) to fetch MathJax {version} from the npm registry;\n"
             "install Node.js/npm (Debian/Ubuntu: apt-get install npm) and run make again.")
with tempfile.TemporaryDirectory() as tmp:
    subprocess.run(["npm", "pack", "--silent", f"mathjax@{version}"], cwd=tmp, check=True,
                   stdout=subprocess.DEVNULL)
    tgz = pathlib.Path(tmp, f"mathjax-{version}.tgz")
    got = hashlib.sha256(tgz.read_bytes()).hexdigest()
    if got != sha256:
        sys.exit(f"error: {tgz.name} has SHA-256 {got}, expected {sha256}")
    with tarfile.open(tgz) as t:
        try:
            t.extractall(tmp, filter="data")
        except TypeError:  # Python without extraction filters
            t.extractall(tmp)
    es5 = pathlib.Path(tmp, "package", "es5")
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(es5 / "output" / "chtml" / "fonts" / "woff-v2", dest / "output" / "chtml" / "fonts" / "woff-v2")
    shutil.copy(pathlib.Path(tmp, "package", "LICENSE"), dest / "LICENSE")
    shutil.copy(es5 / "tex-mml-chtml.js", dest / "tex-mml-chtml.js")
print(f"MathJax {version} is in {dest}")
endef
export FETCH_MATHJAX

.PHONY: help install book test unit nbval build-test site-test pdf pdf-test test-pdf-if-tex lab execute linkcheck lock clean distclean mathjax reproduce robustness

help:
	@sed -n '3,19p' Makefile | sed 's/^# \{0,1\}//'

# ------------------------------------------------------------------ install
$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "opsense needs Python >= 3.11 (found %d.%d); run make PYTHON=python3.11 or newer" % sys.version_info[:2])'
	$(PYTHON) -m venv $(VENV)

# The kernels of the venv log their start at level ERROR: ipykernel's start-up warning about
# TCP without encryption (the kernel listens on 127.0.0.1) would otherwise print once per
# chapter in every build. Cell output, warnings included, is not affected.
$(STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(LOCK) -e '.[book,test]'
	@mkdir -p $(VENV)/etc/ipython
	@echo '{"IPKernelApp": {"log_level": "ERROR"}}' > $(VENV)/etc/ipython/ipython_kernel_config.json
	@touch $@

install: $(STAMP)

mathjax: $(MATHJAX)

$(MATHJAX):
	@$(PYTHON) -c "$$FETCH_MATHJAX" $(MATHJAX_VERSION) $(MATHJAX_SHA256) $(MATHJAX_DIR)

# $(call config,MODE): write _build/config/_config.MODE.yml. Called at the start of each
# build's recipe (the commit and the PDF may have changed since the last one; the file is
# rewritten only when it differs).
config = mkdir -p $(BUILD)/config && $(BIN)/python -c "$$WRITE_CONFIG" $(1) $(BUILD)/config/_config.$(1).yml

# ------------------------------------------------------------------ book
book: $(STAMP) $(MATHJAX)
	@$(call config,$(EXECUTE))
	$(BIN)/jupyter-book build -W -n --keep-going --config $(BUILD)/config/_config.$(EXECUTE).yml .
	@echo
	@echo "The book is at $(CURDIR)/$(BUILD)/html/index.html"

# ------------------------------------------------------------------ tests
# With TeX, the PDF is built before the HTML (so that the site links it) and checked last.
test: unit nbval $(if $(HAVE_TEX),pdf) build-test site-test test-pdf-if-tex
	@echo "make test: all checks passed"

unit: $(STAMP)
	$(BIN)/python -m pytest tests --ignore=tests/site --ignore=tests/test_pdf.py -m "$(PYTEST_MARK)"

nbval: $(STAMP)
	$(BIN)/python -m pytest --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg book/

# A build from clean (the incremental build would hide warnings of unchanged
# pages), warnings as errors, execution off.
build-test: $(STAMP) $(MATHJAX)
	@$(call config,off)
	rm -rf $(TEST_OUT)
	$(BIN)/jupyter-book build --all -W -n --keep-going \
	  --config $(BUILD)/config/_config.off.yml --path-output $(TEST_OUT) .

site-test: $(STAMP)
	OPSENSE_SITE_DIR=$(TEST_HTML) $(if $(HAVE_TEX),OPSENSE_EXPECT_PDF=1) $(BIN)/python -m pytest tests/site

# ------------------------------------------------------------------ PDF
# The LaTeX builder reads the committed outputs (execution off, like build-test: no
# chapter runs), then latexmk runs XeLaTeX until the cross-references settle
# (sphinxcontrib-bibtex writes the bibliography into the .tex: no BibTeX run).
pdf: $(STAMP)
	@if [ -z "$(HAVE_TEX)" ]; then \
	  echo "error: make pdf needs TeX (latexmk, xelatex). On Debian/Ubuntu:"; \
	  echo "  apt-get install latexmk texlive-xetex texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended texlive-plain-generic fonts-freefont-otf"; \
	  exit 1; fi
	rm -rf $(PDF_OUT)
	@$(call config,off)
	@mkdir -p _build/static  # html_static_path (MathJax for the site; the LaTeX build needs none of it)
	$(BIN)/jupyter-book build --all -W -n --keep-going --builder latex \
	  --config $(BUILD)/config/_config.off.yml --path-output $(PDF_OUT) .
	cd $(PDF_LATEX) && latexmk -xelatex -interaction=nonstopmode -halt-on-error -file-line-error \
	  -silent opsense.tex > latexmk.log 2>&1 || { tail -n 60 latexmk.log; tail -n 40 opsense.log; exit 1; }
	@mkdir -p $(PDF_DIR)
	cp $(PDF_LATEX)/opsense.pdf $(PDF)
	@echo "The PDF is at $(CURDIR)/$(PDF)"

pdf-test: $(STAMP)
	OPSENSE_PDF=$(PDF) $(BIN)/python -m pytest tests/test_pdf.py

test-pdf-if-tex:
	@$(if $(HAVE_TEX),$(MAKE) --no-print-directory pdf-test,echo "make test: no TeX (latexmk, xelatex): the PDF was not built or checked")

# ------------------------------------------------------------------ JupyterLab
# JupyterLab (in the `book` extra) on book/, with a kernel spec "opsense" that runs
# this venv's Python, installed into the venv itself (nothing outside .venv changes).
lab: $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name opsense \
	  --display-name "Python (opsense .venv)" > /dev/null
	$(BIN)/jupyter lab --ServerApp.root_dir=book \
	  --MultiKernelManager.default_kernel_name=opsense $(LAB_ARGS)

# ------------------------------------------------------------------ maintainers
execute: $(STAMP)
	$(BIN)/python -m opsense.tools.execute $(NB)

# Every chapter from scratch, through papermill, into a new folder; the record
# (environment, commit, time and claims of each chapter) is what the book's
# "Reproduction report" page shows. Exits non-zero if a claim fails (the record is
# written all the same).
# `make reproduce PRESET=paper` does the same with the paper presets and records
# book/reproduction-paper.json, from which `opsense list` states the paper presets' times.
PRESET ?= book
SUFFIX = $(if $(filter book,$(PRESET)),,-$(PRESET))
reproduce: $(STAMP)
	rm -rf $(BUILD)/reproduce$(SUFFIX)
	$(BIN)/opsense run --all --yes --no-progress --preset $(PRESET) --out $(BUILD)/reproduce$(SUFFIX) \
	  --record book/reproduction$(SUFFIX).json

# The Robustness page's sweeps (book/robustness.yml) on a local Dask cluster, resumable from
# $(BUILD)/robustness; updates the committed record book/robustness.json after every sweep.
# Several hours on 2 cores (the page states the estimate); ROBUSTNESS_ARGS="x1_noise" for one
# chapter, or "--scheduler tcp://HOST:PORT" for an existing cluster.
robustness: $(STAMP)
	$(BIN)/opsense robustness --yes --out $(BUILD)/robustness --record book/robustness.json $(ROBUSTNESS_ARGS)

linkcheck: $(STAMP) $(MATHJAX)
	@$(call config,off)
	$(BIN)/jupyter-book build --builder linkcheck \
	  --config $(BUILD)/config/_config.off.yml --path-output $(BUILD)/linkcheck .

lock:
	rm -rf $(BUILD)/lockenv
	$(PYTHON) -m venv $(BUILD)/lockenv
	$(BUILD)/lockenv/bin/python -m pip install --quiet --disable-pip-version-check \
	  $(if $(wildcard $(LOCK)),-c $(LOCK)) '.[book,test,colab]'
	{ echo "# Every package of .[book,test,colab], pinned (the previous lock's versions kept: delete a line to upgrade it); generated by 'make lock' with Python $$($(BUILD)/lockenv/bin/python -c 'import platform; print(platform.python_version())')."; \
	  echo "# Used as pip constraints by the Makefile and as requirements by environment.yml."; \
	  $(BUILD)/lockenv/bin/python -m pip freeze --disable-pip-version-check | grep -v -i '^opsense' ; } > $(LOCK)
	rm -rf $(BUILD)/lockenv build  # build/: setuptools' scratch dir of the non-editable install

clean:
	rm -rf $(BUILD) .pytest_cache

distclean: clean
	rm -rf $(VENV) src/*.egg-info
