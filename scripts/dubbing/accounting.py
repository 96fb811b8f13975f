"""Word accounting: every word heard or written is either dubbed or listed with the reason it is not.

Inputs are the script (the user's, or the one made from the transcript or subtitles), the transcript
(what the recognizer heard but left out, e.g. "Thank you." invented over music), ``unspoken.tsv``
(lines shown in the subtitles but not voiced: "[Music]", "...") and ``timing.tsv`` (what the dub says).
A script line in none of the last two is *lost*: a bug, never a choice; ``strict_sync`` fails on it.

``words.tsv`` has one row per script line and per piece left out by the recognizer; ``words_summary.json``
the totals the report shows.
"""

import json
import re

from . import tables
from .errors import DubbingError
from .files import write_text_atomic
from .script import read_script

COLUMNS = ["id", "start", "end", "words", "status", "reason", "text"]
WORD = re.compile(r"\w+(?:['’]\w+)*")


def count_words(text):
    return len(WORD.findall(text))


def account(script_path, timing_tsv, unspoken_tsv, words_dest, summary_dest, transcript_json=None, strict=False):
    script = read_script(script_path)
    dubbed = {row["id"]: row for row in tables.read_table(timing_tsv)}
    unspoken = {row["id"]: row for row in tables.read_table(unspoken_tsv)}
    rows = []
    for seg in script:
        if seg.id in dubbed:
            said = dubbed[seg.id]["text"]
            status, reason = "dubbed", "" if said == seg.text else f"dubbed as: {said}"
        elif seg.id in unspoken:
            status, reason = "subtitles only", unspoken[seg.id]["reason"]
        else:
            status, reason = "lost", "in the script, neither dubbed nor shown"
        rows.append({"id": seg.id, "start": seg.start, "end": seg.end, "words": count_words(seg.text),
                     "status": status, "reason": reason, "text": seg.text})
    heard = json.loads(open(transcript_json, encoding="utf-8").read()) if transcript_json else {}
    for piece in heard.get("dropped", []):
        rows.append({"id": "", "start": float(piece["start"]), "end": float(piece["end"]),
                     "words": count_words(piece["text"]), "status": "left out", "reason": piece["reason"],
                     "text": " ".join(piece["text"].split())})
    rows.sort(key=lambda row: (row["start"], row["id"]))
    totals = {status: sum(row["words"] for row in rows if row["status"] == status)
              for status in ("dubbed", "subtitles only", "left out", "lost")}
    summary = {"lines": len(script), "dubbed_words": totals["dubbed"], "subtitles_only_words": totals["subtitles only"],
               "left_out_words": totals["left out"], "lost_words": totals["lost"],
               "lost_lines": [row["id"] for row in rows if row["status"] == "lost"],
               "left_out": [f"{row['start']:.2f}-{row['end']:.2f} s {row['text']!r}: {row['reason']}"
                            for row in rows if row["status"] == "left out"]}
    tables.write_table(words_dest, COLUMNS, rows)
    write_text_atomic(summary_dest, json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    if summary["lost_lines"] and strict:
        raise DubbingError(script_path, f"{len(summary['lost_lines'])} line(s) lost between the script and the dub: "
                                        f"{', '.join(summary['lost_lines'])} (see {words_dest})")
    return summary
