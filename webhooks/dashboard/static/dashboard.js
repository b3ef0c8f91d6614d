// The dashboard's live part: fills the tables from the state the server streams, and sends
// the forms with fetch so the page never reloads. No libraries: it must work offline.
"use strict";
(function () {
  const $ = (sel) => document.querySelector(sel);
  // The CSRF token rides on this script's tag: the page has no inline script (see the CSP).
  const CSRF = document.currentScript.dataset.csrf;
  const flash = $("#flash");

  function cell(row, text, cls) {
    const td = row.insertCell();
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function fill(table, items, draw) {
    const body = $(table + " tbody");
    body.replaceChildren();
    for (const item of items) draw(body.insertRow(), item);
  }

  function button(td, label, url, confirmText) {
    const form = document.createElement("form");
    form.method = "post";
    form.action = url;
    form.dataset.action = "";
    if (confirmText) form.dataset.confirm = confirmText;
    const b = document.createElement("button");
    b.type = "submit";
    b.textContent = label;
    form.append(b);
    td.append(form);
  }

  // Refund: all, or an amount (part of the order), optionally with the units back in stock.
  function refundForm(td, o) {
    button(td, "Refund", `/dashboard/orders/${o.ref}/refund`, `Refund order ${o.ref}?`);
    const form = td.lastChild;
    form.className = "refund";
    const amount = document.createElement("input");
    amount.name = "amount";
    amount.inputMode = "decimal";
    amount.placeholder = "all";
    amount.size = 6;
    amount.setAttribute("aria-label", `amount to refund of ${o.ref}`);
    const label = document.createElement("label");
    const restock = document.createElement("input");
    restock.type = "checkbox";
    restock.name = "restock";
    label.append(restock, " restock");
    form.prepend(amount, label);
  }

  function options(select, values) {
    const keep = select.value;
    select.replaceChildren(...values.map((v) => new Option(v, v)));
    if (values.includes(keep)) select.value = keep;
  }

  function chart(sales) {
    const svg = $("#chart");
    const max = Math.max(1, ...sales.map((s) => s.orders));
    const w = 300 / sales.length;
    const bars = sales.map((s, i) => {
      const h = (s.orders / max) * 90;
      return `<rect x="${i * w + 1}" y="${95 - h}" width="${w - 2}" height="${h}">` +
        `<title>${s.minute}: ${s.orders} paid</title></rect>`;
    });
    const first = sales.length ? sales[0].minute : "";
    const last = sales.length ? sales[sales.length - 1].minute : "";
    svg.innerHTML = bars.join("") +
      `<text x="0" y="108">${first}</text><text x="300" y="108" text-anchor="end">${last}</text>` +
      `<text x="0" y="10">${max}/min</text>`;
    const total = sales.reduce((n, s) => n + s.orders, 0);
    $("#sales-total").textContent =
      `${total} paid order${total === 1 ? "" : "s"} in the last 30 minutes`;
  }

  // A seller typing a refund's amount keeps it: the orders wait for the next state.
  function typingIn(table) {
    const active = document.activeElement;
    return active && active.tagName === "INPUT" && active.closest(table) !== null;
  }

  function render(state) {
    if (!typingIn("#orders")) fill("#orders", state.orders, (row, o) => {
      row.dataset.ref = o.ref;
      cell(row, o.ref, "mono");
      cell(row, o.created_at);
      cell(row, o.drop);
      cell(row, o.item);
      cell(row, o.quantity, "num");
      cell(row, o.amount, "num");
      cell(row, o.shipping, "num shipping");
      cell(row, o.tax, "num tax");
      cell(row, o.status, "status " + o.status);
      cell(row, o.name ? `${o.name} (${o.buyer})` : o.buyer);
      cell(row, o.ship_to, "ship-to");
      const td = cell(row, "");
      if (o.refundable) refundForm(td, o);
      if (o.cancellable) {
        button(td, "Cancel", `/dashboard/orders/${o.ref}/cancel`,
          `Cancel unpaid order ${o.ref}? Its units go back and the buyer is told.`);
      }
    });
    $("#no-orders").hidden = state.orders.length > 0;
    fill("#funnel", state.funnel, (row, f) => {
      for (const v of [f.drop, f.platform, f.claims, f.checkouts, f.paid, f.refunded]) {
        cell(row, v);
      }
    });
    // Messages flood control dropped before they could become claims, per platform.
    const throttled = Object.entries(state.throttled || {});
    $("#throttled").hidden = throttled.length === 0;
    $("#throttled").textContent = "Throttled (too fast, dropped): " +
      throttled.map(([platform, n]) => `${platform} ${n}`).join(", ");
    fill("#drops", state.drops, (row, d) => {
      cell(row, d.code, "mono");
      cell(row, d.name);
      cell(row, d.price, "num");
      cell(row, `${d.remaining}/${d.quantity}`, "num");
      cell(row, d.waitlist, "num");
      cell(row, d.status, "status " + d.status);
      cell(row, d.chats.join(", "));
      const td = cell(row, "");
      if (d.status === "live") button(td, "End", `/dashboard/drops/${d.code}/end`);
    });
    fill("#auctions", state.auctions, (row, a) => {
      cell(row, a.code, "mono");
      cell(row, a.name);
      cell(row, a.price, "num");
      cell(row, a.bids, "num");
      cell(row, a.leader);
      cell(row, a.ends_at);
      cell(row, a.status === "live" ? "live" : a.outcome, "status " + a.status);
    });
    fill("#products", state.products, (row, p) => {
      cell(row, p.sku, "mono");
      cell(row, p.name + (p.digital ? " (digital)" : ""));
      cell(row, p.price, "num");
      cell(row, p.variants.map((v) => (v.label ? `${v.label}: ${v.stock}` : v.stock)).join(", "));
    });
    const skus = state.products.map((p) => p.sku);
    options($("#drop-sku"), skus);
    options($("#edit-sku"), skus);
    options($("#auction-sku"), skus);
    $("#chats").replaceChildren(...state.chats.map((c) => new Option(c)));
    chart(state.sales);
    // Paid so far, split: items, shipping, tax, and the packages to send.
    $("#revenue").textContent = (state.revenue || []).map((r) =>
      `Paid: items ${r.items} · shipping ${r.shipping} · tax ${r.tax} · total ${r.total}` +
      ` · ${r.packages} package${r.packages === 1 ? "" : "s"}`).join("; ");
  }

  function say(text, ok) {
    flash.textContent = text;
    flash.className = ok ? "ok" : "error";
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!("action" in form.dataset)) return;
    event.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    let url = form.getAttribute("action");
    if (form.id === "edit-product") url += encodeURIComponent(form.elements.target.value);
    const body = new URLSearchParams(new FormData(form));
    const response = await fetch(url, {
      method: "POST",
      body,
      headers: { Accept: "application/json", "X-CSRF-Token": CSRF },
    });
    const answer = await response.json().catch(() => ({ error: response.statusText }));
    say(answer.message || answer.error, response.ok);
    if (response.ok) refresh();
  });

  async function refresh() {
    const response = await fetch("/dashboard/state", { headers: { Accept: "application/json" } });
    if (response.ok) render(await response.json());
  }

  const live = $("#live");
  const events = new EventSource("/dashboard/events");
  events.onopen = () => { live.textContent = "live"; live.className = "pill on"; };
  events.onerror = () => { live.textContent = "reconnecting…"; live.className = "pill"; };
  events.onmessage = (message) => render(JSON.parse(message.data));
})();
