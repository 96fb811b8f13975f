"""Rule report_pieces: the timeline figure and the summary page for `snakemake --report`."""
from dubbing.stages import report_pieces
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: report_pieces(
        source_wav=sm.input.source, table=sm.input.table, summary_json=sm.input.summary,
        synth_index=sm.input.synth_index, figure=sm.output.figure, page=sm.output.page, video=sm.params.title,
        tts=sm.params.tts, config=sm.params.config, voices_table=sm.input.voices, words_json=sm.input.words,
        speech=sm.input.speech, mix_json=sm.input.mix,
    ),
)
