// The status page at /: one self-contained HTML file (inline CSS and script, no framework, no
// external assets, not even a favicon request), kept in the bundle as a string. It holds no
// data itself; its script fetches api/stats and api/queries every two seconds, sending the
// bearer token when one is needed (asked for once, kept in sessionStorage, or passed in the
// URL fragment as #token=..., which never leaves the browser). Everything from the server is
// put into the page as text (textContent), never as HTML: names come from the network.

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Holdfast</title>
<style>
  :root { --bg: #f6f7f9; --card: #fff; --fg: #1d2430; --muted: #667085; --line: #e4e7ec;
          --ok: #12b76a; --warn: #f79009; --bad: #f04438; --accent: #2e90fa; }
  @media (prefers-color-scheme: dark) {
    :root { --bg: #0f1419; --card: #182028; --fg: #e6e9ee; --muted: #98a2b3; --line: #2a3440; }
  }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
  header { display: flex; align-items: center; gap: 12px; padding: 14px 20px; border-bottom: 1px solid var(--line); background: var(--card); flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  header .meta { color: var(--muted); }
  .badge { padding: 2px 10px; border-radius: 999px; font-weight: 600; font-size: 12px; color: #fff; background: var(--muted); }
  .badge.ok { background: var(--ok); } .badge.warn { background: var(--warn); } .badge.bad { background: var(--bad); }
  main { padding: 16px 20px; max-width: 1200px; margin: 0 auto; }
  .tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin-bottom: 16px; }
  .tile, section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
  .tile .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  .tile .value { font-size: 26px; font-weight: 650; margin-top: 2px; font-variant-numeric: tabular-nums; }
  .tile .sub { color: var(--muted); font-size: 12px; }
  .bar { height: 6px; background: var(--line); border-radius: 3px; margin-top: 6px; overflow: hidden; }
  .bar > div { height: 100%; background: var(--accent); width: 0; }
  .grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 12px; margin-bottom: 12px; }
  section h2 { font-size: 14px; margin: 0 0 8px; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { color: var(--muted); font-weight: 500; font-size: 12px; }
  td.num, th.num { text-align: right; }
  td.name { white-space: normal; word-break: break-all; }
  .dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 6px; background: var(--muted); }
  .dot.closed { background: var(--ok); } .dot.half-open { background: var(--warn); } .dot.open { background: var(--bad); }
  .empty { color: var(--muted); font-style: italic; }
  footer { color: var(--muted); font-size: 12px; padding: 0 20px 16px; max-width: 1200px; margin: 0 auto; }
  #error { color: var(--bad); }
  #login { max-width: 420px; margin: 40px auto; }
  #login input { width: 100%; padding: 8px; margin: 8px 0; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); }
  #login button { padding: 8px 14px; border: 0; border-radius: 6px; background: var(--accent); color: #fff; font-weight: 600; cursor: pointer; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<header>
  <h1>Holdfast</h1>
  <span id="status" class="badge">loading</span>
  <span class="meta" id="meta"></span>
</header>
<main>
  <form id="login" hidden>
    <section>
      <h2>This server needs a token</h2>
      <p class="sub">Enter the token given with <code>--http-token</code>. It is kept in this tab only.</p>
      <input type="text" autocomplete="username" value="holdfast" hidden>
      <input id="token" type="password" autocomplete="current-password" placeholder="token">
      <button type="submit">Show status</button>
    </section>
  </form>
  <div id="content" hidden>
    <div class="tiles">
      <div class="tile"><div class="label">Queries</div><div class="value" id="queries">–</div><div class="sub" id="qps"></div></div>
      <div class="tile"><div class="label">Cache hit rate</div><div class="value" id="hitrate">–</div><div class="sub" id="hitsub"></div></div>
      <div class="tile"><div class="label">Stale answers</div><div class="value" id="stale">–</div><div class="sub" id="stalesub"></div></div>
      <div class="tile"><div class="label">Cache entries</div><div class="value" id="cache">–</div><div class="bar"><div id="cachebar"></div></div><div class="sub" id="cachesub"></div></div>
      <div class="tile"><div class="label">Latency p50</div><div class="value" id="latency">–</div><div class="sub" id="latencysub"></div></div>
      <div class="tile"><div class="label">Blocked</div><div class="value" id="blocked">–</div><div class="sub" id="blockedsub"></div></div>
    </div>
    <div class="grid2">
      <section>
        <h2>Upstreams</h2>
        <table><thead><tr><th>upstream</th><th>for</th><th>state</th><th class="num">RTT</th><th class="num">RTO</th><th class="num">queries</th><th class="num">failures</th></tr></thead>
        <tbody id="upstreams"></tbody></table>
      </section>
      <section>
        <h2>Answers</h2>
        <table><tbody id="answers"></tbody></table>
      </section>
    </div>
    <div class="grid2">
      <section>
        <h2>Block lists</h2>
        <table><thead><tr><th>list</th><th class="num">names</th><th class="num">age</th><th class="num">blocked</th><th>last download</th></tr></thead>
        <tbody id="lists"></tbody></table>
      </section>
      <section>
        <h2>Top blocked</h2>
        <table><thead><tr><th>name</th><th class="num">blocked</th></tr></thead>
        <tbody id="topblocked"></tbody></table>
      </section>
    </div>
    <div class="grid2">
      <section>
        <h2>Top names</h2>
        <table><thead><tr><th>name</th><th>type</th><th class="num">popularity</th></tr></thead>
        <tbody id="top"></tbody></table>
      </section>
      <section>
        <h2>Recent queries</h2>
        <table><thead><tr><th>time</th><th>client</th><th>name</th><th>type</th><th>answer</th></tr></thead>
        <tbody id="log"></tbody></table>
      </section>
    </div>
  </div>
</main>
<footer><span id="updated"></span> <span id="error"></span></footer>
<script>
"use strict";
(function () {
  var REFRESH_MS = 2000;
  var KEY = "holdfast-token";
  var token = null;
  try { token = sessionStorage.getItem(KEY); } catch (e) { token = null; }
  if (location.hash.indexOf("#token=") === 0) {
    token = decodeURIComponent(location.hash.slice(7));
    try { sessionStorage.setItem(KEY, token); } catch (e) { /* private mode: keep it in memory */ }
    history.replaceState(null, "", location.pathname + location.search);
  }
  var previous = null;
  var $ = function (id) { return document.getElementById(id); };
  var text = function (id, value) { $(id).textContent = value; };
  var fmt = function (n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"); };
  var ms = function (v) { return v === null || v === undefined ? "–" : v < 1 ? (v * 1000).toFixed(0) + " µs" : v < 100 ? v.toFixed(1) + " ms" : v.toFixed(0) + " ms"; };
  // Quantiles come from histogram buckets; within the first (0 to 0.1 ms) nothing finer is known.
  var lat = function (v) { return v === null || v === undefined ? "–" : v <= 0.1 ? "≤ 0.1 ms" : ms(v); };
  var pct = function (v) { return v === null ? "–" : (v * 100).toFixed(1) + " %"; };
  function duration(s) {
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return d > 0 ? d + "d " + h + "h" : h > 0 ? h + "h " + m + "m" : m + "m " + (s % 60) + "s";
  }
  function row(tbody, cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (c) {
      var td = document.createElement("td");
      if (c.dot) { var dot = document.createElement("span"); dot.className = "dot " + c.dot; td.appendChild(dot); }
      td.appendChild(document.createTextNode(c.text));
      if (c.cls) td.className = c.cls;
      tr.appendChild(td);
    });
    tbody.appendChild(tr);
  }
  function fill(id, items, cells, empty, columns) {
    var tbody = $(id);
    tbody.textContent = "";
    if (items.length === 0) { row(tbody, [{ text: empty, cls: "empty" }]); tbody.firstChild.firstChild.colSpan = columns; return; }
    items.forEach(function (item) { row(tbody, cells(item)); });
  }
  function headers() { return token ? { authorization: "Bearer " + token } : {}; }

  function render(s) {
    var total = s.queries.udp + s.queries.tcp;
    var status = $("status");
    var degraded = !s.reachable ? "upstreams unreachable" : s.servingStale ? "serving stale answers" : null;
    status.textContent = degraded ? "degraded: " + degraded : "ok";
    status.className = "badge " + (!s.reachable ? "bad" : degraded ? "warn" : "ok");
    text("meta", "v" + s.version + " on " + s.runtime + " · up " + duration(s.uptimeSeconds));
    text("queries", fmt(total));
    text("qps", previous && s.nowMs > previous.nowMs
      ? ((total - previous.total) / ((s.nowMs - previous.nowMs) / 1000)).toFixed(1) + " per second"
      : s.queries.udp + " UDP · " + s.queries.tcp + " TCP");
    text("hitrate", pct(s.hitRatio));
    var a = s.answers;
    text("hitsub", fmt(a.freshHit + a.stale + a.negativeHit) + " from cache, " + fmt(a.upstream) + " from upstreams");
    text("stale", fmt(a.stale));
    text("stalesub", s.servingStale ? "served in the last minute" : "none in the last minute");
    text("cache", fmt(s.cache.entries));
    $("cachebar").style.width = Math.min(100, (100 * s.cache.entries) / s.cache.maxEntries).toFixed(1) + "%";
    text("cachesub", "of " + fmt(s.cache.maxEntries));
    text("latency", lat(s.latencyMs.cacheHitP50));
    text("latencysub", "cache hits · upstream p50 " + lat(s.latencyMs.upstreamP50));
    fill("upstreams", s.upstreams, function (u) {
      return [{ text: u.label, cls: "name" }, { text: u.zone === null ? "all names" : u.zone, cls: "name" }, { text: u.state, dot: u.state }, { text: u.srttMs === null ? "–" : ms(u.srttMs), cls: "num" },
        { text: ms(u.rtoMs), cls: "num" }, { text: fmt(u.queries), cls: "num" }, { text: fmt(u.failures), cls: "num" }];
    }, "no upstreams", 7);
    var outcomes = [["fresh hits", a.freshHit], ["stale", a.stale], ["negative hits", a.negativeHit], ["from upstreams", a.upstream],
      ["synthetic", a.synthetic], ["local", a.local], ["blocked", a.blocked], ["rewrite", a.rewrite], ["forward zones", a.forwardZone], ["SERVFAIL", a.servfail]];
    fill("answers", outcomes, function (o) { return [{ text: o[0] }, { text: fmt(o[1]), cls: "num" }]; }, "", 2);
    fill("top", s.topNames, function (t) { return [{ text: t.name, cls: "name" }, { text: t.type }, { text: String(t.popularity), cls: "num" }]; },
      "no names asked for yet", 3);
    renderBlocking(s.blocking, a.blocked);
    previous = { total: total, nowMs: s.nowMs };
  }

  function renderBlocking(b, blocked) {
    var none = b.lists.length === 0;
    text("blocked", none ? "off" : pct(b.share));
    text("blockedsub", none ? "no block lists (--block-list)" : fmt(blocked) + " answers from " + b.lists.length + (b.lists.length === 1 ? " list" : " lists"));
    fill("lists", b.lists, function (l) {
      return [{ text: l.list, cls: "name" }, { text: fmt(l.names), cls: "num" }, { text: l.ageSeconds === null ? "never" : duration(l.ageSeconds), cls: "num" },
        { text: fmt(l.blocked), cls: "num" }, { text: l.kind === "file" ? "a file" : l.lastError === null ? "ok" : l.lastError, cls: "name" }];
    }, "no block lists (--block-list)", 5);
    fill("topblocked", b.topNames, function (t) { return [{ text: t.name, cls: "name" }, { text: fmt(t.count), cls: "num" }]; },
      none ? "no block lists" : "nothing blocked yet", 2);
  }

  function renderLog(l) {
    if (!l.enabled) { fill("log", [], null, "the query log is off (start with --query-log N)", 5); return; }
    fill("log", l.queries.slice(0, 25), function (q) {
      return [{ text: new Date(q.timeMs).toLocaleTimeString("en-GB") }, { text: q.client }, { text: q.name, cls: "name" }, { text: q.type },
        { text: q.source + (q.rcode === "NOERROR" ? "" : " " + q.rcode) }];
    }, "no queries yet", 5);
  }

  async function get(path) {
    var r = await fetch(path, { headers: headers(), cache: "no-store" });
    if (r.status === 401) { var e = new Error("token"); e.unauthorized = true; throw e; }
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  }

  async function refresh() {
    try {
      var s = await get("api/stats");
      var l = await get("api/queries?limit=25");
      $("login").hidden = true;
      $("content").hidden = false;
      render(s);
      renderLog(l);
      text("updated", "Updated " + new Date().toLocaleTimeString("en-GB") + ", every " + REFRESH_MS / 1000 + " s.");
      text("error", "");
    } catch (e) {
      if (e.unauthorized) {
        $("content").hidden = true;
        $("login").hidden = false;
        text("status", "token needed");
        $("status").className = "badge";
        return; // no refreshing until a token is given
      }
      text("error", "Cannot reach Holdfast: " + e.message);
      $("status").className = "badge bad";
      text("status", "unreachable");
    }
    setTimeout(refresh, REFRESH_MS);
  }

  $("login").addEventListener("submit", function (ev) {
    ev.preventDefault();
    token = $("token").value.trim();
    try { sessionStorage.setItem(KEY, token); } catch (e) { /* kept in memory */ }
    refresh();
  });
  refresh();
})();
</script>
</body>
</html>
`;
