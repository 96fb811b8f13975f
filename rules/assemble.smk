# From fitted segments to the dubbed video: placement (timing table), timeline, subtitles, mix, mux.


# Where every line goes: as near its script time as it can be without two lines overlapping
# (scripts/dubbing/placement.py).
rule place:
    input:
        fit="results/{video}/fit.tsv",
        source="results/{video}/audio/source.wav",
    output:
        "results/{video}/timing.tsv",
    log:
        "logs/{video}/place.log",
    benchmark:
        "benchmarks/{video}/place.tsv"
    conda:
        "../envs/audio.yaml"
    script:
        "../scripts/place.py"


rule timeline:
    input:
        timing="results/{video}/timing.tsv",
        fit="results/{video}/fit.tsv",
        source="results/{video}/audio/source.wav",
    output:
        "results/{video}/dub.wav",
    log:
        "logs/{video}/timeline.log",
    benchmark:
        "benchmarks/{video}/timeline.tsv"
    conda:
        "../envs/audio.yaml"
    script:
        "../scripts/timeline.py"


rule subtitles:
    input:
        timing="results/{video}/timing.tsv",
        script="results/{video}/segments.tsv",
        voices="results/{video}/voices.tsv",
        unspoken="results/{video}/unspoken.tsv",
    output:
        "results/{video}/dubbed.srt",
    log:
        "logs/{video}/subtitles.log",
    benchmark:
        "benchmarks/{video}/subtitles.tsv"
    conda:
        "../envs/audio.yaml"
    script:
        "../scripts/subtitles.py"


rule mix:
    input:
        source="results/{video}/audio/source.wav",
        dub="results/{video}/dub.wav",
        media=video_for,  # a 5.1 source is mixed in 5.1 from the video itself
        probe="results/{video}/audio/probe.json",
    output:
        flac="results/{video}/mix.flac",
        aac="results/{video}/mix.m4a",
    log:
        "logs/{video}/mix.log",
    benchmark:
        "benchmarks/{video}/mix.tsv"
    conda:
        "../envs/audio.yaml"
    threads: 2  # the AAC is encoded in this many pieces at once (scripts/dubbing/aac.py)
    params:
        mode=config["mix_mode"],
        duck_db=config["duck_db"],
        lufs=config["loudness_lufs"],
        bitrate=config["audio_bitrate"],
    script:
        "../scripts/mix.py"


rule sync_check:
    input:
        dub="results/{video}/dub.wav",
        timing="results/{video}/timing.tsv",
        script="results/{video}/segments.tsv",
        fit="results/{video}/fit.tsv",
        source="results/{video}/audio/source.wav",  # the dub is measured against the original's speech
    output:
        table=report(
            "results/{video}/sync.tsv", caption="../report/sync.rst", category="Sync"
        ),
        summary="results/{video}/sync_summary.json",
    log:
        "logs/{video}/sync_check.log",
    benchmark:
        "benchmarks/{video}/sync_check.tsv"
    conda:
        "../envs/audio.yaml"
    params:
        tolerance=config["sync_tolerance"],
        strict=config["strict_sync"],
    script:
        "../scripts/sync_check.py"


rule account_words:
    input:
        unpack(accounting_inputs),
    output:
        words=report(
            "results/{video}/words.tsv",
            caption="../report/words.rst",
            category="Words",
        ),
        summary="results/{video}/words_summary.json",
    log:
        "logs/{video}/account_words.log",
    benchmark:
        "benchmarks/{video}/account_words.tsv"
    conda:
        "../envs/audio.yaml"
    params:
        strict=config["strict_sync"],
    script:
        "../scripts/account_words.py"


rule report_pieces:
    input:
        source="results/{video}/audio/source.wav",
        table="results/{video}/sync.tsv",
        summary="results/{video}/sync_summary.json",
        synth_index="results/{video}/synth.tsv",
        voices="results/{video}/voices.tsv",
        words="results/{video}/words_summary.json",
    output:
        figure=report(
            "results/{video}/report/timeline.png",
            caption="../report/timeline.rst",
            category="Timeline",
        ),
        page=report(
            "results/{video}/report/summary.html",
            caption="../report/summary.rst",
            category="Summary",
        ),
    log:
        "logs/{video}/report_pieces.log",
    benchmark:
        "benchmarks/{video}/report_pieces.tsv"
    conda:
        "../envs/audio.yaml"
    params:
        tts=tts_settings(),
        config=report_config(),
    script:
        "../scripts/report_pieces.py"


rule mux:
    input:
        media=video_for,
        audio="results/{video}/mix.m4a",
        srt="results/{video}/dubbed.srt",
        # Not read: they pull the sync check and the report pieces into every dub's DAG (and so
        # into `snakemake --report`), and a strict sync check failure stops the mux.
        timing="results/{video}/timing.tsv",
        sync="results/{video}/sync.tsv",
        report="results/{video}/report/summary.html",
    output:
        "results/{video}/dubbed.mp4",
    log:
        "logs/{video}/mux.log",
    benchmark:
        "benchmarks/{video}/mux.tsv"
    conda:
        "../envs/audio.yaml"
    params:
        language=config["target_language"],
        bitrate=config["audio_bitrate"],  # only if the audio is not AAC already (mix.m4a is)
    script:
        "../scripts/mux.py"


# What a platform takes for the target language (YouTube: one audio file per language, as long as
# the video): results/<video>/<lang>/. Built by `make package` and by `snakemake` with no target.
rule package:
    input:
        media=video_for,
        mix_flac="results/{video}/mix.flac",
        mix_aac="results/{video}/mix.m4a",
        srt="results/{video}/dubbed.srt",
        report="results/{video}/report/summary.html",
        sync="results/{video}/sync.tsv",
    output:
        audio="results/{video}/{lang}/{video}.{lang}.m4a",
        srt="results/{video}/{lang}/{video}.{lang}.srt",
        vtt="results/{video}/{lang}/{video}.{lang}.vtt",
        report="results/{video}/{lang}/report.html",
        sync="results/{video}/{lang}/sync.tsv",
    log:
        "logs/{video}/package_{lang}.log",
    benchmark:
        "benchmarks/{video}/package_{lang}.tsv"
    wildcard_constraints:
        lang=re.escape(str(config["target_language"])),
    conda:
        "../envs/audio.yaml"
    threads: 2
    params:
        language=config["target_language"],
        bitrate=config["audio_bitrate"],
    script:
        "../scripts/package.py"
