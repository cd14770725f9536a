"""`python -m diflow_tts.cli`: the same commands as the `diflow-tts` script (torchrun uses it)."""

import sys

from diflow_tts.cli import main

sys.exit(main())
