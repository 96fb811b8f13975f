"""Rule sync_check: measure where the dubbed speech really is, against the script."""
from dubbing.stages import check_sync
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: check_sync(
        sm.input.dub, sm.input.script, sm.input.reports, sm.output.table, sm.output.summary,
        sm.params.tolerance, sm.params.strict,
    ),
)
