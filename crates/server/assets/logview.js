// opsroom UI: the live log viewer (virtualised: only visible lines are in the
// DOM) and the resumable event stream that feeds it.
"use strict";
(function () {
  const O = window.opsroom;
  const h = O.h;
  const LINE = 20; // px per line; must match .log-row in app.css
  const KEEP = 200000; // lines kept in the page; older ones are dropped (and said so)
  const LEVELS = ["debug", "info", "warn", "error"];

  const ANSI = /\x1b\[([0-9;]*)([A-Za-z])/g;
  /** Text without ANSI escape sequences (what copy and search see). */
  O.stripAnsi = (s) => String(s).replace(ANSI, "");
  /** "1 line", "2 lines". */
  O.plural = (n, one, many) => n + " " + (n === 1 ? one : many || one + "s");

  /**
   * A message with its ANSI SGR colours (30–37, 90–97, bold, reset) as
   * spans; other escape sequences are dropped, text is never parsed as HTML.
   */
  function ansiNodes(msg) {
    if (!msg.includes("\x1b[")) return [msg];
    const out = [];
    let fg = null, bold = false, last = 0, m;
    const push = (text) => {
      if (!text) return;
      if (fg === null && !bold) out.push(text);
      else out.push(h("span", { class: (fg !== null ? "ansi-" + fg : "") + (bold ? " ansi-bold" : "") }, text));
    };
    ANSI.lastIndex = 0;
    while ((m = ANSI.exec(msg))) {
      push(msg.slice(last, m.index));
      last = ANSI.lastIndex;
      if (m[2] !== "m") continue;
      for (const c of (m[1] || "0").split(";").map(Number)) {
        if (c === 0) { fg = null; bold = false; }
        else if (c === 1) bold = true;
        else if (c === 22) bold = false;
        else if (c === 39) fg = null;
        else if ((c >= 30 && c <= 37) || (c >= 90 && c <= 97)) fg = c;
      }
    }
    push(msg.slice(last));
    return out;
  }

  const TIME_MODES = ["local", "utc", "relative"];
  const pref = (k, d) => { try { return localStorage.getItem("opsroom.log." + k) || d; } catch (_) { return d; } };
  const setPref = (k, v) => { try { localStorage.setItem("opsroom.log." + k, v); } catch (_) { /* private mode */ } };
  const pad = (n, w) => String(n).padStart(w || 2, "0");
  /** The viewer's time zone, as shown next to times ("CET", "GMT+2"). */
  O.zoneName = function (d) {
    const part = new Intl.DateTimeFormat("en", { timeZoneName: "short" }).formatToParts(d || new Date()).find((p) => p.type === "timeZoneName");
    return part ? part.value : "local";
  };

  /**
   * A log viewer: toolbar (level, search, wrap, time, follow, copy,
   * download) and a virtual list; only the visible lines are in the DOM.
   * Lines are numbered by seq and linkable (`#L12`). `opts`: runId (for
   * the download link), startedAt (the zero of relative times).
   */
  class LogView {
    constructor(opts) {
      opts = opts || {};
      this.runId = opts.runId;
      this.startedAt = opts.startedAt ? Date.parse(opts.startedAt) : null;
      this.events = [];
      this.shown = []; // indices into events that pass the filters
      this.tops = [0]; // y of each shown line; tops[shown.length] is the height
      this.lastSeq = 0;
      this.dropped = 0;
      this.follow = true;
      this.minLevel = 0;
      this.query = "";
      this.pending = false;
      this.wrap = pref("wrap", "on") === "on";
      this.timeMode = pref("time", "local");
      this.expanded = new Set();
      this.highlight = null;
      this.wantSeq = null; // a #L link to go to once its line arrives
      this.cols = 0; // characters per wrapped line
      const id = "log" + Math.random().toString(36).slice(2, 8);
      this.count = h("span", { class: "log-count muted", "aria-live": "off" }, "0 lines");
      this.levelSel = h("select", { id: id + "-level", onchange: () => { this.minLevel = +this.levelSel.value; this.refilter(); } },
        LEVELS.map((l, i) => h("option", { value: i }, i ? l + " and above" : "all levels")));
      this.search = h("input", { id: id + "-q", type: "search", placeholder: "Search logs", oninput: () => { this.query = this.search.value.toLowerCase(); this.refilter(); } });
      this.followBox = h("input", { type: "checkbox", checked: true, onchange: () => { this.follow = this.followBox.checked; if (this.follow) this.toBottom(); } });
      this.wrapBtn = h("button", { type: "button", class: "ghost", "data-action": "wrap", "aria-pressed": String(this.wrap), onclick: () => this.setWrap(!this.wrap) }, "Wrap");
      this.timeBtn = h("button", { type: "button", class: "ghost", "data-action": "time", onclick: () => this.setTimeMode(TIME_MODES[(TIME_MODES.indexOf(this.timeMode) + 1) % TIME_MODES.length]) });
      this.errBtn = h("button", { type: "button", class: "ghost log-errors", "data-action": "next-error", hidden: true, onclick: () => this.nextError() });
      this.rows = h("div", { class: "log-rows" });
      this.spacer = h("div", { class: "log-spacer" }, this.rows);
      this.viewport = h("div", { class: "log-viewport", tabindex: 0, role: "log", "aria-label": "Run log", onscroll: () => this.onScroll() }, this.spacer);
      this.measure = h("span", { class: "log-measure", "aria-hidden": "true" }, "0".repeat(100));
      this.el = h("section", { class: "logview" + (this.wrap ? " wrap" : ""), "aria-label": "Live log" },
        h("div", { class: "log-tools" },
          h("label", { for: id + "-level", class: "sr-only" }, "Level"), this.levelSel,
          h("label", { for: id + "-q", class: "sr-only" }, "Search logs"), this.search,
          this.wrapBtn, this.timeBtn, this.errBtn,
          h("label", { class: "follow" }, this.followBox, " Follow"),
          h("button", { type: "button", class: "ghost", "data-action": "copy", onclick: () => this.copy() }, "Copy"),
          this.runId ? h("a", { class: "button ghost", href: "/api/v1/runs/" + this.runId + "/log", download: "run-" + this.runId + ".log", "data-action": "download-log" }, "Download") : "",
          this.count),
        this.viewport, this.measure);
      this.setTimeMode(this.timeMode);
      let width = 0;
      new ResizeObserver(() => {
        if (this.viewport.clientWidth !== width) { width = this.viewport.clientWidth; this.cols = 0; this.relayout(); }
        this.schedule();
      }).observe(this.viewport);
      this.onHash = () => this.gotoHash();
      window.addEventListener("hashchange", this.onHash);
      this.gotoHash();
    }

    /** Adds events in seq order; repeats (seq already seen) are ignored. */
    add(list) {
      let added = false;
      for (const e of list) {
        if (e.seq <= this.lastSeq) continue;
        this.lastSeq = e.seq;
        if (e.level === "error") this.errors = (this.errors || 0) + 1;
        this.events.push(e);
        if (this.startedAt === null) this.startedAt = Date.parse(e.ts);
        if (this.passes(e)) {
          this.shown.push(this.events.length - 1);
          this.tops.push(this.tops[this.tops.length - 1] + this.heightOf(e));
        }
        added = true;
      }
      if (this.events.length > KEEP) {
        const cut = this.events.length - KEEP;
        this.events.splice(0, cut);
        this.dropped += cut;
        this.refilter();
        return;
      }
      if (added) {
        if (this.wantSeq !== null && this.wantSeq <= this.lastSeq) this.goto(this.wantSeq);
        this.schedule();
      }
    }

    passes(e) {
      if (LEVELS.indexOf(e.level) < this.minLevel) return false;
      return !this.query || O.stripAnsi(e.message).toLowerCase().includes(this.query) || (e.phase || "").includes(this.query);
    }

    refilter() {
      this.shown = [];
      for (let i = 0; i < this.events.length; i++) if (this.passes(this.events[i])) this.shown.push(i);
      this.relayout();
      this.schedule();
    }

    /** Characters that fit on one wrapped line of the message column. */
    columns() {
      if (!this.cols) {
        const charW = this.measure.getBoundingClientRect().width / 100 || 8;
        const row = this.rows.querySelector(".log-msg");
        const left = row ? row.offsetLeft : 240;
        this.cols = Math.max(20, Math.floor((this.viewport.clientWidth - left - 16) / charW));
      }
      return this.cols;
    }

    /** A line's height in px: one row, or as many as its wrapped text takes. */
    heightOf(e) {
      if (!this.wrap && !this.expanded.has(e.seq)) return LINE;
      const cols = this.columns();
      let rows = 0;
      for (const part of O.stripAnsi(e.message).split("\n")) rows += Math.max(1, Math.ceil(part.length / cols));
      return rows * LINE;
    }

    relayout() {
      const tops = new Array(this.shown.length + 1);
      tops[0] = 0;
      for (let i = 0; i < this.shown.length; i++) tops[i + 1] = tops[i] + this.heightOf(this.events[this.shown[i]]);
      this.tops = tops;
    }

    /** The index of the shown line at height `y`. */
    indexAt(y) {
      let lo = 0, hi = this.shown.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.tops[mid + 1] <= y) lo = mid + 1; else hi = mid;
      }
      return lo;
    }

    setWrap(on) {
      this.wrap = on;
      setPref("wrap", on ? "on" : "off");
      this.wrapBtn.setAttribute("aria-pressed", String(on));
      this.el.classList.toggle("wrap", on);
      this.relayout();
      this.schedule();
    }

    setTimeMode(mode) {
      this.timeMode = TIME_MODES.includes(mode) ? mode : "local";
      setPref("time", this.timeMode);
      const label = { local: "Time: local (" + O.zoneName() + ")", utc: "Time: UTC", relative: "Time: since start" }[this.timeMode];
      this.timeBtn.textContent = label;
      this.timeBtn.title = "Show times in local time, UTC, or relative to the run's start";
      this.schedule();
    }

    /** An event's time as the chosen mode shows it. */
    timeText(e) {
      if (!e.ts) return "";
      const t = Date.parse(e.ts);
      if (this.timeMode === "utc") return e.ts.slice(11, 23);
      if (this.timeMode === "relative") {
        const ms = Math.max(0, t - (this.startedAt === null ? t : this.startedAt));
        return "+" + (ms / 1000).toFixed(3) + " s";
      }
      const d = new Date(t);
      return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
    }

    schedule() {
      if (this.pending) return;
      this.pending = true;
      requestAnimationFrame(() => { this.pending = false; this.render(); });
    }

    render() {
      const n = this.shown.length;
      if (this.tops.length !== n + 1) this.relayout();
      this.spacer.style.height = this.tops[n] + "px";
      if (this.follow) this.toBottom();
      const top = this.viewport.scrollTop;
      const height = this.viewport.clientHeight || 400;
      const first = Math.max(0, this.indexAt(top) - 10);
      const last = Math.min(n, this.indexAt(top + height) + 10);
      const frag = document.createDocumentFragment();
      for (let i = first; i < last; i++) frag.append(this.row(this.events[this.shown[i]]));
      this.rows.style.transform = "translateY(" + this.tops[first] + "px)";
      this.rows.replaceChildren(frag);
      if (!this.measured && this.rows.firstChild) {
        // The first rows drawn show where the message column starts.
        this.measured = true;
        this.cols = 0;
        if (this.wrap) { this.relayout(); this.schedule(); }
      }
      let label = n === this.events.length ? O.plural(n, "line") : n + " of " + O.plural(this.events.length, "line");
      if (this.dropped) label += " (" + this.dropped + " oldest dropped; the page keeps " + KEEP + ")";
      this.count.textContent = label;
      this.errBtn.hidden = !this.errors;
      if (this.errors) this.errBtn.textContent = O.plural(this.errors, "error") + " ↓";
    }

    row(e) {
      const long = !this.wrap && O.stripAnsi(e.message).length > this.columns();
      const open = this.expanded.has(e.seq);
      const cls = "log-row lv-" + e.level + (open ? " expanded" : "") + (this.highlight === e.seq ? " hl" : "");
      const el = h("div", { class: cls, "data-seq": e.seq, id: "L" + e.seq },
        h("a", { class: "log-ln", href: "#L" + e.seq, "aria-label": "Link to line " + e.seq }, e.seq),
        h("span", { class: "log-ts", title: e.ts }, this.timeText(e)), h("span", { class: "log-lv" }, e.level),
        h("span", { class: "log-ph" }, e.phase || ""), h("span", { class: "log-msg" }, ansiNodes(e.message)),
        long || open ? h("button", { type: "button", class: "log-expand ghost", "aria-expanded": String(open), onclick: () => this.toggleLine(e.seq) }, open ? "less" : "more") : "");
      // (CSSOM, not a style attribute: the page's policy refuses those.)
      if (open && !this.wrap) el.style.width = this.viewport.clientWidth + "px";
      return el;
    }

    /** Shows one long line whole (or back on one row). */
    toggleLine(seq) {
      if (this.expanded.has(seq)) this.expanded.delete(seq); else this.expanded.add(seq);
      this.relayout();
      this.schedule();
    }

    /** Scrolls to the next error line after the top of the view. */
    nextError() {
      const from = this.indexAt(this.viewport.scrollTop + 1) + 1;
      for (let k = 0; k < this.shown.length; k++) {
        const i = (from + k) % this.shown.length;
        const e = this.events[this.shown[i]];
        if (e.level === "error") { this.goto(e.seq); return; }
      }
    }

    gotoHash() {
      const m = /^#L(\d+)$/.exec(location.hash);
      if (!m) return;
      const seq = +m[1];
      if (seq <= this.lastSeq) this.goto(seq); else this.wantSeq = seq;
    }

    /** Scrolls line `seq` into view and highlights it; following stops. */
    goto(seq) {
      this.wantSeq = null;
      let i = this.shown.findIndex((k) => this.events[k].seq === seq);
      if (i < 0 && this.events.some((e) => e.seq === seq)) {
        // Filtered out: show every line again to show this one.
        this.query = ""; this.search.value = ""; this.minLevel = 0; this.levelSel.value = "0";
        this.refilter();
        i = this.shown.findIndex((k) => this.events[k].seq === seq);
      }
      if (i < 0) return;
      this.highlight = seq;
      this.follow = false;
      this.followBox.checked = false;
      this.viewport.scrollTop = Math.max(0, this.tops[i] - (this.viewport.clientHeight || 400) / 3);
      this.autoTop = this.viewport.scrollTop;
      this.render();
    }

    toBottom() {
      this.viewport.scrollTop = this.viewport.scrollHeight;
      this.autoTop = this.viewport.scrollTop;
    }

    onScroll() {
      const v = this.viewport;
      // Our own scroll is not the user leaving the bottom.
      if (Math.abs(v.scrollTop - this.autoTop) < 2) { this.schedule(); return; }
      const atBottom = v.scrollTop + v.clientHeight >= v.scrollHeight - LINE * 1.5;
      if (atBottom !== this.follow) { this.follow = atBottom; this.followBox.checked = atBottom; }
      this.schedule();
    }

    /** The lines that pass the filters, as text without colour codes. */
    text() {
      return this.shown.map((i) => {
        const e = this.events[i];
        return e.ts + " " + e.level.toUpperCase() + " " + (e.phase || "-") + " " + O.stripAnsi(e.message);
      }).join("\n");
    }

    copy() { O.copy(this.text()); }

    /** Every seq received, in order (for tests: no gaps, no repeats). */
    seqs() { return this.events.map((e) => e.seq); }
  }
  O.LogView = LogView;

  const streams = new Set();
  let reopened = 0;
  // Test hook: seqs after which the connection is cut, as a network drop would.
  let cuts = new Set();
  try { cuts = new Set((sessionStorage.getItem("opsroom.test.cuts") || "").split(",").filter(Boolean).map(Number)); } catch (_) { /* no storage */ }

  /**
   * Follows /runs/{id}/events/stream. The browser reconnects by itself with
   * Last-Event-ID; when it gives up (or the stream is cut), this reopens
   * with ?after= the last seq seen. Events already seen are dropped by seq.
   */
  class RunStream {
    constructor(runId, handlers) {
      this.runId = runId;
      this.handlers = handlers; // {events(list), end(data), state(text)}
      this.lastSeq = 0;
      this.ended = false;
      this.reconnects = 0;
      this.open();
      streams.add(this);
    }

    open() {
      const q = this.lastSeq ? "?after=" + this.lastSeq : "";
      const es = (this.es = new EventSource("/api/v1/runs/" + this.runId + "/events/stream" + q));
      let batch = [];
      let flushing = false;
      const flush = () => { flushing = false; const b = batch; batch = []; this.handlers.events(b); };
      es.onopen = () => this.handlers.state("live");
      es.onmessage = (m) => {
        let e;
        try { e = JSON.parse(m.data); } catch (_) { return; }
        if (e.seq <= this.lastSeq) return;
        this.lastSeq = e.seq;
        batch.push(e);
        if (!flushing) { flushing = true; queueMicrotask(flush); }
        if (cuts.delete(e.seq)) this.drop();
      };
      es.addEventListener("end", (m) => {
        if (batch.length) flush();
        this.ended = true;
        this.close();
        let data = {};
        try { data = JSON.parse(m.data); } catch (_) { /* end without data */ }
        this.handlers.end(data);
      });
      es.onerror = () => {
        if (this.ended) return;
        this.handlers.state("reconnecting");
        if (es.readyState === EventSource.CLOSED) this.reopenSoon(1000);
      };
    }

    reopenSoon(ms) {
      if (this.timer || this.ended) return;
      this.timer = setTimeout(() => { this.timer = null; this.reconnects += 1; reopened += 1; this.open(); }, ms);
    }

    /** Cuts the connection as a dropped network would, then resumes. */
    drop() {
      if (this.ended) return false;
      this.es.close();
      this.handlers.state("reconnecting");
      this.reopenSoon(50);
      return true;
    }

    close() {
      if (this.es) this.es.close();
      clearTimeout(this.timer);
      streams.delete(this);
    }
  }
  O.RunStream = RunStream;

  /** Hooks for the browser tests. */
  O.test = {
    streams: () => [...streams].map((s) => ({ run: s.runId, lastSeq: s.lastSeq, ended: s.ended })),
    reconnects: () => reopened,
  };
})();
