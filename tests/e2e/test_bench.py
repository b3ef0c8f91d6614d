"""`livebuy bench flash-drop` in a small, correctness-only size (no timing assertions)."""

import json

import pytest
from typer.testing import CliRunner

from bench import chat as chat_bench
from tests.conftest import PG_HOST, PG_PROBLEM
from webhooks.cli import app


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_flash_drop_bench_is_correct(db: str) -> None:
    if db == "postgres" and PG_PROBLEM:
        pytest.skip(f"PostgreSQL unreachable: {PG_PROBLEM}")
    args = [
        "bench",
        "flash-drop",
        "--claims",
        "300",
        "--units",
        "20",
        "--buyers",
        "150",
        "--repeats",
        "0.05",
        "--db",
        db,
        "--pg-url",
        f"{PG_HOST}/test",
        "--json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    product = figures["product"]
    assert (product["won"], product["correct"], product["problems"]) == (20, True, [])
    assert product["repeats"] > 0
    assert product["won"] + product["waitlisted"] + product["refused"] + product["repeats"] == 300
    assert figures["raw_claims_per_second"] > 0 and figures["ratio"] > 0
    # The raw baseline did the same work: the same answers, and, read back from its own
    # database, the same claim rows (key, outcome, reason, waitlist place, buyer), the same
    # drop state and as many orders, history rows, buyer counts and customers.
    raw = figures["raw"]
    assert {k: raw[k] for k in ("won", "waitlisted", "refused", "repeats")} == {
        k: product[k] for k in ("won", "waitlisted", "refused", "repeats")
    }
    assert figures["same_decisions"] is True
    assert figures["rows"] == figures["raw_rows"]
    assert figures["rows"]["claim"] == 300 - product["repeats"]
    assert figures["rows"]["orders"] == figures["rows"]["order_event"] == 20


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_raw_baseline_decides_as_the_product_when_buyers_are_fewer_than_units(db: str) -> None:
    """Every buyer wins once and then hits the limit, on both sides alike."""
    if db == "postgres" and PG_PROBLEM:
        pytest.skip(f"PostgreSQL unreachable: {PG_PROBLEM}")
    args = ["bench", "flash-drop", "--claims", "200", "--units", "200", "--buyers", "40"]
    args += ["--within", "0", "--db", db, "--pg-url", f"{PG_HOST}/test", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert (figures["product"]["won"], figures["product"]["refused"]) == (40, 160)
    assert figures["same_decisions"] is True
    assert figures["rows"] == figures["raw_rows"]


def test_flash_drop_report_reads_well() -> None:
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "flash-drop",
            "--claims",
            "50",
            "--units",
            "5",
            "--buyers",
            "40",
            "--within",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "flash drop on sqlite: 50 claims from 40 buyers for 5 units, arriving within 0.0s"
    )
    assert lines[1].lstrip().startswith("livebuy") and "p99" in lines[1]
    assert lines[2].lstrip().startswith("raw limit")
    assert lines[4].endswith("correct, same decisions as the raw baseline")


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_webhook_bench_pays_every_order_once(db: str) -> None:
    if db == "postgres" and PG_PROBLEM:
        pytest.skip(f"PostgreSQL unreachable: {PG_PROBLEM}")
    args = [
        "bench",
        "webhook",
        "--events",
        "40",
        "--duplicates",
        "0.5",
        "--db",
        db,
        "--pg-url",
        f"{PG_HOST}/test",
        "--json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert (figures["events"], figures["duplicates"], figures["paid"]) == (40, 20, 40)
    assert figures["correct"] is True
    assert figures["product"]["statuses"] == {"200": 60}
    assert figures["raw"]["events_per_second"] > 0
    assert figures["raw"]["statuses"] == {"200": 60}
    # The raw handler did the same work: each event stored once, each order paid once with
    # its history row, in a database of its own.
    paid = {"paid_orders": 40, "payment_events": 40, "paid_history": 40}
    assert figures["rows"] == figures["raw_rows"] == paid


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_chat_bench_answers_every_claim_privately_and_opens_each_checkout(db: str) -> None:
    if db == "postgres" and PG_PROBLEM:
        pytest.skip(f"PostgreSQL unreachable: {PG_PROBLEM}")
    args = ["bench", "chat", "--claims", "30", "--buyers", "10", "--within", "0.2"]
    args += ["--db", db, "--pg-url", f"{PG_HOST}/test", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    # Every message was taken (200) and answered on its buyer's own stream; every winner's
    # pay link made one Checkout Session on the emulator in its own process (one call each).
    assert figures["correct"] is True
    assert (figures["answered"], figures["message_statuses"]) == (30, {"200": 30})
    assert figures["checkouts"]["statuses"] == {"303": 30}
    assert figures["stripe_calls"] == {"POST /v1/checkout/sessions": 30}
    assert figures["claims_per_second"] > 0 and figures["p99_ms"] >= figures["p50_ms"] > 0
    # What a claim cost the server (all its threads) and the buyers, in CPU.
    assert figures["server_cpu_ms_per_claim"] > 0 and figures["buyers_cpu_ms_per_claim"] > 0
    # The raw baseline (bench/raw_chat.py) did the same work for the same buyers: every
    # message taken and answered privately, a claim and an order each, every pay link opened
    # and each its one Checkout Session on the same emulator (counted since the run before),
    # in each of its two runs.
    raw = figures["raw"]
    assert raw["correct"] is True
    assert raw["claims_per_second"] == max(raw["runs_claims_per_second"])  # the faster of 2
    assert len(raw["runs_claims_per_second"]) == 2
    assert (raw["answered"], raw["message_statuses"]) == (30, {"200": 30})
    assert raw["checkouts"]["statuses"] == {"303": 30}
    assert raw["stripe_calls"] == {"POST /v1/checkout/sessions": 30}
    assert figures["rows"] == raw["rows"] == {"claims": 30, "orders": 30, "sessions": 30}
    assert raw["p99_ms"] >= raw["p50_ms"] > 0
    assert figures["ratio"] == figures["claims_per_second"] / figures["raw_claims_per_second"]
    lines = chat_bench.report(figures).splitlines()
    assert lines[2].lstrip().startswith("raw") and "p99" in lines[2]
    assert lines[3].lstrip().startswith("ratio") and lines[3].endswith("correct")
    assert lines[-1].endswith("30 private answers, 30 checkouts: correct")


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_console_chat_bench_answers_every_claim_once_through_the_outbox(db: str) -> None:
    if db == "postgres" and PG_PROBLEM:
        pytest.skip(f"PostgreSQL unreachable: {PG_PROBLEM}")
    args = ["bench", "chat", "--via", "console", "--claims", "30", "--buyers", "10"]
    args += ["--within", "0.2", "--db", db, "--pg-url", f"{PG_HOST}/test", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    # Every message was a claim, its private answer put into the outbox and delivered by the
    # courier exactly once (30 heard, 30 rows sent, none left); every winner's pay link made
    # its Checkout Session on the emulator in its own process (one call each).
    assert (figures["via"], figures["correct"]) == ("console", True)
    assert (figures["answered"], figures["message_statuses"]) == (30, {"Claimed": 30})
    assert figures["outbox"] == {"sent": 30, "pending": 0}
    assert figures["checkouts"]["statuses"] == {"pay": 30}
    assert figures["stripe_calls"] == {"POST /v1/checkout/sessions": 30}
    assert figures["claims_per_second"] > 0 and figures["p99_ms"] >= figures["p50_ms"] > 0
    assert figures["put_seconds"] <= figures["seconds"]


def test_console_chat_bench_report_reads_well() -> None:
    args = ["bench", "chat", "--via", "console", "--claims", "5", "--buyers", "5"]
    result = CliRunner().invoke(app, [*args, "--within", "0"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "chat on sqlite: 5 claims typed by 5 buyers on the console, answered through the"
        " outbox, arriving within 0.0s"
    )
    assert "p99" in lines[1] and "one process" in lines[2]
    assert lines[5].endswith("5 private answers, 5 checkouts: correct")


def test_local_memory_bench_reads_the_servers_memory() -> None:
    args = ["bench", "local-memory", "--first", "10", "--total", "20", "--buyers", "5"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    rss = figures["rss_mib"]
    assert rss["started"] > 10 and rss["10"] > 10 and rss["20"] > 10
