// opsroom UI core: DOM and API helpers, formatting, and the command bar.
"use strict";
(function () {
  const O = (window.opsroom = window.opsroom || {});

  /** Builds an element; children are nodes or text (never parsed as HTML). */
  O.h = function (tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(kid instanceof Node ? kid : String(kid));
    }
    return el;
  };
  const h = O.h;

  /** The session's CSRF token (from its cookie), sent with every change. */
  O.csrf = function () {
    const m = document.cookie.match(/(?:^|;\s*)opsroom_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  };

  /** Calls the JSON API; resolves to {ok, status, data} and never throws. */
  O.api = async function (method, path, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (method !== "GET" && method !== "HEAD" && O.csrf()) init.headers["X-CSRF-Token"] = O.csrf();
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    try {
      const r = await fetch("/api/v1" + path, init);
      const text = await r.text();
      let data = null;
      try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: { message: text } }; }
      return { ok: r.ok, status: r.status, data };
    } catch (e) {
      return { ok: false, status: 0, data: { error: { code: "network", message: "cannot reach the server: " + e.message } } };
    }
  };

  /** The error message of a failed API answer. */
  O.errorText = function (res) {
    const e = res.data && res.data.error;
    return e ? e.message || e.code : "request failed (HTTP " + res.status + ")";
  };

  const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  /** "3 minutes ago" for an ISO time. */
  O.ago = function (iso) {
    if (!iso) return "";
    const s = (Date.parse(iso) - Date.now()) / 1000;
    const a = Math.abs(s);
    if (a < 5) return "just now";
    if (a < 60) return rtf.format(Math.round(s), "second");
    if (a < 3600) return rtf.format(Math.round(s / 60), "minute");
    if (a < 86400) return rtf.format(Math.round(s / 3600), "hour");
    return rtf.format(Math.round(s / 86400), "day");
  };
  /** A time element with a relative label and the absolute time on hover. */
  O.time = (iso) => h("time", { datetime: iso, title: new Date(iso).toLocaleString(), "data-ago": iso }, O.ago(iso));

  const pad2 = (n) => String(n).padStart(2, "0");
  /**
   * An absolute time in the viewer's time zone with the zone shown
   * ("2026-12-01 10:33:12 CET"), UTC on hover.
   */
  O.absTime = function (iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const text = d.getFullYear() + "-" + pad2(d.getMonth() + 1) + "-" + pad2(d.getDate()) + " " +
      pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + ":" + pad2(d.getSeconds()) + " " + (O.zoneName ? O.zoneName(d) : "");
    return h("time", { datetime: iso, title: d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"), class: "abs" }, text.trim());
  };

  /** "850 ms", "12.3 s", "4 min 5 s". */
  O.dur = function (ms) {
    if (ms === null || ms === undefined || isNaN(ms)) return "";
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    const m = Math.floor(ms / 60000);
    return m + " min " + Math.round((ms % 60000) / 1000) + " s";
  };
  /** How long a run took, or has been running. */
  O.runDuration = function (run) {
    if (!run.started_at) return null;
    const end = run.finished_at ? Date.parse(run.finished_at) : Date.now();
    return end - Date.parse(run.started_at);
  };

  const FINAL = ["succeeded", "failed", "cancelled", "rejected"];
  O.isFinal = (status) => FINAL.includes(status);
  /** A coloured status badge. */
  O.badge = (status) => h("span", { class: "badge st-" + status, "data-status": status }, String(status).replace("_", " "));

  let toastTimer = null;
  /** A short message at the bottom of the screen (also read by screen readers). */
  O.toast = function (msg) {
    const t = document.getElementById("toast");
    if (!t) return;
    t.textContent = msg;
    t.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => t.classList.remove("show"), 4000);
  };

  /** Copies text; falls back to a hidden textarea where the clipboard API is refused. */
  O.copy = async function (text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) {
      const ta = h("textarea", { class: "sr-only" }, text);
      document.body.append(ta);
      ta.select();
      try { document.execCommand("copy"); } catch (_) { /* nothing more to try */ }
      ta.remove();
    }
    const n = text ? text.split("\n").length : 0;
    O.toast("Copied " + n + (n === 1 ? " line" : " lines"));
  };

  // Who is signed in, and the sign-out form's CSRF field.
  document.addEventListener("DOMContentLoaded", async () => {
    const form = document.getElementById("signout");
    if (!form || !O.csrf()) return;
    form.elements.csrf.value = O.csrf();
    const me = await O.api("GET", "/me");
    if (me.ok) document.getElementById("whoami").textContent = me.data.user + " · " + me.data.workspace + " · " + me.data.role + " ";
    form.hidden = false;
  });
  /** Shows how many runs wait for approval next to "Approvals" in the navigation. */
  O.refreshApprovalCount = async function () {
    const badge = document.getElementById("nav-approvals-count");
    if (!badge) return;
    const r = await O.api("GET", "/approvals");
    if (!r.ok) return;
    badge.textContent = String(r.data.length);
    badge.hidden = r.data.length === 0;
    badge.setAttribute("aria-label", r.data.length + (r.data.length === 1 ? " run waits" : " runs wait") + " for approval");
  };
  const startCount = () => {
    O.refreshApprovalCount();
    setInterval(() => { if (!document.hidden) O.refreshApprovalCount(); }, 10000);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startCount);
  else startCount();

  // Relative times stay current.
  setInterval(() => {
    for (const t of document.querySelectorAll("time[data-ago]")) t.textContent = O.ago(t.dataset.ago);
  }, 15000);

  // ---- command bar ----

  const HISTORY_KEY = "opsroom.commands";
  function loadHistory() {
    try { return JSON.parse(localStorage.getItem(HISTORY_KEY)) || []; } catch (_) { return []; }
  }
  function remember(text) {
    const list = loadHistory().filter((t) => t !== text);
    list.push(text);
    try { localStorage.setItem(HISTORY_KEY, JSON.stringify(list.slice(-50))); } catch (_) { /* private mode */ }
  }

  let runbooks = null;
  O.runbooks = runbookList;
  async function runbookList() {
    if (!runbooks) {
      const r = await O.api("GET", "/runbooks");
      runbooks = r.ok ? r.data : [];
    }
    return runbooks;
  }

  /** Renders the live parse preview under the command bar. */
  function renderPreview(box, p, onPick) {
    box.replaceChildren();
    if (!p) return;
    const conf = Math.round((p.confidence || 0) * 100);
    const row = h("dl", { class: "parse" },
      h("dt", {}, "intent"), h("dd", { "data-field": "intent" }, p.intent),
      h("dt", {}, "env"), h("dd", { "data-field": "env" }, p.env || "—"),
      h("dt", {}, "target"), h("dd", { "data-field": "target" }, p.target || "—"),
      h("dt", {}, "confidence"), h("dd", { "data-field": "confidence" },
        h("meter", { min: 0, max: 100, value: conf, "aria-label": "confidence" }), " " + conf + "%"));
    box.append(row);
    if (p.questions && p.questions.length) {
      box.append(h("ul", { class: "questions", "aria-label": "Questions" }, p.questions.map((q) => h("li", {}, q))));
    }
    if (p.alternatives && p.alternatives.length) {
      box.append(h("p", { class: "alts" }, "Did you mean: ",
        p.alternatives.map((a) => h("button", { type: "button", class: "chip", onclick: () => onPick(a, p) }, a))));
    }
  }

  /** Wires the command bar on pages that have one. */
  O.initCommandBar = function (onSubmit) {
    const input = document.getElementById("cmd");
    const form = document.getElementById("cmd-form");
    const box = document.getElementById("preview");
    if (!input || !form) return;
    input.focus();
    let timer = null;
    let latest = 0;
    let hist = loadHistory();
    let pos = hist.length;

    async function preview(text) {
      const mine = ++latest;
      if (!text.trim()) { box.replaceChildren(); return null; }
      const r = await O.api("POST", "/parse", { text });
      if (mine !== latest) return null; // a newer keystroke won
      if (!r.ok) {
        box.replaceChildren(h("p", { class: "error" }, O.errorText(r)));
        return null;
      }
      renderPreview(box, r.data, pick);
      return r.data;
    }
    async function pick(name, parsed) {
      const rb = (await runbookList()).find((r) => r.name === name);
      let text = rb && rb.triggers && rb.triggers.length ? rb.triggers[0] : name;
      if (parsed.env && !text.includes(parsed.env)) text += " " + parsed.env;
      input.value = text;
      input.focus();
      preview(text);
    }
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => preview(input.value), 150);
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "ArrowUp" && pos > 0) {
        pos -= 1;
        input.value = hist[pos];
      } else if (e.key === "ArrowDown" && pos < hist.length) {
        pos += 1;
        input.value = pos < hist.length ? hist[pos] : "";
      } else return;
      e.preventDefault();
      clearTimeout(timer);
      timer = setTimeout(() => preview(input.value), 150);
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      clearTimeout(timer);
      remember(text);
      hist = loadHistory();
      pos = hist.length;
      const parsed = await preview(text);
      if (parsed) onSubmit(text, parsed);
    });
  };

  // `/` and Ctrl-K focus the command bar from anywhere.
  document.addEventListener("keydown", (e) => {
    const input = document.getElementById("cmd");
    if (!input) return;
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
    if ((e.key === "k" && (e.ctrlKey || e.metaKey)) || (e.key === "/" && !typing)) {
      e.preventDefault();
      input.focus();
      input.select();
    }
  });
})();
