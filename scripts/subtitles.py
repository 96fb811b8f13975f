"""Rule subtitles: dubbed.srt, what the dub says and when (timing.tsv), with speakers from the script."""
from dubbing.stages import subtitles
from dubbing.step import run_step

run_step(snakemake, lambda sm: subtitles(timing_tsv=sm.input.timing, manifest=sm.input.script,
                                                dest=sm.output[0], voices_table=sm.input.voices,
                                                unspoken_table=sm.input.unspoken))
