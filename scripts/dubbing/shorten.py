"""Shorter translations for the lines that do not fit their time even at max_speedup.

Only where a translator wrote the script (a user's own script is never rewritten): a line whose
natural speech would still overrun its window at max_speedup is sent back to the translator with
the seconds it may take and a character budget, voiced again, and measured. At most ROUNDS rounds,
only those lines, with the translator's answers and the speech both cached, so a rerun sends nothing.
``shortened.tsv`` lists the lines whose text changed (id, text, speech seconds); their speech is
``shortened/<id>.wav``. The fit uses both in place of the script's line.
"""

import json
import logging
import math
from pathlib import Path

from . import audio, backends
from .cache import TextCache, text_key
from .script import clean_text, read_script
from .tables import write_table
from .voicing import failure

log = logging.getLogger("dubbing")

SHORTEN_FROM = 0.1  # seconds a line must still overrun its window at max_speedup to be sent back
ROUNDS = 2  # a line that is still too long after this many rewrites is left to the placement
MARGIN = 0.95  # the budget aims a little under the time: speaking rates differ from line to line
MIN_CHARS = 8


def budget(text, speech, seconds):
    """Characters ``text`` may have to be spoken in ``seconds``, at the rate it was spoken in ``speech`` seconds."""
    return max(MIN_CHARS, math.floor(len(text) * seconds / speech * MARGIN))


def _ask(translator, lines, settings, cache):
    """{id: text} for each line, from the cache where it was asked before, else from the translator."""
    keys = {line["id"]: text_key(task="shorten", backend=settings.backend, model=settings.model,
                                 target_language=settings.target_language, source_text=line["source_text"],
                                 text=line["text"], max_chars=line["max_chars"]) for line in lines}
    answers = {seg_id: cache.get(key) for seg_id, key in keys.items()}
    missing = [line for line in lines if answers[line["id"]] is None]
    if missing:
        fresh = translator.shorten(missing, settings)
        for line in missing:
            answers[line["id"]] = clean_text(fresh[line["id"]])
            cache.put(keys[line["id"]], answers[line["id"]], {"task": "shorten", "max_chars": line["max_chars"]})
    log.info("asked the translator to shorten %d line(s), %d answered from the cache", len(missing),
             len(lines) - len(missing))
    return answers


def _measured(tts_wavs, slot_jsons, segment_jsons):
    """({id: window seconds}, {id: natural speech seconds}) of the voiced lines.

    A line's first voicing may already be faster (its predicted rate, rates.py): its natural length is
    the measured one times that rate."""
    windows = {}
    for path in slot_jsons:
        slot = json.loads(Path(path).read_text(encoding="utf-8"))
        windows[slot["id"]] = slot["window_end"] - slot["start"]
    first_rate = {Path(path).stem: json.loads(Path(path).read_text(encoding="utf-8")).get("rate", 1.0)
                  for path in segment_jsons}
    speech = {Path(path).stem: audio.speech_seconds(path) * first_rate.get(Path(path).stem, 1.0) for path in tts_wavs}
    return windows, speech


def _over(ids, windows, speech, max_speedup):
    return [seg_id for seg_id in ids if speech[seg_id] / max_speedup > windows[seg_id] + SHORTEN_FROM]


def overrunning(tts_wavs, slot_jsons, segment_jsons, max_speedup):
    """The ids of the lines too long for their time even at ``max_speedup``: what shortening will send."""
    windows, speech = _measured(tts_wavs, slot_jsons, segment_jsons)
    return _over(sorted(speech), windows, speech, max_speedup)


def shorten_lines(tts_wavs, slot_jsons, segment_jsons, out_dir, dest, voicing, *, script, max_speedup, translate):
    """Send the lines too long even at ``max_speedup`` back to the translator and voice their new wording
    (``voicing``: the synthesis settings, cache and limits; ``translate``: the translator's settings)."""
    out_dir = Path(out_dir)
    translator = backends.load("translate", translate.backend)
    segments = {seg.id: seg for seg in read_script(script)}
    segment_json = {Path(path).stem: path for path in segment_jsons}
    windows, speech = _measured(tts_wavs, slot_jsons, segment_jsons)
    texts = {seg_id: seg.text for seg_id, seg in segments.items()}
    text_cache = TextCache(voicing.cache.root.parent)
    changed, given_up = {}, set()
    for attempt in range(ROUNDS):
        over = _over([seg_id for seg_id in texts if seg_id not in given_up], windows, speech, max_speedup)
        if not over:
            break
        log.info("round %d: %d line(s) too long for their time even at %.2fx: %s", attempt + 1, len(over),
                 max_speedup, ", ".join(over))
        lines = [{"id": seg_id, "source_text": segments[seg_id].source_text or texts[seg_id], "text": texts[seg_id],
                  "seconds": round(windows[seg_id] * max_speedup, 2),
                  "max_chars": budget(texts[seg_id], speech[seg_id], windows[seg_id] * max_speedup)} for seg_id in over]
        answers = _ask(translator, lines, translate, text_cache)
        shorter = {seg_id: text for seg_id, text in answers.items() if text and len(text) < len(texts[seg_id])}
        given_up.update(set(over) - set(shorter))
        batch = [voicing.job(segment_json[seg_id], out_dir, rate=1.0, text=text) for seg_id, text in shorter.items()]
        stats = voicing.run(batch)
        error = failure(stats, out_dir)
        if error:
            raise error
        for seg_id, text in shorter.items():
            texts[seg_id] = changed[seg_id] = text
            speech[seg_id] = audio.speech_seconds(out_dir / f"{seg_id}.wav")
    for stale in out_dir.glob("*.*") if out_dir.is_dir() else []:
        if stale.suffix in (".wav", ".json") and stale.stem not in changed:
            stale.unlink()
    still = _over(changed, windows, speech, max_speedup)
    log.info("%d line(s) shortened; %d of them still too long (placement moves them)", len(changed), len(still))
    write_table(dest, ["id", "seconds", "text"],
                [(seg_id, speech[seg_id], clean_text(changed[seg_id])) for seg_id in sorted(changed)])


def read_table(path):
    """{id: text} from shortened.tsv (empty when there is none)."""
    if not path:
        return {}
    rows = Path(path).read_text(encoding="utf-8").splitlines()[1:]
    return {seg_id: text for seg_id, _seconds, text in (row.split("\t", 2) for row in rows if row)}
