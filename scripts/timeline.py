"""Rule timeline: every fitted segment at its placed start, one track as long as the source."""
from dubbing.stages import timeline
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: timeline(timing_tsv=sm.input.timing, fit_table=sm.input.fit, source_wav=sm.input.source,
                              dest=sm.output[0]),
)
