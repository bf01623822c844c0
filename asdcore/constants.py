"""Names and limits shared across the engine, the app and the command line, defined once.

Import-light on purpose (no numpy, no pandas): the command line reads its defaults from here
before it knows which command runs.
"""

# The DCASE vocabulary: the words of clip names and folders.
SPLITS = ("train", "test", "supplemental")
DOMAINS = ("source", "target")
LABELS = ("normal", "anomaly")
NO_ATTRIBUTE = "noAttribute"  # the attribute string of clips whose attributes are hidden

# Analyses of single clips (labelling, band suggestion, the pages' views) read at most the
# first minute: any DCASE clip whole (6-18 s), a stray hour-long recording on its beginning
# instead of decoded whole.
ANALYSIS_SECONDS = 60.0

# The search range of characteristic frequencies (Hz): default, and the bounds the app offers.
CHARACTERISTIC_RANGE = (5.0, 250.0)
CHARACTERISTIC_FMIN_LIMITS = (1.0, 500.0)
CHARACTERISTIC_FMAX_LIMITS = (2.0, 1000.0)
