"""`python -m augmentor`: the command line."""

from .cli import main

main()
