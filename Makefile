# Set-up and the common calls. `make demo` and `make test` set everything up on a fresh machine.

VENV ?= .venv
PYTHON ?= python3
CORES ?= 5
VIDEO ?= media/demo.mp4
NAME := $(basename $(notdir $(VIDEO)))
export PATH := $(abspath $(VENV))/bin:$(PATH)
SNAKEMAKE := $(VENV)/bin/snakemake
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := ffmpeg

.PHONY: setup system-deps demo dub dry-run dag test clean help

help:
	@echo "make demo                 dub media/demo.mp4 -> results/demo/dubbed.mp4 (sets itself up)"
	@echo "make test                 run the whole test suite (sets itself up)"
	@echo "make dub VIDEO=media/x.mp4  dub one video"
	@echo "make dry-run VIDEO=...    show what would run;  make dag VIDEO=... -> results/<video>/dag.svg"

setup: system-deps $(VENV)/.installed

system-deps:
	@missing=""; for tool in ffmpeg ffprobe; do command -v $$tool >/dev/null || missing="$(APT_PACKAGES)"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing (apt-get)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

demo: setup
	$(SNAKEMAKE) --cores $(CORES) results/demo/dubbed.mp4
	@echo "dubbed video: results/demo/dubbed.mp4"

dub: setup
	$(SNAKEMAKE) --cores $(CORES) "results/$(NAME)/dubbed.mp4"

dry-run: setup
	$(SNAKEMAKE) -n "results/$(NAME)/dubbed.mp4"

dag: setup
	mkdir -p "results/$(NAME)"
	$(SNAKEMAKE) --rulegraph "results/$(NAME)/dubbed.mp4" | dot -Tsvg > "results/$(NAME)/dag.svg"

test: setup
	$(VENV)/bin/python -m pytest

clean:
	rm -rf results logs benchmarks .snakemake
