"""Rule timing_table: per segment slot, speech length, stretch and overflow."""
from dubbing.stages import timing_table
from dubbing.step import run_step

run_step(snakemake, lambda sm: timing_table(sm.input.reports, sm.output[0]))
