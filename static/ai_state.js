/* The AI trading panel (templates/_ai_switch.html, on the system and AI pages): the core's AI state from the
   "ai_state" topic (on/off and why, live-account opt-in, limits, today's PnL against the loss limit) with its age
   counted on the page (the core rewrites the state every heartbeat: an old one is marked stale, a missing one
   unknown), and the operator's switch: a confirmation with a reason, then POST /api/ai/switch under a command id
   made when the dialog opened (a retry re-sends the same id), the core's answer shown. Other scripts get each
   state with A.onAiState(fn) (fn(view), view as GET /api/ai/state). */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$;
  const listeners = [];
  let view = null;

  function setText(id, text) { const el = $("#" + id); if (el) el.textContent = text; }
  /* A word-valued figure (the .kv span's own class: no inner span, which .kv styles as a number). */
  function setWord(id, cls, text) { const el = $("#" + id); if (el) { el.className = "text " + cls; el.textContent = text; } }
  function setHtml(id, html) { const el = $("#" + id); if (el) el.innerHTML = html; }
  /* Seconds since the core wrote the state, counted now on the page (null: unknown). */
  function ageOf(v) { return v && v.state ? Math.max(0, (A.serverNow() - v.state.ts_ms) / 1000) : null; }
  function isStale(v) { const age = ageOf(v); return age === null || age > v.stale_after_s; }

  function renderAge() {
    if (!$("#ai-panel") || !view) return;
    const age = ageOf(view), el = $("#ai-age");
    if (!view.known) { el.className = "bad"; el.textContent = A.t("ai_unknown_short"); return; }
    const stale = isStale(view);
    el.className = stale ? "bad" : "muted";
    el.textContent = A.t(stale ? "ai_age_stale" : "ai_age", { t: A.fmtTime(view.state.ts_ms), age: A.ageText(age) });
    const box = $("#ai-unknown");
    box.classList.toggle("hidden", !stale);
    if (stale) box.textContent = A.t("ai_stale_text", { age: A.ageText(age) });
  }
  function limitsText(s) {
    const l = s.limits;
    setText("ai-max-lots", A.num(l.max_lots_per_order, 0));
    setText("ai-max-position", A.num(l.max_position_lots, 0));
    setText("ai-rate", A.num(s.orders_last_minute, 0) + " / " + A.num(l.max_orders_per_minute, 0));
    setHtml("ai-day-pnl", '<span class="' + A.pnlClass(s.day_pnl) + '">' + A.signed(s.day_pnl) + "</span> / -" + A.num(l.max_daily_loss));
    setText("ai-require-plan", l.require_exit_plan ? A.t("yes") : A.t("no"));
  }
  function clearFigures() {
    for (const id of ["ai-reason", "ai-changed", "ai-gateway", "ai-max-lots", "ai-max-position", "ai-rate",
      "ai-day-pnl", "ai-require-plan"]) setText(id, A.t("none"));
    setWord("ai-live", "", A.t("none"));
  }
  function render() {
    if (!$("#ai-panel")) return;
    const badge = $("#ai-badge"), btn = $("#ai-toggle"), s = view && view.state;
    if (!view) {  // nothing received yet: not "unknown", just not known yet
      badge.className = "badge"; badge.textContent = A.t("none");
      btn.disabled = true;
      return;
    }
    if (!s) {
      badge.className = "badge"; badge.textContent = A.t("unknown");
      setWord("ai-enabled", "muted", A.t("unknown"));
      clearFigures();
      $("#ai-unknown").classList.remove("hidden");
      $("#ai-unknown").textContent = A.t("ai_unknown_text");
      btn.textContent = A.t("ai_switch_on"); btn.className = "cmd"; btn.disabled = true; btn.title = A.t("ai_unknown_text");
      renderAge();
      return;
    }
    badge.className = "badge " + (s.enabled ? "TRADING" : "ERROR");
    badge.textContent = s.enabled ? A.t("ai_on") : A.t("ai_off");
    setWord("ai-enabled", s.enabled ? "ok" : "bad", A.t(s.enabled ? "ai_on" : "ai_off"));
    setText("ai-reason", s.enabled ? A.t("none") : (s.reason || A.t("none")));
    setText("ai-changed", A.fmtDateTime(s.changed_ms));
    setText("ai-gateway", s.gateway + " · " + A.t(s.live_account ? "ai_live_account" : "ai_sim_account"));
    setWord("ai-live", !s.live_account ? "muted" : s.live_trading_allowed ? "ok" : "bad",
      A.t(!s.live_account ? "ai_live_not_needed" : s.live_trading_allowed ? "ai_live_allowed" : "ai_live_refused"));
    limitsText(s);
    btn.textContent = A.t(s.enabled ? "ai_switch_off" : "ai_switch_on");
    btn.className = "cmd " + (s.enabled ? "danger" : "primary");
    btn.disabled = false; btn.title = "";  // header.js locks it again at once while the page is disconnected
    renderAge();
  }

  /* ---------------------------------------------------------------- the switch */
  function summary(ctx) {
    const reason = $("#ai-sw-reason").value;
    return '<table class="summary">' + [[A.t("cmd_type"), "ai.switch"], ["enabled", String(ctx.enabled)],
      ["reason", reason || "—"], [A.t("cmd_id"), ctx.id]]
      .map(([k, v]) => "<tr><th>" + A.esc(k) + "</th><td>" + A.esc(v) + "</td></tr>").join("") + "</table>";
  }
  async function send(dlg, ctx) {
    const reason = $("#ai-sw-reason", dlg).value.trim();
    $("#ai-sw-reason", dlg).disabled = true;
    $(".outcome", dlg).innerHTML = '<div class="msg warn">' + A.esc(A.t("waiting")) + "</div>";
    const res = await A.api("POST", "/api/ai/switch", { id: ctx.id, enabled: ctx.enabled, reason });
    A.showOutcome(res);
    $("#ai-result").innerHTML = '<div class="msg ' + (res.status === 200 ? "ok" : "bad") + '">'
      + A.esc(res.status === 200 ? A.t(ctx.enabled ? "ai_switched_on" : "ai_switched_off") : A.refusalText(res.body)) + "</div>";
    if (res.status === 503 || res.status === 0) {  // the same id is never executed twice
      const retry = $("#confirm-retry");
      retry.textContent = A.t("retry"); retry.classList.remove("hidden");
      retry.onclick = async () => { retry.classList.add("hidden"); await send(dlg, ctx); };
    }
  }
  function openSwitch() {
    const s = view && view.state;
    if (!s) return;
    const ctx = { enabled: !s.enabled, id: A.newCommandId() };  // id made now: a double click or a retry re-sends it
    const html = "<div>" + A.esc(A.t(ctx.enabled ? "ai_confirm_on_text" : "ai_confirm_off_text")) + "</div>"
      + '<div class="fields"><label for="ai-sw-reason">' + A.esc(A.t("ai_switch_reason")) + '</label>'
      + '<input id="ai-sw-reason" type="text" maxlength="200" placeholder="' + A.esc(A.t("ai_reason_hint")) + '"></div>'
      + '<div class="muted">' + A.esc(A.t("will_send")) + ':</div><div id="ai-sw-summary"></div><div class="outcome"></div>';
    const dlg = A.openDialog({
      title: A.t(ctx.enabled ? "ai_confirm_on" : "ai_confirm_off"), danger: !ctx.enabled, html,
      confirmText: A.t(ctx.enabled ? "ai_switch_on" : "ai_switch_off"), onConfirm: (d) => send(d, ctx),
    });
    const input = $("#ai-sw-reason", dlg);
    input.oninput = () => { $("#ai-sw-summary", dlg).innerHTML = summary(ctx); };
    input.oninput();
  }

  function onState(data) {
    view = data;
    render();
    listeners.forEach((fn) => { try { fn(view); } catch (e) { console.error(e); } });
  }

  A.onAiState = (fn) => { listeners.push(fn); if (view) fn(view); };
  A.aiStale = () => isStale(view);
  A.on("ai_state", onState);
  A.subscribe(["ai_state"]);
  if ($("#ai-toggle")) $("#ai-toggle").onclick = openSwitch;
  A.onLang(render);
  A.onTradeGate(render);  // called when header.js unlocks the command buttons: the button's own state again
  setInterval(renderAge, 1000);
  render();
})();
