/* ARBIG console, the header and what it gates, rendered from A.state on every "arbig:state" event and
   every second:
   - the pills (connection, core, gateway, Redis, MySQL, tick age, data age), the STALE badge and the banner;
   - while the page is disconnected nothing is known: the pills say "unknown" (grey), the body gets the class
     `ws-down` (app.css greys every live figure) and every command button is disabled until fresh data
     arrives on the new connection (the emergency stop excepted);
   - the trade gate: while the gateway is not ready (or the core, Redis or the page's connection is down) the
     trade buttons are disabled with the reason and live figures are badged "not tradable";
   - with Redis down commands are greyed and refused (body class `redis-down`, the dialog in ui.js). */
"use strict";
(function () {
  const A = window.ARBIG, t = A.t, $ = A.$, state = A.state, body = document.body;
  /* Buttons that send a command; a page's own command button gets the class "cmd". Not #estop. */
  const COMMAND_BUTTONS = ".close-btn, .cancel-btn, .s-init, .s-start, .s-stop, #sw-button, .ticket-btn, .risk-ack, .cmd";
  const TRADE_BUTTONS = ".close-btn, .cancel-btn, .s-start";

  function setPill(el, cls, text) { el.className = "pill " + cls; el.innerHTML = '<span class="dot"></span>' + A.esc(text); }
  /* The status when it can be trusted: the page is connected and has had a heartbeat since. */
  function known() { return state.ws === "open" ? state.status : null; }
  function live() { return !!known(); }

  function renderHeader() {
    const st = known(), max = Number(body.dataset.reconnectMax);
    const wsText = state.ws === "open" ? t("ws_open") : state.gaveUp ? t("ws_closed")
      : state.retryIn > 0 ? t("ws_retry", { n: state.attempt, max, s: Math.ceil(state.retryIn) }) : t("ws_connecting");
    setPill($("#ws-state"), state.ws === "open" ? "ok" : state.gaveUp ? "bad" : "warn", "WS " + wsText);
    const core = st ? st.core_alive : null;
    setPill($("#core-state"), core === true ? "ok" : core === false ? "bad" : "unknown",
      core === true ? t("core_up") : core === false ? t("core_down") : t("core_unknown"));
    const tickAge = st && st.last_tick_ms ? (A.serverNow() - st.last_tick_ms) / 1000 : null;
    setPill($("#tick-age"), !st ? "unknown" : st.stale ? "bad" : "ok", t("tick_age") + " " + (st ? A.ageText(tickAge) : t("unknown")));
    const dataAge = state.lastData ? (Date.now() - state.lastData) / 1000 : null;
    setPill($("#data-age"), state.ws === "open" ? "ok" : "bad", t("data_age") + " " + A.ageText(dataAge));
    $("#stale-badge").classList.toggle("hidden", !!st && !st.stale);
    body.classList.toggle("ws-down", !st);
    renderStores(st);
    renderGateway(st);
    renderBanner(st);
    renderGate();
    lockCommands();
  }
  /* Redis and the web's MySQL: a pill each; with Redis down the command buttons are greyed (CSS). */
  function renderStores(st) {
    for (const [name, ok, since] of [["redis", st ? st.redis_ok : null, st && st.redis_down_since_ms],
      ["mysql", st ? st.mysql_ok : null, st && st.mysql_down_since_ms]]) {
      const el = $("#" + name + "-state");
      setPill(el, ok === true ? "ok" : ok === false ? "bad" : "unknown", t(name + (ok === true ? "_up" : ok === false ? "_down" : "_unknown")));
      el.title = ok === false && since ? t("down_since", { since: A.fmtDateTime(since) }) : "";
    }
    body.classList.toggle("redis-down", !!st && A.redisDown());
  }
  function renderBanner(st) {
    const banner = $("#banner");
    let text = "", cls = "bad", kind = "";
    if (state.gaveUp) { text = t("banner_gave_up"); kind = "gave-up"; }
    else if (state.ws !== "open") { text = t("banner_ws_down"); cls = "warn"; kind = "ws"; }
    else if (st && st.redis_ok === false) { text = t("banner_redis_down", { since: A.fmtTime(st.redis_down_since_ms) }); kind = "redis"; }
    else if (st && st.core_alive === false) { text = t("banner_core_down"); kind = "core"; }
    else if (st && st.mysql_ok === false && st.mysql_down_since_ms) {
      text = t("banner_mysql_down", { since: A.fmtTime(st.mysql_down_since_ms) }); cls = "warn"; kind = "mysql";
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
    setPill(el, gw ? (GW_CLASS[gw.state] || "bad") : st && st.core_alive === false ? "bad" : "unknown",
      t("gw_pill", { state: gatewayText(gw) }));
    el.dataset.state = gw ? gw.state : "";
    el.title = gw ? [gw.name + " " + gw.state, gw.reason, t("gw_since") + " " + A.fmtDateTime(gw.since_ms)].filter(Boolean).join(" · ")
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

  /* ---------------------------------------------------------------- command lock while nothing is known
     Every command button is disabled (data-ws-lock keeps its own state: "on" enabled, "off" disabled) and
     clicks on one are swallowed; a button a page adds or re-enables meanwhile is locked at once. Unlocked
     when fresh data has arrived: buttons get their own state back, then the pages' gate listeners run. */
  let locked = false;
  function lockButton(b) {
    if (b.dataset.wsLock === undefined) { b.dataset.wsLock = b.disabled ? "off" : "on"; b.dataset.wsTitle = b.title; }
    else if (!b.disabled) b.dataset.wsLock = "on";  // the page enabled it meanwhile
    if (!b.disabled) b.disabled = true;
    if (b.title !== t("nt_ws")) b.title = t("nt_ws");
  }
  function lockCommands() {
    const down = !live();
    if (down) {
      document.querySelectorAll(COMMAND_BUTTONS).forEach(lockButton);
    } else if (locked) {
      document.querySelectorAll("[data-ws-lock]").forEach((b) => {
        b.disabled = b.dataset.wsLock === "off"; b.title = b.dataset.wsTitle || "";
        delete b.dataset.wsLock; delete b.dataset.wsTitle;
      });
      gate = null; renderGate();  // the pages redo their buttons from their own state and the gate
    }
    locked = down;
  }
  new MutationObserver(() => { if (locked) document.querySelectorAll(COMMAND_BUTTONS).forEach(lockButton); })
    .observe(body, { subtree: true, childList: true, attributes: true, attributeFilter: ["disabled"] });
  document.addEventListener("click", (ev) => {
    if (locked && ev.target.closest && ev.target.closest(COMMAND_BUTTONS)) { ev.preventDefault(); ev.stopImmediatePropagation(); }
  }, true);

  document.addEventListener("arbig:state", renderHeader);
  A.onLang(renderHeader);
  document.addEventListener("DOMContentLoaded", () => { renderHeader(); setInterval(renderHeader, 1000); });
  Object.assign(A, { tradeBlock, gateButton, onTradeGate: (fn) => gateListeners.push(fn) });
})();
