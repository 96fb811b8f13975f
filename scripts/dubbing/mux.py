"""Muxing: the original video stream copied bit for bit, one audio track per dub, the original audio tracks,
one soft subtitle track per dub; in MP4 or Matroska."""

import json

from . import languages
from .audio import FFMPEG, run_tool
from .files import atomic_output


def language_tag(language):
    """The ISO 639-2 tag of a language given as a code, tag or English name ("und" when unknown)."""
    code = languages.code(language) or language.strip().lower().split("-")[0].split("_")[0]
    return languages.TAGS.get(code, code if len(code) == 3 else "und")


def track_name(language):
    """A language's own name for it (Español), else its English name, else the text as given."""
    code = languages.code(language)
    if code in languages.NATIVE:
        return languages.NATIVE[code]
    return languages.NAMES[code].title() if code else (language or "Dub")


# Audio codecs each container carries as they are; any other original track is encoded to AAC.
CARRIED = {"mp4": {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"},
           "mkv": {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac", "vorbis", "dts", "truehd", "pcm_s16le",
                   "pcm_s24le", "pcm_f32le"}}
SUBTITLE_CODEC = {"mp4": "mov_text", "mkv": "srt"}
FORMAT = {"mp4": "mp4", "mkv": "matroska"}


def source_audio_tracks(video):
    """[(codec, language tag, channels)] of every audio stream of the source, in order."""
    cmd = ["ffprobe", "-v", "error", "-select_streams", "a", "-show_entries",
           "stream=codec_name,channels:stream_tags=language", "-of", "json", str(video)]
    streams = json.loads(run_tool(cmd, video, "reading the audio tracks (ffprobe)")).get("streams", [])
    return [(s.get("codec_name", ""), (s.get("tags") or {}).get("language", "und"), int(s.get("channels") or 0))
            for s in streams]


def _channels_of(path):
    cmd = ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=channels", "-of",
           "csv=p=0", str(path)]
    return int(run_tool(cmd, path, "reading the dub's channels (ffprobe)").strip() or 0)


def _named(index, tag, name):
    return [f"-metadata:s:a:{index}", f"language={tag}", f"-metadata:s:a:{index}", f"handler_name={name}",
            f"-metadata:s:a:{index}", f"title={name}"]


def mux(video, dubs, dest, bitrate, *, default="", container="mp4", source_track=0, source_language=""):
    """Write ``dest``: the video stream copied; for each dub ``(language, audio, subtitles)`` in order, its audio
    (copied when it is an .m4a, i.e. AAC already) tagged with the language and named "<language> (dub)", and
    for a surround dub its stereo downmix ("<language> (dub, stereo)") right after it; then every audio track
    of the source as it was (copied when the container carries its codec), named "<language> (original)";
    then each dub's subtitles, tagged with its language. The original track that was dubbed (``source_track``)
    is tagged with ``source_language`` when the source left it untagged. Exactly one audio track is the default: the dub whose
    language is ``default``, the first original when ``default`` is "original", else the first dub.
    MP4 keeps the names in ``handler_name``, Matroska in ``title``; both are written."""
    inputs = ["-i", str(video)]
    for _language, audio, subtitles in dubs:
        inputs += ["-i", str(audio), "-i", str(subtitles)]
    maps, options, default_index = ["-map", "0:v:0"], [], None
    index = 0
    for number, (language, audio, _subtitles) in enumerate(dubs):
        audio_input = 1 + 2 * number
        tag, name = language_tag(language), track_name(language)
        maps += ["-map", f"{audio_input}:a:0"]
        if str(audio).endswith(".m4a"):  # the mix's own AAC: carried, not encoded again
            options += [f"-c:a:{index}", "copy"]
        else:
            options += [f"-c:a:{index}", "aac", "-aac_coder", "fast", f"-b:a:{index}", bitrate]
        options += _named(index, tag, f"{name} (dub)")
        if default_index is None and default not in ("original",) and (not default or _is(default, language)):
            default_index = index
        index += 1
        if _channels_of(audio) > 2:
            # A surround dub (5.1) and, for players and devices that want two channels, its stereo downmix.
            maps += ["-map", f"{audio_input}:a:0"]
            options += [f"-c:a:{index}", "aac", "-aac_coder", "fast", f"-ac:a:{index}", "2", f"-b:a:{index}",
                        bitrate, *_named(index, tag, f"{name} (dub, stereo)")]
            index += 1
    originals = source_audio_tracks(video)
    for number, (codec, tag, _channels) in enumerate(originals, 1):
        if number - 1 == source_track and tag in ("und", "") and languages.code(source_language):
            tag = language_tag(source_language)
        maps += ["-map", f"0:a:{number - 1}"]
        if codec in CARRIED[container]:
            options += [f"-c:a:{index}", "copy"]
        else:
            options += [f"-c:a:{index}", "aac", f"-b:a:{index}", bitrate]
        known = tag not in ("und", "")
        label = f"{track_name(tag)} (original" if known else "Original sound ("
        label = (label + (" " if known else "") + f"{number})") if len(originals) > 1 else \
            (label + ")" if known else "Original sound")
        options += _named(index, tag, label)
        if default == "original" and number == 1:
            default_index = index
        index += 1
    if default_index is None:
        default_index = 0
    for track in range(index):
        options += [f"-disposition:a:{track}", "default" if track == default_index else "0"]
    for number, (language, _audio, _subtitles) in enumerate(dubs):
        maps += ["-map", f"{2 + 2 * number}:s:0"]
        options += [f"-metadata:s:s:{number}", f"language={language_tag(language)}",
                    f"-metadata:s:s:{number}", f"handler_name={track_name(language)}",
                    f"-metadata:s:s:{number}", f"title={track_name(language)}", f"-disposition:s:{number}", "0"]
    extra = ["-movflags", "+faststart"] if container == "mp4" else []
    with atomic_output(dest, f".{container}") as tmp:
        cmd = FFMPEG + [*inputs, *maps, "-c:v", "copy", *options, "-c:s", SUBTITLE_CODEC[container], *extra,
                        "-f", FORMAT[container], str(tmp)]
        run_tool(cmd, video, "muxing")


def _is(wanted, language):
    """Whether ``default_track`` (a token or language as configured) names ``language``."""
    return wanted == language or languages.same(wanted, language)
