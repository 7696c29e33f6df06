"""The ministry's pages for the survey forms: import, replace and preview (see routes.py)."""
