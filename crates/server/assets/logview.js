// opsroom UI: the live log viewer (virtualised: only visible lines are in the
// DOM) and the resumable event stream that feeds it.
"use strict";
(function () {
  const O = window.opsroom;
  const h = O.h;
  const LINE = 20; // px per line; must match .log-row in app.css
  const KEEP = 200000; // lines kept in the page; older ones are dropped (and said so)
  const LEVELS = ["debug", "info", "warn", "error"];

  /** A log viewer: toolbar (level, search, follow, copy) and a virtual list. */
  class LogView {
    constructor() {
      this.events = [];
      this.shown = []; // indices into events that pass the filters
      this.lastSeq = 0;
      this.dropped = 0;
      this.follow = true;
      this.minLevel = 0;
      this.query = "";
      this.pending = false;
      const id = "log" + Math.random().toString(36).slice(2, 8);
      this.count = h("span", { class: "log-count muted", "aria-live": "off" }, "0 lines");
      this.levelSel = h("select", { id: id + "-level", onchange: () => { this.minLevel = +this.levelSel.value; this.refilter(); } },
        LEVELS.map((l, i) => h("option", { value: i }, i ? l + " and above" : "all levels")));
      this.search = h("input", { id: id + "-q", type: "search", placeholder: "Search logs", oninput: () => { this.query = this.search.value.toLowerCase(); this.refilter(); } });
      this.followBox = h("input", { type: "checkbox", checked: true, onchange: () => { this.follow = this.followBox.checked; if (this.follow) this.toBottom(); } });
      this.rows = h("div", { class: "log-rows" });
      this.spacer = h("div", { class: "log-spacer" }, this.rows);
      this.viewport = h("div", { class: "log-viewport", tabindex: 0, role: "log", "aria-label": "Run log", onscroll: () => this.onScroll() }, this.spacer);
      this.el = h("section", { class: "logview", "aria-label": "Live log" },
        h("div", { class: "log-tools" },
          h("label", { for: id + "-level", class: "sr-only" }, "Level"), this.levelSel,
          h("label", { for: id + "-q", class: "sr-only" }, "Search logs"), this.search,
          h("label", { class: "follow" }, this.followBox, " Follow"),
          h("button", { type: "button", class: "ghost", onclick: () => this.copy() }, "Copy"),
          this.count),
        this.viewport);
      new ResizeObserver(() => this.schedule()).observe(this.viewport);
    }

    /** Adds events in seq order; repeats (seq already seen) are ignored. */
    add(list) {
      let added = false;
      for (const e of list) {
        if (e.seq <= this.lastSeq) continue;
        this.lastSeq = e.seq;
        this.events.push(e);
        if (this.passes(e)) this.shown.push(this.events.length - 1);
        added = true;
      }
      if (this.events.length > KEEP) {
        const cut = this.events.length - KEEP;
        this.events.splice(0, cut);
        this.dropped += cut;
        this.refilter();
        return;
      }
      if (added) this.schedule();
    }

    passes(e) {
      if (LEVELS.indexOf(e.level) < this.minLevel) return false;
      return !this.query || e.message.toLowerCase().includes(this.query) || (e.phase || "").includes(this.query);
    }

    refilter() {
      this.shown = [];
      for (let i = 0; i < this.events.length; i++) if (this.passes(this.events[i])) this.shown.push(i);
      this.schedule();
    }

    schedule() {
      if (this.pending) return;
      this.pending = true;
      requestAnimationFrame(() => { this.pending = false; this.render(); });
    }

    render() {
      const n = this.shown.length;
      this.spacer.style.height = n * LINE + "px";
      if (this.follow) this.toBottom();
      const top = this.viewport.scrollTop;
      const height = this.viewport.clientHeight || 400;
      const first = Math.max(0, Math.floor(top / LINE) - 10);
      const last = Math.min(n, Math.ceil((top + height) / LINE) + 10);
      const frag = document.createDocumentFragment();
      for (let i = first; i < last; i++) frag.append(this.row(this.events[this.shown[i]]));
      this.rows.style.transform = "translateY(" + first * LINE + "px)";
      this.rows.replaceChildren(frag);
      let label = n + (n === this.events.length ? "" : " of " + this.events.length) + " lines";
      if (this.dropped) label += " (" + this.dropped + " oldest dropped; the page keeps " + KEEP + ")";
      this.count.textContent = label;
    }

    row(e) {
      const t = e.ts ? e.ts.slice(11, 23) : "";
      return h("div", { class: "log-row lv-" + e.level, "data-seq": e.seq },
        h("span", { class: "log-ts" }, t), h("span", { class: "log-lv" }, e.level),
        h("span", { class: "log-ph" }, e.phase || ""), h("span", { class: "log-msg" }, e.message));
    }

    toBottom() {
      this.viewport.scrollTop = this.viewport.scrollHeight;
      this.autoTop = this.viewport.scrollTop;
    }

    onScroll() {
      const v = this.viewport;
      // Our own scroll to the bottom is not the user leaving it.
      if (Math.abs(v.scrollTop - this.autoTop) < 2) { this.schedule(); return; }
      const atBottom = v.scrollTop + v.clientHeight >= v.scrollHeight - LINE * 1.5;
      if (atBottom !== this.follow) { this.follow = atBottom; this.followBox.checked = atBottom; }
      this.schedule();
    }

    /** The lines that pass the filters, as text. */
    text() {
      return this.shown.map((i) => {
        const e = this.events[i];
        return e.ts + " " + e.level.toUpperCase() + " " + (e.phase || "-") + " " + e.message;
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
