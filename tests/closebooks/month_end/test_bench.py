"""bench_month_end at a tiny size: its generated books tie out (all six checks pass) and its last
line is one JSON object with the timings (no timing is asserted)."""

import json

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_bench_month_end_prints_json_with_six_passing_checks(capsys):
    call_command("bench_month_end", "--invoices", "300", "--payments", "900")
    last = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(last)
    assert result["checks_passed"] == 6
    assert result["invoices"] == 300 and result["payments"] == 900
    assert {"six_checks_seconds", "ar_aging_seconds"} <= result.keys()
