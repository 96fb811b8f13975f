"""Rule translate: the generated script (results/<video>/script.tsv)."""
from dubbing.backends import Settings
from dubbing.stages import translate
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: translate(sm.input[0], sm.output[0],
                         Settings(**sm.params.translate, max_concurrent=max(1, sm.resources.api))),
)
