# Helpers shared by all the rules: config validation and input functions.

import csv
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

validate(config, schema="../config/schema.yaml")

VIDEO_EXTENSIONS = ("mp4", "mkv", "mov", "webm")
SUBTITLE_EXTENSIONS = ("srt", "vtt")


def all_targets():
    """dubbed.mp4 for every video in media/."""
    videos = sorted(
        {p.stem for ext in VIDEO_EXTENSIONS for p in Path("media").glob(f"*.{ext}")}
    )
    return [f"results/{video}/dubbed.mp4" for video in videos]


def video_for(wildcards):
    """media/<video>.<ext>: the user's video, whichever supported extension it has."""
    for ext in VIDEO_EXTENSIONS:
        path = Path("media") / f"{wildcards.video}.{ext}"
        if path.is_file():
            return str(path)
    raise WorkflowError(
        f"media/{wildcards.video}.*: no video found "
        f"(put media/{wildcards.video}.mp4, .mkv, .mov or .webm there)"
    )


def subtitles_for(wildcards):
    """media/<video>.srt or .vtt if the user supplied one."""
    for ext in SUBTITLE_EXTENSIONS:
        path = Path("media") / f"{wildcards.video}.{ext}"
        if path.is_file():
            return str(path)
    return None


def asr_backend_for(wildcards):
    """auto means: the video's own subtitles when present, else faster-whisper."""
    backend = config["asr_backend"]
    if backend == "auto":
        return "subtitles" if subtitles_for(wildcards) else "faster-whisper"
    return backend


def transcribe_inputs(wildcards):
    inputs = {"audio": f"results/{wildcards.video}/audio/source.wav"}
    if asr_backend_for(wildcards) == "subtitles":
        subtitles = subtitles_for(wildcards)
        if subtitles is None:
            raise WorkflowError(
                f"media/{wildcards.video}.srt: asr_backend is 'subtitles' but there is no "
                f"media/{wildcards.video}.srt or .vtt"
            )
        inputs["subtitles"] = subtitles
    return inputs


def asr_settings(wildcards):
    return {
        "backend": asr_backend_for(wildcards),
        "model": config["asr_model"],
        "source_language": config["source_language"],
    }


def translate_settings():
    return {
        "backend": config["translate_backend"],
        "source_language": config["source_language"],
        "target_language": config["target_language"],
    }


def tts_settings():
    return {
        "backend": config["tts_backend"],
        "model": config["tts_model"],
        "voice": config["tts_voice"],
        "speed": config["tts_speed"],
    }


def script_for(wildcards):
    """The user's media/<video>.script.tsv is the source of truth; else the generated one."""
    user_script = Path("media") / f"{wildcards.video}.script.tsv"
    if user_script.is_file():
        return str(user_script)
    return f"results/{wildcards.video}/script.tsv"


def segment_ids(wildcards):
    """Segment ids of a video, known once the segments checkpoint has run."""
    manifest = checkpoints.segments.get(video=wildcards.video).output[0]
    with open(manifest, encoding="utf-8", newline="") as handle:
        return [row["id"] for row in csv.DictReader(handle, delimiter="\t")]


def fitted_wavs(wildcards):
    return expand(
        "results/{video}/fit/{seg}.wav",
        video=wildcards.video,
        seg=segment_ids(wildcards),
    )


def fit_reports(wildcards):
    return expand(
        "results/{video}/fit/{seg}.json",
        video=wildcards.video,
        seg=segment_ids(wildcards),
    )
