"""Rule place: where every fitted line goes on the dub track (timing.tsv)."""
from dubbing.stages import place
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: place(fit_table=sm.input.fit, source_wav=sm.input.source, dest=sm.output[0]),
)
