"""The dubbing library: everything the pipeline's rules do, importable and testable without Snakemake."""
