"""Checkpoint segments: validate the script, one file per segment (rewritten only when it changed)."""
from dubbing.backends import Settings
from dubbing.stages import segments
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: segments(
        script_path=sm.input.script, probe_json=sm.input.probe, manifest=sm.output[0],
        segment_dir=sm.params.segment_dir, slot_dir=sm.params.slot_dir,
        tts=Settings(**sm.params.tts), voices=sm.params.voices, min_gap=sm.params.min_gap,
        voice_pool=sm.params.voice_pool, voices_table=sm.output.voices, clones_json=sm.input.get("clones"),
        unspoken_table=sm.output.unspoken, pacing=sm.output.pacing, max_speedup=sm.params.max_speedup, cache_dir=sm.params.cache_dir,
    ),
)
