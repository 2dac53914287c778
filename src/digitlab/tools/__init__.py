"""Tools: ``digitlab bench``, the augmentation benchmark and the headless Chromium driver for tests and bench."""
