# From fitted segments to the dubbed video: placement (timing table), timeline, subtitles, mix, mux.


# Where every line goes: as near its script time as it can be without two lines overlapping
# (scripts/dubbing/placement.py).
rule place:
    input:
        fit="results/{video}{dub}/fit.tsv",
        source="results/{video}/audio/source.wav",
    output:
        "results/{video}{dub}/timing.tsv",
    log:
        "logs/{video}{dub}/place.log",
    benchmark:
        "benchmarks/{video}{dub}/place.tsv"
    conda:
        "../envs/audio.yaml"
    script:
        "../scripts/place.py"


rule timeline:
    input:
        timing="results/{video}{dub}/timing.tsv",
        fit="results/{video}{dub}/fit.tsv",
        source="results/{video}/audio/source.wav",
    output:
        "results/{video}{dub}/dub.wav",
    log:
        "logs/{video}{dub}/timeline.log",
    benchmark:
        "benchmarks/{video}{dub}/timeline.tsv"
    conda:
        "../envs/audio.yaml"
    script:
        "../scripts/timeline.py"


rule subtitles:
    input:
        timing="results/{video}{dub}/timing.tsv",
        script="results/{video}{dub}/segments.tsv",
        voices="results/{video}{dub}/voices.tsv",
        unspoken="results/{video}{dub}/unspoken.tsv",
    output:
        "results/{video}{dub}/dubbed.srt",
    log:
        "logs/{video}{dub}/subtitles.log",
    benchmark:
        "benchmarks/{video}{dub}/subtitles.tsv"
    conda:
        "../envs/audio.yaml"
    script:
        "../scripts/subtitles.py"


rule mix:
    input:
        unpack(separated),  # mix_mode separate: the original without its voice
        source="results/{video}/audio/source.wav",
        dub="results/{video}{dub}/dub.wav",
        media=video_for,  # a 5.1 source is mixed in 5.1 from the video itself
        probe="results/{video}/audio/probe.json",
        speech=original_talking_for,  # where the original speaks (the scores; separate's duck)
        unspoken="results/{video}{dub}/unspoken.tsv",  # lines marked keep_original: the original is heard there
    output:
        flac="results/{video}{dub}/mix.flac",
        aac="results/{video}{dub}/mix.m4a",
        scores="results/{video}{dub}/mix.json",  # how much of the original voice and background is left
    log:
        "logs/{video}{dub}/mix.log",
    benchmark:
        "benchmarks/{video}{dub}/mix.tsv"
    conda:
        "../envs/audio.yaml"
    threads: 2  # the AAC is encoded in this many pieces at once (scripts/dubbing/aac.py)
    params:
        mode=config["mix_mode"],
        duck_db=config[
            "separate_duck_db" if config["mix_mode"] == "separate" else "duck_db"
        ],
        lufs=config["loudness_lufs"],
        bitrate=config["audio_bitrate"],
    script:
        "../scripts/mix.py"


# The original's voice and its background apart (mix_mode separate; DeepFilterNet3 and a spectral mask,
# scripts/dubbing/separate.py), once per video for every language.
rule separate:
    input:
        source="results/{video}/audio/source.wav",
        speech="results/{video}/audio/talking.npy",  # where the original speaks: the local duck where unsure
    output:
        background="results/{video}/audio/background.wav",
        voice="results/{video}/audio/voice.wav",
    log:
        "logs/{video}/separate.log",
    benchmark:
        "benchmarks/{video}/separate.tsv"
    conda:
        "../envs/audio.yaml"
    threads: 2  # one channel on each
    params:
        cache_dir=config["cache_dir"],  # separation/<audio's hash>/: the same sound is separated once
    script:
        "../scripts/separate.py"


# Where the original speaks (Silero VAD, 32 ms frames), heard once: every language's sync check and
# report read it.
rule original_speech:
    input:
        "results/{video}/audio/source.wav",
    output:
        "results/{video}/audio/speech.npy",
    log:
        "logs/{video}/original_speech.log",
    benchmark:
        "benchmarks/{video}/original_speech.tsv"
    conda:
        "../envs/audio.yaml"
    script:
        "../scripts/original_speech.py"


# Where the original may speak, for separate's ducks: the voice activity, and the end of every word the
# recognizer timed (under loud music the detector misses a third of the voice; the recognizer does not).
rule original_talking:
    input:
        speech="results/{video}/audio/speech.npy",
        transcript=heard_transcript,  # none when every script is the user's: the voice activity alone
    output:
        "results/{video}/audio/talking.npy",
    log:
        "logs/{video}/original_talking.log",
    benchmark:
        "benchmarks/{video}/original_talking.tsv"
    conda:
        "../envs/audio.yaml"
    script:
        "../scripts/original_talking.py"


rule sync_check:
    input:
        dub="results/{video}{dub}/dub.wav",
        timing="results/{video}{dub}/timing.tsv",
        script="results/{video}{dub}/segments.tsv",
        fit="results/{video}{dub}/fit.tsv",
        source="results/{video}/audio/speech.npy",  # the dub is measured against the original's speech
    output:
        table=report(
            "results/{video}{dub}/sync.tsv",
            caption="../report/sync.rst",
            category="Sync",
        ),
        summary="results/{video}{dub}/sync_summary.json",
    log:
        "logs/{video}{dub}/sync_check.log",
    benchmark:
        "benchmarks/{video}{dub}/sync_check.tsv"
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
            "results/{video}{dub}/words.tsv",
            caption="../report/words.rst",
            category="Words",
        ),
        summary="results/{video}{dub}/words_summary.json",
    log:
        "logs/{video}{dub}/account_words.log",
    benchmark:
        "benchmarks/{video}{dub}/account_words.tsv"
    conda:
        "../envs/audio.yaml"
    params:
        strict=config["strict_sync"],
    script:
        "../scripts/account_words.py"


rule report_pieces:
    input:
        source="results/{video}/audio/source.wav",  # its length (the header only)
        speech="results/{video}/audio/speech.npy",
        table="results/{video}{dub}/sync.tsv",
        summary="results/{video}{dub}/sync_summary.json",
        synth_index="results/{video}{dub}/synth.tsv",
        voices="results/{video}{dub}/voices.tsv",
        words="results/{video}{dub}/words_summary.json",
        mix="results/{video}{dub}/mix.json",  # what is left of the original under the dub
    output:
        figure=report(
            "results/{video}{dub}/report/timeline.png",
            caption="../report/timeline.rst",
            category="Timeline",
        ),
        page=report(
            "results/{video}{dub}/report/summary.html",
            caption="../report/summary.rst",
            category="Summary",
        ),
    log:
        "logs/{video}{dub}/report_pieces.log",
    benchmark:
        "benchmarks/{video}{dub}/report_pieces.tsv"
    conda:
        "../envs/audio.yaml"
    params:
        tts=tts_settings(),
        config=report_config,
        title=dub_title,
    script:
        "../scripts/report_pieces.py"


# Every dub of the video (one per target language) as an audio track, then the source's own tracks,
# and one subtitle track per language: results/<video>/dubbed.mp4, or dubbed.mkv when asked for.
rule mux:
    input:
        unpack(mux_inputs),
    output:
        "results/{video}/dubbed.{container}",
    log:
        "logs/{video}/mux_{container}.log",
    benchmark:
        "benchmarks/{video}/mux_{container}.tsv"
    wildcard_constraints:
        container="mp4|mkv",
    conda:
        "../envs/audio.yaml"
    params:
        languages=list(TARGETS.values()),
        default=config["default_track"],
        source_language=config["source_language"],
        bitrate=config["audio_bitrate"],  # only if the audio is not AAC already (mix.m4a is)
    script:
        "../scripts/mux.py"


# What a platform takes for one language (YouTube: one audio file per language, as long as the video):
# results/<video>/<lang>/. Built by `make package` and by `snakemake` with no target.
rule package:
    input:
        unpack(package_inputs),
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
    conda:
        "../envs/audio.yaml"
    threads: 2
    params:
        language=lambda wildcards: TARGETS[wildcards.lang],
        bitrate=config["audio_bitrate"],
    script:
        "../scripts/package.py"
