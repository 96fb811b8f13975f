"""Rule probe: check the video is usable and record its duration and streams."""
from dubbing.stages import probe
from dubbing.step import run_step

run_step(snakemake, lambda sm: probe(
    media=sm.input.media, dest=sm.output[0], source_track=sm.params.source_track,
    source_language=sm.params.source_language,
))
