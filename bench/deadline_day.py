"""Deadline day: respondents submitting while the provinces and the ministry watch and the worker reminds.

    python bench/deadline_day.py                          # SQLite, gunicorn -w 4, 120 s at most
    python bench/deadline_day.py --db pg --respondents 2000 --concurrency 60 --duration 180

Bounded (at most --duration seconds of load and --respondents people), loopback only, stops by itself.

Preparation (not timed): a scratch database (an SQLite file, or a throwaway PostgreSQL cluster), every one
of --provinces provinces with its sample list of 52 people sent, the survey launched (the invitation emails
queued), a reminder day set for today, the deadlines ahead.

The load, all at once under `gunicorn -w N` (sync workers, as the README deploys it):
- respondents, --concurrency at a time: open a form, think (exponential, mean --think seconds), save the
  answers, submit, see the thanks page; a person with two forms answers both. An error page or a cut
  connection makes them try again, as a person does;
- each province's account logged in and polling its progress fragment every --poll seconds (HTMX with the
  ETag it holds, as the open page does);
- the ministry reloading the national progress table every 2 x --poll seconds;
- the worker (`flask portal worker`) sending the queued invitations and today's reminders to an SMTP sink.

Then it reports requests/s and p50/p95/p99 per kind of request, and checks the data: every form whose
respondent saw the thanks page is stored exactly once, whole, and no other form is stored as submitted.
Exit status 1 on any error answer or data problem.
"""

from __future__ import annotations

import argparse
import http.client
import random
import re
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from faultkit import (  # noqa: E402
    PASSWORD,
    Outcome,
    Reply,
    Scratch,
    answer_form,
    machine,
    percentile,
    request,
)

# The expected national peak, from the domain's scale: about 80,000 forms (50,000 people, 63 provinces) over a
# month, a fifth of them on the last day, an eighth of that day's in its busiest hour: 2,000 forms an hour.
PEAK_FORMS_PER_SECOND = 80_000 * 0.2 * 0.125 / 3600


class Staff:
    """A logged-in province or ministry account: its cookie, kept as a browser keeps it."""

    def __init__(self, port: int, username: str) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        page = self.get("/dang-nhap")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.body) or re.search(
            r'name="csrf_token" value="([^"]+)"', page.body)
        assert token, "no CSRF token on the login page"
        answer = self.send("POST", "/dang-nhap", data={"csrf_token": token.group(1), "username": username,
                                                       "password": PASSWORD})
        assert answer.status in (302, 303), f"login of {username}: {answer.status}"

    def send(self, method: str, path: str, *, data: dict | None = None, headers: dict | None = None) -> Reply:
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        reply = request(self.port, method, path, data=data, headers={**(headers or {}), "Cookie": cookie})
        for name, value in _set_cookies(reply):
            self.cookies[name] = value
        return reply

    def get(self, path: str, **headers: str) -> Reply:
        return self.send("GET", path, headers=headers)


def _set_cookies(reply: Reply) -> list[tuple[str, str]]:
    # http.client folds repeated Set-Cookie headers into one, comma-joined; our cookies carry no commas
    # except in Expires dates, which the pattern steps over.
    found = re.findall(r"(?:^|,\s*)([A-Za-z0-9_\-]+)=([^;,]*)", reply.headers.get("set-cookie", ""))
    return [(name, value) for name, value in found if name.lower() not in {"expires", "max-age", "path"}]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "pg"], default="sqlite")
    parser.add_argument("--provinces", type=int, default=63)
    parser.add_argument("--respondents", type=int, default=2000, help="people who answer (at most)")
    parser.add_argument("--concurrency", type=int, default=40, help="respondents answering at the same moment")
    parser.add_argument("--think", type=float, default=2.0, help="mean think time before saving, seconds")
    parser.add_argument("--poll", type=float, default=5.0, help="progress polling interval of a province, seconds")
    parser.add_argument("--duration", type=float, default=120.0, help="longest load, seconds")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    args = parser.parse_args()

    from sqlmodel import Session

    from portal.domain.campaigns import current_campaign, local_today
    from portal.models import ReminderSchedule
    from tests.support.smtp import SmtpSink

    backend = "PostgreSQL" if args.db == "pg" else "SQLite"
    with Scratch(args.db) as scratch, SmtpSink() as sink:
        print(f"Preparing {args.provinces} provinces on {backend} …", file=sys.stderr)
        began = time.monotonic()
        portal = scratch.prepare(args.provinces, per_group=None)
        engine = portal.engine()
        with Session(engine) as session:
            campaign = current_campaign(session)
            session.add(ReminderSchedule(campaign_id=campaign.id, send_on=local_today("Asia/Ho_Chi_Minh")))
            session.commit()
        print(f"… {len(portal.people)} people invited in {time.monotonic() - began:.0f} s", file=sys.stderr)
        chance = random.Random(2021)
        people = chance.sample(portal.people, min(args.respondents, len(portal.people)))
        outcome, staff_outcome = Outcome(), Outcome()
        stop = threading.Event()

        with portal.gunicorn(workers=args.workers) as web, \
                portal.worker(sink.port, PORTAL_OUTBOX_BATCH="50", PORTAL_MAIL_RATE="50"):
            pending = list(people)
            lock = threading.Lock()

            def respondent(seed: int) -> None:
                own = random.Random(seed)
                while not stop.is_set():
                    with lock:
                        if not pending:
                            return
                        person = pending.pop()
                    for code in person.forms:
                        if stop.is_set():
                            return
                        answer_form(web.port, person, code, portal.answers[code], outcome,
                                    think=min(own.expovariate(1 / args.think), 6 * args.think), pause=stop)

            def province(username: str, seed: int) -> None:
                own = random.Random(seed)
                stop.wait(own.uniform(0, args.poll))
                try:
                    account = Staff(web.port, username)
                    etag = ""
                    while not stop.is_set():
                        reply = account.get("/khao-sat/tien-do/", **{"HX-Request": "true",
                                                                   "HX-Target": "progress-live",
                                                                   "If-None-Match": etag})
                        staff_outcome.saw("province progress poll", reply)
                        etag = reply.headers.get("etag", etag)
                        stop.wait(args.poll)
                except (OSError, http.client.HTTPException, AssertionError):
                    staff_outcome.cut()

            def ministry() -> None:
                try:
                    account = Staff(web.port, portal.ministry)
                    while not stop.is_set():
                        staff_outcome.saw("ministry national table", account.get("/bo/tien-do"))
                        stop.wait(2 * args.poll)
                except (OSError, http.client.HTTPException, AssertionError):
                    staff_outcome.cut()

            slugs = _province_slugs(engine, portal.provinces)
            threads = [threading.Thread(target=respondent, args=(n,), daemon=True) for n in range(args.concurrency)]
            threads += [threading.Thread(target=province, args=(slug, n), daemon=True)
                        for n, slug in enumerate(slugs)]
            threads.append(threading.Thread(target=ministry, daemon=True))
            load_began = time.monotonic()
            for thread in threads:
                thread.start()
            respondents_done = threads[:args.concurrency]
            while time.monotonic() - load_began < args.duration and any(t.is_alive() for t in respondents_done):
                time.sleep(0.5)
            elapsed = time.monotonic() - load_began
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            emails = sink.count()

        problems = portal.check_stored(outcome.successes)
        engine.dispose()

    # ---------------------------------------------------------------- report
    answered = len(outcome.successes)
    rate = answered / elapsed
    print(f"\n### Deadline day, {backend}, {datetime.now().astimezone():%d/%m/%Y}\n")
    print(f"{machine()}; gunicorn -w {args.workers} (sync) and the worker on the same machine as the load.\n")
    print(f"{len(portal.people):,} people invited in {args.provinces} provinces; {len(people):,} answering, "
          f"{args.concurrency} at a time (think time mean {args.think:g} s); {len(slugs)} province accounts polling "
          f"every {args.poll:g} s; the ministry's national table every {2 * args.poll:g} s; the worker sending "
          f"the invitations and today's reminders ({emails:,} emails accepted by the sink during the load).\n")
    print("| Request | Count | Errors | p50 ms | p95 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    total = 0
    for source in (outcome, staff_outcome):
        for kind, values in source.latencies.items():
            total += len(values)
            print(f"| {kind} | {len(values):,} | {source.errors.get(kind, 0)} | {percentile(values, 0.5) * 1000:.0f} | "
                  f"{percentile(values, 0.95) * 1000:.0f} | {percentile(values, 0.99) * 1000:.0f} |")
    errors = {status: count for source in (outcome, staff_outcome) for status, count in source.statuses.items()
              if status >= 400}
    cut = outcome.broken + staff_outcome.broken
    print(f"\nIn {elapsed:.0f} s: {total:,} requests ({total / elapsed:.0f}/s); {answered:,} forms submitted "
          f"({rate:.1f}/s, {rate / PEAK_FORMS_PER_SECOND:.0f}× the expected national peak of "
          f"{PEAK_FORMS_PER_SECOND:.2f} forms/s); error answers {errors or 'none'}; cut connections {cut}.")
    print(f"Data check: {answered:,} thanks pages, each stored exactly once and whole; "
          f"{'no other form submitted' if not problems else f'{len(problems)} PROBLEMS'}.")
    for problem in problems[:10]:
        print(f"- {problem}")
    return 1 if problems or errors or cut else 0


def _province_slugs(engine, province_ids) -> list[str]:
    from sqlmodel import Session, select

    from portal.models import Province

    with Session(engine) as session:
        return list(session.exec(select(Province.slug).where(Province.id.in_(list(province_ids)))
                                 .order_by(Province.id)))


if __name__ == "__main__":
    sys.exit(main())
