"""Imported by every Python process the tests start (``PYTHONPATH``): install the offline guard."""

import course_offline_guard  # noqa: F401
