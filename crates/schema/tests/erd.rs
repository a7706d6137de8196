//! ERDs of a real 50-table schema: Mermaid text with every table and
//! foreign key, and an SVG that is well-formed XML with no overlapping boxes.

mod support;

use opsroom_schema::erd;
use support::TempDb;

fn fifty_tables() -> String {
    let mut sql = String::from("CREATE SCHEMA crm;\n");
    for i in 0..50 {
        let schema = if i % 10 == 9 { "crm" } else { "public" };
        sql += &format!("CREATE TABLE {schema}.t{i} (id bigint PRIMARY KEY, name varchar(40) NOT NULL UNIQUE, price numeric(10,2), note text");
        if i > 0 {
            let parent = if (i - 1) % 10 == 9 { "crm" } else { "public" };
            sql += &format!(", parent_id bigint REFERENCES {parent}.t{} (id)", i - 1);
        }
        if i > 4 {
            sql += &format!(
                ", root_id bigint NOT NULL REFERENCES public.t{} (id)",
                i % 5
            );
        }
        sql += ");\n";
    }
    sql
}

/// Checks that every opened element is closed in order (a small XML
/// well-formedness check: tags, self-closing tags, no stray `<` or `&`).
fn assert_well_formed(svg: &str) {
    let mut stack: Vec<String> = vec![];
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let text = &rest[..start];
        assert!(!text.contains('>'), "stray > in text {text:?}");
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
                "bare & in {text:?}"
            );
        }
        let end = rest[start..].find('>').expect("unclosed tag") + start;
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "< inside tag {tag:?}");
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == ':')
            .collect();
        if let Some(closing) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(closing.trim()),
                "mismatched </{closing}>"
            );
        } else if !tag.ends_with('/') {
            stack.push(name);
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
}

#[tokio::test]
async fn fifty_tables_as_mermaid_and_svg() {
    let db = TempDb::create("erd").await;
    let result = async {
        db.run(&fifty_tables()).await?;
        db.schema().await
    }
    .await;
    db.drop_now().await;
    let schema = result.expect("the 50-table schema");

    let text = erd::mermaid(&schema);
    assert!(text.starts_with("erDiagram\n"));
    assert_eq!(text.matches(" {\n").count(), 50, "{text}");
    assert_eq!(text.matches("--").count(), 49 + 45, "{text}");
    // A nullable foreign key is "zero or one" on the referenced side.
    assert!(
        text.contains("    t4 |o--o{ t5 : \"t5_parent_id_fkey\""),
        "{text}"
    );
    assert!(
        text.contains("    t0 ||--o{ t5 : \"t5_root_id_fkey\""),
        "{text}"
    );
    assert!(
        text.contains("    t8 |o--o{ crm_t9 : \"t9_parent_id_fkey\""),
        "{text}"
    );
    assert!(
        text.contains("        character_varying(40) name UK"),
        "{text}"
    );
    assert!(text.contains("        numeric(10-2) price"), "{text}");
    assert!(text.contains("        bigint id PK"), "{text}");

    let svg = erd::svg(&schema);
    assert_well_formed(&svg);
    assert_eq!(svg.matches("<g class=\"table\"").count(), 50);
    assert_eq!(svg.matches("marker-end=\"url(#arrow)\"").count(), 49 + 45);
    // Boxes: the first rect of each table group; none overlaps another.
    let boxes: Vec<(f64, f64, f64, f64)> = svg
        .split("<g class=\"table\"")
        .skip(1)
        .map(|g| {
            let attr = |name: &str| -> f64 {
                let at = g.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                g[at..].split('"').next().unwrap().parse().unwrap()
            };
            (attr("x"), attr("y"), attr("width"), attr("height"))
        })
        .collect();
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            let apart =
                a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1;
            assert!(apart, "boxes {a:?} and {b:?} overlap");
        }
    }
}
