//! The plain-text part of an email, derived from its HTML in one pass:
//! words, paragraphs, list items, links as `text (url)`, a linked image as
//! its alt text; no head, styles, scripts, comments (Outlook's conditional
//! ones included) or hidden elements (the preheader). Wrapped at 78
//! columns, as mail programs expect.
//!
//! Written for the HTML emails are made of, including broken HTML: it
//! never fails and never panics, whatever the input; what it cannot read
//! as a tag is text.

use crate::model::html::{Kind, Tag, VOID, attr, decode_entities, read_tag};

/// Columns of a wrapped line.
pub const WIDTH: usize = 78;

/// Elements whose content is never text.
const SKIPPED: [&str; 7] = [
    "head", "style", "script", "title", "template", "noscript", "xml",
];

/// What starting or ending an element does to the text around it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Break {
    None,
    /// A new line.
    Line,
    /// A blank line.
    Paragraph,
}

fn break_of(tag: &str) -> Break {
    match tag {
        "p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "ul" | "ol" | "dl" | "blockquote"
        | "pre" | "hr" | "figure" => Break::Paragraph,
        "br" | "div" | "table" | "tr" | "td" | "th" | "li" | "dt" | "dd" | "section"
        | "article" | "header" | "footer" | "main" | "nav" | "aside" | "center" | "tbody"
        | "thead" | "tfoot" | "caption" | "figcaption" | "address" | "body" | "html" => Break::Line,
        _ => Break::None,
    }
}

struct Link {
    href: String,
    /// Where the link's text starts in the current paragraph.
    start: usize,
}

struct Writer {
    out: String,
    /// The paragraph being collected (whitespace already collapsed).
    para: String,
    pending: Break,
    links: Vec<Link>,
    lists: Vec<Option<u32>>,
    pre: usize,
    /// The last line written, and whether the paragraph being collected
    /// is one link and nothing else: a link repeating the line before it
    /// (a product's photo and its name, both linking to the same page) is
    /// written once.
    last_line: String,
    only_link: bool,
}

impl Writer {
    fn text(&mut self, s: &str) {
        if self.pre > 0 {
            self.flush_break();
            self.para.push_str(s);
            return;
        }
        for c in s.chars() {
            if c.is_whitespace() {
                if !self.para.is_empty() && !self.para.ends_with(' ') {
                    self.para.push(' ');
                }
            } else {
                self.flush_break();
                self.para.push(c);
                self.only_link = false;
            }
        }
    }

    /// Writes the pending break before the next word.
    fn flush_break(&mut self) {
        if self.pending == Break::None {
            return;
        }
        let b = self.pending;
        self.pending = Break::None;
        self.end_line();
        if b == Break::Paragraph && !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
            self.last_line.clear();
        }
    }

    fn brk(&mut self, b: Break) {
        self.pending = self.pending.max(b);
    }

    /// Ends the paragraph being collected: wrapped into lines.
    fn end_line(&mut self) {
        // A link open across the break keeps its start at the new line.
        let para = std::mem::take(&mut self.para);
        for l in &mut self.links {
            l.start = 0;
        }
        let para = if self.pre > 0 {
            para.trim_end().to_string()
        } else {
            para.trim().to_string()
        };
        let only_link = std::mem::take(&mut self.only_link);
        if para.is_empty() || (only_link && para == self.last_line) {
            return;
        }
        if self.pre > 0 {
            for line in para.lines() {
                self.line(line.trim_end());
            }
        } else {
            for line in wrap(&para, WIDTH) {
                self.line(&line);
            }
        }
    }

    fn line(&mut self, line: &str) {
        self.out.push_str(line);
        self.out.push('\n');
        self.last_line.clear();
        self.last_line.push_str(line);
    }

    fn finish(mut self) -> String {
        self.end_line();
        let end = self.out.trim_end().len();
        self.out.truncate(end);
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out
    }
}

/// Greedy word wrap by characters; a word longer than the line (a URL)
/// gets a line of its own, unbroken.
fn wrap(para: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    for word in para.split(' ').filter(|w| !w.is_empty()) {
        let n = word.chars().count();
        if len > 0 && len + 1 + n > width {
            lines.push(std::mem::take(&mut line));
            len = 0;
        }
        if len > 0 {
            line.push(' ');
            len += 1;
        }
        line.push_str(word);
        len += n;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The plain text of an HTML email.
pub fn html_to_text(html: &str) -> String {
    let b = html.as_bytes();
    let mut w = Writer {
        out: String::with_capacity(html.len() / 4),
        para: String::new(),
        pending: Break::None,
        links: Vec::new(),
        lists: Vec::new(),
        pre: 0,
        last_line: String::new(),
        only_link: false,
    };
    // Inside an element whose content is skipped: its name and depth.
    let mut skip: Option<(String, usize)> = None;
    let mut i = 0;
    let mut text_from = 0;
    while i < b.len() {
        if b[i] == b'<' {
            let Some(tag) = read_tag(html, i) else {
                i += 1;
                continue;
            };
            if skip.is_none() {
                text(&mut w, &html[text_from..i]);
            }
            i = tag.end;
            text_from = i;
            let Tag {
                kind, name, attrs, ..
            } = tag;
            if kind == Kind::Other {
                continue;
            }
            let name = name.to_ascii_lowercase();
            if let Some((open, depth)) = &mut skip {
                if *open == name && !VOID.contains(&name.as_str()) {
                    match kind {
                        Kind::Start => *depth += 1,
                        Kind::End => *depth -= 1,
                        _ => {}
                    }
                    if *depth == 0 {
                        skip = None;
                    }
                }
                continue;
            }
            match kind {
                Kind::Start | Kind::SelfClosing => {
                    let void = VOID.contains(&name.as_str()) || kind == Kind::SelfClosing;
                    if !void && (SKIPPED.contains(&name.as_str()) || hidden(attrs)) {
                        skip = Some((name, 1));
                        continue;
                    }
                    start(&mut w, &name, attrs);
                    if kind == Kind::SelfClosing && !VOID.contains(&name.as_str()) {
                        end(&mut w, &name);
                    }
                }
                Kind::End => end(&mut w, &name),
                Kind::Other => {}
            }
        } else {
            i += 1;
        }
    }
    if skip.is_none() {
        text(&mut w, &html[text_from..]);
    }
    w.finish()
}

fn text(w: &mut Writer, raw: &str) {
    if raw.is_empty() {
        return;
    }
    if raw.contains('&') {
        w.text(&decode_entities(raw));
    } else {
        w.text(raw);
    }
}

fn start(w: &mut Writer, name: &str, attrs: &str) {
    match name {
        "a" => {
            w.links.push(Link {
                href: attr(attrs, "href")
                    .map(|h| decode_entities(&h))
                    .unwrap_or_default(),
                start: w.para.len(),
            });
            return;
        }
        "img" => {
            // A linked image (a logo, a product photo) reads as its alt
            // text; a decorative one is not text at all.
            if !w.links.is_empty()
                && let Some(alt) = attr(attrs, "alt")
            {
                text(w, &alt);
            }
            return;
        }
        "ul" => w.lists.push(None),
        "ol" => w.lists.push(Some(0)),
        "pre" => {
            w.brk(Break::Paragraph);
            w.flush_break();
            w.pre += 1;
            return;
        }
        _ => {}
    }
    w.brk(break_of(name));
    if name == "li" {
        w.flush_break();
        let marker = match w.lists.last_mut() {
            Some(Some(n)) => {
                *n += 1;
                format!("{n}. ")
            }
            _ => "- ".to_string(),
        };
        w.para.push_str(&marker);
    }
}

fn end(w: &mut Writer, name: &str) {
    match name {
        "a" => {
            let Some(link) = w.links.pop() else {
                return;
            };
            let href = link.href.trim();
            if href.is_empty() || href.starts_with('#') || href.starts_with("javascript:") {
                return;
            }
            let shown = href.strip_prefix("mailto:").unwrap_or(href);
            let label = w.para.get(link.start..).unwrap_or("").trim();
            let bare = |u: &str| {
                u.trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_string()
            };
            // A link with no text (an image without alt text) is left
            // out; one whose text is its address is written once.
            if label.is_empty() || bare(label) == bare(shown) {
                return;
            }
            let alone = w.para[..link.start].trim().is_empty();
            w.text(&format!(" ({shown})"));
            w.only_link = alone;
        }
        "ul" | "ol" => {
            w.lists.pop();
            w.brk(Break::Paragraph);
        }
        "pre" => {
            w.end_line();
            w.pre = w.pre.saturating_sub(1);
            w.brk(Break::Paragraph);
        }
        _ => w.brk(break_of(name)),
    }
}

/// Whether an element is hidden by its inline style (`display:none`, the
/// preheader) or the `hidden` attribute.
fn hidden(attrs: &str) -> bool {
    if !(attrs.contains("none") || attrs.contains("NONE") || attrs.contains("hidden")) {
        return false;
    }
    if let Some(style) = attr(attrs, "style") {
        let s: String = style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        if s.contains("display:none") {
            return true;
        }
    }
    attr(attrs, "hidden").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_links_lists_and_hidden_text() {
        let html = r##"<!DOCTYPE html><html><head><title>T</title><style>p{color:red}</style></head>
<body><div style="display: none">preheader &zwnj;&nbsp;</div>
<!--[if mso]><table><tr><td>Outlook only</td></tr></table><![endif]-->
<h1>Hello&nbsp;Ada</h1><p>Your   cart
 is <strong>waiting</strong> &amp; ready.</p>
<a href="https://x.shop/p/1"><img src="a.jpg" alt="Lamp"></a>
<div><a href="https://x.shop/p/1">Lamp</a></div>
<img src="spacer.gif" alt="">
<ul><li>One</li><li>Two</li></ul><ol><li>First</li></ol>
<p><a href="https://x.shop">https://x.shop/</a> <a href="mailto:hi@x.shop">Write to us</a> <a href="#top">Top</a></p>
<p>5 &lt; 6 &#x1F600; &#128512; &bogus; & more</p>
</body></html>"##;
        assert_eq!(
            html_to_text(html),
            "Hello Ada\n\nYour cart is waiting & ready.\n\nLamp (https://x.shop/p/1)\n\n\
             - One\n- Two\n\n1. First\n\n\
             https://x.shop/ Write to us (hi@x.shop) Top\n\n5 < 6 😀 😀 &bogus; & more\n"
        );
    }

    #[test]
    fn wraps_at_78_columns_and_keeps_long_words_whole() {
        let word = "word ".repeat(40);
        let url = format!("https://x.shop/{}", "a".repeat(100));
        let text = html_to_text(&format!("<p>{word}{url} end</p>"));
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH || l == url));
        assert!(text.lines().any(|l| l == url));
        assert_eq!(text.split_whitespace().count(), 42);
    }

    #[test]
    fn broken_html_is_text_and_never_panics() {
        for html in [
            "<",
            "a < b > c",
            "<p",
            "<a href=\"x",
            "</p></p></div>",
            "<!-- never closed",
            "<style>never closed",
            "&#xFFFFFFFF; &#0; &",
            "é<p>ü</p>\u{202e}עברית",
            "<pre>  keep\n    this  </pre>",
        ] {
            let _ = html_to_text(html);
        }
        assert_eq!(html_to_text("a < b > c"), "a < b > c\n");
        assert_eq!(
            html_to_text("<pre>  keep\n    this  </pre>"),
            "  keep\n    this\n"
        );
    }
}
