"""The dub's report pieces: a timeline figure and a summary page, embedded by `snakemake --report`."""

import html
from pathlib import Path

import numpy as np

from .audio import wav_info
from .files import atomic_output

FRAME = 0.01  # seconds per level frame of the original's speech lane


def speech_regions(levels, threshold_db, frame=FRAME, merge_gap=0.3):
    """[(start, end)] seconds where per-frame RMS ``levels`` are above ``threshold_db``; shorter pauses merged."""
    loud = levels > 32768 * 10 ** (threshold_db / 20)
    if not loud.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(np.int8), [0]])))
    regions = []
    for start, end in zip(edges[::2], edges[1::2]):
        if regions and (start - regions[-1][1]) * frame < merge_gap:
            regions[-1][1] = end
        else:
            regions.append([start, end])
    return [(round(s * frame, 3), round(e * frame, 3)) for s, e in regions]


def original_speech(source):
    """Speech regions of the original audio (a file, or its stored probabilities), as the voice-activity detector
    hears them (dubbing.vad)."""
    from . import vad

    return vad.speech(vad.probabilities_of(source))


def timeline_figure(source_wav, sync_rows, dest, title, speech=None):
    """Original speech, script slots, and each dubbed line where it was found in the dub track, one lane each.

    ``speech``: the original's stored speech probabilities (else heard from ``source_wav``).
    A thin line joins each slot's start to where its dubbed line really starts (the displacement);
    green: in sync, orange: early or late, red: the part running into the next line, or a line missing.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    rate, _channels, frames = wav_info(source_wav)
    duration = frames / rate
    fig, ax = plt.subplots(figsize=(min(40, max(10, duration / 6)), 3.2))
    lanes = {"original speech": 2, "script slots": 1, "dubbed speech (found)": 0}
    ax.broken_barh([(s, e - s) for s, e in original_speech(speech or source_wav)], (2 - 0.35, 0.7), color="#9aa5b1")
    # Where the original starts speaking near each line, joined to where its dub starts (sync.against_original).
    versus = [row for row in sync_rows if row.get("original_onset") is not None and row["measured_start"] is not None]
    ax.add_collection(LineCollection([((row["original_onset"], 2 - 0.35), (row["measured_start"], 0.35))
                                      for row in versus], colors="#8e44ad", linewidths=0.6, linestyles="dotted"))
    # One bar collection per lane and colour: a call per line re-autoscales every earlier one
    # (3.5 s of the 5 s this step took for a 600-line lecture).
    ax.broken_barh([(row["slot_start"], row["slot_end"] - row["slot_start"]) for row in sync_rows],
                   (1 - 0.35, 0.7), facecolor="none", edgecolor="#3b5b92")
    for row in sync_rows:
        ax.text(row["slot_start"], 1, row["id"], fontsize=7, va="center", ha="left", color="#3b5b92")
    found = [row for row in sync_rows if row["measured_start"] is not None]
    colors = {"ok": "#27ae60", "early": "#e67e22", "late": "#e67e22", "overlap": "#27ae60"}
    for color in sorted(set(colors.values())):
        ax.broken_barh([(row["measured_start"], row["measured_end"] - row["measured_start"])
                        for row in found if colors.get(row["status"]) == color], (-0.35, 0.7), facecolor=color,
                       edgecolor="white", linewidth=0.6)  # abutting lines stay two bars
    overlaps = [row for row in found if row["overlap"] and row["overlap"] > 0.005]
    ax.broken_barh([(row["measured_end"] - row["overlap"], row["overlap"]) for row in overlaps], (-0.35, 0.7),
                   color="#c0392b")
    missing = [row for row in sync_rows if row["measured_start"] is None]
    ax.broken_barh([(row["slot_start"], row["slot_end"] - row["slot_start"]) for row in missing], (-0.35, 0.7),
                   facecolor="none", edgecolor="#c0392b", hatch="//")
    # Displacement: slot start (bottom of the slot lane) to the measured start (top of the dubbed lane).
    ax.add_collection(LineCollection(
        [((row["slot_start"], 1 - 0.35), (row["measured_start"], 0.35)) for row in found],
        colors=[colors.get(row["status"], "#c0392b") for row in found], linewidths=0.8))
    ax.set_yticks(list(lanes.values()), list(lanes.keys()))
    ax.set_xlim(0, duration)
    ax.set_ylim(-0.7, 2.7)
    ax.set_xlabel("seconds (slot start → dubbed start; dotted: the original's speech onset → dubbed start;\n"
                  "orange: early or late; red: overlap or missing)")
    ax.set_title(title)
    fig.tight_layout()
    with atomic_output(dest, ".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def _figure(figure, video):
    """The timeline figure inside the page itself (a data URI), so the page shows it opened from anywhere."""
    if not figure:
        return ""
    import base64

    data = base64.b64encode(Path(figure).read_bytes()).decode("ascii")
    return (f'<p><img style="max-width:100%" alt="timeline of {html.escape(video)}: original speech, script slots, '
            f'dubbed speech" src="data:image/png;base64,{data}"></p>')


def _original_section(summary, num):
    """The dub against the original's speech (sync.against_original), when measured."""
    if "speech_agreement" not in summary:
        return ""
    return (f"<h3>Against the original (speech found by voice activity in both tracks)</h3><ul>"
            f"<li><span class=\"k\">dub onset − original onset, median / 90th percentile</span> "
            f"{num(summary['median_vs_original'], 3)} s / {num(summary['p90_vs_original'], 3)} s "
            f"({summary['lines_with_original_onset']} line(s) where the original starts speaking after a pause)</li>"
            f"<li><span class=\"k\">dub speaking over the original's silence</span> {summary['dub_over_silence_seconds']} s; "
            f"<span class=\"k\">original speech with no dub over it</span> {summary['original_without_dub_seconds']} s "
            f"(of {summary['original_speech_seconds']} s)</li>"
            f"<li><span class=\"k\">frames where both agree (speech or silence)</span> "
            f"{num(summary['speech_agreement'], 3)}; <span class=\"k\">speech shared</span> "
            f"{num(summary['shared_speech'], 3)}</li></ul>")


def _words_section(words, esc):
    """The word accounting (accounting.py): what was dubbed, shown only, left out by the recognizer, lost."""
    if not words:
        return ""
    left_out = "".join(f"<li>{esc(item)}</li>" for item in words["left_out"][:20])
    lost = (f"<li class='bad'><b>lost: {words['lost_words']} word(s), line(s) {esc(', '.join(words['lost_lines']))}"
            "</b></li>" if words["lost_lines"] else "<li><span class=\"k\">lost</span> 0 words</li>")
    return (f"<h3>Words (every word dubbed, shown, or listed with why not)</h3><ul>"
            f"<li><span class=\"k\">dubbed</span> {words['dubbed_words']} word(s) in {words['lines']} script line(s)</li>"
            f"<li><span class=\"k\">in the subtitles only (markers, punctuation)</span> {words['subtitles_only_words']}</li>"
            f"<li><span class=\"k\">heard but left out (not speech)</span> {words['left_out_words']}</li>"
            f"{lost}</ul>" + (f"<ul>{left_out}</ul>" if left_out else ""))


def _under_dub_section(scores, esc):
    """What is left of the original under the dub (mix.json: mix.scores)."""
    if not scores:
        return ""
    mode = scores.get("mix_mode", "")

    def level(value, none):
        return none if value is None else f"{value:+.1f} dB"

    voice = level(scores.get("voice_left_db"), "none" if mode == "replace" else
                  "not measurable here (see docs/BENCHMARKS.md, \"Keeping the music\")")
    return (f"<h3>The original under the dub ({esc(mode)})</h3><ul>"
            f"<li><span class=\"k\">original voice left, where it speaks</span> {esc(voice)}</li>"
            f"<li><span class=\"k\">background kept, where nobody speaks</span> "
            f"{esc(level(scores.get('background_kept_db'), 'none'))}</li></ul>")


def summary_page(dest, video, summary, rows, settings, synth_index, config, voices=(), words=None, figure=None,
                 mix_scores=None):
    """A self-contained HTML page: sync summary, backends and voices, requests vs cache, per-line table."""
    sources = [line.split("\t")[2] for line in Path(synth_index).read_text().splitlines()[1:]]
    cached = sources.count("cache")
    requested = len(sources) - cached  # made now: sent to the API or spoken by the offline voice
    esc = html.escape

    def fmt(value, digits=3):
        return "" if value is None else (f"{value:+.{digits}f}" if isinstance(value, float) else esc(str(value)))

    def num(value, digits=2):
        return "" if value is None else format(value, f".{digits}f")

    table = "".join(
        f"<tr class='{ 'bad' if r['status'] != 'ok' else ''}'><td>{esc(r['id'])}</td><td>{esc(r['speaker'])}</td>"
        f"<td>{r['slot_start']:.2f}–{r['slot_end']:.2f}</td><td>{esc(r['text'])}</td>"
        f"<td>{fmt(r['displacement'], 2)}</td><td>{num(r['speedup'])}</td>"
        f"<td>{num(r['measured_start'])}–{num(r['measured_end'])}</td><td>{fmt(r['onset_error'])}</td>"
        f"<td>{num(r['overlap'])}</td><td>{num(r['match'])}</td><td>{esc(r['status'])}</td></tr>"
        for r in rows
    )
    def pct(share):
        return "" if share is None else f"{100 * share:.1f}%"

    voice_lines = "".join(f"<li>{esc(row['speaker'] or 'lines without a speaker')} → {esc(row['voice'])} "
                          f"<span class=\"k\">({esc(row['how'])})</span></li>" for row in voices) or \
        f"<li>every speaker → {esc(settings['voice'])}</li>"
    verdict = ("all lines within tolerance" if not summary["violations"]
               else f"{len(summary['violations'])} line(s) out of sync, overlapping or missing: "
                  f"{', '.join(summary['violations'])}")
    page = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Dub of {esc(video)}</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:70em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 6px;font-size:90%;vertical-align:top}}tr.bad td{{background:#fbe3e1}}
.k{{color:#555}}</style></head><body>
<h2>Dub of {esc(video)}: {esc(verdict)}</h2>
{_figure(figure, video)}
<h3>Measured sync (each line found in the dub track, tolerance {summary['tolerance']} s)</h3>
<ul><li><span class="k">lines starting within 0.25 s of their slot</span> {pct(summary['within_0_25'])}</li>
<li><span class="k">onset error, median / 90th percentile</span> {num(summary['median_onset_error'], 3)} s / {num(summary['p90_onset_error'], 3)} s</li>
<li><span class="k">worst onset error</span> {fmt(summary['worst_onset_error'])} s (line {esc(str(summary['worst_onset_id']))})</li>
<li><span class="k">lines running into the next</span> {summary['overlaps']}; <span class="k">lines missing from the dub track</span> {summary['missing']}</li>
<li><span class="k">lines sped up</span> {summary['sped_up']} of {summary['segments']} (at most {summary['max_speedup']}×)</li>
<li><span class="k">speech time / slot time</span> {summary['speech_seconds']} s / {summary['slot_seconds']} s</li></ul>
{_original_section(summary, num)}
{_words_section(words, esc)}{_under_dub_section(mix_scores, esc)}<h3>Voices and backends</h3>
<ul><li><span class="k">speech synthesis</span> {esc(settings['backend'])} {esc(settings['model'])}</li>
{voice_lines}
<li><span class="k">transcript</span> {esc(config['asr_backend'])}; <span class="k">translation</span> {esc(config['translate_backend'])} → {esc(config['target_language'])}</li>
<li><span class="k">mix</span> {esc(config['mix_mode'])}, {config['loudness_lufs']} LUFS; <span class="k">max speed-up</span> {config['max_speedup']}×</li></ul>
<h3>Requests</h3><p>When each line's current audio was made: {requested} line(s) synthesized by the backend
(one request each), {cached} served from the cache (no request).</p>
<h3>Lines</h3><p>Displacement: how far the placement moved the line from its slot so that no two lines overlap.
Dubbed: where the line's speech was found in the dub track (match: 1.00 = exactly the line's audio).</p>
<table><tr><th>id</th><th>speaker</th><th>slot (s)</th><th>text</th><th>displacement (s)</th><th>speed-up</th>
<th>dubbed (s)</th><th>onset error (s)</th><th>overlap (s)</th><th>match</th><th>status</th></tr>{table}</table>
</body></html>"""
    with atomic_output(dest, ".html") as tmp:
        tmp.write_text(page, encoding="utf-8")


