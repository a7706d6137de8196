// opsroom UI: artifact rendering. Markdown comes rendered and sanitised from
// the server; diffs are coloured here, and Mermaid ER diagrams drawn as a
// small SVG (no CDN, no network).
"use strict";
(function () {
  const O = window.opsroom;
  const h = O.h;

  /** Only http(s), mailto and same-site links become clickable. */
  function safeHref(url) {
    const u = url.trim();
    return /^(https?:\/\/|mailto:|\/(?!\/)|#)/i.test(u) ? u : null;
  }

  /**
   * A markdown artifact as the server renders and sanitises it; if that
   * fails, its source as plain text.
   */
  async function markdown(a, runId) {
    const box = h("div", { class: "md" });
    try {
      const r = await fetch("/ui/runs/" + runId + "/artifacts/" + a.id + "/html");
      if (r.ok) {
        box.innerHTML = await r.text();
        return box;
      }
    } catch (_) { /* shown as source below */ }
    box.append(h("pre", { class: "code" }, a.content || ""));
    return box;
  }

  /** A unified diff with added, removed and hunk lines coloured. */
  O.diff = function (src) {
    return h("pre", { class: "diff" }, String(src).split("\n").map((l) => {
      const cls = l.startsWith("+++") || l.startsWith("---") ? "d-file" : l.startsWith("+") ? "d-add" : l.startsWith("-") ? "d-del" : l.startsWith("@@") ? "d-hunk" : "d-ctx";
      return h("span", { class: cls }, l + "\n");
    }));
  };

  const SVG = "http://www.w3.org/2000/svg";
  function s(tag, attrs, text) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  /** Parses `erDiagram` source: entities with attributes, and relationships. */
  function parseEr(src) {
    const entities = new Map();
    const rels = [];
    const ent = (n) => { if (!entities.has(n)) entities.set(n, []); return entities.get(n); };
    let current = null;
    for (const raw of src.split("\n")) {
      const line = raw.trim();
      let m;
      if (!line || line === "erDiagram" || line.startsWith("%%")) continue;
      if (current) {
        if (line === "}") current = null;
        else current.push(line.split(/\s+/).slice(0, 3).join(" "));
      } else if ((m = line.match(/^([\w-]+)\s*\{$/))) current = ent(m[1]);
      else if ((m = line.match(/^([\w-]+)\s+\S*--\S*\s+([\w-]+)\s*(?::\s*(.*))?$/))) {
        ent(m[1]); ent(m[2]);
        rels.push({ from: m[1], to: m[2], label: (m[3] || "").replace(/"/g, "") });
      } else if ((m = line.match(/^([\w-]+)$/))) ent(m[1]);
    }
    return { entities, rels };
  }

  /** A Mermaid diagram: `erDiagram` drawn as boxes and lines; source always shown. */
  O.mermaid = function (src) {
    const wrap = h("div", { class: "mermaid" });
    if (/^\s*erDiagram/.test(src)) {
      const { entities, rels } = parseEr(src);
      const names = [...entities.keys()];
      const cols = Math.max(1, Math.min(3, Math.ceil(Math.sqrt(names.length))));
      const W = 200, GAP = 60, HEAD = 24, ROW = 16;
      const pos = new Map();
      const rowHeights = [];
      names.forEach((n, i) => {
        const r = Math.floor(i / cols);
        rowHeights[r] = Math.max(rowHeights[r] || 0, HEAD + entities.get(n).length * ROW + 8);
      });
      names.forEach((n, i) => {
        const r = Math.floor(i / cols);
        const y = rowHeights.slice(0, r).reduce((a, b) => a + b + GAP, 10);
        pos.set(n, { x: 10 + (i % cols) * (W + GAP), y, h: HEAD + entities.get(n).length * ROW + 8 });
      });
      const width = 20 + cols * W + (cols - 1) * GAP;
      const height = rowHeights.reduce((a, b) => a + b + GAP, 10);
      const svg = s("svg", { viewBox: "0 0 " + width + " " + height, width, role: "img", class: "erd" });
      svg.append(s("title", {}, "Entity relationship diagram: " + names.join(", ")));
      for (const r of rels) {
        const a = pos.get(r.from), b = pos.get(r.to);
        const x1 = a.x + W / 2, y1 = a.y + a.h / 2, x2 = b.x + W / 2, y2 = b.y + b.h / 2;
        svg.append(s("line", { x1, y1, x2, y2, class: "erd-rel" }));
        if (r.label) svg.append(s("text", { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 4, class: "erd-label", "text-anchor": "middle" }, r.label));
      }
      for (const n of names) {
        const p = pos.get(n);
        const g = s("g", {});
        g.append(s("rect", { x: p.x, y: p.y, width: W, height: p.h, rx: 4, class: "erd-box" }));
        g.append(s("text", { x: p.x + 8, y: p.y + 17, class: "erd-name" }, n));
        entities.get(n).forEach((a, j) => g.append(s("text", { x: p.x + 8, y: p.y + HEAD + 12 + j * ROW, class: "erd-attr" }, a)));
        svg.append(g);
      }
      wrap.append(h("div", { class: "erd-wrap" }, svg));
    } else {
      wrap.append(h("p", { class: "muted" }, "This Mermaid diagram type is shown as its source (diagrams are drawn without any network access; only erDiagram is drawn)."));
    }
    wrap.append(h("details", {}, h("summary", {}, "Mermaid source"), h("pre", { class: "code" }, src)));
    return wrap;
  };

  /** One artifact of run `runId`, rendered by kind (markdown once the server has rendered it). */
  O.artifact = async function (a, runId) {
    let body;
    const text = a.content || "";
    if (a.kind === "markdown") body = await markdown(a, runId);
    else if (a.kind === "diff") body = O.diff(text);
    else if (a.kind === "mermaid") body = O.mermaid(text);
    // An SVG file (the schema ERD) as an image: an <img> runs no script in it.
    else if (a.kind === "file" && /\.svg$/i.test(a.name)) {
      body = h("img", { src: "data:image/svg+xml;charset=utf-8," + encodeURIComponent(text), alt: a.name, class: "erd-img" });
    }
    else if (a.kind === "link") {
      const href = safeHref(text);
      body = href ? h("a", { href, rel: "noopener noreferrer", target: "_blank" }, text) : h("code", {}, text);
    } else if (a.kind === "json") {
      let pretty = text;
      try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* shown as is */ }
      body = h("pre", { class: "code" }, pretty);
    } else body = h("pre", { class: "code" }, text);
    const save = a.kind === "link" ? null : h("p", { class: "artifact-save" },
      h("a", { href: "/ui/runs/" + runId + "/artifacts/" + a.id + "/download", download: "", "data-action": "download" }, "Download"));
    return h("details", { class: "artifact", open: a.kind !== "json", "data-kind": a.kind },
      h("summary", {}, h("span", { class: "badge kind" }, a.kind), " ", a.name),
      h("div", { class: "artifact-body" }, save, body));
  };
})();
