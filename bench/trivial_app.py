"""The baseline of bench_survey: the smallest Flask app, served by gunicorn under the same flags as the portal."""

from flask import Flask, request

app = Flask(__name__)


@app.route("/", methods=["GET", "POST"])
def index() -> str:
    return f"ok {len(request.form)}"
