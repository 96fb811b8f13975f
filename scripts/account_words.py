"""Rule account_words: every word of the script (and of the transcript) dubbed, shown, or listed with why not."""
from dubbing.stages import account_words
from dubbing.step import run_step

run_step(
    snakemake,
    lambda sm: account_words(
        script_path=sm.input.script, timing_tsv=sm.input.timing, unspoken_tsv=sm.input.unspoken,
        words_dest=sm.output.words, summary_dest=sm.output.summary, transcript_json=sm.input.get("transcript"),
        strict=sm.params.strict,
    ),
)
