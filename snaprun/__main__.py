"""`python -m snaprun`: the `snaprun` command, for environments without its script on PATH."""

from snaprun.cli import main

main(prog_name="snaprun")
