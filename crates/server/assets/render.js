// opsroom UI: artifact rendering. A small, safe markdown renderer (every
// piece of text goes in as text, never as HTML), coloured diffs, and Mermaid
// ER diagrams drawn as a small SVG (no CDN, no network).
"use strict";
(function () {
  const O = window.opsroom;
  const h = O.h;

  /** Only http(s), mailto and same-site links become clickable. */
  function safeHref(url) {
    const u = url.trim();
    return /^(https?:\/\/|mailto:|\/(?!\/)|#)/i.test(u) ? u : null;
  }
  O.safeHref = safeHref;

  /** Inline markdown: `code`, **bold**, *em*, [text](url) and bare URLs. */
  function inline(text) {
    const out = [];
    const re = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*)|(\[[^\]]+\]\([^)\s]+\))|(https?:\/\/[^\s<>()]+)/g;
    let last = 0;
    let m;
    while ((m = re.exec(text))) {
      if (m.index > last) out.push(text.slice(last, m.index));
      const s = m[0];
      if (m[1]) out.push(h("code", {}, s.slice(1, -1)));
      else if (m[2]) out.push(h("strong", {}, inline(s.slice(2, -2))));
      else if (m[3]) out.push(h("em", {}, inline(s.slice(1, -1))));
      else if (m[4]) {
        const i = s.indexOf("](");
        const href = safeHref(s.slice(i + 2, -1));
        const label = inline(s.slice(1, i));
        out.push(href ? h("a", { href, rel: "noopener noreferrer", target: "_blank" }, label) : h("span", {}, label));
      } else out.push(h("a", { href: s, rel: "noopener noreferrer", target: "_blank" }, s));
      last = m.index + s.length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  const cells = (line) => line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());

  /** Markdown to a DOM fragment: headings, paragraphs, lists, tables, code, quotes. */
  O.markdown = function (src) {
    const root = h("div", { class: "md" });
    const lines = String(src).replace(/\r\n?/g, "\n").split("\n");
    const tableAt = (j) => lines[j].includes("|") && j + 1 < lines.length && /^\s*\|?\s*:?-{2,}/.test(lines[j + 1]);
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      let m;
      if (!line.trim()) { i++; continue; }
      if ((m = line.match(/^\s*(```|~~~)\s*(\S*)/))) {
        const fence = m[1];
        const body = [];
        for (i++; i < lines.length && !lines[i].trim().startsWith(fence); i++) body.push(lines[i]);
        i++;
        root.append(h("pre", { class: "code", "data-lang": m[2] || null }, h("code", {}, body.join("\n"))));
      } else if ((m = line.match(/^(#{1,6})\s+(.*)$/))) {
        root.append(h("h" + Math.min(6, m[1].length + 2), {}, inline(m[2].replace(/\s+#+\s*$/, ""))));
        i++;
      } else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
        root.append(h("hr"));
        i++;
      } else if (tableAt(i)) {
        const head = cells(line);
        const rows = [];
        for (i += 2; i < lines.length && lines[i].includes("|") && lines[i].trim(); i++) rows.push(cells(lines[i]));
        root.append(h("div", { class: "table-wrap" }, h("table", {},
          h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, inline(c))))),
          h("tbody", {}, rows.map((r) => h("tr", {}, head.map((_, j) => h("td", {}, inline(r[j] || "")))))))));
      } else if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
        const ordered = /^\s*\d/.test(line);
        const list = h(ordered ? "ol" : "ul");
        for (; i < lines.length && (m = lines[i].match(/^\s*(?:[-*+]|\d+[.)])\s+(.*)$/)); i++) {
          const t = m[1].match(/^\[([ xX])\]\s+(.*)$/);
          list.append(t ? h("li", {}, h("input", { type: "checkbox", disabled: true, checked: t[1] !== " ", "aria-label": "done" }), " ", inline(t[2])) : h("li", {}, inline(m[1])));
        }
        root.append(list);
      } else if (/^\s*>/.test(line)) {
        const body = [];
        for (; i < lines.length && /^\s*>/.test(lines[i]); i++) body.push(lines[i].replace(/^\s*>\s?/, ""));
        root.append(h("blockquote", {}, inline(body.join(" "))));
      } else {
        const body = [];
        for (; i < lines.length && lines[i].trim() && !/^(#{1,6}\s|\s*```|\s*([-*+]|\d+[.)])\s|\s*>)/.test(lines[i]) && !tableAt(i); i++) body.push(lines[i].trim());
        if (!body.length) { body.push(line); i++; }
        root.append(h("p", {}, inline(body.join(" "))));
      }
    }
    return root;
  };

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

  /** One artifact, rendered by kind. */
  O.artifact = function (a) {
    let body;
    const text = a.content || "";
    if (a.kind === "markdown") body = O.markdown(text);
    else if (a.kind === "diff") body = O.diff(text);
    else if (a.kind === "mermaid") body = O.mermaid(text);
    else if (a.kind === "link") {
      const href = safeHref(text);
      body = href ? h("a", { href, rel: "noopener noreferrer", target: "_blank" }, text) : h("code", {}, text);
    } else if (a.kind === "json") {
      let pretty = text;
      try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* shown as is */ }
      body = h("pre", { class: "code" }, pretty);
    } else body = h("pre", { class: "code" }, text);
    return h("details", { class: "artifact", open: a.kind !== "json", "data-kind": a.kind },
      h("summary", {}, h("span", { class: "badge kind" }, a.kind), " ", a.name),
      h("div", { class: "artifact-body" }, body));
  };
})();
