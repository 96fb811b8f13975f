#!/usr/bin/env bash
# Run by Snakemake, inside the asr environment, after it creates it: what pip must install without its
# dependencies (Resemblyzer for its speaker-encoder weights, never its torch), as `make setup` does from
# requirements-nodeps.lock (the same pin and hash).
set -euo pipefail
nodeps="$(mktemp)"
trap 'rm -f "$nodeps"' EXIT
cat > "$nodeps" <<'PINS'
resemblyzer==0.1.4 --hash=sha256:8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f
PINS
pip install --no-deps --require-hashes -r "$nodeps"
