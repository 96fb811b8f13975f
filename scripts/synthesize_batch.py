"""Rule synth_batch (async mode): every stale segment of a video in one process."""
from dubbing.backends import Settings
from dubbing.stages import synthesize_all
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: synthesize_all(
        sm.input.segments, sm.params.tts_dir, sm.output[0], settings=Settings(**sm.params.tts),
        cache_dir=sm.params.cache_dir, manifest=sm.input.script, voices=sm.params.voices,
        max_concurrent=max(1, sm.resources.api),  # the `api` slots this job holds
        requests_per_minute=sm.params.requests_per_minute,
    ),
)
