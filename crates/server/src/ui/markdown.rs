//! Markdown artifacts rendered on the server: `pulldown-cmark` with GitHub
//! tables, then `ammonia` keeps only harmless tags, attributes and URLs.
//! The run view fetches the result from [`artifact_html`].

use crate::auth::Workspace;
use crate::error::{parse_id, ApiError};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use opsroom_store::{ArtifactKind, RunId};
use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, TextMergeStream};
use std::collections::{HashSet, VecDeque};
use std::sync::LazyLock;

/// `GET /ui/runs/{id}/artifacts/{artifact}/html`: a markdown artifact as
/// sanitised HTML, for the run view (behind the same token as the pages).
pub async fn artifact_html(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    Path((run, artifact)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (run_id, artifact_id): (RunId, i64) = (parse_id(&run)?, parse_id(&artifact)?);
    let store = &state.engine.store;
    store.run_get(&ws, run_id).await?;
    let artifacts = store.artifacts_list(&ws, run_id).await?;
    let Some(a) = artifacts.into_iter().find(|a| a.id == artifact_id) else {
        return Err(ApiError::NotFound(format!(
            "run {run_id} has no artifact {artifact_id}"
        )));
    };
    if a.kind != ArtifactKind::Markdown {
        return Err(ApiError::NotFound(format!(
            "artifact {artifact_id} is {}, not markdown: only markdown is rendered here",
            a.kind
        )));
    }
    Ok((
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            // Opened on its own, the fragment still runs nothing and loads nothing.
            (CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox"),
        ],
        to_html(&a.content),
    )
        .into_response())
}

/// Markdown to safe HTML: headings, paragraphs, emphasis, lists with task
/// boxes, tables, code, quotes and links. Raw HTML in the source is shown
/// as text; links keep only http(s), mailto and relative URLs; images
/// become links (a report never makes the browser fetch anything).
pub fn to_html(src: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let src = text_symbols(src);
    let events = TextMergeStream::new(Parser::new_ext(&src, options));
    let mut html = String::with_capacity(src.len() * 2);
    pulldown_cmark::html::push_html(&mut html, Adjust::new(events));
    SANITIZER.clean(&html).to_string()
}

/// The emoji reports use, as text symbols every font has (an emoji font
/// is not installed everywhere, and a missing glyph is an empty box).
const SYMBOLS: [(&str, &str); 6] = [
    ("✅", "✓"),
    ("✔️", "✓"),
    ("❌", "✗"),
    ("⚠️", "⚠\u{FE0E}"),
    ("🔴", "●"),
    ("🟢", "●"),
];

/// `src` with the emoji of [`SYMBOLS`] as text symbols.
fn text_symbols(src: &str) -> String {
    SYMBOLS
        .iter()
        .fold(src.to_string(), |s, (emoji, text)| s.replace(emoji, text))
}

/// The URL schemes a link may have; a link without one is relative.
const URL_SCHEMES: [&str; 3] = ["http", "https", "mailto"];

/// Whether a link to `url` is kept (ammonia checks the result again).
fn safe_url(url: &str) -> bool {
    match url.split_once(':') {
        Some((scheme, _)) if !scheme.contains(['/', '?', '#']) => {
            URL_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str())
        }
        _ => true,
    }
}

/// Tags, attributes and URL schemes a rendered artifact may keep.
static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.url_schemes(HashSet::from(URL_SCHEMES))
        .add_tags(["input"])
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        .add_allowed_classes("div", ["table-wrap"])
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank")
        .set_tag_attribute_value("pre", "class", "code")
        .set_tag_attribute_value("th", "scope", "col");
    b
});

/// The page's look for what `pulldown-cmark` parses: raw HTML as text,
/// headings under the card's own (`#` is an `h3`), tables in a scrolling
/// wrapper, images as links, links to other schemes as their text, and
/// bare URLs clickable.
struct Adjust<'a, I> {
    events: I,
    /// Events already made, handed out before the next parsed one.
    queued: VecDeque<Event<'a>>,
    /// For each link or image around the current text: whether it stays a
    /// link (a URL inside one stays text).
    links: Vec<bool>,
    /// Inside a code block, where a URL stays text too.
    in_code: bool,
}

impl<'a, I: Iterator<Item = Event<'a>>> Adjust<'a, I> {
    fn new(events: I) -> Self {
        Adjust {
            events,
            queued: Default::default(),
            links: Vec::new(),
            in_code: false,
        }
    }

    fn adjust(&mut self, event: Event<'a>) {
        let q = &mut self.queued;
        match event {
            Event::Html(raw) | Event::InlineHtml(raw) => q.push_back(Event::Text(raw)),
            Event::Start(Tag::HtmlBlock) => q.push_back(Event::Start(Tag::Paragraph)),
            Event::End(TagEnd::HtmlBlock) => q.push_back(Event::End(TagEnd::Paragraph)),
            Event::Start(Tag::Heading {
                level,
                id,
                classes,
                attrs,
            }) => q.push_back(Event::Start(Tag::Heading {
                level: lower(level),
                id,
                classes,
                attrs,
            })),
            Event::End(TagEnd::Heading(level)) => {
                q.push_back(Event::End(TagEnd::Heading(lower(level))))
            }
            Event::Start(Tag::Table(align)) => {
                q.push_back(Event::Html("<div class=\"table-wrap\">".into()));
                q.push_back(Event::Start(Tag::Table(align)));
            }
            Event::End(TagEnd::Table) => {
                q.push_back(Event::End(TagEnd::Table));
                q.push_back(Event::Html("</div>".into()));
            }
            Event::Start(
                Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }
                | Tag::Image {
                    link_type,
                    dest_url,
                    title,
                    id,
                },
            ) => {
                let keep = safe_url(&dest_url);
                self.links.push(keep);
                if keep {
                    q.push_back(Event::Start(Tag::Link {
                        link_type,
                        dest_url,
                        title,
                        id,
                    }));
                }
            }
            Event::End(TagEnd::Link | TagEnd::Image) => {
                if self.links.pop() == Some(true) {
                    q.push_back(Event::End(TagEnd::Link));
                }
            }
            e @ Event::Start(Tag::CodeBlock(_)) => {
                self.in_code = true;
                q.push_back(e);
            }
            e @ Event::End(TagEnd::CodeBlock) => {
                self.in_code = false;
                q.push_back(e);
            }
            Event::Text(text) if self.links.is_empty() && !self.in_code => link_urls(text, q),
            e => q.push_back(e),
        }
    }
}

impl<'a, I: Iterator<Item = Event<'a>>> Iterator for Adjust<'a, I> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        while self.queued.is_empty() {
            let event = self.events.next()?;
            self.adjust(event);
        }
        self.queued.pop_front()
    }
}

/// Two levels down: the artifact sits under the run's `h2` and `h3`.
fn lower(level: pulldown_cmark::HeadingLevel) -> pulldown_cmark::HeadingLevel {
    use pulldown_cmark::HeadingLevel::*;
    match level {
        H1 => H3,
        H2 => H4,
        H3 => H5,
        _ => H6,
    }
}

/// Text with every bare `http(s)://` URL in it turned into a link.
fn link_urls<'a>(text: CowStr<'a>, out: &mut VecDeque<Event<'a>>) {
    let mut rest: &str = &text;
    let mut found = false;
    while let Some(start) = ["https://", "http://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        found = true;
        let end = rest[start..]
            .find(|c: char| c.is_whitespace() || "<>()".contains(c))
            .map_or(rest.len(), |n| start + n);
        // A sentence's own punctuation right after a URL is not part of it.
        let url = rest[start..end].trim_end_matches(['.', ',', ';', ':', '!', '?']);
        let before = &rest[..start];
        if !before.is_empty() {
            out.push_back(Event::Text(before.to_string().into()));
        }
        let link = Tag::Link {
            link_type: LinkType::Autolink,
            dest_url: url.to_string().into(),
            title: "".into(),
            id: "".into(),
        };
        out.push_back(Event::Start(link));
        out.push_back(Event::Text(url.to_string().into()));
        out.push_back(Event::End(TagEnd::Link));
        rest = &rest[start + url.len()..];
    }
    match found {
        false => out.push_back(Event::Text(text)),
        true if !rest.is_empty() => out.push_back(Event::Text(rest.to_string().into())),
        true => {}
    }
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn report_emoji_become_text_symbols() {
        let html = to_html("| web | ✅ ok |\n|---|---|\n| db | ❌ failed |\n| x | ⚠️ degraded |\n");
        assert!(html.contains("✓ ok") && html.contains("✗ failed"), "{html}");
        assert!(html.contains("⚠\u{FE0E} degraded"), "{html}");
        assert!(!html.contains('✅') && !html.contains('❌') && !html.contains('\u{FE0F}'));
    }

    #[test]
    fn script_and_raw_html_are_shown_as_text() {
        let html = to_html(
            "# Report <script>alert(1)</script>\n\n<img src=x onerror=\"window.pwned=1\">\n\n\
             text <b onmouseover=\"x()\">bold</b> <style>body{display:none}</style>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b "), "{html}");
        assert!(!html.contains("<style"), "{html}");
        assert!(
            html.contains("<h3>Report &lt;script&gt;alert(1)&lt;/script&gt;</h3>"),
            "{html}"
        );
        assert!(
            html.contains("<p>&lt;img src=x onerror=\"window.pwned=1\"&gt;\n</p>"),
            "{html}"
        );
        assert!(
            html.contains("&lt;b onmouseover=\"x()\"&gt;bold&lt;/b&gt;"),
            "{html}"
        );
    }

    #[test]
    fn only_safe_urls_become_links() {
        let html = to_html(
            "- [bad](javascript:alert(1))\n- [data](data:text/html,x)\n- [vb](vbscript:x)\n\
             - [case](JaVaScRiPt:alert(1))\n- [tab](java&#x09;script:alert(1))\n\
             - [ok](https://example.com) and [mail](mailto:a@example.com) and [rel](/runs/1)\n\
             - ![pixel](https://tracker.example/p.png)\n- bare https://example.org/x, done",
        );
        assert!(!html.to_lowercase().contains("script:"), "{html}");
        assert!(!html.contains("data:"), "{html}");
        assert!(!html.contains("vbscript:"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        let hrefs: Vec<&str> = html
            .split("href=\"")
            .skip(1)
            .map(|s| &s[..s.find('"').unwrap()])
            .collect();
        assert_eq!(
            hrefs,
            [
                "https://example.com",
                "mailto:a@example.com",
                "/runs/1",
                "https://tracker.example/p.png",
                "https://example.org/x",
            ]
        );
        assert!(html.contains("<li>bad</li>"), "{html}");
        for text in ["vb", "case", "tab"] {
            assert!(html.contains(&format!("<li>{text}</li>")), "{html}");
        }
        assert!(
            html.contains(
                "<a href=\"https://example.com\" target=\"_blank\" rel=\"noopener noreferrer\">ok</a>"
            ),
            "{html}"
        );
    }

    #[test]
    fn tables_code_headings_and_lists_render() {
        let html = to_html(
            "## Services\n\n| k | v |\n|---|---|\n| `x<y` | [ok](https://example.com) |\n\n\
             ```sql\nselect 1 < 2;\n```\n\n- [x] done\n- [ ] open\n\n1. first\n\n> quoted **bold** *em* ~~gone~~",
        );
        assert!(html.contains("<h4>Services</h4>"), "{html}");
        assert!(
            html.contains("<div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">k</th>"),
            "{html}"
        );
        assert!(html.contains("<td><code>x&lt;y</code></td>"), "{html}");
        assert!(
            html.contains("<pre class=\"code\"><code>select 1 &lt; 2;\n</code></pre>"),
            "{html}"
        );
        assert!(
            html.contains("<li><input disabled=\"\" type=\"checkbox\" checked=\"\">\ndone</li>"),
            "{html}"
        );
        assert!(html.contains("<ol>\n<li>first</li>\n</ol>"), "{html}");
        assert!(
            html.contains(
                "<blockquote>\n<p>quoted <strong>bold</strong> <em>em</em> <del>gone</del></p>"
            ),
            "{html}"
        );
    }

    #[test]
    fn urls_in_code_stay_text() {
        let html = to_html("`https://a.example`\n\n```\nhttps://b.example\n```\n");
        assert!(!html.contains("href"), "{html}");
    }
}
