// opsroom UI: what each page does once loaded (home, run, history, Runboard, workers).
"use strict";
(function () {
  const O = window.opsroom;
  const h = O.h;

  /**
   * A table of runs with status, requester, times, durations and actions;
   * on narrow screens each row is a card (labels from `data-label`).
   */
  function runsTable(runs, reload, empty) {
    if (!runs.length) return h("p", { class: "muted empty" }, empty || "No runs match these filters.");
    const cols = ["Run", "Status", "Runbook", "Env", "Target", "Command", "By", "Created", "Duration", ""];
    const cell = (i, attrs, ...kids) => h("td", Object.assign({ "data-label": cols[i] }, attrs), ...kids);
    return h("div", { class: "table-wrap" }, h("table", { class: "runs" },
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, runs.map((r) => h("tr", { "data-run": r.id, "data-status": r.status },
        cell(0, { class: "run-id" }, h("a", { href: "/runs/" + r.id }, "#" + r.id)),
        cell(1, {}, O.badge(r.status)),
        cell(2, {}, r.runbook),
        cell(3, {}, r.env || ""),
        cell(4, {}, r.target || ""),
        cell(5, { class: "cmd-text", title: r.text || "" }, r.text || ""),
        cell(6, { "data-field": "created_by" }, r.created_by),
        cell(7, {}, O.time(r.created_at)),
        cell(8, { "data-field": "duration" }, O.dur(O.runDuration(r))),
        cell(9, { class: "row-actions" }, O.actionButtons(r, reload).filter((b) => b.dataset.action !== "retry-edit")))))));
  }

  async function home() {
    const recent = document.getElementById("recent");
    const area = document.getElementById("card-area");
    const load = async () => {
      const r = await O.api("GET", "/runs?limit=8");
      if (r.ok) recent.replaceChildren(runsTable(r.data, load, "No runs yet: type a command above, e.g. “check prod status”."));
    };
    O.initCommandBar((text, parsed) => {
      const card = O.showCard(area, text, parsed);
      // Run when it is offered, else the card that says why not.
      const run = card.querySelector("[data-action=run]:not([hidden])");
      (run || card).focus();
    });
    load();
    setInterval(() => { if (!document.hidden) load(); }, 5000);
  }

  async function runPage() {
    const root = document.getElementById("run-view");
    const id = root.dataset.run;
    const r = await O.api("GET", "/runs/" + id);
    root.replaceChildren();
    if (!r.ok) {
      root.append(h("h1", {}, "Run #" + id), h("p", { class: "error" }, O.errorText(r)));
      return;
    }
    root.append(h("h1", { class: "sr-only" }, "Run #" + id));
    O.mountRun(root, r.data, {});
  }

  /** A date field's day (local midnight) as an instant; `next` for the day after. */
  function dayStart(value, next) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || "");
    if (!m) return null;
    return new Date(+m[1], +m[2] - 1, +m[3] + (next ? 1 : 0)).toISOString();
  }

  async function history() {
    const box = document.getElementById("history");
    const older = document.getElementById("older");
    const params = new URLSearchParams(location.search);
    const api = new URLSearchParams();
    // Every filter, the text search too, is done by the server.
    for (const k of ["status", "env", "runbook", "before", "q", "created_by"]) if (params.get(k)) api.set(k, params.get(k));
    if (dayStart(params.get("from"))) api.set("from", dayStart(params.get("from")));
    if (dayStart(params.get("to"), true)) api.set("to", dayStart(params.get("to"), true));
    const limit = 25;
    api.set("limit", limit);
    const load = async () => {
      const r = await O.api("GET", "/runs?" + api);
      if (!r.ok) { box.replaceChildren(h("p", { class: "error", role: "alert" }, O.errorText(r))); return; }
      box.replaceChildren(runsTable(r.data, load));
      if (r.data.length === limit) {
        const next = new URLSearchParams(params);
        next.set("before", r.data[r.data.length - 1].id);
        older.href = "/runs?" + next;
        older.hidden = false;
      } else older.hidden = true;
    };
    await load();
    // The newest page stays live.
    if (!params.get("before")) setInterval(() => { if (!document.hidden) load(); }, 3000);
  }

  /**
   * A lane's state in the sessions list: its current run (the first
   * unfinished one, else the last) and how many runs it holds.
   */
  function laneState(lane) {
    if (!lane.runs.length) return h("span", { class: "lane-state muted", "data-lane": lane.name }, lane.name + ": empty");
    const current = lane.runs.find((r) => !O.isFinal(r.status)) || lane.runs[lane.runs.length - 1];
    return h("span", { class: "lane-state", "data-lane": lane.name }, lane.name + ": ",
      h("a", { href: "/runs/" + current.id }, "#" + current.id), " ", O.badge(current.status),
      lane.runs.length > 1 ? h("span", { class: "muted" }, " of " + O.plural(lane.runs.length, "run")) : "");
  }

  async function sessionsList() {
    const box = document.getElementById("sessions");
    const r = await O.api("GET", "/sessions?limit=20");
    if (!r.ok) { box.replaceChildren(h("p", { class: "error", role: "alert" }, O.errorText(r))); return; }
    if (!r.data.length) { box.replaceChildren(h("p", { class: "muted empty" }, "No sessions yet.")); return; }
    box.replaceChildren(h("ul", { class: "sessions" }, r.data.map((s) => h("li", { "data-session": s.id },
      h("a", { href: "/runboard/" + s.id, class: "session-name" }, s.name), " ",
      h("span", { class: "muted" }, "#" + s.id + " · " + s.created_by + " · "), O.time(s.created_at),
      h("div", { class: "lane-states" }, s.lanes.map(laneState))))));
  }

  function runboardStart() {
    sessionsList();
    setInterval(() => { if (!document.hidden) sessionsList(); }, 5000);
    document.getElementById("new-session").addEventListener("click", async (e) => {
      e.target.disabled = true;
      const r = await O.api("POST", "/sessions", {});
      if (r.ok) location.href = "/runboard/" + r.data.id;
      else { e.target.disabled = false; O.toast(O.errorText(r)); }
    });
    document.getElementById("open-session").addEventListener("submit", (e) => {
      e.preventDefault();
      location.href = "/runboard/" + encodeURIComponent(e.target.id.value.trim());
    });
  }

  /**
   * A run in a lane; `ahead` is the unfinished run before it in the lane,
   * which it waits for (lanes run one at a time, in enqueue order).
   */
  function laneCard(r, ahead) {
    const waits = ahead && !O.isFinal(r.status) && r.status !== "running";
    return h("li", { class: "lane-run", "data-run": r.id, "data-status": r.status },
      h("div", { class: "lr-head" }, h("a", { href: "/runs/" + r.id }, "#" + r.id), " ", O.badge(r.status)),
      h("div", { class: "lr-body" }, r.runbook, r.env ? " · " + r.env : "", r.target ? " · " + r.target : ""),
      waits ? h("div", { class: "lr-waits", "data-field": "waits-for" }, "waits for ", h("a", { href: "/runs/" + ahead.id }, "#" + ahead.id), " (" + ahead.status.replace("_", " ") + ")") : "",
      h("div", { class: "lr-foot muted" }, r.text || "", " ", O.dur(O.runDuration(r))));
  }

  /** The lane's runs as cards, each knowing the unfinished run ahead of it. */
  function laneCards(runs) {
    let ahead = null;
    return runs.map((r) => {
      const card = laneCard(r, ahead);
      if (!O.isFinal(r.status)) ahead = r;
      return card;
    });
  }

  async function runboard() {
    const id = +document.body.dataset.session;
    const area = document.getElementById("card-area");
    const name = document.getElementById("session-name");
    const lanePick = document.getElementById("cmd-lane");
    let last = "";
    const load = async () => {
      const r = await O.api("GET", "/sessions/" + id);
      if (!r.ok) {
        document.getElementById("board").replaceChildren(h("p", { class: "error", role: "alert" }, O.errorText(r)));
        return false;
      }
      name.textContent = r.data.name + " (#" + id + ")";
      const key = JSON.stringify(r.data.lanes.map((l) => l.runs.map((x) => [x.id, x.status, x.started_at, x.finished_at])));
      if (key === last) return true;
      last = key;
      for (const lane of r.data.lanes) {
        const col = document.querySelector(".lane[data-lane=" + lane.name + "] .lane-runs");
        if (col) col.replaceChildren(...(lane.runs.length ? laneCards(lane.runs) : [h("li", { class: "muted empty" }, "empty")]));
      }
      return true;
    };
    O.initCommandBar((text, parsed) => {
      O.showCard(area, text, parsed, {
        session_id: id,
        lane: lanePick.value,
        onCreated: (run) => { O.toast("Run #" + run.id + " added to lane " + run.lane); load(); },
      });
    });
    if (await load()) setInterval(load, 1000);
  }

  async function workers() {
    const box = document.getElementById("workers");
    const load = async () => {
      const r = await O.api("GET", "/workers");
      if (!r.ok) { box.replaceChildren(h("p", { class: "error", role: "alert" }, O.errorText(r))); return; }
      if (!r.data.length) { box.replaceChildren(h("p", { class: "muted" }, "No worker has ever checked in. Start one with `opsroom worker`.")); return; }
      box.replaceChildren(h("div", { class: "table-wrap" }, h("table", { class: "workers" },
        h("thead", {}, h("tr", {}, ["Worker", "Host", "State", "Last heartbeat", "Running", "Slots"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, r.data.map((w) => h("tr", { "data-worker": w.id, class: w.stale ? "stale" : "" },
          h("td", {}, w.id),
          h("td", {}, w.host + " (pid " + w.pid + ")"),
          h("td", {}, w.stale ? h("span", { class: "badge st-failed" }, "stale") : h("span", { class: "badge st-" + (w.state === "busy" ? "running" : w.state === "stopped" ? "cancelled" : "succeeded") }, w.state)),
          h("td", {}, O.time(w.heartbeat_at)),
          h("td", {}, w.running.length ? w.running.map((id) => h("a", { href: "/runs/" + id, class: "chip" }, "#" + id)) : h("span", { class: "muted" }, "idle")),
          h("td", {}, w.concurrency)))))));
    };
    load();
    setInterval(() => { if (!document.hidden) load(); }, 2000);
  }

  /** One waiting run in the inbox: what it will do, who asked, and the decision. */
  function approvalCard(r, reload) {
    const comment = h("input", { type: "text", class: "approval-comment", maxlength: 1000, placeholder: "Comment (optional)", "aria-label": "Comment on run #" + r.id });
    return h("article", { class: "card approval-card", "data-run": r.id, "aria-labelledby": "appr-" + r.id },
      h("header", { class: "card-head" },
        h("h2", { id: "appr-" + r.id }, h("a", { href: "/runs/" + r.id }, "#" + r.id), " " + r.runbook),
        h("div", { class: "badges" },
          r.env && h("span", { class: "badge env" }, "env: " + r.env),
          r.target && h("span", { class: "badge" }, "target: " + r.target),
          h("span", { class: "badge risk-" + r.risk, "data-risk": r.risk }, r.risk === "write" ? "write" : "read-only"))),
      r.text ? h("p", { class: "card-text" }, h("code", {}, r.text)) : "",
      O.approvalInfo(r),
      Object.keys(r.params || {}).length ? h("p", { class: "params muted" }, "params: ", h("code", {}, JSON.stringify(r.params))) : "",
      O.planList(r.plan),
      h("div", { class: "actions" }, comment, ...O.actionButtons(r, () => reload(), () => comment.value)
        .filter((b) => b.dataset.action !== "cancel")));
  }

  async function approvals() {
    const box = document.getElementById("approvals");
    let last = "";
    const load = async () => {
      const r = await O.api("GET", "/approvals");
      if (!r.ok) { box.replaceChildren(h("p", { class: "error", role: "alert" }, O.errorText(r))); return; }
      const key = JSON.stringify(r.data.map((x) => [x.id, x.status]));
      if (key === last) return;
      // Keep what someone is typing: only redraw when the list changed.
      last = key;
      if (!r.data.length) { box.replaceChildren(h("p", { class: "muted empty" }, "Nothing waits for approval.")); return; }
      box.replaceChildren(...r.data.map((run) => approvalCard(run, load)));
    };
    await load();
    setInterval(() => { if (!document.hidden) load(); }, 5000);
  }

  /** The catalog: "try it" puts an example in the command bar and shows its preview. */
  function runbooks() {
    const area = document.getElementById("card-area");
    const input = document.getElementById("cmd");
    O.initCommandBar((text, parsed) => {
      const card = O.showCard(area, text, parsed);
      const run = card.querySelector("[data-action=run]:not([hidden])");
      (run || card).focus();
    });
    for (const b of document.querySelectorAll("button[data-try]")) {
      b.addEventListener("click", () => {
        input.value = b.dataset.try;
        input.dispatchEvent(new Event("input"));
        input.scrollIntoView({ block: "center" });
        input.focus();
      });
    }
  }

  const PAGES = { home, run: runPage, history, runbooks, approvals, "runboard-start": runboardStart, runboard, workers };
  const start = () => {
    const f = PAGES[document.body.dataset.page];
    if (f) f();
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
