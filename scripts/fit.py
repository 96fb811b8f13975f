"""Rule fit: the video's pace, lines voiced faster where they must be, each segment fitted to its time."""
from dubbing.backends import Settings
from dubbing.stages import fit
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: fit(
        tts_dir=sm.params.tts_dir, slot_jsons=sm.input.slots, segment_jsons=sm.input.segments,
        paced_dir=sm.params.paced_dir, manifest=sm.output[0],
        max_speedup=sm.params.max_speedup, settings=Settings(**sm.params.tts), cache_dir=sm.params.cache_dir,
        script=sm.input.script, voices=sm.params.voices,
        max_concurrent=max(1, sm.resources.api),  # the `api` slots this job holds
        requests_per_minute=sm.params.requests_per_minute, workers=sm.threads, shortened=sm.input.shortened or None,
    ),
)
