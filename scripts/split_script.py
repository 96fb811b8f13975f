"""Checkpoint segments: validate the script, one file per segment (rewritten only when it changed)."""
from dubbing.backends import Settings
from dubbing.stages import split_script
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: split_script(
        sm.input.script, sm.input.probe, sm.output[0], sm.params.segment_dir, sm.params.slot_dir,
        tts=Settings(**sm.params.tts), voices=sm.params.voices, min_gap=sm.params.min_gap,
        voice_pool=sm.params.voice_pool, voices_table=sm.output.voices, clones_json=sm.input.get("clones"),
        unspoken_table=sm.output.unspoken, max_speedup=sm.params.max_speedup, cache_dir=sm.params.cache_dir,
    ),
)
