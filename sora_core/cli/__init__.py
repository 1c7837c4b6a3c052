"""The ``sora`` command line."""
