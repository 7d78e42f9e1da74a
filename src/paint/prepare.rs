//! What happens to an email's HTML before the engine lays it out: images
//! that would need the network become boxes of their size with their alt
//! text (as mail programs show a blocked image), legacy colour attributes
//! the engine does not read are made CSS, and an email too large to lay
//! out in reasonable time is cut off, with a note saying where.

use crate::model::html::{Kind, VOID, attr, read_tag};

/// Elements beyond which an email is cut off (a real email has a few
/// hundred to a few thousand).
pub const MAX_ELEMENTS: usize = 12_000;
/// Nesting beyond which an email is cut off.
pub const MAX_DEPTH: usize = 256;

/// Elements whose content is raw text, not markup.
const RAW: [&str; 5] = ["style", "script", "title", "textarea", "xmp"];

/// The HTML ready for layout, and what was done to it.
#[derive(Debug, Default)]
pub struct Prepared {
    pub html: String,
    /// Image addresses that were not loaded (they would need the network).
    pub blocked: Vec<String>,
    /// Set when the email was cut off: why and where.
    pub cut: Option<String>,
}

/// Where an image may come from without the network.
pub fn is_local(src: &str) -> bool {
    let s = src.trim();
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    if lower.starts_with("data:") || lower.starts_with("cid:") || lower.starts_with("file:") {
        return true;
    }
    // A relative path (no scheme, not protocol-relative).
    let scheme = s
        .split_once(':')
        .is_some_and(|(scheme, _)| scheme.chars().all(|c| c.is_ascii_alphanumeric()));
    let remote = s.starts_with("//") || s.contains("://");
    !(s.is_empty() || remote || scheme)
}

fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;")
}

/// A CSS length from an HTML `width` / `height` attribute (`600`, `600px`,
/// `100%`).
fn css_length(v: &str) -> Option<String> {
    let v = v.trim();
    if let Some(p) = v.strip_suffix('%') {
        return p.trim().parse::<f32>().ok().map(|p| format!("{p}%"));
    }
    let n = v.trim_end_matches("px").trim();
    n.parse::<f32>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| format!("{n}px"))
}

/// The box a blocked image leaves: its size, its alt text.
fn blocked_image(attrs: &str) -> String {
    let alt = attr(attrs, "alt").unwrap_or_default();
    let own = attr(attrs, "style").unwrap_or_default();
    let lower = own.to_ascii_lowercase().replace(' ', "");
    let mut style = String::from(
        "display:inline-block;box-sizing:border-box;overflow:hidden;vertical-align:top;\
         background-color:#eeeae4;border:1px dashed #b8b0a5;color:#6b645b;\
         font-family:sans-serif;font-size:12px;line-height:16px;text-align:center;\
         font-weight:normal;font-style:normal;text-decoration:none;padding:2px;",
    );
    style.push_str(&own);
    style.push(';');
    let width = attr(attrs, "width").and_then(|w| css_length(&w));
    let height = attr(attrs, "height").and_then(|h| css_length(&h));
    if let Some(w) = width
        && !lower.contains("width:")
    {
        style.push_str(&format!("width:{w};max-width:100%;"));
    }
    if let Some(h) = height
        && !lower.contains("height:")
    {
        style.push_str(&format!("height:{h};"));
    }
    // `height:auto` on an image with no picture would collapse the box.
    if lower.contains("height:auto") {
        if let Some(h) = attr(attrs, "height").and_then(|h| css_length(&h)) {
            style.push_str(&format!("height:{h};"));
        } else {
            style.push_str("min-height:20px;");
        }
    }
    let title = if alt.trim().is_empty() {
        String::new()
    } else {
        escape_text(alt.trim())
    };
    format!(
        "<span role=\"img\" data-prism-blocked=\"1\" style=\"{}\">{title}</span>",
        escape_attr(&style)
    )
}

/// Named colours that legacy `bgcolor` / `color` attributes use, as hex
/// (the engine reads only `#rgb` and `#rrggbb` there).
fn named_color(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "white" => "#ffffff",
        "black" => "#000000",
        "red" => "#ff0000",
        "green" => "#008000",
        "blue" => "#0000ff",
        "gray" | "grey" => "#808080",
        "silver" => "#c0c0c0",
        "yellow" => "#ffff00",
        "orange" => "#ffa500",
        "navy" => "#000080",
        "maroon" => "#800000",
        "purple" => "#800080",
        "teal" => "#008080",
        "olive" => "#808000",
        "lime" => "#00ff00",
        "aqua" | "cyan" => "#00ffff",
        "fuchsia" | "magenta" => "#ff00ff",
        _ => return None,
    })
}

/// A legacy colour value as `#rrggbb`, when it is not one already.
fn legacy_color(v: &str) -> Option<String> {
    let v = v.trim();
    if v.starts_with('#') {
        return None;
    }
    if (v.len() == 6 || v.len() == 3) && v.chars().all(|c| c.is_ascii_hexdigit()) {
        return Some(format!("#{v}"));
    }
    named_color(v).map(str::to_string)
}

/// Rewrites a start tag whose legacy colour the engine would miss: a
/// `bgcolor` without `#`, and `<font color>`.
fn fixed_colors(name: &str, attrs: &str) -> Option<String> {
    let bg = attr(attrs, "bgcolor").and_then(|c| legacy_color(&c));
    let font = if name == "font" {
        attr(attrs, "color").map(|c| legacy_color(&c).unwrap_or(c))
    } else {
        None
    };
    if bg.is_none() && font.is_none() {
        return None;
    }
    let own = attr(attrs, "style").unwrap_or_default();
    let mut style = String::new();
    if let Some(bg) = bg {
        style.push_str(&format!("background-color:{bg};"));
    }
    if let Some(c) = font {
        style.push_str(&format!("color:{c};"));
    }
    // The tag's own style comes last and wins, as it would over the
    // attribute.
    style.push_str(&own);
    let rest = without_attr(attrs, "style");
    Some(format!("<{name} style=\"{}\"{rest}>", escape_attr(&style)))
}

/// A tag's attribute text without one attribute.
fn without_attr(attrs: &str, name: &str) -> String {
    let b = attrs.as_bytes();
    let mut out = String::with_capacity(attrs.len());
    let mut k = 0;
    while k < b.len() {
        let start = k;
        while k < b.len() && (b[k].is_ascii_whitespace() || b[k] == b'/') {
            k += 1;
        }
        let n0 = k;
        while k < b.len() && !b[k].is_ascii_whitespace() && b[k] != b'=' && b[k] != b'>' {
            k += 1;
        }
        let key = &attrs[n0..k];
        let mut j = k;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if j < b.len() && b[j] == b'=' {
            j += 1;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < b.len() && (b[j] == b'"' || b[j] == b'\'') {
                let q = b[j];
                j += 1;
                while j < b.len() && b[j] != q {
                    j += 1;
                }
                j = (j + 1).min(b.len());
            } else {
                while j < b.len() && !b[j].is_ascii_whitespace() {
                    j += 1;
                }
            }
            k = j;
        }
        if k == start {
            k += 1;
        }
        if !key.eq_ignore_ascii_case(name) {
            out.push_str(&attrs[start..k.min(b.len())]);
        }
    }
    out.trim_end_matches('/').to_string()
}

/// Prepares `html` for layout (see the module's documentation).
pub fn prepare(html: &str) -> Prepared {
    let b = html.as_bytes();
    let mut out = String::with_capacity(html.len() + 256);
    let mut blocked = Vec::new();
    let mut cut = None;
    let mut elements = 0usize;
    let mut depth = 0usize;
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            // Jump to the next tag.
            match html[i..].find('<') {
                Some(k) => i += k,
                None => break,
            }
            continue;
        }
        let Some(tag) = read_tag(html, i) else {
            i += 1;
            continue;
        };
        let start = i;
        let end = tag.end;
        i = end;
        match tag.kind {
            Kind::Other => continue,
            Kind::End => {
                depth = depth.saturating_sub(1);
                continue;
            }
            Kind::Start | Kind::SelfClosing => {}
        }
        let name = tag.name.to_ascii_lowercase();
        elements += 1;
        let void = VOID.contains(&name.as_str()) || tag.kind == Kind::SelfClosing;
        if !void {
            depth += 1;
        }
        if elements > MAX_ELEMENTS || depth > MAX_DEPTH {
            let (line, _) = line_col(html, start);
            cut = Some(if elements > MAX_ELEMENTS {
                format!(
                    "cut off at line {line}: more than {MAX_ELEMENTS} elements, too many to lay out"
                )
            } else {
                format!("cut off at line {line}: elements nested more than {MAX_DEPTH} deep")
            });
            out.push_str(&html[copied..start]);
            copied = html.len();
            break;
        }
        if RAW.contains(&name.as_str()) && tag.kind == Kind::Start {
            let close = format!("</{name}");
            let lower_rest = html[i..].to_ascii_lowercase();
            match lower_rest.find(&close) {
                Some(k) => i += k,
                None => i = html.len(),
            }
            continue;
        }
        let replacement = if name == "img" {
            match attr(tag.attrs, "src") {
                Some(src) if is_local(&src) => None,
                src => {
                    blocked.push(src.unwrap_or_default());
                    Some(blocked_image(tag.attrs))
                }
            }
        } else {
            fixed_colors(&name, tag.attrs)
        };
        if let Some(r) = replacement {
            out.push_str(&html[copied..start]);
            out.push_str(&r);
            copied = end;
        }
    }
    if copied < html.len() {
        out.push_str(&html[copied..]);
    }
    Prepared {
        html: out,
        blocked,
        cut,
    }
}

fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_images_become_boxes_with_their_alt_text() {
        let p = prepare(
            r#"<p><img src="https://x.shop/a.jpg" width="120" height="80" alt="A <lamp>"><img src="data:image/png;base64,AA" alt="d"><img src="img/local.png"><img src="//cdn.x/p.gif" width=1 height=1></p>"#,
        );
        assert_eq!(p.blocked, ["https://x.shop/a.jpg", "//cdn.x/p.gif"]);
        assert!(p.html.contains("width:120px;max-width:100%;height:80px;"));
        assert!(p.html.contains(">A &lt;lamp></span>"));
        assert!(
            p.html
                .contains(r#"<img src="data:image/png;base64,AA" alt="d">"#)
        );
        assert!(p.html.contains(r#"<img src="img/local.png">"#));
        assert!(p.cut.is_none());
    }

    #[test]
    fn legacy_colours_become_css() {
        let p = prepare(
            r##"<td bgcolor="ffffff" style="padding:4px"><font color="red" face="Arial">x</font><td bgcolor="#abc">"##,
        );
        assert!(
            p.html
                .contains(r#"<td style="background-color:#ffffff;padding:4px" bgcolor="ffffff">"#),
            "{}",
            p.html
        );
        assert!(
            p.html
                .contains(r##"<font style="color:#ff0000;" color="red" face="Arial">"##)
        );
        assert!(p.html.contains(r##"<td bgcolor="#abc">"##));
    }

    #[test]
    fn style_text_is_not_read_as_tags() {
        let p = prepare("<style>a<img src=http://x/y.png></style><img src=\"http://x/z.png\">");
        assert_eq!(p.blocked, ["http://x/z.png"]);
    }

    #[test]
    fn huge_and_deep_html_is_cut_off_with_a_note() {
        let cells = "<td>x</td>".repeat(MAX_ELEMENTS + 10);
        let p = prepare(&format!("<table><tr>{cells}</tr></table>"));
        assert!(
            p.cut
                .as_deref()
                .unwrap()
                .contains("more than 12000 elements")
        );
        assert!(p.html.len() < cells.len());
        let deep = "<div>".repeat(MAX_DEPTH + 5);
        let p = prepare(&deep);
        assert!(p.cut.as_deref().unwrap().contains("nested"));
    }

    #[test]
    fn never_panics_on_broken_html() {
        for h in [
            "<",
            "<img",
            "<img src=\"",
            "<td bgcolor=",
            "<font color>",
            "é<img src=x alt=é>",
        ] {
            let _ = prepare(h);
        }
    }
}
