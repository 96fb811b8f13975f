"""Rule synth (per-segment mode): one segment's speech, from the cache or one request."""
from dubbing.backends import Settings
from dubbing.step import run_step
from dubbing.synth import synthesize_one

run_step(
    snakemake,
    lambda sm: synthesize_one(
        sm.input[0], sm.output.wav, sm.output.record, Settings(**sm.params.tts), sm.params.cache_dir,
        sm.params.manifest, sm.params.voices,
    ),
)
