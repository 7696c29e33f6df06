"""Thẩm định: the ministry appraises a province's self-assessment in rounds; the province explains (routes.py)."""
