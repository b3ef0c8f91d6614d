"""The message bus: hands each command to its handler, in one unit of work."""

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from commerce.domain import commands as c
from commerce.service_layer import (
    auctions,
    chat,
    checkout,
    fulfilment,
    handlers,
    invoices,
    one_message,
    payment_events,
    payments,
    reading,
    settlement,
    shipping,
    shows,
    sign_in,
    web_viewers,
)
from commerce.service_layer import giveaways as engage
from commerce.service_layer.bid_turns import ARRIVED, BidTurns
from commerce.service_layer.deps import Deps
from commerce.service_layer.events import Event, HoldReleased
from commerce.service_layer.group_commit import GroupCommit
from commerce.service_layer.ports import Clock
from commerce.service_layer.queries import Reads
from commerce.service_layer.unit_of_work import current

Handler = Callable[[Any, Deps], Awaitable[Any]]

HANDLERS: dict[type, Handler] = {
    c.AddProduct: handlers.add_product,
    c.UpdateProduct: handlers.update_product,
    c.SetStock: handlers.set_stock,
    c.StartDrop: handlers.start_drop,
    c.EndDrop: handlers.end_drop,
    c.Claim: handlers.claim,
    c.KeepRoomLines: handlers.keep_room_lines,
    c.ChatMessage: chat.handle_chat_message,
    c.ShowOpenOrders: chat.show_open_orders,
    c.PassHold: handlers.pass_hold,
    c.CancelOrder: handlers.cancel_order,
    c.SettlePayment: settlement.settle_payment,
    c.ApplyPaymentEvent: payments.apply_payment_event,
    c.StorePaymentEvent: payment_events.store_event,
    c.KeepMalformedEvent: payment_events.keep_malformed,
    c.MarkPaymentEvent: payment_events.mark_event,
    c.ProcessPaymentEvent: payment_events.process_event,
    c.ClaimPaymentEvent: payment_events.claim_event,
    c.ReceivePaymentEvent: payment_events.receive_payment_event,
    c.IdentifyPayer: payment_events.identify_payer,
    c.PaymentEventFailed: payment_events.payment_event_failed,
    c.RefundOrder: payments.refund_order,
    c.Reconcile: payments.reconcile,
    c.CheckPayment: payments.check_payment,
    c.ExpireHolds: handlers.expire_holds,
    c.StartAuction: auctions.start_auction,
    c.PlaceBid: auctions.place_bid,
    c.EndAuction: auctions.end_auction,
    c.CloseDueAuctions: auctions.close_due_auctions,
    c.ListOrders: handlers.list_orders,
    c.AddSeller: handlers.add_seller,
    c.CheckInvoice: invoices.check_invoice,
    c.InvoicePaid: invoices.invoice_paid,
    c.ConfirmPurchase: one_message.confirm,
    c.StartGiveaway: engage.start_giveaway,
    c.EnterGiveaway: engage.enter_giveaway,
    c.DrawDueGiveaways: engage.draw_due_giveaways,
    c.StartPoll: engage.start_poll,
    c.CastVote: engage.cast_vote,
    c.PressButton: chat.press_button,
    c.EndPoll: engage.end_poll,
    c.CreateShow: shows.create_show,
    c.AddLot: shows.add_lot,
    c.AddLots: shows.add_lots,
    c.NextLot: shows.next_lot,
    c.PauseShow: shows.pause_show,
    c.SkipLot: shows.skip_lot,
    c.EndShow: shows.end_show,
    c.TickShows: shows.tick_shows,
    c.OpenPayment: checkout.open_payment,
    c.ShipOrders: fulfilment.ship_orders,
    c.ListToShip: fulfilment.list_to_ship,
    c.PackingList: fulfilment.packing_list,
    c.AddZone: shipping.add_zone,
    c.RemoveZone: shipping.remove_zone,
    c.ListZones: shipping.list_zones,
    c.CountThrottled: chat.count_throttled,
    c.IssueWebViewer: web_viewers.issue_web_viewer,
    c.RecogniseWebViewer: web_viewers.recognise_web_viewer,
    c.AdmitWebLine: web_viewers.admit_web_line,
    c.SignIn: sign_in.sign_in,
    c.AskEmailSignIn: sign_in.ask_email_sign_in,
    c.RedeemEmailSignIn: sign_in.redeem_email_sign_in,
}


EVENTS: dict[type, list[Callable[[Any, Deps], Awaitable[None]]]] = {
    HoldReleased: [one_message.after_release],
}

# Commands whose handler runs in exactly one unit of work: its reads, writes and the chat
# messages it causes commit together or not at all. What must not run inside it (a refund or
# a checkout closed at Stripe, a waitlisted buyer's payment, a card read from Stripe) is
# split off with `unit_of_work.later` and follows the commit. Handlers that call Stripe in
# the middle of the use case open their units themselves around the call
# (`unit_of_work.one_unit`): the sweeper's pass (ExpireHolds), reconciliation (Reconcile,
# CheckPayment) and a saved card's charge (ConfirmPurchase). The others still commit per
# repository method: a claim is decided by the claim writer (another task that writes:
# awaiting it inside a unit would deadlock on SQLite); opening a checkout and a refund write
# once around their Stripe call; applying a stored event is the webhook path's. Reads
# (lists, checks) need no unit. A bid (PlaceBid) is queued
# in arrival order before any unit opens, and decided in the bid queue's unit
# (auctions.place_bid): opened here, the units of bids that arrive together would race for
# the auction's lock.
ONE_UNIT: frozenset[type] = frozenset(
    {
        c.AddProduct,
        c.UpdateProduct,
        c.SetStock,
        c.StartDrop,
        c.EndDrop,
        c.AddSeller,
        c.StartAuction,
        c.EndAuction,
        c.StartGiveaway,
        c.EnterGiveaway,
        c.StartPoll,
        c.CastVote,
        c.EndPoll,
        c.CreateShow,
        c.AddLot,
        c.AddLots,
        c.NextLot,
        c.PauseShow,
        c.SkipLot,
        c.EndShow,
        c.TickShows,
        c.ReceivePaymentEvent,
        c.PaymentEventFailed,
        c.SettlePayment,
        c.PassHold,
        c.CancelOrder,
        c.InvoicePaid,
        c.CloseDueAuctions,
        c.DrawDueGiveaways,
        c.ShipOrders,
        c.AddZone,
        c.RemoveZone,
        c.SignIn,
        c.RedeemEmailSignIn,  # the link is used only if the viewer is signed in
    }
)

# Commands that arrive together share one unit of work (group commit), each in a savepoint.
GROUPED: frozenset[type] = frozenset({c.ReceivePaymentEvent})
# Their batch paths: what the commands at the head of a group need least is done for all of
# them at once (see GroupCommit); the others go to their handler one by one.
MANY: dict[type, Callable[[list[Any], Deps], Awaitable[list[Any]]]] = {
    c.ReceivePaymentEvent: payment_events.receive_paid_checkouts,
}


class MessageBus:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps  # the handlers' (and tests'); adapters and pages use `reads`
        self.reads = Reads(deps)
        deps.dispatch = self.dispatch
        self._groups: dict[type, GroupCommit] = {}
        if deps.units is not None:  # bids in arrival order, whoever hands them over
            deps.bid_turns = BidTurns(
                deps.units,
                lambda cmd: auctions.decide_bid(cmd, deps),
                meet=lambda bids: auctions.meet_bidders(bids, deps),
                lock=lambda bids: auctions.lock_auctions_of(bids, deps),
            )

    @property
    def clock(self) -> Clock:
        return self.deps.clock

    async def close(self) -> None:
        """Stops what the core runs in the background (the claim writer, group commits)."""
        for group in self._groups.values():
            await group.close()
        if self.deps.bid_turns is not None:
            await self.deps.bid_turns.close()
        if self.deps.units_left is not None:
            await self.deps.units_left.close()
        await self.deps.store.close()

    async def handle(self, command: c.Command) -> Any:
        """Runs the command's handler and returns its typed result."""
        if type(command) is not c.ChatMessage:
            return await self._handle(command)
        # A chat message is read once: here, unless it came with its reading (or its inbox
        # turn was decided by one), and the chat's steps use the reading it carries on.
        read = reading.of(command, self.deps.keywords)
        if command.reading is not read:
            command = replace(command, reading=read)
        turns = self.deps.bid_turns
        if turns is not None and read.bid:
            # A bid takes its place in the bids' queue as it arrives, before the chat's own
            # steps that may end in another order (service_layer/bid_turns.py).
            place = turns.arrive()
            token = ARRIVED.set(place)
            try:
                return await self._handle(command)
            finally:
                ARRIVED.reset(token)
                turns.drop(place)  # a no-op once its bid filled it
        return await self._handle(command)

    async def _handle(self, command: c.Command) -> Any:
        handler = HANDLERS[type(command)]
        units = self.deps.units
        # A command handled inside another's unit (a handler that asks the bus) is part of it.
        if units is None or type(command) not in ONE_UNIT or current() is not None:
            return await handler(command, self.deps)
        if type(command) in GROUPED:
            group = self._groups.get(type(command))
            if group is None:
                many = MANY.get(type(command))
                group = self._groups[type(command)] = GroupCommit(
                    units,
                    lambda cmd: handler(cmd, self.deps),
                    handle_many=None if many is None else lambda cmds: many(cmds, self.deps),
                )
            result, follow_ups = await group.submit(command)
            for work in follow_ups:  # what the handler split off, in the caller's task
                await work()
            return result
        async with units() as unit:
            result = await handler(command, self.deps)
            await unit.commit()
        await unit.follow_up()  # what was split off: Stripe calls, events' handlers
        return result

    async def dispatch(self, event: Event) -> None:
        """Hands an event to its handlers (in a unit of work of their own where they open
        one: they run after the unit that emitted it has committed)."""
        for handle in EVENTS[type(event)]:
            await handle(event, self.deps)
