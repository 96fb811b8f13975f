"""Rule report_pieces: the timeline figure and the summary page for `snakemake --report`."""
from dubbing.stages import report_pieces
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: report_pieces(
        sm.input.source, sm.input.table, sm.input.summary, sm.input.synth_index, sm.output.figure,
        sm.output.page, sm.wildcards.video, sm.params.tts, sm.params.config,
    ),
)
