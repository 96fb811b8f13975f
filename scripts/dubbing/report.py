"""The dub's report pieces: a timeline figure and a summary page, embedded by `snakemake --report`."""

import html
from pathlib import Path

import numpy as np

from .audio import wav_info, wav_levels
from .files import atomic_output
from .sync import FRAME, speech_regions


def original_speech(source_wav):
    """Speech regions of the original audio (threshold 12 dB over its own noise floor)."""
    rate, _channels, _frames = wav_info(source_wav)
    levels = wav_levels(source_wav, int(rate * FRAME))
    if levels.size == 0:
        return []
    floor = max(float(np.percentile(levels, 10)), 1.0)
    threshold_db = 20 * np.log10(max(floor * 10 ** (12 / 20), 32768 * 10 ** (-50 / 20)) / 32768)
    return speech_regions(levels, threshold_db=threshold_db, merge_gap=0.3)


def timeline_figure(source_wav, sync_rows, dest, title):
    """Original speech vs script slots vs measured dubbed speech, one lane each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rate, _channels, frames = wav_info(source_wav)
    duration = frames / rate
    fig, ax = plt.subplots(figsize=(min(40, max(10, duration / 6)), 2.8))
    lanes = {"original speech": 2, "script slots": 1, "dubbed speech": 0}
    ax.broken_barh([(s, e - s) for s, e in original_speech(source_wav)], (2 - 0.35, 0.7), color="#9aa5b1")
    # One bar collection per lane and colour: a call per line re-autoscales every earlier one
    # (3.5 s of the 5 s this step took for a 600-line lecture).
    ax.broken_barh([(row["slot_start"], row["slot_end"] - row["slot_start"]) for row in sync_rows],
                   (1 - 0.35, 0.7), facecolor="none", edgecolor="#3b5b92")
    for row in sync_rows:
        ax.text(row["slot_start"], 1, row["id"], fontsize=7, va="center", ha="left", color="#3b5b92")
    measured = [row for row in sync_rows if row["measured_start"] is not None]
    for bad, color in ((False, "#27ae60"), (True, "#c0392b")):
        ax.broken_barh([(row["measured_start"], row["measured_end"] - row["measured_start"])
                        for row in measured if (row["status"] != "ok") == bad], (-0.35, 0.7), color=color)
    ax.set_yticks(list(lanes.values()), list(lanes.keys()))
    ax.set_xlim(0, duration)
    ax.set_ylim(-0.7, 2.7)
    ax.set_xlabel("seconds (red: dubbed line out of sync or overflowing)")
    ax.set_title(title)
    fig.tight_layout()
    with atomic_output(dest, ".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def summary_page(dest, video, summary, rows, settings, synth_index, config):
    """A self-contained HTML page: sync summary, backends and voices, requests vs cache, per-line table."""
    sources = [line.split("\t")[2] for line in Path(synth_index).read_text().splitlines()[1:]]
    requested, cached = sources.count("api"), len(sources) - sources.count("api")
    esc = html.escape

    def fmt(value, digits=3):
        return "" if value is None else (f"{value:+.{digits}f}" if isinstance(value, float) else esc(str(value)))

    table = "".join(
        f"<tr class='{ 'bad' if r['status'] != 'ok' else ''}'><td>{esc(r['id'])}</td><td>{esc(r['speaker'])}</td>"
        f"<td>{r['slot_start']:.2f}–{r['slot_end']:.2f}</td><td>{esc(r['text'])}</td><td>{r['stretch']:.3f}</td>"
        f"<td>{'' if r['measured_start'] is None else format(r['measured_start'], '.2f')}</td>"
        f"<td>{fmt(r['onset_error'])}</td><td>{r['overflow']:.2f}</td><td>{esc(r['status'])}</td></tr>"
        for r in rows
    )
    voices = config.get("voices") or {}
    voice_lines = "".join(f"<li>{esc(k)} → {esc(str(v))}</li>" for k, v in voices.items()) or \
        f"<li>every speaker → {esc(settings['voice'])}</li>"
    verdict = ("all lines within tolerance" if not summary["violations"]
               else f"{len(summary['violations'])} line(s) out of tolerance: {', '.join(summary['violations'])}")
    page = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Dub of {esc(video)}</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:70em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 6px;font-size:90%;vertical-align:top}}tr.bad td{{background:#fbe3e1}}
.k{{color:#555}}</style></head><body>
<h2>Dub of {esc(video)}: {esc(verdict)}</h2>
<h3>Measured sync (from the dub track, tolerance {summary['tolerance']} s)</h3>
<ul><li><span class="k">worst onset error</span> {fmt(summary['worst_onset_error'])} s (line {esc(str(summary['worst_onset_id']))})</li>
<li><span class="k">median onset error</span> {fmt(summary['median_onset_error'])} s</li>
<li><span class="k">lines sped up</span> {summary['sped_up']} of {summary['segments']} (at most {summary['max_stretch']}×)</li>
<li><span class="k">lines running into the next</span> {len(summary['overflowed'])} {esc(', '.join(summary['overflowed']))}</li>
<li><span class="k">speech time / slot time</span> {summary['speech_seconds']} s / {summary['slot_seconds']} s</li></ul>
<h3>Voices and backends</h3>
<ul><li><span class="k">speech synthesis</span> {esc(settings['backend'])} {esc(settings['model'])}</li>
{voice_lines}
<li><span class="k">transcript</span> {esc(config['asr_backend'])}; <span class="k">translation</span> {esc(config['translate_backend'])} → {esc(config['target_language'])}</li>
<li><span class="k">mix</span> {esc(config['mix_mode'])}, {config['loudness_lufs']} LUFS; <span class="k">max speed-up</span> {config['max_speedup']}×</li></ul>
<h3>Requests</h3><p>When each line's current audio was made: {requested} line(s) synthesized by the backend
(one request each), {cached} served from the cache (no request).</p>
<h3>Lines</h3><table><tr><th>id</th><th>speaker</th><th>slot (s)</th><th>text</th><th>stretch</th>
<th>dub starts (s)</th><th>onset error (s)</th><th>overflow (s)</th><th>status</th></tr>{table}</table>
</body></html>"""
    with atomic_output(dest, ".html") as tmp:
        tmp.write_text(page, encoding="utf-8")


