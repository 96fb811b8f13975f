"""Rule translate: the generated script (results/<video>/script.tsv)."""
from dubbing.backends import Settings
from dubbing.stages import translate
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: translate(
        transcript_json=sm.input.transcript, source_wav=sm.input.audio, dest=sm.output[0],
        settings=Settings(**sm.params.translate).holding(sm.resources.api),
    ),
)
