"""The province's self-assessment ("Tự đánh giá, chấm điểm") and the ministry's view of it (see routes.py)."""
