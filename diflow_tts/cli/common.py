"""What every command module shares: the logger and the signature of `register`'s helper."""

import argparse
import logging
from collections.abc import Callable

log = logging.getLogger("diflow_tts")

# command(name, handler, help) adds a subcommand and returns its parser for the arguments
Command = Callable[[str, Callable[[argparse.Namespace], None], str], argparse.ArgumentParser]
