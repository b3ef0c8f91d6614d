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
    labelCells($(table));  // cards.js: each cell named after its column, for phones
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

  // Paid orders per minute: a y axis with its scale (0, half, top) and the minutes under
  // the x axis every ten minutes, in UTC as every time on the page.
  function chart(sales) {
    const svg = $("#chart");
    const left = 30, right = 316, top = 16, bottom = 108;
    const peak = Math.max(0, ...sales.map((s) => s.orders));
    const max = Math.max(2, peak % 2 ? peak + 1 : peak);  // even: the half is a whole number
    const w = (right - left) / Math.max(1, sales.length);
    const y = (v) => bottom - (v / max) * (bottom - top);
    const parts = [];
    for (const v of [0, max / 2, max]) {
      parts.push(`<line x1="${left}" x2="${right}" y1="${y(v)}" y2="${y(v)}"></line>`,
        `<text x="${left - 4}" y="${y(v) + 3}" text-anchor="end">${v}</text>`);
    }
    sales.forEach((s, i) => {
      const h = bottom - y(s.orders);
      parts.push(`<rect x="${left + i * w + 1}" y="${bottom - h}" width="${Math.max(1, w - 2)}"` +
        ` height="${h}"><title>${s.minute}: ${s.orders} paid</title></rect>`);
      const last = i === sales.length - 1;
      if (i % 10 === 0 || last) {  // the last one ends at the axis' end: never cut off
        const x = last ? right : left + i * w + w / 2;
        parts.push(`<text x="${x}" y="${bottom + 11}"` +
          ` text-anchor="${last ? "end" : "middle"}">${s.minute}</text>`);
      }
    });
    parts.push(`<line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${bottom}"></line>`,
      `<line class="axis" x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}"></line>`,
      `<text x="2" y="${top - 8}">paid orders/min</text>`,
      `<text x="${right}" y="${bottom + 21}" text-anchor="end">minute (UTC)</text>`);
    svg.innerHTML = parts.join("");
    const total = sales.reduce((n, s) => n + s.orders, 0);
    $("#sales-total").textContent =
      `${total} paid order${total === 1 ? "" : "s"} in the last 30 minutes`;
    $("#sales-total").hidden = total === 0;
    $("#no-sales").hidden = total > 0;
  }

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }

  // Revenue today, in this show and all time: the figure, then orders, units and average.
  function money(m) {
    const figure = (id, f, label) => {
      const box = $(id);
      if (label) box.querySelector(".label").textContent = label;
      box.querySelector(".value").textContent = f ? f.revenue : "–";
      box.querySelector(".detail").textContent = !f
        ? "A show's takings appear here once one runs (livebuy show create)."
        : f.orders
          ? `${plural(f.orders, "order")} · ${plural(f.items, "item")} sold · average ${f.average}`
          : "No paid orders yet: they count here as buyers pay.";
    };
    figure("#money-today", m.today);
    figure("#money-show", m.show, m.show ? `Show: ${m.show.title} (${m.show.status})` : "This show");
    figure("#money-all", m.all);
  }

  // A buyer by the name they chat under, the platform as a label, the id on hover.
  function buyer(td, o) {
    const platform = o.buyer.split(":")[0];
    td.textContent = o.name || o.buyer.split(":").slice(1).join(":");
    const tag = document.createElement("span");
    tag.className = "platform";
    tag.textContent = platform;
    td.append(tag);
    td.title = o.buyer;
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
      buyer(cell(row, "", "buyer"), o);
      cell(row, o.ship_to, "ship-to");
      const td = cell(row, "");
      if (o.refundable) refundForm(td, o);
      if (o.cancellable) {
        button(td, "Cancel", `/dashboard/orders/${o.ref}/cancel`,
          `Cancel unpaid order ${o.ref}? Its units go back and the buyer is told.`);
      }
    });
    $("#no-orders").hidden = state.orders.length > 0;
    $("#no-funnel").hidden = state.funnel.length > 0;
    $("#no-drops").hidden = state.drops.length > 0;
    $("#no-auctions").hidden = state.auctions.length > 0;
    $("#no-products").hidden = state.products.length > 0;
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
      cell(row, d.chats.length ? d.chats.join(", ") : "all chats", "chats");
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
    money(state.money);
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
    // A form that may carry a picture goes as multipart/form-data (the file with it).
    const data = new FormData(form);
    const body = form.enctype === "multipart/form-data" ? data : new URLSearchParams(data);
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
