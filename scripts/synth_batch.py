"""Rule synth_batch (async mode): every stale segment of a video in one process."""
from dubbing.backends import Settings
from dubbing.stages import synth_batch
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: synth_batch(
        segment_jsons=sm.input.segments, tts_dir=sm.params.tts_dir, report=sm.output[0],
        settings=Settings(**sm.params.tts),
        cache_dir=sm.params.cache_dir, manifest=sm.input.script, voices=sm.params.voices,
        max_concurrent=max(1, sm.resources.api),  # the `api` slots this job holds
        requests_per_minute=sm.params.requests_per_minute, pacing=sm.params.pacing,
    ),
)
