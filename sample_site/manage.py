#!/usr/bin/env python
"""The demo site's manage.py (run from this folder: ``python manage.py runserver``)."""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    # Use the logout_rules package from this checkout.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sample_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
