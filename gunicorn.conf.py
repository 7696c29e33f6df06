"""gunicorn's settings for the portal, read by gunicorn from the directory it starts in.

Respondents' personal links (/phieu/<token>) are redacted from every log line of the process: the access
log's request line and referrer, the error log and tracebacks (portal/log_redaction.py). Installed here,
in gunicorn's own process, so that the lines gunicorn writes before and around the app are covered too.
"""

from portal import log_redaction

log_redaction.install()
