/* ARBIG console, shared helpers (window.ARBIG): i18n, formatting, the JSON API with CSRF, the texts of
   API answers (refusalText: a refusal by its code in the page's language), the confirmation dialog and
   commands. Loaded first; live.js, header.js, notices.js and app.js add the rest of window.ARBIG. The login
   page loads it too (texts only). */
"use strict";
(function () {
  const CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";  // none on the login page
  const $ = (sel, root) => (root || document).querySelector(sel);

  /* ---------------------------------------------------------------- i18n */
  let lang = localStorage.getItem("arbig.lang") || "zh";
  const table = () => window.ARBIG_I18N[lang] || window.ARBIG_I18N.zh;
  function fill(text, vars) {
    for (const [k, v] of Object.entries(vars || {})) text = text.split("{" + k + "}").join(String(v));
    return text;
  }
  function t(key, vars) {
    const dict = table();
    const text = dict[key] !== undefined ? dict[key] : (window.ARBIG_I18N.zh[key] !== undefined ? window.ARBIG_I18N.zh[key] : key);
    return fill(text, vars);
  }
  /* Whether the page's language has its own text for `key` (t() falls back to Chinese). */
  function has(key) { return table()[key] !== undefined; }
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

  /* The page's live state; live.js keeps it (status: the core's heartbeat status, null while unknown). */
  const state = { status: null, offset: 0, lastData: null, ws: "connecting", attempt: 0, gaveUp: false, retryIn: 0 };

  /* ---------------------------------------------------------------- API */
  function toLogin() {
    sessionStorage.setItem("arbig.expired", "1");  // the login page says why it is shown
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
  }
  async function api(method, url, payload) {
    const opts = { method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET") {
      opts.headers["X-CSRF-Token"] = CSRF;
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(payload || {});
    }
    let res;
    try { res = await fetch(url, opts); } catch (e) {
      return { status: 0, body: { detail: "network error: the web service did not answer (" + e.message + ")",
        code: "network", vars: { error: e.message } } };
    }
    if (res.status === 401) toLogin();
    let data = null;
    try { data = await res.json(); } catch (e) { data = { detail: res.statusText }; }
    return { status: res.status, body: data };
  }
  function detailText(body) {
    if (!body) return "";
    if (typeof body.detail === "string") return body.detail;
    return JSON.stringify(body.detail || body);
  }

  /* ---------------------------------------------------------------- texts of API answers */
  /* The code of an answer: its own, or one for the web's answers that have none (no reply in time, Redis lost). */
  function answerCode(body) {
    if (body.code) return body.code;
    if (body.status === "timeout" && "withdrawn" in body) return body.withdrawn ? "web_timeout_withdrawn" : "web_timeout_taken";
    if (body.status === "redis_unreachable") return "redis_lost";
    if (body.dependency === "redis") return "redis_down";
    return "";
  }
  /* One validation problem: "field: text", the text translated by its pydantic type when the table has it. */
  function problemText(item) {
    const where = (item.loc || []).filter((p) => !["body", "query", "path"].includes(p)).join(".");
    const text = has("ve_" + item.type) ? t("ve_" + item.type, item.vars) : item.msg;
    return where ? where + ": " + text : text;
  }
  /* The answer's values for its text: LONG, CLOSETODAY, CANCELLED ... in the page's language ("rcv_<name>_<value>"),
     timeouts from the page's settings, and the validation problems rebuilt from the translated items. */
  function answerVars(body, code) {
    const vars = {};
    for (const [k, v] of Object.entries(body.vars || {})) vars[k] = has("rcv_" + k + "_" + v) ? t("rcv_" + k + "_" + v) : v;
    if (code.startsWith("web_timeout")) vars.s = document.body.dataset.commandTimeout || "?";
    if (Array.isArray(body.errors) && body.errors.length) {
      const shown = body.errors.slice(0, 5).map(problemText);
      if (body.errors.length > 5) shown.push(t("ve_more", { n: body.errors.length - 5 }));
      vars.problems = shown.join("; ");
    }
    return vars;
  }
  /* The text of an API answer: t("rc_" + code, vars) when the table has it, else the English reason/detail. */
  function refusalText(body) {
    if (!body || typeof body !== "object") return body ? String(body) : "";
    const code = answerCode(body);
    if (code && has("rc_" + code)) return t("rc_" + code, answerVars(body, code));
    return body.reason || detailText(body);
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
    const body = res.body || {}, status = body.status;
    const cls = res.status === 200 ? "ok" : res.status === 202 ? "warn" : "bad";
    const head = res.status === 200 ? t("done") : status ? t(status) : "HTTP " + res.status;
    const reason = res.status === 200 && !body.code ? (body.reason || body.detail || "") : refusalText(body);
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

  window.ARBIG = Object.assign(window.ARBIG || {}, {
    t, applyI18n, onLang: (fn) => langListeners.push(fn), lang: () => lang, setLang, fmtDateTime, fmtTime, num, signed,
    pnlClass, ageText, esc, api, detailText, refusalText, confirmCommand, openDialog, showOutcome, newCommandId,
    state, $, redisDown,
  });
})();
