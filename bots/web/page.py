"""The chat room page: one self-contained HTML document (no CDN: the machine may be offline)."""

from html import escape

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>livebuy · #__ROOM__</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;display:flex;flex-direction:column;height:100vh}
header{padding:.6rem 1rem;background:#1d1b3a;color:#fff;display:flex;gap:.6rem;align-items:center}
header h1{font-size:1.1rem;margin:0;flex:1}
#board{margin:.6rem;padding:.8rem;border:2px solid #635bff;border-radius:.6rem;display:none}
#board.ended{border-color:#999;color:#666}
#board h2{margin:0 0 .3rem;font-size:1.1rem}
#board button{padding:.5rem 1.2rem;font-size:1rem;background:#635bff;color:#fff;border:0;
border-radius:.4rem}
#log{flex:1;overflow-y:auto;padding:.6rem 1rem;list-style:none;margin:0}
#log li{margin:.25rem 0;line-height:1.4;overflow-wrap:anywhere}
#log .bot{color:#1d1b3a;font-weight:600}
#log .private{background:#fff6d6;border-left:4px solid #f5b400;padding:.3rem .5rem}
#log .private::before{content:"only you: ";font-size:.8em;color:#8a6d00}
form{display:flex;gap:.4rem;padding:.6rem;border-top:1px solid #ddd}
input{padding:.5rem;font-size:1rem}#text{flex:1}#name{width:7rem}
</style></head><body>
<header><h1>#__ROOM__</h1><span id="status">connecting…</span></header>
<section id="board" aria-live="polite"><h2 id="board-title"></h2><p id="board-info"></p>
<button id="buy" type="button">Buy</button></section>
<ul id="log" aria-live="polite"></ul>
<form id="send"><input id="name" placeholder="your name" maxlength="32" required>
<input id="text" placeholder="say hi, or #buy" maxlength="500" autocomplete="off" required>
<button type="submit">Send</button></form>
<script>
const room = __ROOM_JSON__;
const log = document.getElementById("log");
const nameBox = document.getElementById("name");
nameBox.value = localStorage.getItem("livebuy-name") || "";
let boardCode = null;
function line(cls, who, text) {
  const li = document.createElement("li");
  li.className = cls;
  const words = (who ? who + ": " : "") + text;
  const url = text.match(/https?:\\/\\/\\S+/);
  if (url) {
    const at = words.indexOf(url[0]);
    li.append(words.slice(0, at));
    const a = document.createElement("a");
    a.href = url[0]; a.textContent = url[0]; a.target = "_blank"; a.rel = "noopener";
    li.append(a, words.slice(at + url[0].length));
  } else {
    li.textContent = words;
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
}
async function send(text) {
  const name = nameBox.value.trim();
  if (!name) { nameBox.focus(); return; }
  localStorage.setItem("livebuy-name", name);
  const body = new URLSearchParams({name, text});
  const r = await fetch("/chat/" + room + "/messages", {method: "POST", body});
  if (!r.ok) line("bot", "", (await r.json()).error || "could not send");
}
document.getElementById("send").addEventListener("submit", e => {
  e.preventDefault();
  const box = document.getElementById("text");
  send(box.value); box.value = "";
});
document.getElementById("buy").addEventListener("click", () => send("#buy " + boardCode));
const events = new EventSource("/chat/" + room + "/events");
events.onopen = () => document.getElementById("status").textContent = "live";
events.onerror = () => document.getElementById("status").textContent = "reconnecting…";
events.onmessage = e => {
  const m = JSON.parse(e.data);
  if (m.type === "message") line("", m.name, m.text);
  else if (m.type === "bot") line("bot", "livebuy", m.text);
  else if (m.type === "private") line("private", "", m.text);
  else if (m.type === "board") board(m);
};
</script></body></html>"""


def render_page(room: str) -> str:
    # Placeholders, not str.format: the page's CSS and JavaScript are full of braces.
    return PAGE.replace("__ROOM_JSON__", f'"{escape(room)}"').replace("__ROOM__", escape(room))
