"""Core: errors, configuration, atomic I/O, checkpoints, the run folder, run provenance and figures."""
