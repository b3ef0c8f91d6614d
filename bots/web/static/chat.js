// The web chat room's page: the live stream, the board, the cards, sending messages.
// Served as a file (no inline script: the page's CSP allows scripts from this server only).
const room = document.body.dataset.room;
const log = document.getElementById("log");
const nameBox = document.getElementById("name");
nameBox.value = localStorage.getItem("livebuy-name") || "";
let boardCode = null;
const URL_RE = /https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]]/g;
// The shop's and a seller's lines carry a badge drawn by the page, outside the text: no
// viewer's name or message can produce one (the server refuses the shop's and sellers' names).
const BADGES = {bot: "shop", seller: "seller"};
function line(cls, who, text, actions, link) {
  const li = document.createElement("li");
  li.className = cls;
  if (BADGES[cls]) {
    const badge = document.createElement("span");
    badge.className = "badge"; badge.textContent = BADGES[cls];
    li.append(badge);
  }
  if (who) {
    const name = document.createElement("span");
    name.className = "who"; name.textContent = who + ": ";
    li.append(name);
  }
  const words = text;
  let at = 0;
  for (const url of words.matchAll(URL_RE)) {  // every link is clickable
    li.append(words.slice(at, url.index));
    const a = document.createElement("a");
    a.href = url[0]; a.textContent = url[0]; a.target = "_blank"; a.rel = "noopener";
    if (cls === "private" && new URL(url[0]).pathname.startsWith("/pay/")) {
      a.className = "pay"; a.textContent = "Pay now";  // the buyer's own pay link: a button
    }
    li.append(a);
    at = url.index + url[0].length;
  }
  li.append(words.slice(at));
  if (link) {  // e.g. a giveaway's public record, to check its draw
    const a = document.createElement("a");
    a.href = link; a.textContent = link; a.target = "_blank"; a.rel = "noopener";
    li.append(" ", a);
  }
  for (const act of actions || []) {  // e.g. Confirm under a one-message buy's question
    const button = document.createElement("button");
    button.type = "button"; button.textContent = act.label; button.dataset.action = act.action;
    button.onclick = () => { button.disabled = true; action(act.action); };
    li.append(button);
  }
  log.append(li);
  log.scrollTop = log.scrollHeight;
}
function board(b) {
  const box = document.getElementById("board");
  boardCode = b.code;
  box.style.display = "block";
  box.className = b.status === "live" ? "" : "ended";
  document.getElementById("board-title").textContent = b.name + " · " + b.price;
  const waiting = b.waitlist ? ", " + b.waitlist + " waiting" : "";
  const live = b.status === "live";
  const left = live ? b.remaining + " of " + b.quantity + " left" + waiting : "ended";
  document.getElementById("board-info").textContent = left;
  document.getElementById("buy").disabled = !live;
  // The countdown ticks here, from the seconds left as the server's clock saw them when it
  // sent the card (the browser's own clock may be off): no traffic while it runs.
  dropEnd = live && b.left !== null && b.left !== undefined ? Date.now() + b.left * 1000 : 0;
  dropEnded = live ? "" : b.ended || "";
  dropTick();
  cardMedia("board", b);
}
function cardMedia(card, m) {  // the product's picture and description, when it has them
  const image = document.getElementById(card + "-image");
  if (m.image) { if (image.getAttribute("src") !== m.image) image.src = m.image; }
  else image.removeAttribute("src");
  image.hidden = !m.image;
  image.alt = m.name;
  const about = document.getElementById(card + "-about");
  about.textContent = m.description || "";
  about.hidden = !m.description;
}
let dropEnd = 0, dropEnded = "";
function clock(seconds) {  // 4:05, 1:02:03
  const h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
  const two = n => String(n).padStart(2, "0");
  return h ? h + ":" + two(m) + ":" + two(s) : m + ":" + two(s);
}
function dropTick() {
  const ends = document.getElementById("board-ends");
  if (dropEnd) {
    const left = Math.max(0, Math.ceil((dropEnd - Date.now()) / 1000));
    ends.textContent = left ? "ends in " + clock(left) : "ending…";
  } else {
    ends.textContent = dropEnded ? "ended " + dropEnded : "";
  }
  ends.hidden = !ends.textContent;
}
setInterval(dropTick, 1000);
function card(m) {  // a show, giveaway or poll card, redrawn in place (one per key)
  const id = "card-" + m.key.replace(":", "-");
  let box = document.getElementById(id);
  if (!box) {
    box = document.createElement("article");
    box.id = id;
    document.getElementById("cards").prepend(box);
  }
  box.replaceChildren();
  const live = m.status === "live";
  box.className = m.type + (live ? "" : " ended");
  box.dataset.status = m.status;
  const h2 = document.createElement("h2"), p = document.createElement("p");
  box.append(h2, p);
  const buttons = [];
  if (m.type === "show") {
    h2.textContent = m.title + " · " + m.status;
    const parts = [];
    if (m.current) parts.push("Lot " + m.position + "/" + m.total + ": " + m.current);
    parts.push("Next: " + m.next, "Sold: " + m.sold + " (" + m.revenue + ")");
    p.textContent = parts.join(" · ");
    if (m.image) {  // the live lot's picture
      const img = document.createElement("img");
      img.className = "lot-image"; img.src = m.image; img.alt = m.current;
      box.prepend(img);
    }
  } else if (m.type === "giveaway") {
    h2.textContent = "🎁 " + m.name;
    p.textContent = live
      ? m.entries + " entered · until " + m.until + " · commitment " + m.commitment
      : m.text;
    if (!live) {
      const a = document.createElement("a");
      a.href = m.link; a.textContent = "check the draw"; a.target = "_blank";
      box.append(a);
    }
    for (const act of live ? m.actions : []) buttons.push([act.label, act.action]);
  } else if (m.type === "poll") {
    h2.textContent = "📊 " + m.question + (live ? "" : " (closed)");
    p.textContent = m.votes + " votes";
    for (const o of m.options) {
      const row = document.createElement("p");
      row.className = "option"; row.dataset.number = o.number;
      row.textContent = "#" + o.number + " " + o.label + ": " + o.votes;
      box.append(row);
      if (o.action) buttons.push([o.button, o.action]);
    }
  }
  for (const [label, act] of buttons) {
    const button = document.createElement("button");
    button.type = "button"; button.textContent = label; button.dataset.action = act;
    button.onclick = () => action(act);
    box.append(button);
  }
}
let auctionEnd = 0, auctionLive = false, auctionInfo = "";
function auction(a) {
  const box = document.getElementById("auction");
  box.style.display = "block";
  auctionLive = a.status === "live";
  box.className = auctionLive ? "" : "ended";
  document.getElementById("auction-title").textContent = a.name + " · " + a.price;
  auctionInfo = (a.leader ? a.leader + " leads, " : "") + a.bids + " bids";
  auctionEnd = Date.now() + a.left * 1000;
  const bid = document.getElementById("bid"), bid5 = document.getElementById("bid5");
  bid.textContent = "Bid " + a.minimum;
  bid.onclick = () => send("#bid " + a.minimum_plain);
  bid5.textContent = "Bid " + a.plus5;
  bid5.onclick = () => send("#bid " + a.plus5_plain);
  bid.disabled = bid5.disabled = !auctionLive;
  cardMedia("auction", a);
  tick();
}
function tick() {
  const left = Math.max(0, Math.ceil((auctionEnd - Date.now()) / 1000));
  const when = auctionLive ? ", " + left + "s left" : ", ended";
  document.getElementById("auction-info").textContent = auctionInfo + when;
}
setInterval(tick, 1000);
function signIns() {  // a claim that needs a sign-in: the page's sign-in buttons, under it
  const buttons = document.querySelectorAll("#sign-in a");
  if (!buttons.length) return;
  const li = log.lastElementChild;
  for (const a of buttons) li.append(a.cloneNode(true));
}
async function send(text) {
  const name = nameBox.value.trim();
  if (!name) { nameBox.focus(); return; }
  localStorage.setItem("livebuy-name", name);
  const body = new URLSearchParams({name, text});
  const r = await fetch("/chat/" + room + "/messages", {method: "POST", body});
  if (!r.ok) line("bot", "", (await r.json()).error || "could not send");
}
async function action(act) {
  const body = new URLSearchParams({action: act, name: nameBox.value.trim()});
  const r = await fetch("/chat/" + room + "/actions", {method: "POST", body});
  if (!r.ok) line("bot", "", (await r.json()).error || "could not send");
}
document.getElementById("send").addEventListener("submit", e => {
  e.preventDefault();
  const box = document.getElementById("text");
  send(box.value); box.value = "";
});
document.getElementById("buy").addEventListener("click", () => send("#buy " + boardCode));
document.getElementById("my-orders").addEventListener("click", () => send("/orders"));
const events = new EventSource("/chat/" + room + "/events");
events.onopen = () => document.getElementById("status").textContent = "live";
events.onerror = () => document.getElementById("status").textContent = "reconnecting…";
let mineShown = false, historyShown = false;
events.onmessage = e => show(JSON.parse(e.data));
function show(m) {
  if (m.type === "mine") {  // your own private lines, kept for you: once (not on a reconnect)
    if (!mineShown) for (const said of m.lines) show(said);
    mineShown = true;
    return;
  }
  if (m.room && m.room !== room) return;  // your own private command, in another room
  if (m.type === "history") {  // the room's latest public lines, once (not on a reconnect)
    if (!historyShown) for (const said of m.lines) show(said);
    historyShown = true;
  }
  else if (m.type === "message") line(m.seller ? "seller" : "", m.name, m.text);
  else if (m.type === "bot") line("bot", "livebuy", m.text, null, m.link);
  else if (m.type === "private") {
    line("private", "", m.text, m.actions);
    if (m.signin) signIns();
  }
  else if (m.type === "board") board(m);
  else if (m.type === "auction") auction(m);
  else if (m.type === "show" || m.type === "giveaway" || m.type === "poll") card(m);
}
