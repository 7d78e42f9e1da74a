//! The starter templates and shared partials shipped in `assets/templates/`.
//!
//! A starter is an HTML file with a small front matter block of `key: value`
//! lines between `---` lines (name, subject, preheader, from_name,
//! from_address). Partials are plain Handlebars files.

use super::Layout;
use crate::model::Template;

/// The built-in partials every template can use, by name.
pub const PARTIALS: [(&str, &str); 6] = [
    (
        "layout",
        include_str!("../../assets/templates/partials/layout.hbs"),
    ),
    (
        "header",
        include_str!("../../assets/templates/partials/header.hbs"),
    ),
    (
        "hero",
        include_str!("../../assets/templates/partials/hero.hbs"),
    ),
    (
        "product_grid",
        include_str!("../../assets/templates/partials/product_grid.hbs"),
    ),
    (
        "cta",
        include_str!("../../assets/templates/partials/cta.hbs"),
    ),
    (
        "footer",
        include_str!("../../assets/templates/partials/footer.hbs"),
    ),
];

/// The starter template files, in the order the sample workspace stores
/// them (ids 1..=5).
pub const STARTERS: [(&str, &str); 5] = [
    (
        "newsletter.html",
        include_str!("../../assets/templates/newsletter.html"),
    ),
    (
        "vip_offer.html",
        include_str!("../../assets/templates/vip_offer.html"),
    ),
    (
        "win_back.html",
        include_str!("../../assets/templates/win_back.html"),
    ),
    (
        "abandoned_cart.html",
        include_str!("../../assets/templates/abandoned_cart.html"),
    ),
    (
        "welcome.html",
        include_str!("../../assets/templates/welcome.html"),
    ),
];

/// The body of a built-in partial.
pub fn partial(name: &str) -> Option<&'static str> {
    PARTIALS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The starter templates, parsed.
pub fn starter_templates(updated_at: i64) -> Vec<Template> {
    STARTERS
        .iter()
        .map(|(file, text)| {
            let mut t = parse_template_file(file, text)
                .unwrap_or_else(|e| panic!("starter template {file}: {e}"));
            t.updated_at = updated_at;
            t
        })
        .collect()
}

/// Parses a template file: optional front matter, then the HTML body.
/// `file` names the template when the front matter does not, and appears
/// in messages.
pub fn parse_template_file(file: &str, text: &str) -> Result<Template, String> {
    parse_template_file_layout(file, text).map(|(t, _)| t)
}

/// As [`parse_template_file`], with where each part sits in the file (so
/// messages about it can point at the file's own lines).
pub fn parse_template_file_layout(file: &str, text: &str) -> Result<(Template, Layout), String> {
    let mut layout = Layout {
        header: Vec::new(),
        body_offset: 0,
    };
    let stem = std::path::Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(file)
        .to_string();
    let mut t = Template {
        name: stem,
        ..Template::default()
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = match text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    {
        None => {
            t.body = text.to_string();
            return Ok((t, layout));
        }
        Some(rest) => rest,
    };
    let mut offset = 0;
    for (n, line) in rest.split_inclusive('\n').enumerate() {
        offset += line.len();
        let line = line.trim_end_matches(['\n', '\r']);
        if line == "---" {
            t.body = rest[offset..].to_string();
            layout.body_offset = n + 2;
            return Ok((t, layout));
        }
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(format!(
                "{file}:{}: front matter lines are `key: value`, found {line:?}",
                n + 2
            ));
        };
        let start = key.len() + 1 + (value.len() - value.trim_start().len()) + 1;
        layout.header.push((key.trim().to_string(), n + 2, start));
        let value = value.trim().to_string();
        match key.trim() {
            "name" => t.name = value,
            "subject" => t.subject = value,
            "preheader" => t.preheader = value,
            "from_name" => t.from_name = value,
            "from_address" => t.from_address = value,
            other => {
                return Err(format!(
                    "{file}:{}: unknown front matter key {other:?} (known: name, subject, preheader, from_name, from_address)",
                    n + 2
                ));
            }
        }
    }
    Err(format!(
        "{file}: the front matter opened with `---` on line 1 is never closed"
    ))
}

/// The file form of a template: front matter and body (what
/// `prism template export` writes and `template add` reads back).
pub fn to_template_file(t: &Template) -> String {
    format!(
        "---\nname: {}\nsubject: {}\npreheader: {}\nfrom_name: {}\nfrom_address: {}\n---\n{}",
        one_line(&t.name),
        one_line(&t.subject),
        one_line(&t.preheader),
        one_line(&t.from_name),
        one_line(&t.from_address),
        t.body
    )
}

fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// The sample workspace's content map: (segment, variant, template,
/// weight). Frequent buyers get an A/B test of two messages.
pub const SAMPLE_MAP: [(&str, &str, &str, u32); 8] = [
    ("VIP", "A", "VIP offer", 1),
    ("Frequent buyers", "A", "Newsletter", 50),
    ("Frequent buyers", "B", "VIP offer", 50),
    ("Lapsed", "A", "Win-back", 1),
    ("Engaged browsers", "A", "Abandoned cart", 1),
    ("High-value infrequent", "A", "Win-back", 1),
    ("Recent high-value buyers", "A", "Newsletter", 1),
    ("New subscribers", "A", "Welcome", 1),
];

/// The sample shop the starter templates speak for.
pub const SAMPLE_SHOP: [(&str, &str); 4] = [
    ("shop_name", "Lumen & Loom"),
    ("shop_url", "https://lumenandloom.shop"),
    ("currency", "USD"),
    ("shop_address", "14 Weaver Street, Portland, OR 97205, USA"),
];

/// Maps the seed segments to the starter templates and names the shop
/// (the sample workspace ships with both).
pub fn install_sample_content(store: &crate::store::Store) -> Result<(), crate::store::StoreError> {
    for (k, v) in SAMPLE_SHOP {
        store.set_meta(k, v)?;
    }
    let segments = store.segments()?;
    let templates = store.templates()?;
    let mut by_segment: Vec<(i64, Vec<crate::model::MapEntry>)> = Vec::new();
    for (segment, variant, template, weight) in SAMPLE_MAP {
        let (Some(s), Some(t)) = (
            segments.iter().find(|s| s.name == segment),
            templates.iter().find(|t| t.name == template),
        ) else {
            continue;
        };
        let entry = crate::model::MapEntry {
            segment_id: s.id,
            variant: variant.to_string(),
            template_id: t.id,
            weight,
        };
        match by_segment.iter_mut().find(|(id, _)| *id == s.id) {
            Some((_, v)) => v.push(entry),
            None => by_segment.push((s.id, vec![entry])),
        }
    }
    for (id, entries) in by_segment {
        store.set_segment_content(id, &entries)?;
    }
    Ok(())
}
