//! Entity-relationship diagrams of a schema's tables: Mermaid `erDiagram`
//! text, and an SVG drawn here (no external tool): one box per table with
//! its columns and keys, foreign keys as arrows from the referencing column
//! to the referenced one, boxes laid out in a grid ordered so related
//! tables sit near each other.

use crate::model::*;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write;

fn entity_name(name: &QName) -> String {
    let raw = if name.schema == "public" {
        name.name.clone()
    } else {
        format!("{}.{}", name.schema, name.name)
    };
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn mermaid_type(t: &str) -> String {
    let cleaned: String = t
        .chars()
        .map(|c| match c {
            ' ' => '_',
            ',' => '-',
            c if c.is_ascii_alphanumeric() || "_-[]()".contains(c) => c,
            _ => '_',
        })
        .collect();
    if cleaned.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        cleaned
    } else {
        format!("t_{cleaned}")
    }
}

/// The keys a column takes part in: `PK`, `FK`, `UK`.
fn keys(table: &Table, column: &str) -> Vec<&'static str> {
    let mut keys = vec![];
    for (kind, label) in [
        (ConstraintKind::PrimaryKey, "PK"),
        (ConstraintKind::ForeignKey, "FK"),
        (ConstraintKind::Unique, "UK"),
    ] {
        if table
            .constraints
            .values()
            .any(|c| c.kind == kind && c.columns.iter().any(|x| x == column))
        {
            keys.push(label);
        }
    }
    keys
}

/// Tables drawn: partitions are left out (their parent stands for them).
fn drawn(schema: &Schema) -> impl Iterator<Item = (&QName, &Table)> {
    schema
        .tables
        .iter()
        .filter(|(_, t)| t.partition_of.is_none())
}

/// Mermaid `erDiagram` text.
pub fn mermaid(schema: &Schema) -> String {
    let mut out = String::from("erDiagram\n");
    for (name, table) in drawn(schema) {
        let _ = writeln!(out, "    {} {{", entity_name(name));
        for c in &table.columns {
            let keys = keys(table, &c.name);
            let keys = if keys.is_empty() {
                String::new()
            } else {
                format!(" {}", keys.join(", "))
            };
            let ident: String = c
                .name
                .chars()
                .map(|ch| {
                    if ch.is_ascii_alphanumeric() || ch == '_' {
                        ch
                    } else {
                        '_'
                    }
                })
                .collect();
            let _ = writeln!(
                out,
                "        {} {}{keys}",
                mermaid_type(&c.type_name),
                ident
            );
        }
        out.push_str("    }\n");
    }
    for (name, table) in drawn(schema) {
        for (cname, c) in &table.constraints {
            let Some((target, _)) = &c.references else {
                continue;
            };
            let nullable = c
                .columns
                .iter()
                .any(|col| table.column(col).is_some_and(|x| !x.not_null));
            let unique = table.constraints.values().any(|u| {
                matches!(u.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique)
                    && u.columns == c.columns
            });
            let left = if nullable { "|o" } else { "||" };
            let right = if unique { "o|" } else { "o{" };
            let _ = writeln!(
                out,
                "    {} {left}--{right} {} : \"{}\"",
                entity_name(target),
                entity_name(name),
                cname.replace('"', "'")
            );
        }
    }
    out
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const ROW: f64 = 18.0;
const HEADER: f64 = 24.0;
const CHAR: f64 = 7.0;
const GAP_X: f64 = 80.0;
const GAP_Y: f64 = 50.0;
const MARGIN: f64 = 20.0;

struct BoxLayout {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
}

/// Orders tables so that related ones are adjacent: a breadth-first walk of
/// the foreign-key graph from the most connected table of each component.
fn order(schema: &Schema) -> Vec<QName> {
    let mut neighbours: BTreeMap<QName, BTreeSet<QName>> = BTreeMap::new();
    for (name, t) in drawn(schema) {
        neighbours.entry(name.clone()).or_default();
        for c in t.constraints.values() {
            if let Some((target, _)) = &c.references {
                if schema.tables.contains_key(target) && target != name {
                    neighbours
                        .entry(name.clone())
                        .or_default()
                        .insert(target.clone());
                    neighbours
                        .entry(target.clone())
                        .or_default()
                        .insert(name.clone());
                }
            }
        }
    }
    let mut by_degree: Vec<&QName> = neighbours.keys().collect();
    by_degree.sort_by_key(|n| std::cmp::Reverse(neighbours[*n].len()));
    let mut seen = BTreeSet::new();
    let mut out = vec![];
    for start in by_degree {
        if !seen.insert(start.clone()) {
            continue;
        }
        let mut queue = VecDeque::from([start.clone()]);
        while let Some(at) = queue.pop_front() {
            out.push(at.clone());
            for n in &neighbours[&at] {
                if seen.insert(n.clone()) {
                    queue.push_back(n.clone());
                }
            }
        }
    }
    out
}

/// An SVG drawing of the tables and their foreign keys.
pub fn svg(schema: &Schema) -> String {
    let names = order(schema);
    let per_row = ((names.len() as f64 * 1.5).sqrt().ceil() as usize).max(1);
    let mut layout: BTreeMap<QName, BoxLayout> = BTreeMap::new();
    let mut y = MARGIN;
    let mut total_width: f64 = 0.0;
    for row in names.chunks(per_row) {
        let mut x = MARGIN;
        let mut row_height: f64 = 0.0;
        for name in row {
            let t = &schema.tables[name];
            let title = entity_name(name).len().max(name.to_string().len());
            let widest = t
                .columns
                .iter()
                .map(|c| c.name.len() + c.type_name.len() + 6 + keys(t, &c.name).join(",").len())
                .max()
                .unwrap_or(0)
                .max(title);
            let width = widest as f64 * CHAR + 24.0;
            let height = HEADER + ROW * t.columns.len().max(1) as f64 + 6.0;
            layout.insert(
                name.clone(),
                BoxLayout {
                    x,
                    y,
                    width,
                    height,
                },
            );
            x += width + GAP_X;
            row_height = row_height.max(height);
        }
        total_width = total_width.max(x);
        y += row_height + GAP_Y;
    }
    let height = y + MARGIN;
    let width = total_width.max(200.0) + MARGIN;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="12">"##
    );
    out.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>"##);
    out.push('\n');
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    // Edges first, so boxes are drawn over them.
    for (name, t) in drawn(schema) {
        let Some(from) = layout.get(name) else {
            continue;
        };
        for (cname, c) in &t.constraints {
            let Some((target, target_cols)) = &c.references else {
                continue;
            };
            let Some(to) = layout.get(target) else {
                continue;
            };
            let row_of = |table: &Table, col: Option<&String>| {
                col.and_then(|col| table.columns.iter().position(|x| &x.name == col))
                    .unwrap_or(0) as f64
            };
            let y1 = from.y + HEADER + ROW * row_of(t, c.columns.first()) + ROW / 2.0;
            let y2 = to.y
                + HEADER
                + ROW * row_of(&schema.tables[target], target_cols.first())
                + ROW / 2.0;
            let (x1, x2, bend) = if target == name {
                (from.x + from.width, from.x + from.width, 40.0)
            } else if to.x + to.width / 2.0 >= from.x + from.width / 2.0 {
                (from.x + from.width, to.x, 0.0)
            } else {
                (from.x, to.x + to.width, 0.0)
            };
            let dx = if bend > 0.0 {
                bend
            } else {
                ((x2 - x1) / 2.0).abs().max(30.0)
            };
            let (c1, c2) = if bend > 0.0 || x2 >= x1 {
                (x1 + dx, x2 - dx)
            } else {
                (x1 - dx, x2 + dx)
            };
            let (c1, c2) = if bend > 0.0 {
                (x1 + dx, x2 + dx)
            } else {
                (c1, c2)
            };
            let _ = writeln!(
                out,
                r##"<path d="M {x1:.1} {y1:.1} C {c1:.1} {y1:.1}, {c2:.1} {y2:.1}, {x2:.1} {y2:.1}" fill="none" stroke="#555" stroke-width="1.2" marker-end="url(#arrow)"><title>{}</title></path>"##,
                xml(cname)
            );
        }
    }
    for name in &names {
        let t = &schema.tables[name];
        let b = &layout[name];
        let _ = writeln!(
            out,
            r##"<g class="table" id="{}">"##,
            xml(&entity_name(name))
        );
        let _ = writeln!(
            out,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="4" fill="#f8fafc" stroke="#334155"/>"##,
            b.x, b.y, b.width, b.height
        );
        let _ = writeln!(
            out,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{HEADER}" rx="4" fill="#334155"/>"##,
            b.x, b.y, b.width
        );
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" fill="#ffffff" font-weight="bold">{}</text>"##,
            b.x + 8.0,
            b.y + 16.0,
            xml(&name.to_string())
        );
        for (i, c) in t.columns.iter().enumerate() {
            let ty = b.y + HEADER + ROW * i as f64 + 13.0;
            let keys = keys(t, &c.name);
            let weight = if keys.contains(&"PK") {
                r#" font-weight="bold""#
            } else {
                ""
            };
            let _ = writeln!(
                out,
                r##"<text x="{:.1}" y="{ty:.1}" fill="#0f172a"{weight}>{}{}</text><text x="{:.1}" y="{ty:.1}" fill="#64748b" text-anchor="end">{}</text>"##,
                b.x + 8.0,
                xml(&c.name),
                if keys.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", keys.join(","))
                },
                b.x + b.width - 8.0,
                xml(&c.type_name)
            );
        }
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n");
    out
}
