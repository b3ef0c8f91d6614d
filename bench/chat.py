"""`livebuy bench chat`: claims typed as chat text into the web chat over HTTP, as buyers'
browsers post them, each answered privately on the buyer's live stream (server-sent
events) with a pay link; every winner then opens the link, which makes the order's Checkout
Session on a Stripe emulator running in a process of its own.

Reported: claims/s (from the first message to the last private answer), the time from a
message to its private answer (p50/p99), the checkouts/s of the pay links and the calls the
shop made to Stripe for the drop. Every buyer may claim without limit and the drop has a
unit per claim, so that every claim earns a private answer (in the web chat, a waitlist place
or a refusal is answered in the room).

The raw baseline (bench/raw_chat.py, a bare aiohttp server doing the same work per message)
then takes the same claims from the same buyers' code, twice, in a server process of its own on
a fresh database of its own each time, its pay links opened on the same emulator: the ratio of
the product's claims/s to the faster raw run's is the figure to watch. The run is correct only
if every run answered every claim privately, wrote a claim and an order for each and made each
winner's Checkout Session.

`local_memory` runs `livebuy serve` in local mode (the emulator inside the server) and reads
the server's resident memory after some claims and after many more.
"""

import asyncio
import contextlib
import os
import re
import sqlite3
import statistics
import sys
import time
import urllib.parse
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import ClientSession, ClientTimeout, DummyCookieJar, TCPConnector

from bench.flash_drop import scratch_database
from bench.webhook import _free_port
from commerce.adapters.db import create_engine
from commerce.bootstrap import bootstrap
from commerce.config import Settings
from commerce.domain import commands as c
from commerce.domain.drops import DropPolicy, DropTerms
from commerce.domain.money import Money
from commerce.domain.products import ProductSpec

ROOM = "bench"  # where the claims are typed
ANSWERS = "bench-answers"  # the buyers' streams listen here: private answers, no room chatter
KEY = "sk_test_bench_chat_" + "k" * 16
SECRET = "whsec_bench_chat"  # noqa: S105 (a benchmark's own test secret)
PAY_LINK = re.compile(r"https?://\S+/pay/[A-Za-z0-9]+(?:\?t=[A-Za-z0-9_-]+)?")
COOKIE = "livebuy_viewer"
CHUNK = 500  # claims in flight at once while local mode's memory is measured
# Connections the buyers' messages go over, kept alive as a browser keeps its own: one per
# buyer at most (a new connection per message would measure TCP handshakes, on both sides).
POST_CONNECTIONS = 200
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

# Starts the Stripe emulator in a process of its own: (port, webhook url) -> its command
# line (handed in by the CLI: the bench does not import the web side).
EmulatorCommand = Callable[[int, str], list[str]]
# `livebuy run` on a port (the database comes from DATABASE_URL): its command line.
ServeCommand = Callable[[int], list[str]]


class Answers:
    """The buyers' private answers, each matched with its buyer's oldest unanswered message;
    how the messages are typed, the answers heard and the pay links opened is the chat's."""

    # What opening a pay link gives when the Checkout Session was made.
    OPENED: int | str = 303

    def __init__(self, count: int) -> None:
        self.ids = [f"benchbuyer{i:06d}" for i in range(count)]
        self.waiting: dict[str, deque[float]] = {v: deque() for v in self.ids}
        self.latencies: list[float] = []
        self.links: list[str] = []
        self.answered = 0
        self.last_answer = 0.0
        self.said = 0.0  # seconds from the first message until every one was taken
        self.statuses: dict[int | str, int] = {}  # how each message was taken
        self._expected = 0
        self._all_answered = asyncio.Event()

    def asked(self, viewer: str) -> None:
        """A message of the buyer's arrives now."""
        self.waiting[viewer].append(time.perf_counter())

    def heard(self, viewer: str, text: str) -> None:
        """The buyer got a private answer now."""
        now = time.perf_counter()
        sent = self.waiting[viewer]
        if sent:
            self.latencies.append(now - sent.popleft())
        self.answered += 1
        self.last_answer = now
        if self.answered >= self._expected:
            self._all_answered.set()
        self.links.extend(PAY_LINK.findall(text))

    async def say(self, viewer: str, text: str) -> None:
        raise NotImplementedError

    async def open(self, link: str) -> int | str:
        """Opens a pay link; returns what it gave (see OPENED)."""
        raise NotImplementedError

    async def claim_all(self, claims: int, within: float, text: str = "#buy") -> float:
        """`claims` messages evenly over `within` seconds, buyer after buyer; returns the
        seconds from the first message to the last private answer."""
        self._expected = self.answered + claims
        self._all_answered.clear()
        started = time.perf_counter()

        async def one(i: int) -> None:
            wait = started + within * i / claims - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            await self.say(self.ids[i % len(self.ids)], text)

        await asyncio.gather(*(one(i) for i in range(claims)))
        self.said = time.perf_counter() - started
        with contextlib.suppress(TimeoutError):  # the missing answers are reported
            async with asyncio.timeout(60):
                await self._all_answered.wait()
        return (self.last_answer or time.perf_counter()) - started

    async def open_links(self, concurrency: int = 20) -> dict[str, Any]:
        """Every pay link opened once, as a winner does: the shop makes the Checkout Session
        (on the Stripe emulator in its own process)."""
        queue = list(self.links)
        statuses: dict[int | str, int] = {}
        latencies: list[float] = []

        async def opener() -> None:
            while queue:
                link = queue.pop()
                began = time.perf_counter()
                status = await self.open(link)
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(time.perf_counter() - began)

        started = time.perf_counter()
        await asyncio.gather(*(opener() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        return {
            "opened": len(latencies),
            "checkouts_per_second": len(latencies) / elapsed if elapsed else 0.0,
            "p50_ms": _ms(latencies, 50),
            "p99_ms": _ms(latencies, 99),
            "statuses": statuses,
        }


class Buyers(Answers):
    """Buyers with a browser each: a live stream of their private answers, and messages
    typed into the room."""

    def __init__(self, base: str, count: int) -> None:
        super().__init__(count)
        self.base = base
        self.cookies: dict[str, str] = {}  # buyer -> the cookie the server issued
        self._streams: list[asyncio.Task[None]] = []
        self._ready = 0
        self._all_listening = asyncio.Event()

    @asynccontextmanager
    async def connected(self) -> AsyncIterator["Buyers"]:
        connector = TCPConnector(limit=0)
        jar = DummyCookieJar()  # each buyer's own cookie goes with each request
        timeout = ClientTimeout(total=None)
        posting = TCPConnector(limit=min(POST_CONNECTIONS, len(self.ids)))
        async with (
            ClientSession(connector=connector, timeout=timeout, cookie_jar=jar) as http,
            ClientSession(connector=posting, timeout=timeout, cookie_jar=DummyCookieJar()) as p,
        ):
            self.http, self.posts = http, p
            self._streams = [asyncio.create_task(self._listen(v)) for v in self.ids]
            async with asyncio.timeout(60):
                await self._all_listening.wait()
            try:
                yield self
            finally:
                for task in self._streams:
                    task.cancel()
                await asyncio.gather(*self._streams, return_exceptions=True)

    async def _listen(self, viewer: str) -> None:
        # The server issues each browser its identity: the page first, for the cookie.
        async with self.http.get(f"{self.base}/chat/{ANSWERS}") as page:
            page.raise_for_status()
            self.cookies[viewer] = page.cookies[COOKIE].value
        url = f"{self.base}/chat/{ANSWERS}/events"
        async with self.http.get(url, cookies={COOKIE: self.cookies[viewer]}) as stream:
            self._ready += 1
            if self._ready == len(self.ids):
                self._all_listening.set()
            async for line in stream.content:
                if line.startswith(b"data: ") and b'"private"' in line:
                    self.heard(viewer, line.decode())

    async def say(self, viewer: str, text: str) -> None:
        """The form a browser posts, with its cookie (encoded as it would send them: the
        load generator's own cost is kept small, it shares the machine with the server)."""
        self.asked(viewer)
        body = urllib.parse.urlencode({"name": viewer[-8:], "text": text}).encode()
        headers = {**FORM, "Cookie": f"{COOKIE}={self.cookies[viewer]}"}
        url = f"{self.base}/chat/{ROOM}/messages"
        async with self.posts.post(url, data=body, headers=headers) as r:
            await r.read()
            self.statuses[r.status] = self.statuses.get(r.status, 0) + 1

    async def open(self, link: str) -> int:
        """As a browser does: the shop makes the Checkout Session and sends it on (303)."""
        async with self.http.get(link, allow_redirects=False) as r:
            await r.read()
            return r.status


def _ms(values: list[float], percentile: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1 or percentile == 50:
        return statistics.median(values) * 1000
    return statistics.quantiles(values, n=100)[percentile - 1] * 1000


async def seed(url: str, units: int, chat: str = f"web:{ROOM}") -> None:
    """A product and its live drop in the bench room: one unit per claim, no limit."""
    engine = create_engine(url)
    bus = bootstrap(Settings(_env_file=None, database_url=url, livebuy_web_claims="hold"), engine)
    try:
        spec = ProductSpec("CHAT", "Chat tee", Money(1500, "eur"), "", ())
        await bus.handle(c.AddProduct(spec, units))
        terms = DropTerms(
            "CHAT", units, Money(1500, "eur"), None, None, DropPolicy.HOLD, timedelta(hours=1)
        )
        await bus.handle(c.StartDrop(terms, (chat,)))
    finally:
        await bus.deps.store.close()
        await engine.dispose()


@asynccontextmanager
async def emulator_process(command: EmulatorCommand, webhook_url: str) -> AsyncIterator[str]:
    """The Stripe emulator in a process of its own; yields its API base."""
    port = _free_port()
    env = {**os.environ, "STRIPE_SECRET_KEY": KEY, "STRIPE_WEBHOOK_SECRET": SECRET}
    process = await asyncio.create_subprocess_exec(*command(port, webhook_url), env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_until_up(f"{base}/calls", process)
        yield base
    finally:
        await _stop(process)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        await process.wait()


async def _wait_until_up(url: str, process: asyncio.subprocess.Process) -> None:
    async with ClientSession() as http:
        for _ in range(300):
            if process.returncode is not None:
                raise OSError(f"{url} exited with code {process.returncode}")
            try:
                async with http.get(url) as r:
                    if r.status < 500:
                        return
            except OSError:
                pass
            await asyncio.sleep(0.1)
    raise OSError(f"{url} did not start")


@asynccontextmanager
async def server_process(
    serve: ServeCommand, url: str, port: str = "", **env: str
) -> AsyncIterator[tuple[str, int]]:
    """`livebuy run` in a process of its own on the database at `url` (the load the buyers
    make is this process's, not the server's); yields its base URL and process id."""
    port = port or str(_free_port())
    base = f"http://127.0.0.1:{port}"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    # A bench buyer stands for many people typing at once, all from this machine.
    # Its claims hold, as the product's claims on every platform do by default.
    environment.update(LIVEBUY_RATE_PER_BUYER="off", LIVEBUY_RATE_PER_IP="off")
    environment.update(LIVEBUY_WEB_CLAIMS="hold")
    environment.update(DATABASE_URL=url, PUBLIC_BASE_URL=base, **env)
    process = await asyncio.create_subprocess_exec(
        *serve(int(port)),
        env=environment,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await _wait_until_up(f"{base}/healthz", process)
        yield base, process.pid
    finally:
        await _stop(process)


def raw_command(port: int) -> list[str]:
    """The raw baseline's server (bench/raw_chat.py) in a process of its own."""
    return [sys.executable, "-m", "bench.raw_chat", "--port", str(port)]


async def chat(
    serve: ServeCommand,
    emulator: EmulatorCommand,
    claims: int,
    buyers: int,
    within: float,
    db: str,
    admin_url: str,
) -> dict[str, Any]:
    """The product's web chat, then the raw baseline (bench/raw_chat.py) twice, each on a
    fresh database of its own; each a server process of its own, the same buyers' code and
    the same emulator. The faster raw run is the yardstick (as in flash-drop: the machine's
    load changes by the second, and the product is not to gain from a slow baseline)."""
    async with (
        scratch_database(db, admin_url) as url,
        scratch_database(db, admin_url) as raw_url,
        scratch_database(db, admin_url) as raw_again_url,
    ):
        for each in (url, raw_url, raw_again_url):
            await seed(each, claims)
        # The server's port is picked before the emulator starts, as the emulator posts the
        # webhooks there; `server_process` then takes the next free one: it is passed on.
        port = _free_port()
        hooks = f"http://127.0.0.1:{port}/webhooks/stripe"
        async with emulator_process(emulator, hooks) as stripe_base:
            stripe = {
                "STRIPE_SECRET_KEY": KEY,
                "STRIPE_WEBHOOK_SECRET": SECRET,
                "STRIPE_API_BASE": f"{stripe_base}/stripe-emulator",
            }
            async with server_process(serve, url, port=str(port), **stripe) as (base, pid):
                product = await _buyers_claim(base, pid, claims, buyers, within)
            calls = await _stripe_calls(stripe_base)
            product["correct"] = _correct(product, await _rows(url), calls, claims)
            raws = []
            for each in (raw_url, raw_again_url):
                before = await _stripe_calls(stripe_base)
                async with server_process(raw_command, each, **stripe) as (base, pid):
                    run = await _buyers_claim(base, pid, claims, buyers, within)
                # The emulator counts from its start: the calls since the run before.
                run["stripe_calls"] = _minus(await _stripe_calls(stripe_base), before)
                run["rows"] = await _rows(each)
                run["correct"] = _correct(run, run["rows"], run["stripe_calls"], claims)
                raws.append(run)
        rows = await _rows(url)
    raw = max(raws, key=lambda run: float(run["claims_per_second"]))
    raw = {
        **raw,
        "runs_claims_per_second": [run["claims_per_second"] for run in raws],
        "correct": all(run["correct"] for run in raws),
    }
    return {
        "benchmark": "chat",
        "via": "web",
        "db": db,
        "claims": claims,
        "buyers": buyers,
        "arrival_seconds": within,
        **product,
        "load_average": os.getloadavg()[0],
        "stripe_calls": calls,
        "stripe_calls_per_drop": sum(calls.values()),
        "rows": rows,
        "raw": raw,
        "raw_claims_per_second": raw["claims_per_second"],
        "ratio": product["claims_per_second"] / raw["claims_per_second"],
        "correct": product["correct"] and raw["correct"] and rows == raw["rows"],
    }


async def _buyers_claim(
    base: str, pid: int, claims: int, buyers: int, within: float
) -> dict[str, Any]:
    """The buyers' claims against the server at `base` (process `pid`), then their pay links."""
    async with Buyers(base, buyers).connected() as crowd:
        server_cpu, bench_cpu = cpu_seconds(pid), time.process_time()
        seconds = await crowd.claim_all(claims, within)
        server_cpu = cpu_seconds(pid) - server_cpu
        bench_cpu = time.process_time() - bench_cpu
        checkouts = await crowd.open_links()
    return {
        "claims_per_second": claims / seconds,
        "seconds": seconds,
        "p50_ms": _ms(crowd.latencies, 50),
        "p99_ms": _ms(crowd.latencies, 99),
        "answered": crowd.answered,
        # CPU spent while the claims were typed and answered, per claim: the server's (all
        # its threads) and the buyers' (this process: HTTP clients and their streams).
        "server_cpu_ms_per_claim": server_cpu / claims * 1000,
        "buyers_cpu_ms_per_claim": bench_cpu / claims * 1000,
        "message_statuses": crowd.statuses,
        "checkouts": checkouts,
        "opened_status": crowd.OPENED,
    }


async def _stripe_calls(stripe_base: str) -> dict[str, int]:
    async with ClientSession() as http, http.get(f"{stripe_base}/calls") as r:
        calls: dict[str, int] = await r.json()
    return calls


def _minus(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    """The emulator's calls made since `before` (it counts from its start)."""
    return {k: n - before.get(k, 0) for k, n in after.items() if n - before.get(k, 0)}


# What a run left in its database: a claim row and an order per claim, each with its
# Checkout Session once its pay link was opened.
ROWS = {
    "claims": "SELECT COUNT(*) FROM claim",
    "orders": "SELECT COUNT(*) FROM orders",
    "sessions": "SELECT COUNT(*) FROM orders WHERE checkout_session IS NOT NULL",
}


async def _rows(url: str) -> dict[str, int]:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return {k: db.execute(q).fetchone()[0] for k, q in ROWS.items()}
    conn = await asyncpg.connect(url)
    try:
        return {k: await conn.fetchval(q) for k, q in ROWS.items()}
    finally:
        await conn.close()


def _correct(run: dict[str, Any], rows: dict[str, int], calls: dict[str, int], n: int) -> bool:
    """Every message taken and answered privately, a claim and an order for each, every pay
    link opened and each its one Checkout Session on the emulator."""
    answered_all = run["answered"] == n and run["message_statuses"] == {200: n}
    opened_all = run["checkouts"]["statuses"] == {run.pop("opened_status"): n}
    made = rows == {"claims": n, "orders": n, "sessions": n}
    return answered_all and opened_all and made and calls == {"POST /v1/checkout/sessions": n}


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise OSError("no VmRSS")


async def local_memory(serve: ServeCommand, first: int, total: int, buyers: int) -> dict[str, Any]:
    """`livebuy serve` in local mode on a fresh SQLite database: its resident memory after
    `first` claims (each with its Checkout Session on the built-in emulator) and after
    `total`."""
    async with scratch_database("sqlite", "") as url:
        await seed(url, total)
        async with server_process(serve, url) as (base, pid):
            rss: dict[str, float] = {"started": _rss_mib(pid)}
            statuses: dict[int | str, int] = {}  # the pay links' answers (303: on to Stripe)
            done = 0
            async with Buyers(base, buyers).connected() as crowd:
                for upto in (first, total):
                    started = time.perf_counter()
                    # In rounds of at most CHUNK claims at once, so that both readings see
                    # the same number in flight: memory that a bigger burst needed for a
                    # moment stays with the process, but it is not kept per claim.
                    while done < upto:
                        now = min(CHUNK, upto - done)
                        await crowd.claim_all(now, 0.0)
                        opened = await crowd.open_links()
                        crowd.links.clear()
                        done += now
                        for status, n in opened["statuses"].items():
                            statuses[status] = statuses.get(status, 0) + n
                    rss[str(upto)] = _rss_mib(pid)
                    rss[f"{upto}_seconds"] = time.perf_counter() - started
    return {
        "benchmark": "local-memory",
        "claims": [first, total],
        "rss_mib": rss,
        "growth": rss[str(total)] / rss[str(first)] - 1,
        "answered": crowd.answered,  # private answers heard (one per claim when all went well)
        "checkout_statuses": statuses,
    }


def report(f: dict[str, Any]) -> str:
    k = f["checkouts"]
    raw: list[str] = []
    if f["via"] == "web":
        cpu = (
            f"server {f['server_cpu_ms_per_claim']:.2f} ms a claim, buyers"
            f" {f['buyers_cpu_ms_per_claim']:.2f} ms"
        )
        typed = "in the web chat"
        r = f["raw"]
        raw = [
            f"  raw       {r['claims_per_second']:>8,.0f} claims/s   message -> private answer"
            f" p50 {r['p50_ms']:.1f} ms   p99 {r['p99_ms']:.1f} ms   (bare aiohttp server, the"
            " same work per message; the faster of "
            + " and ".join(f"{run:,.0f}" for run in r["runs_claims_per_second"])
            + ")",
            f"  ratio     {f['ratio']:.3f}   raw server {r['server_cpu_ms_per_claim']:.2f} ms a"
            f" claim, {r['checkouts']['checkouts_per_second']:,.0f} pay links/s, "
            + ("correct" if r["correct"] else "WRONG"),
        ]
    else:
        cpu = f"{f['cpu_ms_per_claim']:.2f} ms a claim (one process)"
        typed = "on the console, answered through the outbox"
    return "\n".join(
        [
            f"chat on {f['db']}: {f['claims']} claims typed by {f['buyers']} buyers {typed},"
            f" arriving within {f['arrival_seconds']}s",
            f"  claims    {f['claims_per_second']:>8,.0f} claims/s   message -> private answer"
            f" p50 {f['p50_ms']:.1f} ms   p99 {f['p99_ms']:.1f} ms",
            *raw,
            f"  cpu       {cpu} (load average {f['load_average']:.1f})",
            f"  checkouts {k['checkouts_per_second']:>8,.0f} pay links/s   p50"
            f" {k['p50_ms']:.1f} ms   p99 {k['p99_ms']:.1f} ms",
            f"  stripe    {f['stripe_calls_per_drop']} calls for the drop: "
            + ", ".join(f"{n} {route}" for route, n in sorted(f["stripe_calls"].items())),
            f"  result    {f['answered']} private answers, {k['opened']} checkouts: "
            + ("correct" if f["correct"] else "WRONG"),
        ]
    )
