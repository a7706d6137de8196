// opsroom UI: the runbook card (inline and fullscreen) and the live run view
// it turns into after Run: phases, log, status, artifacts, actions.
"use strict";
(function () {
  const O = window.opsroom;
  const h = O.h;
  const PHASES = ["validate", "preflight", "action", "verify", "summarize"];

  O.planList = planList;
  function planList(plan) {
    return h("ol", { class: "plan" }, (plan || []).map((p) =>
      h("li", { "data-phase": p.phase }, h("h3", {}, p.phase),
        h("ul", {}, (p.steps || []).map((s) => h("li", {}, s))))));
  }

  function fullscreenButton(card) {
    const b = h("button", { type: "button", class: "ghost", "aria-pressed": "false", onclick: () => {
      const on = card.classList.toggle("fullscreen");
      b.setAttribute("aria-pressed", String(on));
      b.textContent = on ? "Exit fullscreen" : "Fullscreen";
    } }, "Fullscreen");
    return b;
  }
  document.addEventListener("keydown", (e) => {
    const full = document.querySelector(".card.fullscreen");
    if (e.key === "Escape" && full) full.querySelector("[aria-pressed=true]").click();
  });

  /**
   * A form for a runbook's typed params (text, number within its range,
   * checkbox, choice), filled with `values`; `onChange` runs after each edit.
   * `values()` returns what is set (empty text and numbers are left out).
   */
  O.paramsForm = function (specParams, values, onChange) {
    const fields = [];
    const rows = (specParams || []).map((sp) => {
      const id = "param-" + sp.name + "-" + Math.random().toString(36).slice(2, 7);
      const v = values[sp.name] !== undefined ? values[sp.name] : sp.default;
      let input;
      if (sp.type === "boolean") input = h("input", { type: "checkbox", id, checked: v === true });
      else if (sp.type === "enum") input = h("select", { id }, (sp.required ? [] : [h("option", { value: "" }, "(default)")]).concat(sp.values.map((x) => h("option", { value: x, selected: x === v }, x))));
      else if (sp.type === "integer") input = h("input", { type: "number", id, min: sp.min, max: sp.max, step: 1, value: v === undefined || v === null ? "" : v });
      else input = h("input", { type: "text", id, value: v === undefined || v === null ? "" : v, required: sp.required });
      input.dataset.param = sp.name;
      input.addEventListener(sp.type === "boolean" || sp.type === "enum" ? "change" : "input", () => onChange && onChange());
      fields.push([sp, input]);
      return h("div", { class: "param" },
        h("label", { for: id }, h("code", {}, sp.name), sp.required ? " (required)" : ""),
        input, sp.description ? h("span", { class: "param-help muted" }, sp.description) : "");
    });
    const el = h("fieldset", { class: "params-form" }, h("legend", {}, "Params"), rows.length ? rows : h("p", { class: "muted" }, "This runbook takes no params."));
    return {
      el,
      values() {
        const out = {};
        for (const [sp, input] of fields) {
          if (sp.type === "boolean") out[sp.name] = input.checked;
          else if (input.value === "") continue;
          else if (sp.type === "integer") out[sp.name] = Number(input.value);
          else out[sp.name] = input.value;
        }
        return out;
      },
    };
  };

  /** Why a previewed command cannot run, or "" when it can. */
  function notRunnable(p) {
    if (p.intent === "none") return "No runbook matched: rephrase, or pick one of the suggestions.";
    if (p.validation_error) return p.validation_error.message;
    if (p.questions && p.questions.length) return "Answer the questions above first.";
    if (!p.runnable) return "This runbook cannot run on this server.";
    return "";
  }

  /**
   * Shows the runbook card for parsed text; `opts` may carry session_id and
   * lane. Run is offered only while the preview says the run would pass its
   * validate phase; editing a param checks again.
   */
  O.showCard = function (area, text, p, opts) {
    opts = opts || {};
    const err = h("div", { class: "card-error", role: "alert" });
    const why = h("p", { class: "not-runnable", "data-field": "not-runnable" });
    const actions = h("div", { class: "actions" });
    const head = h("header", { class: "card-head" });
    const questions = h("div", {});
    const planBox = h("div", {});
    const paramsBox = h("div", { class: "card-params" });
    const run = h("button", { type: "button", class: "primary", "data-action": "run" }, opts.lane ? "Run in lane " + opts.lane : "Run");
    const card = h("article", { class: "card", tabindex: -1, "aria-labelledby": "card-title", "data-intent": p.intent },
      head, h("p", { class: "card-text" }, h("code", {}, text)), questions, paramsBox, planBox, why, err, actions);
    let form = null;
    let checking = 0;
    function update(q) {
      p = q;
      card.dataset.runnable = String(!notRunnable(p));
      head.replaceChildren(
        h("h2", { id: "card-title" }, p.intent === "none" ? "No runbook matched" : p.intent),
        h("div", { class: "badges" },
          p.env && h("span", { class: "badge env" }, "env: " + p.env),
          p.target && h("span", { class: "badge" }, "target: " + p.target),
          p.risk && h("span", { class: "badge risk-" + p.risk, "data-risk": p.risk }, p.risk === "write" ? "write" : "read-only"),
          p.needs_approval && h("span", { class: "badge approval" }, "needs approval"),
          h("span", { class: "badge muted" }, Math.round((p.confidence || 0) * 100) + "% sure")));
      questions.replaceChildren(p.questions && p.questions.length ? h("ul", { class: "questions" }, p.questions.map((x) => h("li", {}, x))) : "");
      planBox.replaceChildren(planList(p.plan));
      const reason = notRunnable(p);
      why.textContent = reason ? "Cannot run: " + reason : "";
      why.hidden = !reason;
      run.hidden = !!reason;
    }
    async function recheck() {
      const mine = ++checking;
      run.disabled = true;
      const r = await O.api("POST", "/parse", { text, params: form.values() });
      if (mine !== checking) return;
      run.disabled = false;
      if (r.ok) update(r.data);
      else { why.textContent = "Cannot run: " + O.errorText(r); why.hidden = false; run.hidden = true; }
    }
    let timer = null;
    if (p.intent !== "none") {
      O.runbooks().then((list) => {
        const rb = list.find((x) => x.name === p.intent);
        if (!rb || !rb.params.length) return;
        form = O.paramsForm(rb.params, p.params || {}, () => { clearTimeout(timer); timer = setTimeout(recheck, 250); });
        paramsBox.replaceChildren(h("details", { class: "edit-params" }, h("summary", {}, "Edit params (" + rb.params.length + ")"), form.el));
      });
    }
    update(p);
    actions.append(run, fullscreenButton(card), h("button", { type: "button", class: "ghost", onclick: () => card.remove() }, "Close"));
    run.addEventListener("click", async () => {
      run.disabled = true;
      err.replaceChildren();
      const body = { text };
      if (form) body.params = form.values();
      if (opts.session_id) { body.session_id = opts.session_id; body.lane = opts.lane; }
      const res = await O.api("POST", "/runs", body);
      run.disabled = false;
      if (!res.ok) {
        const e = (res.data && res.data.error) || {};
        err.append(h("p", {}, O.errorText(res)));
        if (e.questions && e.questions.length) err.append(h("ul", {}, e.questions.map((q) => h("li", {}, q))));
        if (e.alternatives && e.alternatives.length) err.append(h("p", {}, "Did you mean: " + e.alternatives.join(", ")));
        return;
      }
      if (opts.onCreated) { opts.onCreated(res.data); card.remove(); return; }
      card.replaceChildren();
      const view = O.mountRun(card, res.data, { card: true });
      view.log.viewport.focus();
    });
    area.replaceChildren(card);
    return card;
  };

  /**
   * The run's actions; `after` gets the updated or new run. `comment`, when
   * given, returns the text an approval or rejection is sent with.
   */
  function actionButtons(run, after, comment) {
    const act = async (what, label) => {
      const text = comment && (what === "approve" || what === "reject") ? comment().trim() : "";
      const res = await O.api("POST", "/runs/" + run.id + "/" + what, text ? { comment: text } : undefined);
      if (!res.ok) { O.toast(label + " refused: " + O.errorText(res)); return; }
      O.toast(label + ": run #" + res.data.id);
      O.refreshApprovalCount();
      after(what, res.data);
    };
    const out = [];
    if (!O.isFinal(run.status)) out.push(h("button", { type: "button", class: "danger", "data-action": "cancel", onclick: () => act("cancel", "Cancel") }, "Cancel"));
    if (O.isFinal(run.status)) {
      out.push(h("button", { type: "button", "data-action": "retry", onclick: () => act("retry", "Retry") }, "Retry"));
      out.push(h("button", { type: "button", class: "ghost", "data-action": "retry-edit", onclick: () => retryDialog(run, after) }, "Retry with changes…"));
    }
    if (run.status === "awaiting_approval") {
      out.push(h("button", { type: "button", "data-action": "approve", onclick: () => act("approve", "Approve") }, "Approve"));
      out.push(h("button", { type: "button", class: "ghost", "data-action": "reject", onclick: () => act("reject", "Reject") }, "Reject"));
    }
    return out;
  }
  O.actionButtons = actionButtons;

  /** A dialog with the run's params in a form; its Retry sends the edited copy. */
  async function retryDialog(run, after) {
    const rb = (await O.runbooks()).find((x) => x.name === run.runbook);
    const form = O.paramsForm(rb ? rb.params : [], run.params || {});
    const err = h("p", { class: "error", role: "alert" });
    const dlg = h("dialog", { class: "retry-dialog", "aria-labelledby": "retry-title" });
    const send = h("button", { type: "submit", class: "primary", "data-action": "retry-send" }, "Retry with these params");
    dlg.append(h("form", { method: "dialog", onsubmit: async (e) => {
      e.preventDefault();
      send.disabled = true;
      const res = await O.api("POST", "/runs/" + run.id + "/retry", { params: form.values() });
      send.disabled = false;
      if (!res.ok) { err.textContent = O.errorText(res); return; }
      dlg.close();
      O.toast("Retry: run #" + res.data.id);
      after("retry", res.data);
    } },
    h("h2", { id: "retry-title" }, "Retry run #" + run.id + " (" + run.runbook + ") with changes"),
    form.el, err,
    h("div", { class: "actions" }, send, h("button", { type: "button", class: "ghost", onclick: () => dlg.close() }, "Cancel"))));
    dlg.addEventListener("close", () => dlg.remove());
    document.body.append(dlg);
    dlg.showModal();
  }

  /**
   * Who requested a run that needed approval, until when it waits, and who
   * approved, rejected or cancelled it, when, with their comment.
   */
  O.approvalInfo = function (run) {
    const a = run.approval;
    if (!a) return "";
    const parts = [h("span", {}, "Requested by ", h("strong", { "data-field": "requested_by" }, a.requested_by), " ", O.time(a.requested_at))];
    if (a.state === "pending" && a.expires_at) parts.push(h("span", {}, " · expires ", O.time(a.expires_at)));
    const verb = { approved: "Approved", rejected: "Rejected", cancelled: "Cancelled" }[a.state];
    const decided = verb && a.decided_by
      ? h("p", { class: "decision", "data-state": a.state }, verb + " by ", h("strong", { "data-field": "decided_by" }, a.decided_by), " ", a.decided_at ? O.time(a.decided_at) : "")
      : a.state === "expired"
        ? h("p", { class: "decision", "data-state": "expired" }, "Expired unapproved ", a.decided_at ? O.time(a.decided_at) : "", ": the run was rejected.")
        : "";
    return h("section", { class: "approval-info", "aria-label": "Approval", "data-state": a.state },
      h("p", {}, ...parts), decided,
      a.comment ? h("blockquote", { class: "comment", "data-field": "comment" }, a.comment) : "");
  };

  /** Phase progress from run.phases. */
  function phaseRecords(run) {
    const map = {};
    for (const p of Array.isArray(run.phases) ? run.phases : []) map[p.phase] = p;
    return PHASES.map((name) => map[name] || { phase: name, status: "pending" });
  }

  /** A value of the params table: text as is, anything else as JSON. */
  const paramText = (v) => typeof v === "string" ? v : JSON.stringify(v);

  /**
   * Who, what and when of a run: requester, approver, start and end in the
   * viewer's zone (UTC on hover), duration, attempt, worker, session and
   * lane, retry links, params and plan.
   */
  function runFacts(run) {
    const row = (label, field, ...value) => [h("dt", {}, label), h("dd", { "data-field": field }, ...value)];
    const a = run.approval;
    const approval = !a ? h("span", { class: "muted" }, "not needed")
      : a.state === "approved" ? [a.decided_by || "", " ", a.decided_at ? O.absTime(a.decided_at) : ""]
        : h("span", { class: "muted" }, a.state === "pending" ? "waiting" : a.state);
    const d = O.runDuration(run);
    const facts = [
      row("Requested by", "requested_by", h("strong", {}, run.created_by), " ", O.absTime(run.created_at)),
      row("Approved by", "approved_by", approval),
      row("Started", "started_at", run.started_at ? O.absTime(run.started_at) : h("span", { class: "muted" }, "not yet")),
      row("Ended", "finished_at", run.finished_at ? O.absTime(run.finished_at) : h("span", { class: "muted" }, O.isFinal(run.status) ? "—" : "not yet")),
      row("Duration", "duration", h("span", { class: "elapsed", "data-live": String(!!run.started_at && !run.finished_at) }, d === null ? "—" : O.dur(d))),
      row("Attempt", "attempt", (run.attempt || 0) + " of " + run.max_attempts),
      row("Worker", "worker", run.worker_id ? h("code", {}, run.worker_id) : h("span", { class: "muted" }, "none yet")),
    ];
    if (run.session_id) facts.push(row("Session", "session", h("a", { href: "/runboard/" + run.session_id }, "#" + run.session_id), run.lane ? " · lane " + run.lane : ""));
    const w = run.waits_for;
    if (w && run.status === "queued") {
      const why = w.reason === "lane" ? "ahead of it in its lane"
        : w.status === "running" ? "holds the lock on " + (run.env || "") + (run.target ? "/" + run.target : "")
          : "is first in line for the lock on " + (run.env || "") + (run.target ? "/" + run.target : "");
      facts.push(row("Waits for", "waits_for", h("a", { href: "/runs/" + w.run_id }, "#" + w.run_id),
        " (" + w.runbook + ", " + w.status.replace("_", " ") + ") " + why));
    }
    if (run.retry_of) facts.push(row("Retry of", "retry_of", h("a", { href: "/runs/" + run.retry_of }, "#" + run.retry_of)));
    if (run.retried_as && run.retried_as.length) facts.push(row("Retried as", "retried_as", run.retried_as.map((id, i) => [i ? ", " : "", h("a", { href: "/runs/" + id }, "#" + id)])));
    const params = Object.entries(run.params || {});
    return h("section", { class: "run-facts", "aria-label": "Who, what and when" },
      h("dl", { class: "facts" }, facts),
      params.length ? h("table", { class: "params-table" }, h("caption", {}, "Params"),
        h("tbody", {}, params.map(([k, v]) => h("tr", { "data-param": k }, h("th", { scope: "row" }, h("code", {}, k)), h("td", {}, paramText(v))))))
        : h("p", { class: "muted params-none" }, "No params."),
      h("details", { class: "run-plan" }, h("summary", {}, "Plan"), planList(run.plan)));
  }

  /**
   * Extra sections of the run view: functions (run) → element or "",
   * drawn in order below the artifacts whenever the run changes.
   */
  O.runSections = O.runSections || [];
  /** What one remediation run body does, for its button. */
  function remediationLabel(body) {
    const p = body.params || {};
    const where = (body.target ? body.target + " on " : "") + (body.env || "");
    if (body.runbook === "rollback") return "Roll back " + where + (p.ref ? " to " + p.ref : "");
    if (body.runbook === "incident_pr" && p.from && p.to) return "Open a pull request reverting " + p.from + ".." + p.to;
    if (body.runbook === "incident_pr") return "Open an issue with the report";
    return "Start " + body.runbook + " on " + where;
  }

  /**
   * The remediations an incident run's triage.json proposes, one button
   * each: a click starts that run (POST /runs) and goes to it.
   */
  function remediations(artifacts) {
    const triage = artifacts.find((a) => a.name === "triage.json");
    let bodies = [];
    try { bodies = triage ? JSON.parse(triage.content).remediations || [] : []; } catch (_) { bodies = []; }
    if (!bodies.length) return "";
    const err = h("p", { class: "error", role: "alert", hidden: true });
    const buttons = bodies.map((body) => {
      const b = h("button", { type: "button", "data-action": "remediate", "data-runbook": body.runbook }, remediationLabel(body));
      b.onclick = async () => {
        b.disabled = true;
        const r = await O.api("POST", "/runs", body);
        if (r.ok) { location.href = "/runs/" + r.data.id; return; }
        b.disabled = false;
        err.textContent = O.errorText(r);
        err.hidden = false;
      };
      return b;
    });
    return h("section", { class: "remediations", "aria-label": "Remediations" },
      h("h3", {}, "Remediations"), h("div", { class: "actions" }, ...buttons), err);
  }

  /** Mounts the live view of `run` into `root` (a page section or a card). */
  O.mountRun = function (root, run, opts) {
    opts = opts || {};
    const log = new O.LogView({ runId: run.id, startedAt: run.started_at });
    const facts = h("div", { class: "run-facts-box" });
    const extras = h("div", { class: "run-extras" });
    const phases = phaseRecords(run);
    const title = h("h2", { class: "run-title" });
    const status = h("span", { class: "run-status" });
    const dur = h("span", { class: "run-dur muted" });
    const conn = h("span", { class: "conn muted", "aria-live": "polite" });
    const actions = h("div", { class: "actions" });
    const phaseList = h("ol", { class: "phases", "aria-label": "Phases" });
    const errBox = h("p", { class: "error run-error", role: "alert" });
    const arts = h("section", { class: "artifacts", "aria-label": "Artifacts" });
    const approvalBox = h("div", { class: "approval-box" });
    const commentInput = h("input", { type: "text", class: "approval-comment", maxlength: 1000, placeholder: "Comment (optional)", "aria-label": "Comment for the approval or rejection" });
    const pop = h("button", { type: "button", class: "ghost", "data-action": "popout", onclick: () => O.popOut(log, run) }, "Pop out log");

    function drawPhases() {
      phaseList.replaceChildren(...phases.map((p, i) => h("li", { class: "phase ph-" + p.status, "data-phase": p.phase, "data-status": p.status },
        h("span", { class: "ph-num", "aria-hidden": "true" }, i), h("span", { class: "ph-name" }, p.phase),
        h("span", { class: "ph-st" }, p.status.replace("_", " ")), h("span", { class: "ph-dur" }, O.dur(p.duration_ms)),
        p.error && h("span", { class: "ph-err" }, p.error))));
    }
    function draw() {
      title.replaceChildren(h("a", { href: "/runs/" + run.id }, "Run #" + run.id), " · " + run.runbook,
        run.env ? " · " + run.env : "", run.target ? " · " + run.target : "");
      status.replaceChildren(O.badge(run.status));
      root.dataset.status = run.status;
      const d = O.runDuration(run);
      dur.textContent = d === null ? "" : (O.isFinal(run.status) ? "took " : "running for ") + O.dur(d);
      actions.replaceChildren(...actionButtons(run, (what, r) => {
        if (what === "retry") location.href = "/runs/" + r.id;
        else { run = r; draw(); }
      }, () => commentInput.value), O.isFinal(run.status) ? "" : pop, opts.card ? fullscreen : "");
      if (run.status === "awaiting_approval" && !actions.contains(commentInput)) actions.prepend(commentInput);
      const key = JSON.stringify(run.approval);
      if (approvalBox.dataset.key !== key) {
        approvalBox.dataset.key = key;
        approvalBox.replaceChildren(O.approvalInfo(run));
      }
      errBox.textContent = run.error || "";
      errBox.hidden = !run.error;
      if (run.started_at) log.startedAt = Date.parse(run.started_at);
      const factsKey = JSON.stringify([run.status, run.started_at, run.finished_at, run.attempt, run.worker_id, run.approval, run.retried_as, run.waits_for]);
      if (facts.dataset.key !== factsKey) {
        facts.dataset.key = factsKey;
        facts.replaceChildren(runFacts(run));
        extras.replaceChildren(...O.runSections.map((f) => f(run)).filter(Boolean));
      }
      drawPhases();
    }
    // The running clock: the header's duration and elapsed time tick each second.
    function tick() {
      const d = O.runDuration(run);
      if (d === null) return;
      const text = O.dur(d);
      dur.textContent = (O.isFinal(run.status) ? "took " : "running for ") + text;
      const el = facts.querySelector(".elapsed");
      if (el) el.textContent = text;
    }
    const fullscreen = opts.card ? fullscreenButton(root) : null;

    async function refresh() {
      const r = await O.api("GET", "/runs/" + run.id);
      if (r.ok) {
        run = r.data;
        const fresh = phaseRecords(run);
        fresh.forEach((p, i) => { if (p.status !== "pending" || phases[i].status === "pending") phases[i] = p; });
        draw();
      }
    }
    async function loadArtifacts() {
      const r = await O.api("GET", "/runs/" + run.id + "/artifacts");
      if (!r.ok) return;
      const drawn = await Promise.all(r.data.map((a) => O.artifact(a, run.id)));
      arts.replaceChildren(remediations(r.data), h("h3", {}, "Artifacts (" + r.data.length + ")"), ...drawn);
    }

    root.classList.add("run-live");
    root.append(
      h("header", { class: "run-head" }, title, h("div", { class: "run-meta" }, status, dur, conn)),
      run.text ? h("p", { class: "card-text" }, h("code", {}, run.text)) : "",
      facts, approvalBox, actions, errBox, phaseList, log.el, arts, extras);
    draw();
    const clock = setInterval(() => {
      if (!root.isConnected) { clearInterval(clock); return; }
      if (!O.isFinal(run.status)) tick();
    }, 1000);

    const stream = new O.RunStream(run.id, {
      events(list) {
        log.add(list);
        let changed = false;
        for (const e of list) {
          const k = e.data && e.data.kind;
          const i = PHASES.indexOf(e.phase);
          if (i < 0) continue;
          if (k === "phase_start") { phases[i] = { phase: e.phase, status: "running" }; changed = true; }
          if (k === "phase_end") { phases[i] = { phase: e.phase, status: e.data.status, duration_ms: e.data.duration_ms }; changed = true; }
        }
        if (changed) {
          if (!O.isFinal(run.status) && run.status !== "running") refresh();
          else drawPhases();
        }
      },
      end() { conn.textContent = ""; refresh().then(loadArtifacts); clearInterval(ticker); },
      state(s) { conn.textContent = s === "live" ? "● live" : "reconnecting…"; },
    });
    // Status changes without events (approval, queue) and the running clock.
    const ticker = setInterval(() => {
      if (!root.isConnected) { clearInterval(ticker); stream.close(); return; }
      if (!O.isFinal(run.status)) refresh();
    }, 2000);
    if (O.isFinal(run.status)) loadArtifacts();
    root.runView = { log, stream };
    return root.runView;
  };

  /**
   * Pops a run's log viewer into a Document Picture-in-Picture window where
   * the browser has one, else into a small floating panel on the page.
   */
  O.popOut = async function (log, run) {
    const el = log.el;
    const home = el.parentNode;
    const marker = h("p", { class: "muted popped" }, "The log is in a separate window.");
    const back = () => { marker.replaceWith(el); el.classList.remove("floating"); log.schedule(); };
    if (window.documentPictureInPicture && window.documentPictureInPicture.requestWindow) {
      try {
        const pip = await window.documentPictureInPicture.requestWindow({ width: 520, height: 360 });
        for (const l of document.querySelectorAll("link[rel=stylesheet]")) pip.document.head.append(l.cloneNode());
        pip.document.title = "Run #" + run.id + " log";
        home.replaceChild(marker, el);
        pip.document.body.classList.add("pip");
        pip.document.body.append(el);
        pip.addEventListener("pagehide", back);
        log.schedule();
        return;
      } catch (_) { /* refused: fall back to the floating panel */ }
    }
    if (el.classList.contains("floating")) { back(); return; }
    home.replaceChild(marker, el);
    el.classList.add("floating");
    const close = h("button", { type: "button", class: "ghost float-close", "aria-label": "Put the log back", onclick: () => { close.remove(); back(); } }, "×");
    el.prepend(close);
    document.body.append(el);
    log.schedule();
  };
})();
