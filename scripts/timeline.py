"""Rule timeline: every fitted segment at its start time, one track as long as the source."""
from dubbing.stages import build_timeline
from dubbing.step import run_step

run_step(
    snakemake, lambda sm: build_timeline(sm.input.reports, sm.input.wavs, sm.input.source, sm.output[0])
)
