"""Rule synth (per-segment mode): one segment's speech, from the cache or one request."""
from dubbing.backends import Settings
from dubbing.stages import synthesize_segment
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: synthesize_segment(
        sm.input[0], sm.output.wav, sm.output.record, settings=Settings(**sm.params.tts),
        cache_dir=sm.params.cache_dir, manifest=sm.params.manifest, voices=sm.params.voices,
        requests_per_minute=sm.params.requests_per_minute,
    ),
)
