"""Several languages in one run against one-language runs made one after another (issue 23's target).

The video is the real French recording in tests/data/foreign (100.7 s, one speaker) under a grey picture.
Recognition, translation and speech go to the local test server (tools/fakeapi.py, a real HTTP server on
127.0.0.1) with the latency model of the synthesis benchmark (0.4 s + 0.02 s per character, jitter 0.2 s);
`max_concurrent` 5, `--cores 5` (the README's command). Each run starts from an empty workdir and cache.

  * three runs, `target_language` es, de and fr, one after another;
  * one run with `target_language: [es, de, fr]`.

Reported: the wall time of each, the ratio (one run / the three runs; the target is <= 0.6) and the requests
each sent. Times are ratios within one run of this script: the machine is shared and noisy.

    make bench-languages
    .venv/bin/python tools/bench_languages.py [--languages es,de,fr] [--synth-mode async]
"""

import argparse
import collections
import subprocess
import tempfile
import time
from pathlib import Path

from fakeapi import FakeAPI  # noqa: E402
from workflow_copy import REPO, make_workdir

SNAKEMAKE = REPO / ".venv" / "bin" / "snakemake"
FRENCH = REPO / "tests" / "data" / "foreign" / "fr_asterisk_demo.flac"
KEY = "bench-key"
CLOUD = ["asr_backend=openai", "translate_backend=openai", "tts_backend=openai", "max_concurrent=5",
         "source_language=fr"]


def make_video(dest):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=320x240:r=25",
                    "-i", str(FRENCH), "-shortest", "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset",
                    "ultrafast", "-c:a", "aac", "-b:a", "128k", str(dest)], check=True)


def run(api, root, video, languages, extra=()):
    """One fresh workdir dubbed into ``languages`` (a list): (seconds, requests by endpoint)."""
    workdir = make_workdir(root, [(video, "talk.mp4")])
    env = {"PATH": f"{REPO / '.venv' / 'bin'}:/usr/bin:/bin", "HOME": str(root), "OPENAI_API_KEY": KEY,
           "OPENAI_BASE_URL": api.openai_base_url, "ELEVENLABS_API_KEY": KEY,
           "ELEVENLABS_BASE_URL": api.elevenlabs_base_url}
    before = len(api.requests)
    started = time.monotonic()
    subprocess.run([str(SNAKEMAKE), "--cores", "5", "results/talk/dubbed.mp4", "--quiet", "--config",
                    f"target_language=[{','.join(languages)}]", *CLOUD, *extra], cwd=workdir, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    return seconds, collections.Counter(r["path"].rsplit("/", 1)[-1] for r in api.requests[before:])


class _kept:
    def __init__(self, folder):
        self.folder = folder

    def __enter__(self):
        Path(self.folder).mkdir(parents=True, exist_ok=True)
        return self.folder

    def __exit__(self, *exc):
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", default="es,de,it")
    parser.add_argument("--keep", default="", help="keep the workdirs in this folder (for a look at each stage)")
    parser.add_argument("--synth-mode", default="", help="synth_mode for every run (default: the config's, auto)")
    args = parser.parse_args()
    languages = args.languages.split(",")
    extra = [f"synth_mode={args.synth_mode}"] if args.synth_mode else []
    with (tempfile.TemporaryDirectory(prefix="bench-languages-") if not args.keep else _kept(args.keep)) as tmp, \
            FakeAPI(key=KEY, latency=0.4, latency_per_char=0.02, jitter=0.2, seed=7) as api:
        api.configure(translation_format="{target}: {text}")  # every line its own words, in every language
        video = Path(tmp) / "talk.mp4"
        make_video(video)
        separate = []
        for lang in languages:
            separate.append(run(api, Path(tmp) / f"one-{lang}", video, [lang], extra))
        together = run(api, Path(tmp) / "all", video, languages, extra)
    total = sum(seconds for seconds, _ in separate)
    print(f"{len(languages)} languages ({', '.join(languages)}), {FRENCH.name} (100.7 s), max_concurrent 5, "
          f"synth_mode {args.synth_mode or 'from config'}")
    print("| run | wall (s) | transcriptions | translations | speech requests |")
    print("|---|---:|---:|---:|---:|")
    for lang, (seconds, sent) in zip(languages, separate):
        print(f"| {lang} alone | {seconds:.1f} | {sent['transcriptions']} | {sent['completions']} | {sent['speech']} |")
    print(f"| the {len(languages)} one after another | {total:.1f} | "
          f"{sum(s['transcriptions'] for _, s in separate)} | {sum(s['completions'] for _, s in separate)} | "
          f"{sum(s['speech'] for _, s in separate)} |")
    seconds, sent = together
    print(f"| [{', '.join(languages)}] in one run | {seconds:.1f} | {sent['transcriptions']} | {sent['completions']} | "
          f"{sent['speech']} |")
    mean = total / len(languages)
    print(f"\none run / {len(languages)} runs: {seconds / total:.2f} (target <= 0.6); "
          f"one run / one language's mean run: {seconds / mean:.2f} (target <= 1.8)")


if __name__ == "__main__":
    main()
