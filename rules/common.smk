# Helpers shared by all the rules: config validation and input functions.

import csv
import json
import re
import sys
import time
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))
from dubbing import languages, secrets
from dubbing.errors import DubbingError
from dubbing.backends import Settings, info as backend_info

import difflib
import yaml


def unknown_config_keys(values, schema, prefix=""):
    """'key' (did you mean 'known'?) for each key a closed object of the schema does not know."""
    known = schema.get("properties", {})
    for key, value in values.items():
        if key in known and isinstance(value, dict):
            yield from unknown_config_keys(value, known[key], f"{prefix}{key}.")
        elif key not in known and schema.get("additionalProperties") is False:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            yield f"'{prefix}{key}'{hint}"


BOOLEAN_WORDS = {
    "true": True,
    "yes": True,
    "on": True,
    "1": True,
    "false": False,
    "no": False,
    "off": False,
    "0": False,
}


def coerce_booleans(values, schema, prefix=""):
    """Yes/no keys given as words on the command line (``--config strict_sync=true``: Snakemake parses
    only True/False) become booleans; a word that is neither is refused naming the key.
    """
    known = schema.get("properties", {})
    for key, value in list(values.items()):
        spec = known.get(key, {})
        if isinstance(value, dict):
            coerce_booleans(value, spec, f"{prefix}{key}.")
        elif (
            spec.get("type") == "boolean"
            and isinstance(value, (str, int))
            and not isinstance(value, bool)
        ):
            word = str(value).strip().lower()
            if word not in BOOLEAN_WORDS:
                raise WorkflowError(
                    f"config: {prefix}{key}={value!r} is not yes or no "
                    "(use true/false, yes/no, on/off or 1/0)"
                )
            values[key] = BOOLEAN_WORDS[word]


# Before validate(): its own message for an unknown key prints the whole schema and config.
with open(Path(workflow.basedir) / "config" / "schema.yaml") as _schema:
    _schema_data = yaml.safe_load(_schema)
_unknown = list(unknown_config_keys(config, _schema_data))
if _unknown:
    raise WorkflowError(f"config: unknown key {', '.join(_unknown)}")
coerce_booleans(config, _schema_data)
validate(config, schema="../config/schema.yaml")

if config["source_language"] == "auto":
    config["source_language"] = ""


# The dubs of this run: language token -> the language as configured. With one language its files are
# results/<video>/... (the `dub` wildcard is empty); with several, each has results/<video>/dub-<lang>/.
try:
    TARGETS = languages.targets(config["target_language"])
except DubbingError as error:
    raise WorkflowError(str(error))
MULTI = len(TARGETS) > 1


wildcard_constraints:
    dub=(languages.dub_pattern(TARGETS, MULTI)),
    lang="|".join(re.escape(token) for token in TARGETS),


def dub_of(token):
    """The `dub` wildcard of a language: "" with one language, below results/<video> "dub-<lang>" with several."""
    return languages.dub_folder(token, MULTI)


def language_of(wildcards):
    """The configured language of a job's dub (its `dub` wildcard)."""
    dub = wildcards.get("dub", "")
    return TARGETS[languages.dub_token(dub)] if dub else next(iter(TARGETS.values()))


def dub_dir(wildcards):
    """results/<video> (one language) or results/<video>/dub-<lang>: where a dub's files are."""
    return f"results/{wildcards.video}{wildcards.dub}"


class Wildcards(dict):
    """Wildcards made here (a language's dub named from another job): read as attributes, like Snakemake's."""

    __getattr__ = dict.__getitem__


if config["default_track"] and config["default_track"] != "original":
    if config["default_track"] not in TARGETS:
        raise WorkflowError(
            f"config: default_track {config['default_track']!r} is not one of the target languages "
            f"({', '.join(TARGETS)}) nor 'original'"
        )


def voice_language_errors(target):
    """Config that cannot give a dub in ``target``, caught before anything runs (one line each)."""
    if config["translate_backend"] == "whisper" and not languages.same(target, "en"):
        yield (
            f"target_language {target}: translate_backend whisper translates into English only; "
            "use translate_backend openai to dub into another language"
        )
    if config["clone_voices"] and config["tts_backend"] != "elevenlabs":
        yield (
            f"clone_voices: voice cloning needs tts_backend elevenlabs (it is {config['tts_backend']}); "
            "set tts_backend=elevenlabs or clone_voices=false"
        )
    if config["tts_backend"] != "piper" or not languages.code(target):
        return
    from dubbing.backends.tts_piper import voice_language

    for voice in {
        config["tts_voice"],
        *config["voices"].values(),
        *config["voice_pool"],
    }:
        spoken = voice_language(voice)
        if spoken and not languages.same(spoken, target):
            yield (
                f"target_language {target}: the Piper voice {voice or 'en_US-joe-medium'} speaks "
                f"{languages.name(spoken)}; choose a Piper voice for {target} (tts_voice: its .onnx file) "
                "or a cloud tts_backend"
            )


def offline_translation_errors(targets):
    """translate_backend auto translates offline into English only (or keeps the speech's language): the
    other languages of ``targets`` (those whose translation is to run), named before anything runs when
    that can be told before the speech is heard (source_language set, or more than one besides English).
    """
    if config["translate_backend"] != "auto":
        return
    source = config["source_language"]
    foreign = [lang for lang in targets if not languages.same(lang, "en")]
    if languages.code(source):
        unreachable = [lang for lang in foreign if not languages.same(lang, source)]
    else:
        unreachable = foreign if len(foreign) > 1 else []
    if unreachable:
        names = ", ".join(languages.name(lang) for lang in unreachable)
        kept = (
            f" (or keeps the speech in {languages.name(source)})"
            if languages.code(source)
            else ""
        )
        yield (
            f"target_language {', '.join(TARGETS.values())}: translate_backend auto translates offline into "
            f"English only{kept}; {names} need a cloud translator: set translate_backend=openai (and "
            "OPENAI_API_KEY), or give each its script (media/<video>.<lang>.script.tsv)"
        )


try:
    _language_errors = [
        *(
            error
            for target in TARGETS.values()
            for error in voice_language_errors(target)
        ),
    ]
except DubbingError as error:
    raise WorkflowError(str(error))
if _language_errors:
    raise WorkflowError(_language_errors[0])

# Cap concurrent API jobs at max_concurrent unless the command line set `--resources api=N`.
if "api" not in workflow.global_resources:
    workflow.register_resource("api", config["max_concurrent"])

VIDEO_EXTENSIONS = ("mp4", "mkv", "mov", "webm")
SUBTITLE_EXTENSIONS = ("srt", "vtt")


def all_targets():
    """dubbed.mp4 and each language's package (results/<video>/<lang>/) for every video in media/."""
    videos = sorted(
        {p.stem for ext in VIDEO_EXTENSIONS for p in Path("media").glob(f"*.{ext}")}
    )
    return [f"results/{video}/dubbed.mp4" for video in videos] + [
        f"results/{video}/{lang}/{video}.{lang}.m4a"
        for video in videos
        for lang in TARGETS
    ]


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


def cloud_settings():
    return {
        "max_retries": config["max_retries"],
        "timeout": config["request_timeout"],
    }


def asr_settings(wildcards):
    return Settings.resolve(
        "asr",
        backend=asr_backend_for(wildcards),
        model=config["asr_model"],
        source_language=config["source_language"],
        chunk_seconds=config["asr_chunk_seconds"],
        **cloud_settings(),
    ).__dict__


def translate_settings(wildcards):
    return Settings.resolve(
        "translate",
        backend=config["translate_backend"],
        model=config["translate_model"],
        source_language=config["source_language"],
        target_language=language_of(wildcards),
        batch_size=config["translate_batch_size"],
        **cloud_settings(),
    ).__dict__


def tts_settings():
    return Settings.resolve(
        "tts",
        backend=config["tts_backend"],
        model=config["tts_model"],
        voice=config["tts_voice"],
        speed=config["tts_speed"],
        instructions=config["tts_instructions"],
        response_format=config["tts_response_format"],
        **cloud_settings(),
    ).__dict__


# Which rules send requests with which configured backends.
KEYED_RULES = {
    "transcribe": (("asr", None),),
    "translate": (("translate", "translate_backend"),),
    "synth": (("tts", "tts_backend"),),
    "synth_batch": (("tts", "tts_backend"),),
    "shorten": (("translate", "translate_backend"), ("tts", "tts_backend")),
    "clone_voices": (("tts", "tts_backend"),),
}


def keys_for(rule_name, job_wildcards):
    keys = set()
    for kind, config_key in KEYED_RULES.get(rule_name, ()):
        name = asr_backend_for(job_wildcards) if kind == "asr" else config[config_key]
        keys.add(backend_info(kind, name).key)
    return keys


def check_keys():
    """Stop before any job runs if a job about to run needs an API key that is not set.

    Dry runs never get here; neither does a run whose cloud jobs are all up to date (e.g. `make plan`).
    """
    jobs = list(workflow.dag.needrun_jobs())
    translating = {
        language_of(job.wildcards) for job in jobs if job.rule.name == "translate"
    }
    for error in offline_translation_errors(
        [l for l in TARGETS.values() if l in translating]
    ):
        raise WorkflowError(error)
    needed = set().union(*(keys_for(job.rule.name, job.wildcards) for job in jobs))
    # Synthesis jobs appear only after the segments checkpoint has run: if it will run and the
    # targets go beyond planning, they will follow.
    targets = {job.rule.name for job in workflow.dag.targetjobs}
    if any(job.rule.name == "segments" for job in jobs) and targets - {
        "plan",
        "segments",
    }:
        needed.add(backend_info("tts", config["tts_backend"]).key)
    missing = sorted(name for name in needed if name and not secrets.get(name))
    if missing:
        raise WorkflowError(
            f"{', '.join(missing)}: not set, but the configured backends need it; export it or "
            "put it in .env (see README, 'Cloud backends'), or choose offline backends"
        )


def original_talking_for(wildcards):
    """Where the original speaks, for the mix: with mix_mode separate, the voice activity and the recognizer's
    words (its ducks act there); else the voice activity alone."""
    if config["mix_mode"] == "separate":
        return f"results/{wildcards.video}/audio/talking.npy"
    return f"results/{wildcards.video}/audio/speech.npy"


def separated(wildcards):
    """mix_mode separate: the original's background (its soundtrack without the voice)."""
    if config["mix_mode"] != "separate":
        return {}
    return {"background": f"results/{wildcards.video}/audio/background.wav"}


def report_config(wildcards):
    """The settings the report shows (never keys: those are not in config)."""
    keys = (
        "asr_backend",
        "translate_backend",
        "mix_mode",
        "loudness_lufs",
        "max_speedup",
        "voices",
    )
    return {key: config.get(key) for key in keys} | {
        "target_language": language_of(wildcards)
    }


def dub_title(wildcards):
    """The video's name, and with several languages the language of this dub."""
    return f"{wildcards.video} ({language_of(wildcards)})" if MULTI else wildcards.video


def shortened_for(wildcards):
    """shortened.tsv when a translator that can shorten lines wrote the script; a user's script is never rewritten."""
    translator = backend_info("translate", config["translate_backend"])
    if translator.shortens and not user_script(wildcards):
        return f"{dub_dir(wildcards)}/shortened.tsv"
    return []


def user_script(wildcards):
    """media/<video>.script.tsv (one language), media/<video>.<lang>.script.tsv (several): the user's script."""
    plain = Path("media") / f"{wildcards.video}.script.tsv"
    if not MULTI:
        return str(plain) if plain.is_file() else None
    if plain.is_file():
        raise WorkflowError(
            f"{plain}: with several target languages each has its own script, "
            f"media/{wildcards.video}.<lang>.script.tsv; rename it for its language "
            f"(e.g. media/{wildcards.video}.{next(iter(TARGETS))}.script.tsv)"
        )
    path = (
        Path("media")
        / f"{wildcards.video}.{languages.dub_token(wildcards.dub)}.script.tsv"
    )
    return str(path) if path.is_file() else None


def segments_inputs(wildcards):
    """The script and the video's length; with clone_voices, the speakers' cloned voices too."""
    inputs = {
        "script": script_for(wildcards),
        "probe": f"results/{wildcards.video}/audio/probe.json",
    }
    if config["clone_voices"]:
        inputs["clones"] = f"results/{wildcards.video}/clones.json"
    return inputs


def accounting_inputs(wildcards):
    """What the word accounting compares: the script and, when it was made from speech, the transcript."""
    inputs = {
        "script": script_for(wildcards),
        "timing": f"{dub_dir(wildcards)}/timing.tsv",
        "unspoken": f"{dub_dir(wildcards)}/unspoken.tsv",
    }
    if not user_script(wildcards):
        inputs["transcript"] = f"results/{wildcards.video}/transcript.json"
    return inputs


def heard_transcript(wildcards):
    """[transcript.json] when some language's script is made from the speech; [] when every language has the
    user's own script (then nothing is transcribed)."""
    if all(
        user_script(Wildcards(video=wildcards.video, dub=dub_of(t))) for t in TARGETS
    ):
        return []
    return [f"results/{wildcards.video}/transcript.json"]


def dub_dirs(video):
    """Each target language's folder, in the configured order."""
    return [f"results/{video}{dub_of(token)}" for token in TARGETS]


def mux_inputs(wildcards):
    """The dubbed video takes every language's mix and subtitles. The timing, sync table and report are
    not read: they pull the sync check and the report pieces into every dub's DAG (and so into
    `snakemake --report`), and a strict sync check failure stops the mux."""
    dirs = dub_dirs(wildcards.video)
    heard = heard_transcript(wildcards)  # the language heard names the original track
    return {
        "media": video_for(wildcards),
        "transcript": heard,
        "probe": f"results/{wildcards.video}/audio/probe.json",  # which track was dubbed
        "audio": [f"{folder}/mix.m4a" for folder in dirs],
        "srt": [f"{folder}/dubbed.srt" for folder in dirs],
        "timing": [f"{folder}/timing.tsv" for folder in dirs],
        "sync": [f"{folder}/sync.tsv" for folder in dirs],
        "report": [f"{folder}/report/summary.html" for folder in dirs],
    }


def package_inputs(wildcards):
    """One language's mix, subtitles, report and sync table."""
    folder = f"results/{wildcards.video}{dub_of(wildcards.lang)}"
    return {
        "media": video_for(wildcards),
        "mix_flac": f"{folder}/mix.flac",
        "mix_aac": f"{folder}/mix.m4a",
        "srt": f"{folder}/dubbed.srt",
        "report": f"{folder}/report/summary.html",
        "sync": f"{folder}/sync.tsv",
    }


def first_script(wildcards):
    """The script of the first target language (what the speakers' voice samples are cut by)."""
    first = Wildcards(video=wildcards.video, dub=dub_of(next(iter(TARGETS))))
    return script_for(first)


def script_for(wildcards):
    """The user's media/<video>.script.tsv is the source of truth; else the generated one."""
    return user_script(wildcards) or f"{dub_dir(wildcards)}/script.tsv"


def segment_ids(wildcards):
    """Segment ids of a video, known once the segments checkpoint has run."""
    manifest = checkpoints.segments.get(
        video=wildcards.video, dub=wildcards.dub
    ).output[0]
    with open(manifest, encoding="utf-8", newline="") as handle:
        return [row["id"] for row in csv.DictReader(handle, delimiter="\t")]


def segment_jsons(wildcards):
    return expand(
        "{dir}/segments/{seg}.json", dir=dub_dir(wildcards), seg=segment_ids(wildcards)
    )


def synth_mode():
    """per-segment or async. auto: async for offline backends (one voice load per video) and for a cloud voice
    dubbing several languages (each language's batch holds the request pool in turn, and its fit, mix and
    report run on the cores while the next language is voiced: per-segment jobs would hold every core
    while they wait on the network); per-segment for a cloud voice and one language."""
    mode = config["synth_mode"]
    if mode == "auto":
        cloud = backend_info("tts", config["tts_backend"]).key
        return "per-segment" if cloud and not MULTI else "async"
    return mode


def tts_wavs(wildcards):
    """Per-segment mode: each line's raw speech, the output of its own synth job."""
    return expand(
        "{dir}/tts/{seg}.wav", dir=dub_dir(wildcards), seg=segment_ids(wildcards)
    )


def synthesized(wildcards):
    """What a reader of tts/<id>.wav depends on: each line's synth job, or the video's batch (async)."""
    if synth_mode() == "async":
        return f"{dub_dir(wildcards)}/synth_batch.json"
    return tts_wavs(wildcards)


# One budget for cloud requests in flight, across videos, modes and stages: the `api` pool
# (max_concurrent, or --resources api=N), enforced by Snakemake's scheduler. A job takes as many
# slots as it may have requests in flight, and a job that sends many at once (the async batch,
# the fit re-voicing lines, shorten) runs with exactly the slots it holds as its own limit.
def api_pool():
    # A Resource when registered above, an int when given as --resources api=N.
    pool = workflow.global_resources["api"]
    return int(getattr(pool, "value", pool))


def api_slots():
    """A per-segment synthesis job: one request in flight (0 offline)."""
    return 1 if backend_info("tts", config["tts_backend"]).key else 0


def tts_batch_slots():
    """A job that voices many lines at once with the configured TTS: the whole pool (0 offline)."""
    return api_pool() if backend_info("tts", config["tts_backend"]).key else 0


def voiced_wavs(wildcards, slots):
    """tts/<id>.wav of each line of ``slots``, whichever synthesis mode made them (async: a job's input is
    synth_batch.json, not the WAVs)."""
    return [f"{dub_dir(wildcards)}/tts/{Path(path).stem}.wav" for path in slots]


def fit_slots(wildcards, input):
    """The fit takes the whole pool only when it will send (fit.will_send: a line that must be voiced faster
    at a rate the cache does not hold), so a video's fit never waits for another video's synthesis when it
    has nothing to send. Evaluated again when the job is ready (its inputs exist); until then, the pool.
    """
    pool = tts_batch_slots()
    if not pool:
        return 0
    from dubbing import fit as fitting
    from dubbing.voicing import Voicing

    tts = voiced_wavs(wildcards, input.slots)
    shortened = input.shortened or None
    needed = [*tts, *input.slots, *input.segments, *([shortened] if shortened else [])]
    if not all(Path(path).is_file() for path in needed):
        return pool
    try:
        voicing = Voicing(
            Settings(**tts_settings()), config["cache_dir"], voices=config["voices"]
        )
        sends = fitting.will_send(
            tts,
            input.slots,
            input.segments,
            voicing,
            max_speedup=config["max_speedup"],
            shortened=shortened,
        )
    except Exception:  # whatever it is, the fit job itself reports it
        return pool
    return pool if sends else 0


def shorten_slots(wildcards, input):
    """The whole pool only when a line is too long for its time even at max_speedup (shorten.overrunning:
    then the translator and the voice are asked again); else none, so that a language's shortening never
    waits for the requests of the other languages' synthesis. Until its inputs exist, the pool.
    """
    translator = backend_info("translate", config["translate_backend"]).key
    pool = api_pool() if translator or tts_batch_slots() else 0
    tts = voiced_wavs(wildcards, input.slots)
    if not pool or not all(
        Path(path).is_file() for path in [*tts, *input.slots, *input.segments]
    ):
        return pool
    from dubbing import shorten

    try:
        over = shorten.overrunning(
            tts, input.slots, input.segments, config["max_speedup"]
        )
    except Exception:  # whatever it is, the shorten job itself reports it
        return pool
    return pool if over else 0


def translate_slots(wildcards, input):
    """Translation sends up to 4 batches at once (translate_openai.PARALLEL_BATCHES), never more than the pool
    nor than the batches the transcript makes (a 12-line video: one), so that the languages of one video are
    translated side by side. Until the transcript exists, the most it may send."""
    if not backend_info("translate", config["translate_backend"]).key:
        return 0
    most = min(4, api_pool())
    transcript = Path(input.transcript)
    if not transcript.is_file():
        return most
    try:
        lines = len(json.loads(transcript.read_text(encoding="utf-8"))["segments"])
    except (ValueError, KeyError, TypeError):  # the translate job itself reports it
        return most
    return max(1, min(most, -(-lines // max(1, int(config["translate_batch_size"])))))


def transcribe_slots(wildcards):
    """Cloud recognition sends one chunk at a time."""
    return 1 if backend_info("asr", asr_backend_for(wildcards)).key else 0


def slot_jsons(wildcards):
    return expand(
        "{dir}/slots/{seg}.json", dir=dub_dir(wildcards), seg=segment_ids(wildcards)
    )


RUN_STARTED = time.time()


def report_sent():
    """At the end of a run: per video, the speech requests paid for in this run against its plan."""
    from dubbing.plan import planned_against_sent

    dirs = [*Path("results").glob("*/"), *Path("results").glob("*/dub-*/")]
    for video_dir in sorted(dirs):
        line = planned_against_sent(video_dir, RUN_STARTED)
        if line:
            print(line, file=sys.stderr)
