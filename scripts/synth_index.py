"""Rule synth_index: which segments were synthesized and which came from the cache."""
from dubbing.step import run_step
from dubbing.synth import write_index

run_step(snakemake, lambda sm: write_index(sm.input, sm.output[0]))
