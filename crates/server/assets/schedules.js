// opsroom UI: the Schedules page (list, create, pause/resume, delete).
"use strict";
(function () {
  const O = window.opsroom;
  const h = O.h;

  function what(req) {
    if (req.text) return h("code", {}, req.text);
    const parts = [req.runbook, req.env && "env " + req.env, req.target && "target " + req.target].filter(Boolean);
    return h("code", {}, parts.join(" · "));
  }

  /** The fire time as the schedule's own zone reads it ("Wed 03:00"), when that zone is not the viewer's. */
  function inZone(iso, zone) {
    const viewer = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone || zone === viewer) return "";
    try {
      const text = new Intl.DateTimeFormat("en-GB", {
        timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
      }).format(new Date(iso));
      return h("span", { class: "muted", "data-zone-time": "" }, " — " + text + " " + zone);
    } catch (_) {
      return "";
    }
  }

  function skippedInfo(s) {
    if (!s.skipped_count) return "";
    return h("div", { class: "skipped" },
      h("p", { class: "warn" }, s.skipped_count + " fire" + (s.skipped_count === 1 ? "" : "s") +
        " skipped (no server ran them in time):"),
      h("ul", {}, s.skipped.map((k) => h("li", { "data-skipped": k.count },
        k.count === 1 ? O.absTime(k.first)
          : [k.count + " fires from ", O.absTime(k.first), " to ", O.absTime(k.last)],
        " — noticed ", O.time(k.noticed_at)))));
  }

  function card(s, reload) {
    const act = async (method, path, done) => {
      const r = await O.api(method, path);
      if (!r.ok) { O.toast(O.errorText(r)); return; }
      O.toast(done);
      reload();
    };
    return h("article", { class: "card schedule", "data-schedule": s.id, "data-paused": s.paused ? "true" : "false" },
      h("header", {},
        h("strong", {}, h("code", {}, s.cron)), " ",
        h("span", { class: "badge" }, s.timezone), " ",
        s.paused ? h("span", { class: "badge st-cancelled" }, "paused") : h("span", { class: "badge st-queued" }, "active")),
      h("p", {}, what(s.request)),
      s.next_runs.length
        ? h("div", {}, h("p", { class: "muted" }, "Next fires:"),
          h("ol", { class: "next-runs" }, s.next_runs.map((t) => h("li", {}, O.absTime(t), inZone(t, s.timezone)))))
        : h("p", { class: "muted" }, s.paused ? "Paused: no fires until resumed." : "No fire to come."),
      s.last_fire_at ? h("p", { class: "muted" }, "Last fire ", O.time(s.last_fire_at),
        s.last_run_id ? [": ", h("a", { href: "/runs/" + s.last_run_id }, "run " + s.last_run_id)] : "",
        s.last_error ? [" — ", h("span", { class: "error" }, s.last_error)] : "") : "",
      skippedInfo(s),
      h("div", { class: "actions" },
        s.paused
          ? h("button", { type: "button", "data-action": "resume", onclick: () => act("POST", "/schedules/" + s.id + "/resume", "Resumed") }, "Resume")
          : h("button", { type: "button", "data-action": "pause", onclick: () => act("POST", "/schedules/" + s.id + "/pause", "Paused") }, "Pause"),
        h("button", { type: "button", "data-action": "delete", class: "danger", onclick: () => {
          if (confirm("Delete this schedule? Its runs stay.")) act("DELETE", "/schedules/" + s.id, "Deleted");
        } }, "Delete")));
  }

  async function page() {
    const box = document.getElementById("schedules");
    const form = document.getElementById("schedule-form");
    const err = document.getElementById("schedule-error");
    const load = async () => {
      const r = await O.api("GET", "/schedules");
      if (!r.ok) { box.replaceChildren(h("p", { class: "error", role: "alert" }, O.errorText(r))); return; }
      if (!r.data.length) { box.replaceChildren(h("p", { class: "muted empty" }, "No schedules yet.")); return; }
      box.replaceChildren(...r.data.map((s) => card(s, load)));
    };
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { cron: form.cron.value.trim(), text: form.text.value.trim() };
      if (form.timezone.value.trim()) body.timezone = form.timezone.value.trim();
      const r = await O.api("POST", "/schedules", body);
      if (!r.ok) {
        const q = r.data && r.data.error && r.data.error.questions;
        err.textContent = O.errorText(r) + (q && q.length ? " — " + q.join(" ") : "");
        err.hidden = false;
        return;
      }
      err.hidden = true;
      form.reset();
      O.toast("Schedule added");
      load();
    });
    await load();
    setInterval(() => { if (!document.hidden) load(); }, 10000);
  }

  const start = () => { if (document.body.dataset.page === "schedules") page(); };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
