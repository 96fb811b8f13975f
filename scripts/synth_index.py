"""Rule synth_index: which segments were synthesized and which came from the cache."""
from dubbing.stages import synth_index
from dubbing.step import run_step

run_step(snakemake, lambda sm: synth_index(tts_dir=sm.params.tts_dir, manifest=sm.input.script, dest=sm.output[0]))
