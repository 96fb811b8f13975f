# Video dubbing: media/<video>.<ext>  ->  results/<video>/dubbed.mp4
# Stages and artefacts: docs/ARCHITECTURE.md


from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/prepare.smk"
include: "rules/synth.smk"
include: "rules/assemble.smk"


rule all:
    input:
        all_targets(),
    default_target: True
