"""The ministry's pages for the self-assessment criteria framework: import, preview, versions (see routes.py)."""
