"""The production-services stage: the connectivity pre-check and the settings and entry points of
the real server processes started by ``tests/test_multiprocess.py`` and ``bench/loadtest.py``."""
