"""The `make load` scenario (scripts/load.sh): people browsing a company with a million journal
lines -- dashboard, journal, Review, reports, reconcile pages, document lists, the close checklist
and My tasks -- posting invoices, and another system asking the API whether dates are open, while
a sync runs. Loopback only; users and time are bounded by the command line.

Reads LOAD_INFO (the JSON ``manage.py load_prepare`` printed: ids and signed-in sessions) and LOAD_RESULT
(where to write the figures: p50/p95/p99 per page and the error count, as one JSON object)."""

from __future__ import annotations

import json
import os
import random
import re
import uuid

from locust import HttpUser, between, events, task

INFO = json.loads(open(os.environ["LOAD_INFO"]).read())  # noqa: SIM115
SLUG = INFO["company"]
REPORTS = ["gl-revenue", "invoices", "ar-aging", "taxes-charged", "transactions", "credit-balance"]
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Accountant(HttpUser):
    wait_time = between(0.5, 2.0)
    started = 0

    def on_start(self):
        """Signed in already (a session from load_prepare --sessions): the scenario measures
        browsing; the login page itself is checked by ``manage.py prod_smoke``."""
        sessions = INFO["sessions"]
        Accountant.started += 1
        self.client.cookies.set("sessionid", sessions[Accountant.started % len(sessions)])

    def get(self, url: str, name: str):
        with self.client.get(url, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
            elif "/login/" in response.url:
                response.failure("logged out")

    @task(3)
    def home(self):
        self.get("/", "home")

    @task(4)
    def dashboard(self):
        self.get(f"/c/{SLUG}/", "dashboard")

    @task(6)
    def journal(self):
        self.get(f"/c/{SLUG}/journal/?page={random.randint(1, 20)}", "journal")

    @task(2)
    def journal_entry(self):
        self.get(f"/c/{SLUG}/journal/{INFO['entry_id']}/", "journal entry")

    @task(4)
    def review(self):
        self.get(f"/c/{SLUG}/close/{INFO['last_month']}/review/", "review")

    @task(2)
    def close_overview(self):
        self.get(f"/c/{SLUG}/close/", "close overview")

    @task(4)
    def report(self):
        self.get(f"/c/{SLUG}/month-end/reports/{random.choice(REPORTS)}/", "report")

    @task(4)
    def reconcile(self):
        self.get(f"/c/{SLUG}/reconcile/accounts/{INFO['bank_account_id']}/", "reconcile account")

    @task(2)
    def reconcile_journal(self):
        self.get(f"/c/{SLUG}/reconcile/journal/", "reconcile journal")

    @task(3)
    def documents(self):
        kind = random.choice(["invoices", "bills", "payments"])
        self.get(f"/c/{SLUG}/{kind}/", "document list")

    @task(3)
    def checklist(self):
        self.get(f"/c/{SLUG}/checklist/{INFO['checklist_period']}/", "checklist period")

    @task(2)
    def checklist_task(self):
        self.get(f"/c/{SLUG}/checklist/{INFO['checklist_period']}/tasks/{INFO['task_id']}/", "checklist task")

    @task(2)
    def my_tasks(self):
        self.get("/my-tasks/", "my tasks")

    @task(4)
    def api_date_check(self):
        """Another system asking whether a date is open (a billing run checks each invoice's date)."""
        day = random.choice([INFO["today"], INFO["last_month"] + "-15"])
        with self.client.get(
            f"/api/v1/companies/{SLUG}/books-closed/check?date={day}&operation=document_create",
            name="api date check",
            headers={"Authorization": f"Bearer {INFO['api_key']}"},
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
            elif "open" not in response.json():
                response.failure("no decision in the answer")

    @task(2)
    def post_invoice(self):
        form = self.client.get(f"/c/{SLUG}/invoices/new/", name="invoice form")
        token = CSRF.search(form.text).group(1)
        data = {
            "csrfmiddlewaretoken": token,
            "number": f"LOAD-{uuid.uuid4().hex[:12]}",
            "party": INFO["customer_id"],
            "doc_date": INFO["today"],  # the company's today: never in a closed period
            "due_date": "",
            "memo": "load test",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
            "lines-MIN_NUM_FORMS": "0",
            "lines-MAX_NUM_FORMS": "200",
            "lines-0-account": INFO["revenue_account_id"],
            "lines-0-description": "Consulting",
            "lines-0-amount": f"{random.randint(100, 99999)}.{random.randint(0, 99):02d}",
            "lines-0-tax": "0.00",
        }
        with self.client.post(
            f"/c/{SLUG}/invoices/new/", data, name="post invoice", allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 302:
                response.failure(f"not saved: HTTP {response.status_code}")


@events.quitting.add_listener
def write_figures(environment, **kwargs):
    pages = {}
    for (name, _method), entry in sorted(environment.stats.entries.items()):
        pages[name] = {
            "requests": entry.num_requests,
            "errors": entry.num_failures,
            "p50_ms": entry.get_response_time_percentile(0.50),
            "p95_ms": entry.get_response_time_percentile(0.95),
            "p99_ms": entry.get_response_time_percentile(0.99),
        }
    total = environment.stats.total
    result = {
        "users": environment.parsed_options.num_users if environment.parsed_options else None,
        "requests": total.num_requests,
        "errors": total.num_failures,
        "rps": round(total.total_rps, 1),
        "p50_ms": total.get_response_time_percentile(0.50),
        "p95_ms": total.get_response_time_percentile(0.95),
        "p99_ms": total.get_response_time_percentile(0.99),
        "pages": pages,
    }
    with open(os.environ["LOAD_RESULT"], "w") as out:
        json.dump(result, out)
