# Video dubbing: media/<video>.<ext>  ->  results/<video>/dubbed.mp4
# Stages and artefacts: docs/ARCHITECTURE.md


from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


wildcard_constraints:
    video=r"[^/]+",
    seg=r"[A-Za-z0-9_-]+",


# On a cluster (profiles/slurm) these run on the submit host: each takes less time than a job
# submission would.
localrules:
    probe,
    segments,
    synth_index,
    plan,
    subtitles,
    place,
    account_words,


include: "rules/common.smk"
include: "rules/prepare.smk"
include: "rules/synth.smk"
include: "rules/assemble.smk"


onstart:
    check_keys()


onsuccess:
    report_sent()


rule all:
    default_target: True
    input:
        all_targets(),
