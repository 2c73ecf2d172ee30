/* The login page in the operator's language (the console's choice, localStorage "arbig.lang", with its own
   toggle): the labels, the form's error by its code (data-code/data-vars when the server gives them, else
   recognised from the English text the web service sends), and "session expired" when a page of the console
   sent the operator here because its session had ended. Uses ui.js (A.t, A.refusalText). */
"use strict";
(function () {
  const A = window.ARBIG;
  /* The web service's login refusals (web_service/auth.py LOGIN_REFUSALS) by their English text. */
  const KNOWN = [
    [/^wrong password; next attempt allowed in (\d+) s$/, "login_wrong_password_wait", ["s"]],
    [/^wrong password$/, "login_wrong_password", []],
    [/^too many failed logins: wait (\d+) s$/, "login_throttled", ["s"]],
    [/^cross-origin login refused$/, "login_cross_origin", []],
    [/^invalid login form: (.*)$/, "login_invalid", ["problems"]],
  ];
  function errorBody(el) {
    const text = el.dataset.text;
    if (el.dataset.code) {
      let vars = {};
      try { vars = JSON.parse(el.dataset.vars || "{}"); } catch (e) { /* the English text then */ }
      return { detail: text, code: el.dataset.code, vars };
    }
    for (const [re, code, names] of KNOWN) {
      const m = re.exec(text);
      if (m) return { detail: text, code, vars: Object.fromEntries(names.map((n, i) => [n, m[i + 1]])) };
    }
    return { detail: text };
  }
  const expired = sessionStorage.getItem("arbig.expired") === "1";
  sessionStorage.removeItem("arbig.expired");  // said once, on the page the console sent the operator to

  function render() {
    A.applyI18n();
    const el = document.getElementById("login-error");
    if (el) {
      if (el.dataset.text === undefined) el.dataset.text = el.textContent.trim();
      el.textContent = A.refusalText(errorBody(el));
    }
    const note = document.getElementById("login-expired");
    note.textContent = A.t("rc_session_expired");
    note.classList.toggle("hidden", !expired || !!el);
  }
  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("lang-toggle").onclick = () => A.setLang(A.lang() === "zh" ? "en" : "zh");
    A.onLang(render);
    render();
  });
})();
