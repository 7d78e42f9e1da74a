//! Reading HTML the way email HTML needs it: tags (with their attributes)
//! found in one pass over the text, character references decoded. Never
//! fails and never panics: what cannot be read as a tag is text. The
//! plain-text part of an email (`email::text`) and the preview's
//! preparation of HTML (`paint`) read HTML with it.

/// Elements without content (no end tag).
pub const VOID: [&str; 14] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Start,
    End,
    SelfClosing,
    /// A comment, doctype or processing instruction.
    Other,
}

pub struct Tag<'a> {
    pub kind: Kind,
    pub name: &'a str,
    /// The text between the name and the closing `>`.
    pub attrs: &'a str,
    /// Just past the tag.
    pub end: usize,
}

/// The tag starting at `at` (a `<`), or `None` when that `<` is text.
pub fn read_tag(html: &str, at: usize) -> Option<Tag<'_>> {
    let b = html.as_bytes();
    let rest = &html[at..];
    if let Some(comment) = rest.strip_prefix("<!--") {
        // Outlook's conditional comments hold markup for Outlook only.
        let end = comment.find("-->").map_or(html.len(), |e| at + 4 + e + 3);
        return Some(Tag {
            kind: Kind::Other,
            name: "",
            attrs: "",
            end,
        });
    }
    let next = *b.get(at + 1)?;
    if next == b'!' || next == b'?' {
        let end = rest.find('>').map_or(html.len(), |e| at + e + 1);
        return Some(Tag {
            kind: Kind::Other,
            name: "",
            attrs: "",
            end,
        });
    }
    let (kind, name_at) = if next == b'/' {
        (Kind::End, at + 2)
    } else {
        (Kind::Start, at + 1)
    };
    if !b.get(name_at)?.is_ascii_alphabetic() {
        return None;
    }
    let mut k = name_at;
    while k < b.len() && (b[k].is_ascii_alphanumeric() || b[k] == b'-' || b[k] == b':') {
        k += 1;
    }
    let name = &html[name_at..k];
    let attrs_at = k;
    let mut quote = 0u8;
    while k < b.len() {
        let c = b[k];
        if quote != 0 {
            if c == quote {
                quote = 0;
            }
        } else if c == b'"' || c == b'\'' {
            quote = c;
        } else if c == b'>' {
            break;
        }
        k += 1;
    }
    let end = (k + 1).min(b.len());
    let inner = &html[attrs_at..k.min(b.len())];
    let self_closing = kind == Kind::Start && inner.trim_end().ends_with('/');
    Some(Tag {
        kind: if self_closing {
            Kind::SelfClosing
        } else {
            kind
        },
        name,
        attrs: inner,
        end,
    })
}

/// The value of attribute `name` in a tag's attribute text.
pub fn attr(attrs: &str, name: &str) -> Option<String> {
    let b = attrs.as_bytes();
    let mut k = 0;
    while k < b.len() {
        while k < b.len() && (b[k].is_ascii_whitespace() || b[k] == b'/') {
            k += 1;
        }
        let n0 = k;
        while k < b.len() && !b[k].is_ascii_whitespace() && b[k] != b'=' && b[k] != b'>' {
            k += 1;
        }
        let key = &attrs[n0..k];
        while k < b.len() && b[k].is_ascii_whitespace() {
            k += 1;
        }
        let mut value = None;
        if k < b.len() && b[k] == b'=' {
            k += 1;
            while k < b.len() && b[k].is_ascii_whitespace() {
                k += 1;
            }
            if k < b.len() && (b[k] == b'"' || b[k] == b'\'') {
                let q = b[k];
                let v0 = k + 1;
                k = v0;
                while k < b.len() && b[k] != q {
                    k += 1;
                }
                value = Some(&attrs[v0..k]);
                k += 1;
            } else {
                let v0 = k;
                while k < b.len() && !b[k].is_ascii_whitespace() {
                    k += 1;
                }
                value = Some(&attrs[v0..k]);
            }
        }
        if key.eq_ignore_ascii_case(name) {
            return Some(value.unwrap_or("").to_string());
        }
        if key.is_empty() {
            k += 1;
        }
    }
    None
}

/// Replaces character references: named ones mail HTML uses, and every
/// numeric one. Invisible characters (zero-width joiners, soft hyphens,
/// the preheader's padding) are dropped; a non-breaking space is a space.
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(k, _)| k);
        let decoded = end.and_then(|e| entity(&rest[1..e]));
        match (end, decoded) {
            (Some(e), Some(c)) => {
                if let Some(c) = visible(c) {
                    out.push(c);
                }
                rest = &rest[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn visible(c: char) -> Option<char> {
    match c {
        '\u{a0}' => Some(' '),
        '\u{ad}' | '\u{34f}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}' => {
            None
        }
        c => Some(c),
    }
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let n = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(n).filter(|&c| c != '\0');
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "middot" => '·',
        "bull" => '•',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "times" => '×',
        "divide" => '÷',
        "deg" => '°',
        "rarr" => '→',
        "larr" => '←',
        "uarr" => '↑',
        "darr" => '↓',
        "zwnj" => '\u{200c}',
        "zwj" => '\u{200d}',
        "shy" => '\u{ad}',
        "thinsp" => '\u{2009}',
        "ensp" => '\u{2002}',
        "emsp" => '\u{2003}',
        "iexcl" => '¡',
        "iquest" => '¿',
        "sect" => '§',
        "para" => '¶',
        "eacute" => 'é',
        "egrave" => 'è',
        "aacute" => 'á',
        "agrave" => 'à',
        "uuml" => 'ü',
        "ouml" => 'ö',
        "auml" => 'ä',
        "szlig" => 'ß',
        "ntilde" => 'ñ',
        "ccedil" => 'ç',
        "star" => '☆',
        "hearts" => '♥',
        "check" => '✓',
        _ => return None,
    })
}
