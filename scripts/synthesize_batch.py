"""Checkpoint synth_batch (async mode): every stale segment of a video in one process."""
from dubbing.backends import Settings
from dubbing.step import run_step
from dubbing.synth import synthesize_batch

run_step(
    snakemake,
    lambda sm: synthesize_batch(
        sm.input.segments, sm.params.tts_dir, sm.output[0], Settings(**sm.params.tts), sm.params.cache_dir,
        sm.params.manifest, max(1, sm.resources.api), sm.params.requests_per_minute, sm.params.voices,
    ),
)
