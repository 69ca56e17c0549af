"""`python -m augmentor.cli`: the command line."""

from . import main

main()
