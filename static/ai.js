/* AI page: the agent's MCP tool calls (page 1 from GET /api/ai/calls, re-read on every "mcp_call" snapshot; each
   new call pushed live on the "mcp_call" topic and kept on page 1 even when it landed while page 1 was being read),
   its exit plans (from the AI state, static/ai_state.js), its orders with confidence and the reason given in the
   tool call (GET /api/ai/orders, status and fills live from the "orders" topic), and its performance beside the
   strategies' (GET /api/ai/performance). The switch and state panel is static/ai_state.js's. */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$;
  const CALLS_PAGE = 50, ORDERS_PAGE = 20, KEEP_CALLS = 500, PERF_EVERY_MS = 60000;
  const live = new Map();   // call_id -> call row pushed since the page loaded (merged into page 1)
  const calls = new Map();  // call_id -> call row seen (the orders' reasons), bounded

  function remember(row) {
    calls.set(row.call_id, row);
    if (calls.size > KEEP_CALLS) calls.delete(calls.keys().next().value);
  }
  function args(req) { return req && typeof req === "object" && req.arguments && typeof req.arguments === "object" ? req.arguments : (req || {}); }
  function agentReason(row) { const a = args(row && row.request); return typeof a.reason === "string" ? a.reason : ""; }
  function short(v) { const s = typeof v === "object" ? JSON.stringify(v) : String(v); return s.length > 60 ? s.slice(0, 57) + "…" : s; }

  /* ---------------------------------------------------------------- tool calls */
  const STATUS_CLASS = { ok: "ok", preview: "ok", replayed: "warn", refused: "warn", failed: "bad" };
  function callStatus(status) { const key = "ai_st_" + status, text = A.t(key); return text === key ? status : text; }
  function requestText(row) {
    return Object.entries(args(row.request)).filter(([k, v]) => k !== "reason" && v !== null && v !== undefined)
      .map(([k, v]) => k + "=" + short(v)).join(" ");
  }
  function detailsCell(row) {
    const full = row.response_truncated ? '<a href="/api/ai/calls/' + encodeURIComponent(row.call_id) + '" target="_blank" rel="noopener">'
      + A.esc(A.t("ai_full_response", { n: row.response_chars })) + "</a>" : "";
    const body = "request " + JSON.stringify(row.request, null, 1) + (row.response_truncated ? "" : "\nresponse " + JSON.stringify(row.response, null, 1));
    return "<td><details><summary class='mono muted'>" + A.esc(row.call_id.slice(0, 8)) + "</summary><pre class='mono' style='white-space: pre-wrap; max-width: 520px; max-height: 320px; overflow: auto'>"
      + A.esc(body) + "</pre>" + full + "</details></td>";
  }
  function callRow(row) {
    const answer = row.response && typeof row.response === "object" ? row.response : null;  // a refusal by its code
    const text = row.status !== "ok" && answer && answer.code ? A.refusalText(answer) : row.reason;
    const why = text ? "<span class='" + (STATUS_CLASS[row.status] || "") + "'>" + A.esc(text) + "</span>" : "";
    const said = agentReason(row);
    return "<tr data-call='" + A.esc(row.call_id) + "'><td class='mono'>" + A.esc(A.fmtDateTime(row.ts_ms, true)) + "</td><td class='mono'>"
      + A.esc(row.tool) + "</td><td class='c-status " + (STATUS_CLASS[row.status] || "") + "'>" + A.esc(callStatus(row.status))
      + "</td><td class='num'>" + A.num(row.latency_ms, 1) + "</td><td class='mono wrap'>" + A.esc(requestText(row))
      + (row.client_request_id ? " <span class='muted'>#" + A.esc(row.client_request_id) + "</span>" : "") + "</td><td class='wrap'>" + why
      + (said ? (why ? "<br>" : "") + "<span class='muted'>" + A.esc(said) + "</span>" : "") + "</td>" + detailsCell(row) + "</tr>";
  }
  function newestFirst(a, b) { return b.ts_ms - a.ts_ms || (b.id || Infinity) - (a.id || Infinity); }
  function renderCalls(items, res) {
    const tbody = $("#ai-calls-body"), msg = $("#ai-calls-msg");
    msg.classList.toggle("hidden", !!items);
    if (!items) { msg.textContent = A.refusalText(res.body); return; }
    items.forEach(remember);
    let rows = items;
    if (callPager.onFirstPage()) {  // calls pushed while page 1 was read are kept (the read may predate them)
      const oldest = items.length === CALLS_PAGE ? items[items.length - 1].ts_ms : -Infinity;
      const known = new Set(items.map((r) => r.call_id));
      rows = items.concat(Array.from(live.values()).filter((r) => !known.has(r.call_id) && r.ts_ms >= oldest))
        .sort(newestFirst).slice(0, CALLS_PAGE);
    }
    tbody.innerHTML = rows.length ? rows.map(callRow).join("") : "<tr><td colspan=7 class='empty'>" + A.esc(A.t("ai_no_calls")) + "</td></tr>";
  }
  async function loadCalls(cursor) {
    const q = new URLSearchParams({ limit: String(CALLS_PAGE) });
    if (cursor) q.set("before_id", cursor);
    const res = await A.api("GET", "/api/ai/calls?" + q);
    if (res.status === 200) {
      const next = res.body.next_before_id;
      res.body = { items: res.body.items, next_cursor: next === null || next === undefined ? null : String(next) };
    }
    return res;
  }
  const callPager = A.Pager(loadCalls, renderCalls, { newer: $("#ac-newer"), older: $("#ac-older"), label: $("#ac-page") });
  function onCall(data, kind) {
    if (kind === "snapshot") {  // (re)subscribed: page 1 again (a resync means pushes were dropped)
      if (data && data.error) { $("#ai-calls-msg").classList.remove("hidden"); $("#ai-calls-msg").textContent = data.error; }
      if (callPager.onFirstPage()) callPager.reset();
      return;
    }
    live.set(data.call_id, data); remember(data);
    if (live.size > KEEP_CALLS) live.delete(live.keys().next().value);
    if (!callPager.onFirstPage()) return;
    const tbody = $("#ai-calls-body");
    if (tbody.querySelector("tr[data-call='" + CSS.escape(data.call_id) + "']")) return;
    const empty = tbody.querySelector(".empty"); if (empty) tbody.innerHTML = "";
    tbody.insertAdjacentHTML("afterbegin", callRow(data).replace("<tr ", "<tr class='flash' "));
    while (tbody.rows.length > CALLS_PAGE) tbody.deleteRow(-1);
  }

  /* ---------------------------------------------------------------- exit plans (from the AI state) */
  function planRow(p) {
    const trig = p.triggered ? "<span class='warn'>" + A.esc(A.t("ai_exit_" + p.triggered)) + "</span>" : A.t("no");
    return "<tr><td class='mono'>" + A.esc(p.vt_symbol) + "</td><td class='" + (p.direction === "LONG" ? "up" : "down") + "'>"
      + A.esc(A.t(p.direction) + " " + p.direction) + "</td><td class='num'>" + A.num(p.stop_loss) + "</td><td class='num'>" + A.num(p.take_profit)
      + "</td><td class='wrap'>" + A.esc(p.invalidation || A.t("none")) + "</td><td class='mono'>" + A.esc(A.fmtDateTime(p.set_ms))
      + "</td><td>" + trig + "</td><td class='mono muted'>" + A.esc((p.tool_call_id || "").slice(0, 8)) + "</td></tr>";
  }
  let lastView = null;
  function renderPlans(view) {
    lastView = view;
    const tbody = $("#ai-plans-body");
    if (!view || !view.state) { tbody.innerHTML = "<tr><td colspan=8 class='empty'>" + A.esc(A.t("ai_unknown_short")) + "</td></tr>"; return; }
    const plans = view.state.exit_plans || [];
    tbody.innerHTML = plans.length ? plans.map(planRow).join("") : "<tr><td colspan=8 class='empty'>" + A.esc(A.t("ai_no_plans")) + "</td></tr>";
  }

  /* ---------------------------------------------------------------- the agent's orders */
  function statusText(status) { const key = "os_" + status, text = A.t(key); return text === key ? status : text; }
  function orderRow(o) {
    const cls = o.status === "REJECTED" ? "bad" : o.status === "CANCELLED" ? "muted" : o.status === "ALLTRADED" ? "ok" : "";
    const exit = o.exit_reason ? "<span class='warn'>" + A.esc(A.t("ai_exit_" + o.exit_reason)) + "</span> " : "";
    return "<tr data-id='" + A.esc(o.vt_orderid) + "'><td class='mono'>" + A.esc(A.fmtDateTime(o.ts_ms)) + "</td><td class='mono'>" + A.esc(o.vt_orderid)
      + "</td><td class='mono'>" + A.esc(o.symbol) + "</td><td>" + A.esc(o.direction) + "</td><td>" + A.esc(o.offset) + "</td><td class='num'>" + A.num(o.price)
      + "</td><td class='num'>" + A.num(o.volume, 0) + "</td><td class='num'>" + A.num(o.traded, 0) + "</td><td class='" + cls + "' title='" + A.esc(o.order_reason || "")
      + "'>" + A.esc(statusText(o.status)) + "</td><td class='num'>" + (o.confidence === null || o.confidence === undefined ? A.t("none") : A.num(o.confidence, 0))
      + "</td><td class='wrap'>" + exit + A.esc(o.reason || (exit ? "" : A.t("none"))) + "</td></tr>";
  }
  /* Page 1 is the newest ORDERS_PAGE orders: those read from MySQL plus those pushed live (the writer may not
     have stored them yet), newest first. */
  let orderItems = [];
  function drawOrders(flash) {
    const tbody = $("#ai-orders-body");
    tbody.innerHTML = orderItems.length ? orderItems.map((o) => {
      const html = orderRow(o);
      return o.vt_orderid === flash ? html.replace("<tr ", "<tr class='flash' ") : html;
    }).join("") : "<tr><td colspan=11 class='empty'>" + A.esc(A.t("ai_no_orders")) + "</td></tr>";
  }
  function renderOrders(items, res) {
    if (!items) {
      $("#ai-orders-body").innerHTML = "<tr><td colspan=11 class='msg bad'>" + A.esc(A.refusalText(res.body)) + "</td></tr>";
      return;
    }
    orderItems = items;
    if (orderPager.onFirstPage()) {
      const oldest = items.length === ORDERS_PAGE ? items[items.length - 1].ts_ms : -Infinity;
      const known = new Set(items.map((o) => o.vt_orderid));
      orderItems = items.concat(Array.from(liveOrders.values()).filter((o) => !known.has(o.vt_orderid) && o.ts_ms >= oldest))
        .sort((a, b) => b.ts_ms - a.ts_ms).slice(0, ORDERS_PAGE);
    }
    drawOrders(null);
  }
  const orderPager = A.Pager((cursor) => A.api("GET", "/api/ai/orders?" + new URLSearchParams(
    cursor ? { page_size: String(ORDERS_PAGE), cursor } : { page_size: String(ORDERS_PAGE) })),
  renderOrders, { newer: $("#ao-newer"), older: $("#ao-older"), label: $("#ao-page") });
  const liveOrders = new Map();  // vt_orderid -> the agent's orders pushed live (today's)
  /* An order of the agent's pushed live (OrderState with tool_call_id): its row updated where shown, or a new one
     on page 1 when it is among the newest. */
  function onOrder(o) {
    if (!o || !o.tool_call_id) return;
    const i = orderItems.findIndex((x) => x.vt_orderid === o.vt_orderid), parts = (o.reference || "").split(":");
    const base = i >= 0 ? orderItems[i] : { reason: agentReason(calls.get(o.tool_call_id)), ts_ms: o.ts_ms,
      exit_reason: parts.length === 3 && parts[0] === "ARBIG_exit" ? parts[1] : null };
    const row = Object.assign({}, base, { vt_orderid: o.vt_orderid, symbol: o.symbol, direction: o.direction, offset: o.offset,
      price: o.price, volume: o.volume, traded: o.traded, status: o.status, confidence: o.confidence,
      tool_call_id: o.tool_call_id, order_reason: o.reason || "" });
    if (!row.reason) row.reason = agentReason(calls.get(o.tool_call_id));
    liveOrders.set(o.vt_orderid, row);
    if (i >= 0) { orderItems[i] = row; drawOrders(null); return; }
    if (!orderPager.onFirstPage()) return;
    const oldest = orderItems.length >= ORDERS_PAGE ? orderItems[orderItems.length - 1].ts_ms : -Infinity;
    if (row.ts_ms < oldest) return;
    orderItems = orderItems.concat([row]).sort((a, b) => b.ts_ms - a.ts_ms).slice(0, ORDERS_PAGE);
    drawOrders(o.vt_orderid);
  }

  /* ---------------------------------------------------------------- performance beside the strategies' */
  function pct(v) { return v === null || v === undefined ? A.t("none") : A.num(v * 100, 1) + "%"; }
  function money(v) { return v === null || v === undefined ? A.t("none") : "<span class='" + A.pnlClass(v) + "'>" + A.signed(v) + "</span>"; }
  function perfRow(name, m, isAi) {
    const label = isAi ? "<b>" + A.esc(A.t("ai_agent")) + "</b> <span class='muted mono'>" + A.esc(name) + "</span>" : "<span class='mono'>" + A.esc(name) + "</span>";
    if (!m) return "<tr class='ai-row'><td>" + label + "</td><td colspan=12 class='muted'>" + A.esc(A.t("ai_no_closes")) + "</td></tr>";
    const h = m.hold_ratios || {};
    return "<tr" + (isAi ? " class='ai-row'" : "") + " data-strategy='" + A.esc(name) + "' title='" + A.esc((m.notes || []).join("; ")) + "'><td>" + label
      + "</td><td class='num'>" + A.num(m.closed_trades, 0) + "</td><td class='num'>" + pct(m.win_rate) + "</td><td class='num'>" + A.num(m.profit_factor, 3)
      + "</td><td class='num'>" + money(m.net_pnl) + "</td><td class='num'>" + A.num(m.commission) + "</td><td class='num'>" + A.num(m.sharpe, 3)
      + "</td><td class='num'>" + A.num(m.sortino, 3) + "</td><td class='num'>" + A.num(m.max_drawdown ? m.max_drawdown.amount : null)
      + "</td><td class='num'>" + money(m.biggest_win) + "</td><td class='num'>" + money(m.biggest_loss) + "</td><td class='num'>" + A.num(m.average_confidence, 1)
      + "</td><td class='num'>" + pct(h.long) + " / " + pct(h.short) + " / " + pct(h.flat) + "</td></tr>";
  }
  async function loadPerformance() {
    const window_ = $("#ai-window").value;
    const res = await A.api("GET", "/api/ai/performance?" + new URLSearchParams({ window: window_ }));
    const msg = $("#ai-perf-msg"), tbody = $("#ai-perf-body");
    if (res.status !== 200) {
      msg.className = "msg bad"; msg.textContent = A.refusalText(res.body);
      tbody.innerHTML = "";
      return;
    }
    const p = res.body, ai = p.strategies[p.ai_strategy];
    const others = Object.keys(p.strategies).filter((n) => n !== p.ai_strategy).sort();
    tbody.innerHTML = perfRow(p.ai_strategy, ai, true) + others.map((n) => perfRow(n, p.strategies[n], false)).join("");
    const notes = ai && ai.notes && ai.notes.length ? ai.notes.join("; ") : "";
    msg.className = "msg warn" + (notes ? "" : " hidden"); msg.textContent = notes;
    $("#ai-perf-asof").textContent = A.t("ai_as_of", { t: A.fmtDateTime(p.as_of_ms) });
  }

  A.on("mcp_call", onCall);
  A.on("orders", (data, kind) => { (kind === "snapshot" ? data || [] : [data]).forEach(onOrder); });
  A.subscribe(["mcp_call", "orders"]);
  A.onAiState(renderPlans);
  $("#ai-window").onchange = loadPerformance;
  $("#ai-perf-refresh").onclick = loadPerformance;
  A.onLang(() => { callPager.reload(); orderPager.reload(); loadPerformance(); renderPlans(lastView); });
  callPager.reset();
  orderPager.reset();
  loadPerformance();
  setInterval(loadPerformance, PERF_EVERY_MS);
})();
