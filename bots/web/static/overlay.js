// The stream overlay: the web chat's cards (auction, board, giveaway, poll) drawn big, and the
// last buyers. State comes with every (re)connect, so a server restart loses nothing.
const $ = (id) => document.getElementById(id);
let auctionEnd = 0, auctionLive = false, dropEnd = 0;
function show(id, on) { $(id).hidden = !on; }
function picture(card, m) {
  const img = $(card + "-image");
  if (m.image) { if (img.getAttribute("src") !== m.image) img.src = m.image; } else img.removeAttribute("src");
  img.hidden = !m.image;
}
function clock(s) { return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0"); }
function auction(a) {
  auctionLive = a.status === "live";
  auctionEnd = Date.now() + a.left * 1000;
  $("auction").className = "card" + (auctionLive ? "" : " ended");
  $("auction-name").textContent = a.name;
  $("auction-price").textContent = a.price;
  $("auction-leader").textContent = a.leader ? a.leader + " leads" : "no bids yet";
  $("auction-bids").textContent = a.bids + (a.bids === 1 ? " bid" : " bids");
  picture("auction", a); show("auction", true); tick();
}
function board(b) {
  const live = b.status === "live";
  dropEnd = live && b.left !== null && b.left !== undefined ? Date.now() + b.left * 1000 : 0;
  $("board").className = "card" + (live ? "" : " ended");
  $("board-name").textContent = b.name;
  $("board-price").textContent = b.price;
  $("board-units").textContent = live ? b.remaining + " of " + b.quantity + " left" : "sold out / ended";
  picture("board", b); show("board", live); tick();
}
function giveaway(g) {
  $("giveaway-name").textContent = "Giveaway: " + g.name;
  $("giveaway-info").textContent = g.status === "live"
    ? g.entries + (g.entries === 1 ? " entry" : " entries") + " · until " + g.until
    : (g.winner ? "Winner: @" + g.winner + " (" + g.entries + " entries)" : "No winner");
  show("giveaway", true);
}
function poll(p) {
  $("poll-question").textContent = p.question;
  const box = $("poll-options"); box.textContent = "";
  for (const o of p.options) {
    const label = document.createElement("div");
    label.className = "option"; label.textContent = o.number + ". " + o.label + " · " + o.votes;
    const bar = document.createElement("div");
    bar.className = "bar"; bar.style.width = (p.votes ? Math.round(100 * o.votes / p.votes) : 0) + "%";
    box.append(label, bar);
  }
  show("poll", true);
}
function sold(s) {
  const li = document.createElement("li");
  li.textContent = "🎉 @" + s.name + " · " + s.item + " · " + s.amount;
  const list = $("sold"); list.prepend(li);
  while (list.children.length > 3) list.lastChild.remove();
  show("buyers", true);
}
function tick() {
  const left = Math.max(0, Math.ceil((auctionEnd - Date.now()) / 1000));
  $("auction-left").textContent = auctionLive ? clock(left) + " left" : "ended";
  const dropLeft = Math.max(0, Math.ceil((dropEnd - Date.now()) / 1000));
  $("board-left").textContent = dropEnd ? "· ends in " + clock(dropLeft) : "";
}
setInterval(tick, 1000);
const events = new EventSource(document.body.dataset.events);  // reconnects by itself
events.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (m.type === "auction") auction(m);
  else if (m.type === "board") board(m);
  else if (m.type === "giveaway") giveaway(m);
  else if (m.type === "poll") poll(m);
  else if (m.type === "sold") sold(m);
};
