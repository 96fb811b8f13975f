# From the user's video to one small file per segment: probe, extract, transcribe, translate, split.


rule probe:
    input:
        media=video_for,
    output:
        "results/{video}/audio/probe.json",
    log:
        "logs/{video}/probe.log",
    benchmark:
        "benchmarks/{video}/probe.tsv"
    conda:
        "../envs/audio.yaml"
    params:
        source_track=config["source_track"],  # which audio track is dubbed
        source_language=config["source_language"],  # or the one tagged with the spoken language
    script:
        "../scripts/probe.py"


rule extract_audio:
    input:
        media=video_for,
        probe="results/{video}/audio/probe.json",
    output:
        "results/{video}/audio/source.wav",
    log:
        "logs/{video}/extract_audio.log",
    benchmark:
        "benchmarks/{video}/extract_audio.tsv"
    conda:
        "../envs/audio.yaml"
    script:
        "../scripts/extract_audio.py"


rule transcribe:
    input:
        unpack(transcribe_inputs),
    output:
        "results/{video}/transcript.json",
    log:
        "logs/{video}/transcribe.log",
    benchmark:
        "benchmarks/{video}/transcribe.tsv"
    conda:
        "../envs/asr.yaml"
    threads: 2
    resources:
        api=transcribe_slots,
    params:
        asr=asr_settings,
    script:
        "../scripts/transcribe.py"


rule translate:
    input:
        transcript="results/{video}/transcript.json",
        audio="results/{video}/audio/source.wav",  # Whisper translates each line from its own audio
    output:
        "results/{video}{dub}/script.tsv",
    log:
        "logs/{video}{dub}/translate.log",
    benchmark:
        "benchmarks/{video}{dub}/translate.tsv"
    conda:
        "../envs/asr.yaml"
    resources:
        api=translate_slots,
    params:
        translate=translate_settings,
    script:
        "../scripts/translate.py"


# Shared by every language of a video: the speakers' samples come from the first language's script (the
# lines' times and speakers, which every language shares).
rule clone_voices:
    input:
        script=first_script,
        audio="results/{video}/audio/voice.wav",  # the original's voice without its music (separate)
    output:
        "results/{video}/clones.json",
    log:
        "logs/{video}/clone_voices.log",
    benchmark:
        "benchmarks/{video}/clone_voices.tsv"
    conda:
        "../envs/tts.yaml"
    resources:
        api=1,
    params:
        cache_dir=config["cache_dir"],
        voices=config["voices"],
        timeout=config["request_timeout"],
        max_retries=config["max_retries"],
    script:
        "../scripts/clone_voices.py"


checkpoint segments:
    input:
        unpack(segments_inputs),
    output:
        "results/{video}{dub}/segments.tsv",
        voices="results/{video}{dub}/voices.tsv",
        unspoken="results/{video}{dub}/unspoken.tsv",  # lines shown but not voiced ("[Music]")
        pacing="results/{video}{dub}/pacing.json",  # max_speedup, for the synthesis jobs (read, not an input)
    log:
        "logs/{video}{dub}/segments.log",
    benchmark:
        "benchmarks/{video}{dub}/segments.tsv"
    conda:
        "../envs/audio.yaml"
    params:
        segment_dir="results/{video}{dub}/segments",
        slot_dir="results/{video}{dub}/slots",
        tts=tts_settings(),  # each line's speech key goes into segments/<id>.json
        voices=config["voices"],
        voice_pool=config["voice_pool"],
        min_gap=config["min_gap"],
        max_speedup=config["max_speedup"],  # the rate each line's first request asks for
        cache_dir=config["cache_dir"],  # speakers' remembered voices (speakers.VoiceMemory)
    script:
        "../scripts/segments.py"
