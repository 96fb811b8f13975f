"""Rule sync_check: find each fitted line in the dub track and compare where it is with the script."""
from dubbing.stages import sync_check
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: sync_check(
        dub_wav=sm.input.dub, timing_tsv=sm.input.timing, manifest=sm.input.script, fit_table=sm.input.fit,
        table=sm.output.table, summary_json=sm.output.summary, tolerance=sm.params.tolerance,
        strict=sm.params.strict, source_wav=sm.input.source,
    ),
)
