"""Rule subtitles: the dubbed text as SubRip."""
from dubbing.stages import dubbed_subtitles
from dubbing.step import run_step

run_step(snakemake, lambda sm: dubbed_subtitles(sm.input[0], sm.output[0]))
