"""``make bench``: the benchmark: warm path side by side, cold path, large rule sets."""
