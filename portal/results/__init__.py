"""Kết quả: the PAR Index, the ranking and their publication (index_routes.py); the survey results beside them
(survey_routes.py)."""
