"""Polls on both databases: votes by #1/#2 (or buttons), one per person across linked
identities, live counts on the board, /poll end, a new poll closing the old one."""

import asyncio
from datetime import timedelta
from itertools import count

from sqlalchemy.ext.asyncio import AsyncEngine

from bots.rendering import LOCALES, Renderer
from commerce.adapters.cards import SqlCards
from commerce.domain import commands as c
from commerce.service_layer import chat
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import PollClosed, PollUpdated, PollView
from tests.fakes import FakeClock, FakeNotifier

SELLER = "telegram:99"
TG = "telegram:-100"
_n = count(1)


async def say(bus: MessageBus, text: str, who: str, chat_id: str = TG) -> chat.ChatOutcome:
    message = c.ChatMessage(f"{chat_id}:{next(_n)}", chat_id, who, text, who.split(":")[1])
    outcome: chat.ChatOutcome = await bus.handle(message)
    return outcome


def counts(poll: PollView) -> list[int]:
    return [o.votes for o in poll.options]


async def test_a_poll_from_the_chat(
    bus: MessageBus, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> None:
    bus.deps.sellers = frozenset({SELLER})
    cards = SqlCards(engine)
    code = await cards.issue_code("telegram:1", clock.now(), timedelta(minutes=10))
    await cards.redeem_code("discord:1", code, clock.now())

    refused = await say(bus, '/poll "Cards or sneakers next?" cards sneakers', "telegram:1")
    assert isinstance(refused, chat.Failed) and refused.not_allowed
    assert await say(bus, "#1", "telegram:1") == chat.Ignored()  # no poll: ordinary chat
    opened = await say(bus, '/poll "Cards or sneakers next?" cards sneakers', SELLER)
    assert isinstance(opened, chat.PollOpened)
    poll = opened.poll
    assert poll.question == "Cards or sneakers next?" and poll.channels == (TG,)
    assert [o.label for o in poll.options] == ["cards", "sneakers"] and counts(poll) == [0, 0]
    reply = Renderer().outcome(opened, "@s")
    assert reply.public == (
        "📊 Cards or sneakers next?\n#1 cards: 0\n#2 sneakers: 0\nVote with #1 to #2"
    )
    assert reply.actions == (
        ("1 · cards", f"vote:{poll.id}:1"),
        ("2 · sneakers", f"vote:{poll.id}:2"),
    )

    first = await say(bus, "cards for sure #1", "telegram:1")
    assert isinstance(first, chat.Voted) and (first.option, first.already) == (1, False)
    assert Renderer().outcome(first, "@anna").private == "Your vote for cards counts."
    await say(bus, "#2!", "telegram:2")
    await say(bus, "#2", "telegram:3")
    again = await say(bus, "#2", "telegram:1")  # anna changes her mind: the first vote stays
    assert isinstance(again, chat.Voted) and (again.option, again.already) == (1, True)
    assert Renderer().outcome(again, "@anna").private == "You voted already (cards)."
    linked = await bus.handle(c.CastVote(TG, "discord:1", 2, poll.id))  # her button, linked
    assert linked is not None and linked.already and linked.option == 1
    assert await say(bus, "#5", "telegram:4") == chat.Ignored()  # no option 5
    assert await say(bus, "#1", "telegram:5", "telegram:-999") == chat.Ignored()  # other chat
    assert [counts(n.poll) for n in notifier.of(PollUpdated)] == [  # type: ignore[attr-defined]
        [0, 0],
        [1, 0],
        [1, 1],
        [1, 2],
    ]

    ended = await say(bus, "/poll end", SELLER)
    assert isinstance(ended, chat.PollEnded) and counts(ended.poll) == [1, 2]
    assert ended.poll.status == "closed" and ended.poll.closed_at == clock.now()
    assert Renderer().outcome(ended, "@s").public == (
        "📊 Poll closed: Cards or sneakers next?\n#1 cards: 1\n#2 sneakers: 2"
    )
    assert [n.poll.id for n in notifier.of(PollClosed)] == [poll.id]  # type: ignore[attr-defined]
    assert await say(bus, "#1", "telegram:6") == chat.Ignored()
    nothing = await say(bus, "/poll end", SELLER)
    assert nothing == chat.NothingLive("poll")
    for locale in LOCALES:
        assert Renderer(locale).outcome(nothing, "@s").public


async def test_a_new_poll_closes_the_old_one_in_its_chats(
    bus: MessageBus, notifier: FakeNotifier
) -> None:
    old = await bus.handle(c.StartPoll("Best set?", ("a", "b", "c"), (TG, "discord:1")))
    elsewhere = await bus.handle(c.StartPoll("Other?", ("x", "y"), ("web:demo",)))
    await bus.handle(c.CastVote(TG, "telegram:1", 3))
    new = await bus.handle(c.StartPoll("Next?", ("cards", "sneakers"), (TG,), show_id=None))
    [closed] = notifier.of(PollClosed)
    assert isinstance(closed, PollClosed)
    assert closed.poll.id == old.id and counts(closed.poll) == [0, 0, 1]
    vote = await bus.handle(c.CastVote(TG, "telegram:1", 2))
    assert vote is not None and vote.poll.id == new.id and not vote.already
    still = await bus.handle(c.CastVote("web:demo", "web:anna", 1))
    assert still is not None and still.poll.id == elsewhere.id
    ended = await bus.handle(c.EndPoll(poll_id=elsewhere.id))
    assert ended.status == "closed" and counts(ended) == [1, 0]


async def test_a_poll_needs_two_to_six_options(bus: MessageBus) -> None:
    bus.deps.sellers = frozenset({SELLER})
    one = await say(bus, '/poll "Cards?" cards', SELLER)
    assert isinstance(one, chat.Misunderstood)
    assert Renderer().outcome(one, "@s").public == (
        'Try /poll "Cards or sneakers next?" cards sneakers (2 to 6 options)'
    )
    same = await say(bus, '/poll "Cards?" cards Cards', SELLER)
    assert isinstance(same, chat.Failed) and same.reason == "the options must differ"


async def test_votes_at_the_same_moment_each_count_all_before_them(
    bus: MessageBus, notifier: FakeNotifier
) -> None:
    """Five viewers press at once: every board update counts the votes before it, so the
    last one shows all five (each vote counted in its own snapshot, two boards said 1)."""
    await bus.handle(c.StartPoll("Next?", ("cards", "pins"), (TG,)))
    voted = await asyncio.gather(
        *(bus.handle(c.CastVote(TG, f"telegram:{n}", 2)) for n in range(1, 6))
    )
    assert sorted(v.poll.votes for v in voted) == [1, 2, 3, 4, 5]
    boards = [n.poll for n in notifier.of(PollUpdated) if isinstance(n, PollUpdated)]
    assert max(counts(b)[1] for b in boards) == 5
