"""The ``digitlab`` command line: one parser builder per command (``parser``), one function each (``main``)."""
