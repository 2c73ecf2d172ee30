/* Market page, the order ticket: contract (the main one by default; every contract the gateway knows, those with a
   position marked), direction 买/卖, offset 开仓/平仓/平今/平昨 with the closable lots shown, volume, a LIMIT price
   or MARKET (marketable). While the fields change, `order.preview` (read only, a new command id each call, debounced)
   shows the margin and commission the order would cost, the available funds and why the core would refuse it.
   Confirm opens a dialog with the exact orders the core will send (the converter's close-today/close-yesterday
   split) and, when strategies on the contract are running, "stop strategy X first"; the dialog's command id is made
   when it opens (a retry re-sends it). The answer's orders are then followed to their final state (outcomes.js).
   The send button (.ticket-btn) is disabled, with the reason, while the trade gate (app.js) is closed. */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$, O = window.ARBIG_OUTCOMES;
  const box = $("#ticket-box");
  if (!box) return;
  const DEBOUNCE_MS = 300, REFRESH_MS = 10000;
  const OFFSETS = ["OPEN", "CLOSE", "CLOSETODAY", "CLOSEYESTERDAY"];
  const st = { symbol: "", picked: false, direction: "LONG", offset: "OPEN", preview: null, problem: "", busy: false,
    seq: 0, timer: null, priced: "", main: document.body.dataset.main || "", dialogOpen: false, sent: false };
  let contracts = new Map(), held = new Map();  // vt_symbol -> ContractInfo; vt_symbol -> [position rows]

  function seg(id, values) {
    return "<div class='seg' id='" + id + "'>" + values.map((v) => "<button type='button' data-v='" + v + "'></button>").join("") + "</div>";
  }
  box.innerHTML = "<h2><span data-i18n='tk_title'>下单</span><span class='badge nt-badge hidden' data-i18n='not_tradable'>不可交易</span>"
    + "<span class='right muted mono' id='tk-quote'></span></h2><div class='body ticket nt-dim'><div class='tk-fields'>"
    + "<label data-i18n='col_contract'>合约</label><select id='tk-symbol'></select>"
    + "<label data-i18n='col_direction'>方向</label>" + seg("tk-direction", ["LONG", "SHORT"])
    + "<label data-i18n='col_offset'>开平</label>" + seg("tk-offset", OFFSETS)
    + "<label data-i18n='tk_closable'>可平</label><div id='tk-closable' class='mono'></div>"
    + "<label data-i18n='tk_volume'>手数</label><span><input id='tk-volume' type='number' min='1' max='1000' step='1' value='1'>"
    + " <button type='button' id='tk-all' data-i18n='tk_all'>全部可平</button></span>"
    + "<label data-i18n='price_type'>价格类型</label><span><select id='tk-ptype'><option value='LIMIT'></option><option value='MARKET'></option></select>"
    + " <input id='tk-price' type='number' step='0.02' min='0'> <button type='button' id='tk-best' data-i18n='tk_best'>对手价</button></span>"
    + "</div><div class='tk-preview'><div class='kv'>"
    + "<div><label data-i18n='tk_send_price'>委托价</label><span id='tk-pv-price'>—</span></div>"
    + "<div><label data-i18n='tk_margin'>保证金</label><span id='tk-pv-margin'>—</span></div>"
    + "<div><label data-i18n='tk_commission'>手续费</label><span id='tk-pv-commission'>—</span></div>"
    + "<div><label data-i18n='available'>可用资金</label><span id='tk-pv-available'>—</span></div></div>"
    + "<div id='tk-orders' class='muted'></div><div id='tk-problems'></div>"
    + "<div class='tk-actions'><span id='tk-state' class='muted'></span><button type='button' id='tk-submit' class='ticket-btn primary'></button></div>"
    + "</div></div>";
  const el = (id) => $("#" + id, box);

  /* ---------------------------------------------------------------- the fields */
  function label(prefix, value) { const key = prefix + value, text = A.t(key); return text === key ? value : text; }
  function priceType() { return el("tk-ptype").value; }
  /* The ticket's params, or a local problem (text) when they cannot be sent as they are. */
  function readParams() {
    const volume = Number(el("tk-volume").value), price = Number(el("tk-price").value);
    if (!st.symbol) return { problem: A.t("tk_no_contract") };
    if (!Number.isInteger(volume) || volume < 1 || volume > 1000) return { problem: A.t("tk_bad_volume") };
    const params = { vt_symbol: st.symbol, direction: st.direction, offset: st.offset, volume, price_type: priceType(), price: null };
    if (params.price_type === "LIMIT") {
      if (el("tk-price").value === "" ) return { problem: A.t("tk_need_price"), params };
      if (!(price > 0 && price <= 1e6)) return { problem: A.t("tk_bad_price"), params };
      params.price = price;
    }
    return { params };
  }
  function describe(p, price) {
    return A.t("tk_label", { dir: label("dir_", p.direction), off: label("off_", p.offset), volume: p.volume, symbol: p.vt_symbol,
      price: p.price_type === "MARKET" ? A.t("MARKET") + (price ? " ≈" + A.num(price) : "") : A.num(p.price) });
  }
  function closableSide() { return st.direction === "LONG" ? "SHORT" : "LONG"; }  // a buy closes a short position
  function closableFor(pv) {
    const c = pv && pv.closable && pv.closable[closableSide()];
    if (!c) return 0;
    return st.offset === "CLOSETODAY" ? Math.min(c.td, c.closable) : st.offset === "CLOSEYESTERDAY" ? Math.min(c.yd, c.closable) : c.closable;
  }

  /* ---------------------------------------------------------------- render */
  function renderContracts() {
    const sel = el("tk-symbol"), list = Array.from(new Set([...contracts.keys(), ...held.keys(), st.symbol].filter(Boolean)));
    const mainVt = mainSymbol();
    list.sort((a, b) => (b === mainVt) - (a === mainVt) || held.has(b) - held.has(a) || a.localeCompare(b));
    const html = list.map((vt) => "<option value='" + A.esc(vt) + "'>" + A.esc(vt
      + (vt === mainVt ? " · " + A.t("main_contract") : "") + (held.has(vt) ? " · " + A.t("tk_held") : "")) + "</option>").join("");
    if (sel.innerHTML !== html) sel.innerHTML = html;
    sel.value = st.symbol;
  }
  function mainSymbol() {
    for (const c of contracts.values()) if (c.symbol === st.main) return c.vt_symbol;
    return st.main ? st.main + ".SHFE" : "";
  }
  function renderFields() {
    box.querySelectorAll("#tk-direction button").forEach((b) => {
      b.textContent = A.t("dir_" + b.dataset.v) + " " + b.dataset.v;
      b.className = (b.dataset.v === st.direction ? "on " : "") + (b.dataset.v === "LONG" ? "up" : "down");
    });
    box.querySelectorAll("#tk-offset button").forEach((b) => {
      b.textContent = A.t("off_" + b.dataset.v); b.title = b.dataset.v; b.classList.toggle("on", b.dataset.v === st.offset);
    });
    const sel = el("tk-ptype");
    sel.options[0].textContent = A.t("LIMIT") + " LIMIT"; sel.options[1].textContent = A.t("MARKET") + " MARKET";
    el("tk-price").disabled = priceType() !== "LIMIT";
    el("tk-all").disabled = st.offset === "OPEN";
  }
  function renderClosable(pv) {
    const c = pv && pv.closable;
    if (!c) { el("tk-closable").textContent = A.t("none"); return; }
    const side = (d) => {
      const x = c[d] || { volume: 0, td: 0, yd: 0, frozen: 0, closable: 0 };
      const on = st.offset !== "OPEN" && d === closableSide() ? " on" : "";
      return "<span class='tk-side" + on + "' data-side='" + d + "'>" + A.esc(A.t("tk_closable_side", { dir: A.t(d), n: A.num(x.closable, 0),
        held: A.num(x.volume, 0), td: A.num(x.td, 0), yd: A.num(x.yd, 0), frozen: A.num(x.frozen, 0) })) + "</span>";
    };
    el("tk-closable").innerHTML = side("LONG") + " · " + side("SHORT");
  }
  function renderPreview() {
    const pv = st.preview, read = readParams();
    renderClosable(pv);
    const priced = pv && read.params && priceType() === pv.price_type;
    el("tk-pv-price").textContent = priced && pv.price ? A.num(pv.price) : A.t("none");
    el("tk-pv-margin").textContent = priced && !read.problem ? A.num(pv.margin) : A.t("none");
    el("tk-pv-commission").textContent = priced && !read.problem ? A.num(pv.commission) : A.t("none");
    el("tk-pv-available").textContent = pv ? A.num(pv.available) : A.t("none");
    el("tk-orders").innerHTML = priced && !read.problem && pv.orders && pv.orders.length
      ? A.esc(A.t("will_send")) + ": " + pv.orders.map((o) => A.esc(label("dir_", o.direction) + " " + label("off_", o.offset) + " "
        + A.num(o.volume, 0) + " @" + A.num(o.price))).join(" · ") : "";
    const problems = read.problem ? [read.problem] : [];
    if (st.problem) problems.push(st.problem);
    if (pv && !read.problem) (pv.problems || []).forEach((p) => problems.push(problemText(p)));
    el("tk-problems").innerHTML = problems.map((p) => "<div class='msg bad tk-problem'>" + A.esc(p) + "</div>").join("");
    renderQuote(pv && pv.tick);
    renderButton();
  }
  function problemText(p) {
    const key = "rc_" + p.code, text = p.code ? A.t(key, p.vars || {}) : key;
    return text !== key ? text : p.text || p.code;
  }
  function renderQuote(tk) {
    el("tk-quote").textContent = tk ? A.t("tk_quote", { bid: A.num(tk.bid), ask: A.num(tk.ask), last: A.num(tk.last) }) : "";
  }
  function renderButton() {
    const read = readParams(), btn = el("tk-submit");
    btn.textContent = read.params ? describe(read.params, st.preview && st.preview.price) + " …" : A.t("tk_submit");
    A.gateButton(btn, !!read.problem || st.busy);
    if (!btn.title && read.problem) btn.title = read.problem;
    el("tk-state").textContent = st.busy ? A.t("tk_previewing") : "";
  }
  function render() { renderContracts(); renderFields(); renderPreview(); }

  /* ---------------------------------------------------------------- preview (read only) */
  function previewParams() {
    const read = readParams();
    if (read.params && read.params.price_type === "LIMIT" && read.params.price === null) {
      return Object.assign({}, read.params, { price_type: "MARKET" });  // no price yet: closable, funds and the quote
    }
    return read.problem && !read.params ? null : read.params;
  }
  function schedulePreview() {
    clearTimeout(st.timer);
    st.timer = setTimeout(runPreview, DEBOUNCE_MS);
  }
  /* Ask the core; the answer is shown unless a newer preview was asked for meanwhile. Resolves with the preview
     (null when refused or unanswered). */
  async function runPreview() {
    clearTimeout(st.timer);
    const params = previewParams();
    renderPreview();
    if (!params) return null;
    const seq = ++st.seq;
    st.busy = true; renderButton();
    const res = await A.api("POST", "/api/commands", { id: A.newCommandId(), type: "order.preview", params });
    const pv = res.status === 200 ? res.body.result : null;
    if (seq !== st.seq) return pv;  // a newer preview is on its way: it will be shown
    st.busy = false;
    if (pv) { st.preview = pv; st.problem = ""; prefillPrice(); }
    else { st.preview = null; st.problem = O.refusal(res.body); }
    renderPreview();
    return pv;
  }
  /* A LIMIT price is filled in once per contract from the book: the opposite best. */
  function prefillPrice() {
    const tk = st.preview && st.preview.tick;
    if (!tk || st.priced === st.symbol || el("tk-price").value !== "") return;
    const best = st.direction === "LONG" ? tk.ask || tk.last : tk.bid || tk.last;
    if (!best) return;
    st.priced = st.symbol;
    el("tk-price").value = Number(best).toFixed(2);
    schedulePreview();
  }

  /* ---------------------------------------------------------------- confirmation and outcome */
  async function submit() {
    const read = readParams();
    if (!read.params || read.problem) return;
    const pv = await runPreview();  // what the core would send right now
    if (!pv || st.dialogOpen) return;
    openConfirm(read.params, pv);
  }
  function ordersTable(pv) {
    const rows = (pv.orders || []).map((o) => "<tr><td>" + A.esc(label("dir_", o.direction) + " " + o.direction) + "</td><td>"
      + A.esc(label("off_", o.offset) + " " + o.offset) + "</td><td class='num'>" + A.num(o.volume, 0) + "</td><td class='num'>"
      + A.num(o.price) + "</td></tr>").join("");
    return "<table class='summary tk-dlg-orders'><thead><tr><th>" + A.esc(A.t("col_direction")) + "</th><th>" + A.esc(A.t("col_offset"))
      + "</th><th class='num'>" + A.esc(A.t("col_qty")) + "</th><th class='num'>" + A.esc(A.t("price")) + "</th></tr></thead><tbody>"
      + (rows || "<tr><td colspan=4 class='empty'>" + A.esc(A.t("tk_nothing_sent")) + "</td></tr>") + "</tbody></table>";
  }
  function dialogHtml(p, pv, id) {
    const running = (pv.strategies || []).filter((s) => s.trading);
    const problems = (pv.problems || []).map((x) => "<div class='msg bad tk-problem'>" + A.esc(problemText(x)) + "</div>").join("");
    return "<div class='tk-dlg-what'><b>" + A.esc(describe(p, pv.price)) + "</b></div>"
      + "<div class='muted'>" + A.esc(A.t("tk_exact")) + "</div>" + ordersTable(pv)
      + (p.price_type === "MARKET" ? "<div class='muted'>" + A.esc(A.t("tk_market_note")) + "</div>" : "")
      + "<div class='kv'><div><label>" + A.esc(A.t("tk_margin")) + "</label><span>" + A.num(pv.margin) + "</span></div><div><label>"
      + A.esc(A.t("tk_commission")) + "</label><span>" + A.num(pv.commission) + "</span></div><div><label>" + A.esc(A.t("available"))
      + "</label><span>" + A.num(pv.available) + "</span></div></div>" + problems
      + (running.length ? "<label class='tk-stop'><input type='checkbox' id='tk-stop' checked> " + A.esc(A.t("tk_stop_first",
        { names: running.map((s) => s.name + " (pos " + s.pos + ")").join(", ") })) + "</label>" : "")
      + "<div class='muted mono'>order.send · " + A.esc(A.t("cmd_id")) + " " + A.esc(id) + "</div><div class='tk-stopped'></div><div class='outcome'></div>";
  }
  function openConfirm(p, pv) {
    const id = A.newCommandId();  // made now: a double click or a retry re-sends this same id
    st.dialogOpen = true; st.sent = false;
    const dlg = A.openDialog({ title: A.t("tk_confirm_title"), html: dialogHtml(p, pv, id), confirmText: A.t("tk_confirm"),
      danger: p.direction === "SHORT", onConfirm: (d) => send(d, id, p) });
    dlg.addEventListener("close", () => { st.dialogOpen = false; schedulePreview(); }, { once: true });
    gateConfirm();
  }
  function gateConfirm() {
    const ok = $("#confirm-ok");
    if (!st.dialogOpen || st.sent || !ok || ok.classList.contains("hidden")) return;
    A.gateButton(ok, false);
  }
  async function send(dlg, id, p) {
    const stop = $("#tk-stop", dlg), params = Object.assign({}, p, { stop_strategies: !!(stop && stop.checked) });
    if (stop) stop.disabled = true;
    st.sent = true;
    const out = $(".outcome", dlg);
    out.innerHTML = "<div class='msg warn'>" + A.esc(A.t("waiting")) + "</div>";
    const res = await A.api("POST", "/api/commands", { id, type: "order.send", params });
    answered(dlg, res, () => send(dlg, id, p), params);
  }
  function answered(dlg, res, retry, params) {
    const ok = $("#confirm-ok"), cancel = $("#confirm-cancel"), again = $("#confirm-retry"), out = $(".outcome", dlg);
    ok.classList.add("hidden"); cancel.disabled = false; cancel.textContent = A.t("close");
    if (res.status === 200) {
      const r = res.body.result || {};
      if ((r.stopped_strategies || []).length) {
        $(".tk-stopped", dlg).innerHTML = "<div class='msg ok'>" + A.esc(A.t("tk_stopped", { names: r.stopped_strategies.join(", ") })) + "</div>";
      }
      const tracker = A.follow(r.orders || [], { label: describe(params, r.price), executionId: r.execution_id, volume: params.volume, into: out });
      tracker.onDone(() => schedulePreview());
      return;
    }
    const head = res.body && res.body.status ? A.t(res.body.status) : "HTTP " + res.status;
    out.innerHTML = "<div class='msg bad'><b>" + A.esc(head) + "</b> " + A.esc(O.refusal(res.body)) + "</div>";
    if (res.status === 503 || res.status === 0) {  // safe: the same id is never executed twice
      again.textContent = A.t("retry"); again.classList.remove("hidden");
      again.onclick = () => { again.classList.add("hidden"); cancel.disabled = true; retry(); };
    }
    schedulePreview();
  }

  /* ---------------------------------------------------------------- events */
  function pick(vt) {
    if (vt === st.symbol) return;
    st.symbol = vt; st.preview = null; st.problem = "";
    el("tk-price").value = ""; st.priced = "";
    render(); schedulePreview();
  }
  el("tk-symbol").onchange = () => { st.picked = true; pick(el("tk-symbol").value); };
  el("tk-direction").onclick = (ev) => {
    const v = ev.target.closest("button") && ev.target.closest("button").dataset.v;
    if (!v || v === st.direction) return;
    st.direction = v; render(); schedulePreview();
  };
  el("tk-offset").onclick = (ev) => {
    const v = ev.target.closest("button") && ev.target.closest("button").dataset.v;
    if (!v || v === st.offset) return;
    st.offset = v; render(); schedulePreview();
  };
  ["tk-volume", "tk-price", "tk-ptype"].forEach((id) => { el(id).oninput = () => { renderFields(); renderPreview(); schedulePreview(); }; });
  el("tk-all").onclick = () => { const n = closableFor(st.preview); if (n > 0) { el("tk-volume").value = n; renderPreview(); schedulePreview(); } };
  el("tk-best").onclick = () => {
    const tk = st.preview && st.preview.tick, best = tk && (st.direction === "LONG" ? tk.ask : tk.bid);
    if (!best) return;
    el("tk-ptype").value = "LIMIT"; el("tk-price").value = Number(best).toFixed(2);
    renderFields(); renderPreview(); schedulePreview();
  };
  el("tk-submit").onclick = submit;

  A.on("contracts", (data, kind) => {
    if (kind === "snapshot") contracts = new Map((data || []).map((c) => [c.vt_symbol, c]));
    else if (data && data.vt_symbol) contracts.set(data.vt_symbol, data);
    if (!st.symbol) pick(mainSymbol()); else renderContracts();
  });
  let heldSig = "";
  A.on("positions", (rows) => {
    held = new Map();
    (rows || []).forEach((r) => { if (r.volume > 0) held.set(r.vt_symbol, (held.get(r.vt_symbol) || []).concat([r])); });
    renderContracts();
    const sig = JSON.stringify((held.get(st.symbol) || []).map((r) => [r.direction, r.volume, r.frozen, r.td_volume, r.yd_volume]));
    if (sig !== heldSig) { heldSig = sig; schedulePreview(); }  // what is closable changed
  });
  A.on("heartbeat", (s) => {
    if (!s.main_contract || s.main_contract === st.main) return;
    st.main = s.main_contract;
    if (!st.picked) pick(mainSymbol()); else renderContracts();
  });
  A.subscribe(["contracts", "positions"]);
  A.onLang(render);
  A.onTradeGate(() => { renderButton(); gateConfirm(); });
  setInterval(() => {
    if (document.visibilityState === "visible" && !st.dialogOpen && !A.tradeBlock()) schedulePreview();
  }, REFRESH_MS);
  st.symbol = mainSymbol();
  render();
  schedulePreview();
})();
