"""Rule synth (per-segment mode): one segment's speech, from the cache or one request."""
from dubbing.backends import Settings
from dubbing.stages import synth
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: synth(
        segment_json=sm.input[0], wav=sm.output.wav, settings=Settings(**sm.params.tts),
        cache_dir=sm.params.cache_dir, manifest=sm.params.manifest, voices=sm.params.voices,
        requests_per_minute=sm.params.requests_per_minute, pacing=sm.params.pacing,
    ),
)
