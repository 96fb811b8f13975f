"""Planning before spending: what a synthesis run would send, cost and take, from the cache's view.

Reads the split script (``results/<video>/segments/<id>.json``, made by the segments checkpoint,
which sends nothing), computes each line's cache key with the current settings (including the speed
its first request asks for, rates.py), and counts what is already done (the segment's audio was made
from that key), what the shared cache can serve, and what must be requested: lines, characters,
estimated cost and wall time; with a translator that shortens, the lines predicted too long even at
max_speedup and what saying them shorter costs.
"""

import json
import math
from pathlib import Path

from . import backends
from .files import write_text_atomic
from .jobs import SENT
from .rates import Heard

# Estimated request latency (seconds) for the wall-time estimate: a fixed part plus per character.
LATENCY_BASE = 0.4
LATENCY_PER_CHAR = 0.02


def price_per_million(prices, settings):
    """USD per million characters for this backend/model (0 for offline backends)."""
    if not backends.info("tts", settings.backend).key:
        return 0.0
    by_backend = prices.get(settings.backend, {})
    return float(by_backend.get(settings.model, by_backend.get("default", 0.0)))


def too_long_lines(segment_jsons, slot_jsons, settings, max_speedup, heard=None):
    """Ids of the lines predicted to overrun their time even at max_speedup: what ``shorten`` sends back to
    the translator (shorten.SHORTEN_FROM), from each line's predicted length (rates.py; ``heard``: the
    voices' learned pace)."""
    import dataclasses

    from .rates import natural_seconds
    from .shorten import SHORTEN_FROM

    windows, factors = {}, {}
    for path in slot_jsons:
        slot = json.loads(Path(path).read_text(encoding="utf-8"))
        windows[slot["id"]] = slot["window_end"] - slot["start"]
    out = []
    for path in segment_jsons:
        segment = json.loads(Path(path).read_text(encoding="utf-8"))
        voice = segment.get("voice") or settings.voice
        if voice not in factors:
            factors[voice] = heard.factor(dataclasses.replace(settings, voice=voice)) if heard else 1.0
        factor = factors[voice]
        seconds = natural_seconds(segment["text"], settings.backend, factor) / settings.speed
        if seconds / max_speedup > windows.get(segment["id"], float("inf")) + SHORTEN_FROM:
            out.append(segment["id"])
    return out


def plan(segment_jsons, tts_dir, voicing, *, prices, slot_jsons=(), max_speedup=1.0, shortens=False):
    """What synthesis would send for these segments, sorted exactly as the run sorts them (``Voicing.triage``)."""
    settings = voicing.settings
    jobs = [voicing.job(path, tts_dir) for path in segment_jsons]
    triage = voicing.triage(jobs)
    to_send = triage.to_send
    # Lines the translator will be asked to say shorter (one request per round), then voiced in their new
    # wording: counted at about their present length (the new wording is shorter, so this errs high).
    shorter = (too_long_lines(segment_jsons, slot_jsons, settings, max_speedup, Heard(voicing.cache.root.parent))
               if shortens else [])
    by_id = {job.id: job for job in jobs}
    revoiced = [by_id[seg_id] for seg_id in shorter if seg_id in by_id]
    chars = sum(len(job.text) for job in to_send) + sum(len(job.text) for job in revoiced)
    latencies = sorted((LATENCY_BASE + LATENCY_PER_CHAR * len(job.text) for job in to_send + revoiced), reverse=True)
    max_concurrent = voicing.limits.max_concurrent
    wall = max(sum(latencies) / max_concurrent, latencies[0]) if latencies else 0.0
    return {
        "backend": settings.backend, "model": settings.model, "voice": settings.voice,
        "segments": len(jobs), "up_to_date": len(triage.current), "cache_hits": triage.copies,
        "to_synthesize": len(to_send),
        "characters": chars, "cost_usd": round(chars / 1e6 * price_per_million(prices, settings), 4),
        "wall_seconds": math.ceil(wall), "max_concurrent": max_concurrent,
        "to_synthesize_ids": sorted(job.id for job in to_send),
        "to_shorten": len(shorter), "to_shorten_ids": shorter, "translator_requests": 1 if shorter else 0,
        "speech_requests": sum(max(1, len(job.parts)) for job in to_send + revoiced),
    }


def format_plan(video, summary, price):
    lines = [
        f"Plan for {video} ({summary['backend']} {summary['model'] or ''} voice {summary['voice']}):",
        f"  segments total        {summary['segments']}",
        f"  already up to date    {summary['up_to_date']}",
        f"  served by the cache   {summary['cache_hits']}",
        f"  to synthesize         {summary['to_synthesize']}"
        + (f"  ({', '.join(summary['to_synthesize_ids'][:10])}{' ...' if summary['to_synthesize'] > 10 else ''})"
           if summary["to_synthesize"] else ""),
        *([f"  to shorten            {summary['to_shorten']}  ({', '.join(summary['to_shorten_ids'][:10])}"
           f"{' ...' if summary['to_shorten'] > 10 else ''}): 1 translator request, then voiced in the new wording"]
          if summary["to_shorten"] else []),
        f"  speech requests       {summary['speech_requests']}  (each line at the speed its time needs, predicted "
        "from its text; a voice slower than predicted costs at most one more per line)",
        f"  characters to send    {summary['characters']}",
        f"  estimated cost        ${summary['cost_usd']:.4f}  (at ${price:g} per million characters; "
        "prices in config 'prices')",
        f"  estimated wall time   ~{summary['wall_seconds']} s at max_concurrent={summary['max_concurrent']}",
    ]
    return "\n".join(lines)


def write_plan(segment_jsons, tts_dir, dest, voicing, *, video, prices, slot_jsons=(), max_speedup=1.0,
               shortens=False):
    summary = plan(segment_jsons, tts_dir, voicing, prices=prices, slot_jsons=slot_jsons, max_speedup=max_speedup,
                   shortens=shortens)
    text = format_plan(video, summary, price_per_million(prices, voicing.settings))
    print(text)
    write_text_atomic(dest, json.dumps(summary, indent=1) + "\n")
    return summary


def sent_since(video_dir, since):
    """(speech requests, characters) the video's jobs paid for since ``since`` (epoch seconds): ``sent.tsv``."""
    requests = characters = 0
    try:
        rows = (Path(video_dir) / SENT).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return 0, 0
    for row in rows:
        try:
            when, _seg_id, count, chars = row.split("\t")
            if float(when) >= since:
                requests, characters = requests + int(count), characters + int(chars)
        except ValueError:
            continue  # a row cut by a crash mid-write
    return requests, characters


def planned_against_sent(video_dir, since):
    """One line for the end of a run: what the video's jobs paid for since ``since``, against ``plan.json``
    when one was made before the run (``make plan``); None when nothing was sent."""
    requests, characters = sent_since(video_dir, since)
    if not requests:
        return None
    folder = Path(video_dir)
    name = f"{folder.parent.name} ({folder.name[len('dub-'):]})" if folder.name.startswith("dub-") else folder.name
    line = f"{name}: {requests} speech request(s) sent, {characters} characters"
    try:
        planned = json.loads((Path(video_dir) / "plan.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return line + " (no plan made; `make plan` predicts them)"
    return line + (f"; the plan said {planned.get('speech_requests')} request(s), {planned.get('characters')} "
                   "characters")
