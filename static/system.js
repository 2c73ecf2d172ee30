/* System page: core/gateway/stores status (with the core's lifecycle state), the holiday-calendar warning
   (from /healthz), main-contract switch, live system events, operator audit. */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$;
  const MAX_EVENTS = 200;
  let contracts = [], status = null;

  function yesNo(v, okText, badText) {
    if (v === null || v === undefined) return '<span class="muted">' + A.t("none") + "</span>";
    return v ? '<span class="ok">' + A.esc(okText || A.t("ok")) + "</span>" : '<span class="bad">' + A.esc(badText || A.t("fail")) + "</span>";
  }
  function setText(id, text) { $("#" + id).textContent = text; }
  const STATE_CLASS = { running: "ok", degraded: "warn", starting: "warn", stopping: "warn", stopped: "bad" };
  function renderCoreState(hb) {
    const state = hb ? hb.state : null;  // a heartbeat from an older core carries "running"
    $("#s-core-state").innerHTML = state ? '<span class="' + (STATE_CLASS[state] || "") + '">' + A.esc(A.t("cs_" + state)) + "</span>"
      : '<span class="muted">' + A.t("none") + "</span>";
    const reason = hb && state === "degraded" ? hb.state_reason : "";
    $("#s-core-reason-row").classList.toggle("hidden", !reason);
    setText("s-core-reason", reason || A.t("none"));
  }
  function renderStatus(st) {
    status = st;
    const hb = st.heartbeat, gw = st.gateway;
    $("#s-core").innerHTML = yesNo(st.core_alive, A.t("alive"), A.t("down"));
    renderCoreState(hb);
    setText("s-pid", hb ? hb.pid : A.t("none"));
    setText("s-started", hb ? A.fmtDateTime(hb.started_ms) : A.t("none"));
    setText("s-main", st.main_contract || A.t("none"));
    setText("s-day", st.trading_day || A.t("none"));
    $("#s-session").innerHTML = st.in_session ? A.t("yes") : A.t("no");
    setText("s-gw-name", gw ? gw.name : A.t("none"));
    $("#s-gw-state").innerHTML = gw ? '<span class="' + (gw.state === "LOGGED_IN" ? "ok" : "bad") + '">' + A.esc(gw.state) + "</span>" : A.t("none");
    setText("s-gw-md", gw && gw.md_state ? gw.md_state + (gw.md_reason ? " (" + gw.md_reason + ")" : "") : A.t("none"));
    setText("s-gw-since", gw ? A.fmtDateTime(gw.since_ms) : A.t("none"));
    setText("s-gw-reason", gw ? (gw.reason || A.t("none")) : (st.core_alive === false ? A.t("banner_core_down") : A.t("none")));
    $("#s-redis").innerHTML = yesNo(st.redis_ok);
    $("#s-mysql-web").innerHTML = yesNo(st.mysql_ok);
    $("#s-mysql-core").innerHTML = yesNo(st.core_mysql_ok);
    setText("s-backlog", hb ? hb.mysql_backlog + " / " + hb.redis_backlog : A.t("none"));
    setText("s-last-tick", st.last_tick_ms ? A.fmtDateTime(st.last_tick_ms, true) : A.t("none"));
    const age = st.last_tick_ms ? (A.serverNow() - st.last_tick_ms) / 1000 : null;
    $("#s-tick-age").innerHTML = '<span class="' + (st.stale ? "bad" : "") + '">' + A.esc(A.ageText(age)) + (st.stale ? " STALE" : "") + "</span>";
    setText("sw-current", st.main_contract || A.t("none"));
  }

  function renderContracts() {
    const sel = $("#sw-symbol"), keep = sel.value;
    sel.innerHTML = contracts.map((c) => '<option value="' + A.esc(c.symbol) + '">' + A.esc(c.symbol + " · " + c.name) + "</option>").join("");
    if (keep) sel.value = keep;
    $("#sw-button").disabled = contracts.length === 0;
  }
  function onContracts(data, kind) {
    if (kind === "snapshot") contracts = data;
    else contracts = contracts.filter((c) => c.symbol !== data.symbol).concat([data]).sort((a, b) => a.symbol.localeCompare(b.symbol));
    renderContracts();
  }

  function switchMain() {
    const symbol = $("#sw-symbol").value;
    if (!symbol) return;
    A.openDialog({
      title: A.t("switch_confirm"), confirmText: A.t("switch_btn"),
      html: '<table class="summary"><tr><th>' + A.esc(A.t("main_contract")) + "</th><td>" + A.esc(status ? status.main_contract : "—")
        + " → " + A.esc(symbol) + '</td></tr></table><div class="muted">' + A.esc(A.t("switch_hint")) + '</div><div class="outcome"></div>',
      onConfirm: async () => {
        $(".outcome").innerHTML = '<div class="msg warn">' + A.esc(A.t("waiting")) + "</div>";
        const res = await A.api("POST", "/api/main-contract", { symbol });
        A.showOutcome(res);
        $("#sw-result").innerHTML = '<div class="msg ' + (res.status === 200 ? "ok" : res.status === 202 ? "warn" : "bad") + '">'
          + A.esc(A.refusalText(res.body)) + "</div>";
      },
    });
  }

  function eventRow(e) {
    const cls = e.level === "ERROR" ? "bad" : e.level === "WARNING" ? "warn" : "";
    return "<tr><td class='mono'>" + A.esc(A.fmtDateTime(e.ts_ms, true)) + "</td><td class='" + cls + "'>" + A.esc(e.level)
      + "</td><td>" + A.esc(e.kind) + "</td><td class='wrap'>" + A.esc(e.message) + "</td></tr>";
  }
  function onSystem(data, kind) {
    const tbody = $("#events");
    if (kind === "snapshot") {
      tbody.innerHTML = data.length ? data.map(eventRow).join("") : "<tr><td colspan=4 class='empty'>" + A.esc(A.t("none")) + "</td></tr>";
      return;
    }
    const empty = tbody.querySelector(".empty"); if (empty) tbody.innerHTML = "";
    tbody.insertAdjacentHTML("afterbegin", eventRow(data).replace("<tr>", "<tr class='flash'>"));
    while (tbody.rows.length > MAX_EVENTS) tbody.deleteRow(-1);
  }

  /* ---------------------------------------------------------------- operator audit (paged from MySQL, live on page 1) */
  const AUDIT_PAGE = 50;
  function paramsText(p) {
    return Object.entries(p || {}).filter(([, v]) => v !== null).map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v)).join(" ");
  }
  function auditRow(a) {
    const cls = a.status === "done" ? "ok" : a.status === "refused" ? "warn" : "bad";
    return "<tr data-uid='" + A.esc(a.uid) + "'><td class='mono'>" + A.esc(A.fmtDateTime(a.received_at_ms, true))
      + "</td><td class='mono'>" + A.esc(a.type) + "</td><td class='mono wrap'>" + A.esc(paramsText(a.params))
      + "</td><td>" + A.esc(a.source + " / " + a.operator) + "</td><td class='" + cls + "'>" + A.esc(a.status)
      + "</td><td class='wrap'>" + A.esc(a.reason) + "</td><td class='mono muted'>" + A.esc(a.command_id) + "</td></tr>";
  }
  function renderAudit(items, res) {
    const tbody = $("#audit");
    if (!items) { tbody.innerHTML = "<tr><td colspan=7 class='msg bad'>" + A.esc(A.refusalText(res.body)) + "</td></tr>"; return; }
    tbody.innerHTML = items.length ? items.map(auditRow).join("") : "<tr><td colspan=7 class='empty'>" + A.esc(A.t("none")) + "</td></tr>";
  }
  const auditPager = A.Pager((cursor) => A.api("GET", "/api/audit?" + new URLSearchParams(
    cursor ? { page_size: String(AUDIT_PAGE), cursor } : { page_size: String(AUDIT_PAGE) })),
  renderAudit, { newer: $("#au-newer"), older: $("#au-older"), label: $("#au-page") });
  function onAudit(a, kind) {
    if (kind === "snapshot" || !auditPager.onFirstPage()) return;  // page 1 comes from the API (paginated)
    const tbody = $("#audit");
    if (tbody.querySelector("tr[data-uid='" + CSS.escape(a.uid) + "']")) return;  // already read from MySQL
    const empty = tbody.querySelector(".empty"); if (empty) tbody.innerHTML = "";
    tbody.insertAdjacentHTML("afterbegin", auditRow(a).replace("<tr ", "<tr class='flash' "));
    while (tbody.rows.length > AUDIT_PAGE) tbody.deleteRow(-1);
  }

  /* ---------------------------------------------------------------- holiday calendar coverage (from /healthz) */
  const CALENDAR_EVERY_MS = 10 * 60 * 1000;
  async function checkCalendar() {
    const res = await A.api("GET", "/healthz");
    const warning = res.body && res.body.calendar_warning;
    $("#calendar-warning").classList.toggle("hidden", !warning);
    setText("calendar-warning-text", warning || "");
  }

  A.on("heartbeat", renderStatus);
  A.on("contracts", onContracts);
  A.on("system", onSystem);
  A.on("audit", onAudit);
  A.subscribe(["contracts", "system", "audit"]);
  $("#sw-button").onclick = switchMain;
  A.onLang(() => { if (status) renderStatus(status); });
  auditPager.reset();
  checkCalendar();
  setInterval(checkCalendar, CALENDAR_EVERY_MS);
})();
