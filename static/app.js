/* ARBIG console: shared helpers (i18n, formatting, API with CSRF, confirmation dialog, commands)
   and the live WebSocket client (subscribe, snapshots, reconnect with backoff, staleness header,
   Redis/MySQL pills and the outage banner: with Redis down commands are greyed and refused here;
   the gateway pill and the trade gate: while the gateway is not ready (or the core, Redis or the page's
   connection is down) the trade buttons are disabled with the reason and live figures are badged
   "not tradable"; broker errors as notices that stay until dismissed, on every page). */
"use strict";
(function () {
  const body = document.body;
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const BACKOFF_S = [1, 2, 4, 8, 16, 30, 60, 120, 300, 600];
  const SILENCE_MS = 15000;
  const $ = (sel, root) => (root || document).querySelector(sel);

  /* ---------------------------------------------------------------- i18n */
  let lang = localStorage.getItem("arbig.lang") || "zh";
  function t(key, vars) {
    const dict = window.ARBIG_I18N[lang] || window.ARBIG_I18N.zh;
    let text = dict[key] !== undefined ? dict[key] : (window.ARBIG_I18N.zh[key] !== undefined ? window.ARBIG_I18N.zh[key] : key);
    for (const [k, v] of Object.entries(vars || {})) text = text.replace("{" + k + "}", v);
    return text;
  }
  function applyI18n(root) {
    (root || document).querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  }
  const langListeners = [];
  function setLang(next) {
    lang = next; localStorage.setItem("arbig.lang", lang); applyI18n();
    langListeners.forEach((fn) => fn(lang));
  }

  /* ---------------------------------------------------------------- formatting */
  const TZ = "Asia/Shanghai";
  const dtFmt = new Intl.DateTimeFormat("sv-SE", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  const timeFmt = new Intl.DateTimeFormat("sv-SE", { timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  function fmtDateTime(ms, withMs) {
    if (ms === null || ms === undefined) return t("none");
    const base = dtFmt.format(new Date(ms));
    return withMs ? base + "." + String(Math.floor(ms % 1000)).padStart(3, "0") : base;
  }
  function fmtTime(ms) { return ms === null || ms === undefined ? t("none") : timeFmt.format(new Date(ms)); }
  function num(v, digits) {
    if (v === null || v === undefined || v === "" || Number.isNaN(Number(v))) return t("none");
    const d = digits === undefined ? 2 : digits;
    return Number(v).toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
  }
  function signed(v, digits) {
    if (v === null || v === undefined) return t("none");
    return (v > 0 ? "+" : "") + num(v, digits);
  }
  function pnlClass(v) { return v > 0 ? "up" : v < 0 ? "down" : "flat"; }
  function ageText(seconds) {
    if (seconds === null || seconds === undefined) return t("none");
    if (seconds < 60) return seconds.toFixed(1) + "s";
    if (seconds < 3600) return Math.floor(seconds / 60) + "m" + Math.floor(seconds % 60) + "s";
    return Math.floor(seconds / 3600) + "h" + Math.floor((seconds % 3600) / 60) + "m";
  }
  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  const state = { status: null, offset: 0, lastData: null, ws: "connecting", attempt: 0, gaveUp: false, retryIn: 0 };

  /* ---------------------------------------------------------------- API */
  async function api(method, url, payload) {
    const opts = { method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET") {
      opts.headers["X-CSRF-Token"] = CSRF;
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(payload || {});
    }
    let res;
    try { res = await fetch(url, opts); } catch (e) {
      return { status: 0, body: { detail: "network error: the web service did not answer (" + e.message + ")" } };
    }
    if (res.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); }
    let data = null;
    try { data = await res.json(); } catch (e) { data = { detail: res.statusText }; }
    return { status: res.status, body: data };
  }
  function detailText(body) {
    if (!body) return "";
    if (typeof body.detail === "string") return body.detail;
    return JSON.stringify(body.detail || body);
  }

  /* ---------------------------------------------------------------- confirmation dialog + commands */
  function newCommandId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  const dlg = $("#confirm");
  function redisDown() { return !!(state.status && state.status.redis_ok === false); }
  /* Every dialog here sends a command; with Redis down none can reach the core: the dialog says so and
     has no confirm button (its fields stay, so the page's own code keeps working). */
  function openDialog({ title, danger, html, confirmText, onConfirm, onOpen }) {
    $("h3", dlg).textContent = title;
    $("h3", dlg).className = danger ? "danger" : "";
    $(".dbody", dlg).innerHTML = html;
    const ok = $("#confirm-ok", dlg), cancel = $("#confirm-cancel", dlg), retry = $("#confirm-retry", dlg);
    ok.textContent = confirmText || t("confirm"); ok.className = danger ? "danger" : "primary";
    ok.disabled = false; ok.classList.remove("hidden"); retry.classList.add("hidden");
    cancel.textContent = t("cancel"); cancel.disabled = false;
    ok.onclick = async () => { ok.disabled = true; cancel.disabled = true; await onConfirm(dlg); };
    cancel.onclick = () => dlg.close("cancel");
    if (onOpen) onOpen(dlg);
    if (redisDown()) {
      $(".dbody", dlg).insertAdjacentHTML("afterbegin", '<div class="msg bad" id="cmd-blocked">' + esc(t("cmd_blocked_redis")) + "</div>");
      ok.classList.add("hidden"); ok.onclick = null; cancel.textContent = t("close");
    }
    dlg.showModal();
    return dlg;
  }
  function showOutcome(res) {
    const box = $(".outcome", dlg) || (() => { const d = document.createElement("div"); d.className = "outcome"; $(".dbody", dlg).appendChild(d); return d; })();
    const status = res.body && res.body.status;
    const cls = res.status === 200 ? "ok" : res.status === 202 ? "warn" : "bad";
    const head = res.status === 200 ? t("done") : status ? t(status) : "HTTP " + res.status;
    const reason = res.status === 200 ? (res.body.reason || res.body.detail || "") : detailText(res.body);
    box.innerHTML = '<div class="msg ' + cls + '"><b>' + esc(head) + "</b> " + esc(reason) + "</div>";
    const ok = $("#confirm-ok", dlg), cancel = $("#confirm-cancel", dlg);
    ok.classList.add("hidden"); cancel.disabled = false; cancel.textContent = t("close");
  }
  function commandSummary(type, params, id) {
    const rows = [[t("cmd_type"), type]].concat(Object.entries(params).map(([k, v]) => [k, v === null ? "—" : v]));
    rows.push([t("cmd_id"), id]);
    return '<table class="summary">' + rows.map(([k, v]) => "<tr><th>" + esc(k) + "</th><td>" + esc(v) + "</td></tr>").join("") + "</table>";
  }
  /* Send {id, type, params}; the id was made when the dialog opened, so a retry re-sends the same id. */
  async function postCommand(id, type, params) {
    const box = $(".outcome", dlg);
    if (box) box.innerHTML = '<div class="msg warn">' + esc(t("waiting")) + "</div>";
    const res = await api("POST", "/api/commands", { id, type, params });
    showOutcome(res);
    if (res.status === 503 || res.status === 0) {  // safe: the same id is never executed twice
      const retry = $("#confirm-retry", dlg);
      retry.textContent = t("retry"); retry.classList.remove("hidden");
      retry.onclick = async () => { retry.classList.add("hidden"); await postCommand(id, type, params); };
    }
    return res;
  }
  /* Open a confirmation for a command; resolves with the API answer, or null when cancelled. */
  function confirmCommand({ title, text, type, params, danger, confirmText }) {
    const id = newCommandId();
    return new Promise((resolve) => {
      let result = null;
      openDialog({
        title, danger, confirmText,
        html: (text ? "<div>" + esc(text) + "</div>" : "") + "<div class='muted'>" + esc(t("will_send")) + ":</div>"
          + commandSummary(type, params, id) + '<div class="outcome"></div>',
        onConfirm: async () => { result = await postCommand(id, type, params); },
      });
      dlg.addEventListener("close", () => resolve(result), { once: true });
    });
  }

  /* ---------------------------------------------------------------- header: status, staleness, banner */
  function serverNow() { return Date.now() + state.offset; }
  function setPill(el, cls, text) { el.className = "pill " + cls; el.innerHTML = '<span class="dot"></span>' + esc(text); }
  function renderHeader() {
    const st = state.status, max = Number(body.dataset.reconnectMax);
    const wsText = state.ws === "open" ? t("ws_open") : state.gaveUp ? t("ws_closed")
      : state.retryIn > 0 ? t("ws_retry", { n: state.attempt, max, s: Math.ceil(state.retryIn) }) : t("ws_connecting");
    setPill($("#ws-state"), state.ws === "open" ? "ok" : state.gaveUp ? "bad" : "warn", "WS " + wsText);
    const core = st ? st.core_alive : null;
    setPill($("#core-state"), core === true ? "ok" : core === false ? "bad" : "warn",
      core === true ? t("core_up") : core === false ? t("core_down") : t("core_unknown"));
    const tickAge = st && st.last_tick_ms ? (serverNow() - st.last_tick_ms) / 1000 : null;
    setPill($("#tick-age"), st && st.stale ? "bad" : "ok", t("tick_age") + " " + ageText(tickAge));
    const dataAge = state.lastData ? (Date.now() - state.lastData) / 1000 : null;
    setPill($("#data-age"), state.ws === "open" ? "ok" : "bad", t("data_age") + " " + ageText(dataAge));
    const stale = state.ws !== "open" || !st || st.stale;
    $("#stale-badge").classList.toggle("hidden", !stale);
    renderStores(st);
    renderGateway(st);
    renderBanner(st);
    renderGate();
  }
  /* Redis and the web's MySQL: a pill each; with Redis down the command buttons are greyed (CSS). */
  function renderStores(st) {
    for (const [name, ok, since] of [["redis", st ? st.redis_ok : null, st && st.redis_down_since_ms],
      ["mysql", st ? st.mysql_ok : null, st && st.mysql_down_since_ms]]) {
      const el = $("#" + name + "-state");
      setPill(el, ok === true ? "ok" : ok === false ? "bad" : "warn", t(name + (ok === true ? "_up" : ok === false ? "_down" : "_unknown")));
      el.title = ok === false && since ? t("down_since", { since: fmtDateTime(since) }) : "";
    }
    body.classList.toggle("redis-down", redisDown());
  }
  function renderBanner(st) {
    const banner = $("#banner");
    let text = "", cls = "bad", kind = "";
    if (state.gaveUp) { text = t("banner_gave_up"); kind = "gave-up"; }
    else if (st && st.redis_ok === false) { text = t("banner_redis_down", { since: fmtTime(st.redis_down_since_ms) }); kind = "redis"; }
    else if (st && st.core_alive === false) { text = t("banner_core_down"); kind = "core"; }
    else if (st && st.mysql_ok === false && st.mysql_down_since_ms) {
      text = t("banner_mysql_down", { since: fmtTime(st.mysql_down_since_ms) }); cls = "warn"; kind = "mysql";
    } else if (st && st.stale) { text = t("banner_stale", { s: st.stale_after_s }); cls = "warn"; kind = "stale"; }
    banner.textContent = text; banner.className = "banner " + cls + (text ? "" : " hidden");
    banner.dataset.kind = kind;
  }

  /* The gateway pill: READY only when LOGGED_IN (logged in, settlement confirmed, instruments loaded). */
  const GW_CLASS = { LOGGED_IN: "ok", STARTING: "warn", CONNECTING: "warn", CONNECTED: "warn", SETTLING: "warn",
    SETTLEMENT_FAILED: "bad", DISCONNECTED: "bad", LOGIN_FAILED: "bad", LOGIN_TIMEOUT: "bad", STOPPED: "bad" };
  function gatewayText(gw) { return gw ? t("gws_" + gw.state) : t("gws_unknown"); }
  function renderGateway(st) {
    const el = $("#gw-state"), gw = st && st.gateway;
    if (!el) return;
    setPill(el, gw ? (GW_CLASS[gw.state] || "bad") : st && st.core_alive === false ? "bad" : "warn",
      t("gw_pill", { state: gatewayText(gw) }));
    el.dataset.state = gw ? gw.state : "";
    el.title = gw ? [gw.name + " " + gw.state, gw.reason, t("gw_since") + " " + fmtDateTime(gw.since_ms)].filter(Boolean).join(" · ")
      : st && st.core_alive === false ? t("core_down") : "";
  }
  /* Why no trade can be sent now ("" when one can): the page is not connected, Redis or the core is down,
     or the gateway is not LOGGED_IN. The emergency stop is not gated by this (only by Redis, above). */
  function tradeBlock() {
    const st = state.status;
    if (state.ws !== "open") return t("nt_ws");
    if (!st) return t("nt_unknown");
    if (st.redis_ok === false) return t("nt_redis");
    if (st.core_alive !== true) return t("nt_core");
    const gw = st.gateway;
    if (!gw || gw.state !== "LOGGED_IN") return t("nt_gateway", { state: gatewayText(gw) });
    return "";
  }
  const TRADE_BUTTONS = ".close-btn, .cancel-btn, .s-start";
  const gateListeners = [];
  let gate = null;
  function renderGate() {
    const reason = tradeBlock();
    if (reason === gate) return;
    gate = reason;
    body.classList.toggle("not-tradable", !!reason);
    document.querySelectorAll(".nt-badge").forEach((el) => { el.classList.toggle("hidden", !reason); el.title = reason; });
    if (reason) document.querySelectorAll(TRADE_BUTTONS).forEach((b) => { b.disabled = true; b.title = reason; });
    gateListeners.forEach((fn) => { try { fn(reason); } catch (e) { console.error(e); } });  // pages restore their own state
  }
  /* A trade button's state: disabled when the page says so or the gate is closed, with the gate's reason as title. */
  function gateButton(btn, ownDisabled) {
    const reason = tradeBlock();
    btn.disabled = !!ownDisabled || !!reason;
    btn.title = reason;
  }

  /* ---------------------------------------------------------------- broker errors: notices until dismissed */
  const MAX_NOTICES = 5, NOTICE_RECENT_MS = 3600 * 1000, DISMISSED_KEY = "arbig.dismissed", DISMISSED_MAX = 300;
  const notices = new Map();  // key -> system event
  function noticeKey(e) { return e.ts_ms + "|" + e.kind + "|" + String(e.message || "").slice(0, 200); }
  function dismissed() {
    try { return JSON.parse(localStorage.getItem(DISMISSED_KEY) || "[]"); } catch (e) { return []; }
  }
  function dismiss(keys) {
    const list = dismissed().filter((k) => !keys.includes(k)).concat(keys).slice(-DISMISSED_MAX);
    localStorage.setItem(DISMISSED_KEY, JSON.stringify(list));
    keys.forEach((k) => notices.delete(k));
    renderNotices();
  }
  /* A broker refusal (kind broker_error; one the front replays at login is an old one: not a notice), or any
     ERROR event about an order. */
  function isNotice(e) {
    const detail = e.detail || {};
    if (e.kind === "broker_error") return !detail.replayed;
    return e.level === "ERROR" && !!detail.vt_orderid;
  }
  function onSystemEvent(data, kind) {
    const list = kind === "snapshot" ? (data || []).filter((e) => serverNow() - e.ts_ms < NOTICE_RECENT_MS) : [data];
    const gone = new Set(dismissed());
    let added = false;
    for (const e of list) {
      if (!e || !isNotice(e)) continue;
      const key = noticeKey(e);
      if (gone.has(key) || notices.has(key)) continue;
      notices.set(key, e); added = true;
    }
    if (added) renderNotices();
  }
  function noticeHtml(key, e) {
    const d = e.detail || {};
    const head = e.kind === "broker_error" ? t("notice_broker") : t("notice_error");
    const what = [d.symbol, d.vt_orderid].filter(Boolean).join(" ");
    return '<div class="notice ' + (e.level === "ERROR" ? "bad" : "warn") + '" data-key="' + esc(key) + '" data-kind="' + esc(e.kind) + '">'
      + "<div class='nhead'><b>" + esc(head) + "</b><span class='mono'>" + esc(fmtDateTime(e.ts_ms)) + "</span>"
      + (what ? "<span class='mono'>" + esc(what) + "</span>" : "")
      + "<button class='notice-x' title='" + esc(t("dismiss")) + "'>×</button></div>"
      + "<div class='nmsg'>" + esc(e.message) + "</div></div>";
  }
  function renderNotices() {
    const box = $("#notices");
    if (!box) return;
    const all = Array.from(notices.entries()).sort((a, b) => b[1].ts_ms - a[1].ts_ms);
    const shown = all.slice(0, MAX_NOTICES), more = all.length - shown.length;
    box.innerHTML = shown.map(([k, e]) => noticeHtml(k, e)).join("")
      + (all.length > 1 ? "<div class='notice-tools'>" + (more > 0 ? "<span>" + esc(t("notice_more", { n: more })) + "</span> " : "")
        + "<a href='/'>" + esc(t("notice_system")) + "</a> <button class='notice-all'>" + esc(t("dismiss_all")) + "</button></div>" : "");
    box.classList.toggle("hidden", all.length === 0);
    box.querySelectorAll(".notice-x").forEach((b) => { b.onclick = () => dismiss([b.closest(".notice").dataset.key]); });
    const allBtn = $(".notice-all", box);
    if (allBtn) allBtn.onclick = () => dismiss(all.map(([k]) => k));
  }

  /* ---------------------------------------------------------------- live WebSocket client */
  const handlers = {};   // topic -> [fn(data, kind)]
  const topics = new Set();
  let ws = null, silenceTimer = null, retryTimer = null;
  function on(topic, fn) { (handlers[topic] = handlers[topic] || []).push(fn); }
  function subscribe(list) {
    list.forEach((tp) => topics.add(tp));
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ op: "subscribe", topics: list }));
  }
  function unsubscribe(list) {
    list.forEach((tp) => topics.delete(tp));
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ op: "unsubscribe", topics: list }));
  }
  function dispatch(msg) {
    if (msg.type === "snapshot" || msg.type === "update") {
      state.lastData = Date.now();  // the server confirmed the page's data is current just now
      (handlers[msg.topic] || []).forEach((fn) => { try { fn(msg.data, msg.type); } catch (e) { console.error(e); } });
    } else if (msg.type === "ping") {
      state.offset = msg.t - Date.now();
      ws.send(JSON.stringify({ op: "pong", t: msg.t }));
    } else if (msg.type === "hello") {
      state.offset = msg.server_ms - Date.now(); state.attempt = 0; state.retryIn = 0;
    } else if (msg.type === "resync") {
      ws.send(JSON.stringify({ op: "subscribe", topics: Array.from(topics) }));
    } else if (msg.type === "error") {
      console.warn("server:", msg.message);
    }
  }
  function armSilence() {
    clearTimeout(silenceTimer);
    silenceTimer = setTimeout(() => { if (ws) ws.close(4000, "silent server"); }, SILENCE_MS);
  }
  function connect() {
    state.ws = "connecting"; renderHeader();
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(proto + location.host + "/ws");
    ws.onopen = () => {
      state.ws = "open"; state.attempt = 0; state.retryIn = 0; armSilence(); renderHeader();
      ws.send(JSON.stringify({ op: "subscribe", topics: Array.from(topics) }));
    };
    ws.onmessage = (ev) => {
      armSilence();
      let msg; try { msg = JSON.parse(ev.data); } catch (e) { return; }
      dispatch(msg);
    };
    ws.onclose = (ev) => { clearTimeout(silenceTimer); ws = null; state.ws = "closed"; renderHeader(); afterClose(ev.code); };
  }
  async function afterClose(code) {
    if (code === 4401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); return; }
    try {  // a refused handshake looks like any other close: ask whether the session is still valid
      const res = await fetch("/api/session", { credentials: "same-origin" });
      if (res.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); return; }
    } catch (e) { /* server unreachable: keep retrying */ }
    scheduleReconnect();
  }
  function scheduleReconnect() {
    const max = Number(body.dataset.reconnectMax) || 10;
    if (state.attempt >= max) { state.gaveUp = true; renderHeader(); return; }
    const delay = BACKOFF_S[Math.min(state.attempt, BACKOFF_S.length - 1)];
    state.attempt += 1; state.retryIn = delay;
    const until = Date.now() + delay * 1000;
    clearInterval(retryTimer);
    retryTimer = setInterval(() => {
      state.retryIn = Math.max(0, (until - Date.now()) / 1000); renderHeader();
      if (state.retryIn <= 0) { clearInterval(retryTimer); connect(); }
    }, 250);
  }

  /* ---------------------------------------------------------------- page chrome */
  function initChrome() {
    document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === body.dataset.page));
    $("#lang-toggle").onclick = () => setLang(lang === "zh" ? "en" : "zh");
    $("#logout").onclick = async () => { await api("POST", "/logout"); location.href = "/login"; };
    $("#estop").onclick = () => confirmCommand({ title: t("estop_title"), text: t("estop_text"), type: "emergency.stop",
      params: {}, danger: true, confirmText: t("estop") });
    on("heartbeat", (st) => {
      const recovered = redisDown() && st.redis_ok === true;
      state.status = st; state.offset = st.server_ms - Date.now(); renderHeader();
      // Redis is back: fresh snapshots of every topic (updates were missed while it was down)
      if (recovered && ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ op: "subscribe", topics: Array.from(topics) }));
    });
    topics.add("heartbeat");
    on("system", onSystemEvent);
    topics.add("system");
    langListeners.push(renderHeader, renderNotices);
    applyI18n(); renderHeader();
    setInterval(renderHeader, 1000);
    connect();
  }

  window.ARBIG = { t, applyI18n, onLang: (fn) => langListeners.push(fn), lang: () => lang, fmtDateTime, fmtTime, num, signed,
    pnlClass, ageText, esc, api, detailText, confirmCommand, openDialog, showOutcome, newCommandId, on, subscribe,
    unsubscribe, state, serverNow, $, tradeBlock, gateButton, onTradeGate: (fn) => gateListeners.push(fn) };
  document.addEventListener("DOMContentLoaded", initChrome);
})();
