"""The built-in aligner: a CTC phone recognizer whose forced alignments give phone durations."""
