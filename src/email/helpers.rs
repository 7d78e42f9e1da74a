//! Template helpers. Each returns a value (never raw HTML), so the output
//! is escaped like any other variable.

use handlebars::{
    Context, Handlebars, Helper, HelperDef, JsonRender, JsonTruthy, RenderContext, RenderError,
    RenderErrorReason, ScopedJson,
};
use serde_json::Value as Json;

/// The helpers Prism adds, with a one-line usage each (for docs and lint).
pub const HELPERS: [(&str, &str); 11] = [
    (
        "currency",
        "{{currency price}} or {{currency price \"EUR\"}}: 1,234.50 with the shop's currency",
    ),
    (
        "number",
        "{{number x}} or {{number x 2}}: thousands separators, optional decimals",
    ),
    (
        "date",
        "{{date orders.last_at \"%-d %B %Y\"}}: a date or time, formatted (strftime)",
    ),
    (
        "default",
        "{{default first_name \"there\"}}: the value, or the fallback when it is empty",
    ),
    (
        "pluralize",
        "{{pluralize orders.count \"order\"}} or with a plural: the word for the count",
    ),
    ("capitalize", "{{capitalize city}}: first letter upper case"),
    ("upper", "{{upper x}}"),
    ("lower", "{{lower x}}"),
    (
        "truncate",
        "{{truncate name 40}}: at most 40 characters, with an ellipsis",
    ),
    (
        "in_segment",
        "{{#if (in_segment \"VIP\")}}: whether the customer is in the saved segment",
    ),
    (
        "json",
        "{{json this}}: the value as JSON text (for debugging)",
    ),
];

/// The built-in Handlebars helpers templates may use.
pub const BUILTIN_HELPERS: [&str; 17] = [
    "if", "unless", "each", "with", "lookup", "raw", "log", "eq", "ne", "gt", "gte", "lt", "lte",
    "and", "or", "not", "len",
];

pub fn is_helper(name: &str) -> bool {
    BUILTIN_HELPERS.contains(&name) || HELPERS.iter().any(|(n, _)| *n == name)
}

pub fn register(h: &mut Handlebars<'static>) {
    h.register_helper("currency", Box::new(Currency));
    h.register_helper("number", Box::new(Number));
    h.register_helper("date", Box::new(Date));
    h.register_helper("default", Box::new(Default));
    h.register_helper("pluralize", Box::new(Pluralize));
    h.register_helper("capitalize", Box::new(Text(TextOp::Capitalize)));
    h.register_helper("upper", Box::new(Text(TextOp::Upper)));
    h.register_helper("lower", Box::new(Text(TextOp::Lower)));
    h.register_helper("truncate", Box::new(Truncate));
    h.register_helper("in_segment", Box::new(InSegment));
    h.register_helper("json", Box::new(JsonText));
}

fn param<'a>(h: &'a Helper<'_>, i: usize) -> &'a Json {
    static NULL: Json = Json::Null;
    h.param(i).map_or(&NULL, |p| p.value())
}

fn need(h: &Helper<'_>, n: usize) -> Result<(), RenderError> {
    if h.params().len() < n {
        return Err(RenderErrorReason::ParamNotFoundForIndex(
            // The helper's name lives as long as the template; the error
            // wants a static name, so name the helper by its usage.
            "helper",
            h.params().len(),
        )
        .into());
    }
    Ok(())
}

fn number_of(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn derived<'rc>(v: impl Into<Json>) -> Result<ScopedJson<'rc>, RenderError> {
    Ok(ScopedJson::Derived(v.into()))
}

/// `1234567.891` with 2 decimals → `1,234,567.89`.
pub fn format_number(x: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, x.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(a, b)| (a, b));
    let mut out = String::new();
    if x < 0.0 && s.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        out.push('-');
    }
    for (k, c) in int.chars().enumerate() {
        if k > 0 && (int.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// A price in a currency: symbols for the common ones, the code otherwise.
pub fn format_currency(x: f64, currency: &str) -> String {
    let amount = format_number(x.abs(), 2);
    let sign = if x < 0.0 { "-" } else { "" };
    match currency.to_ascii_uppercase().as_str() {
        "USD" => format!("{sign}${amount}"),
        "EUR" => format!("{sign}€{amount}"),
        "GBP" => format!("{sign}£{amount}"),
        "JPY" => format!("{sign}¥{}", format_number(x.abs(), 0)),
        "" => format!("{sign}{amount}"),
        code => format!("{sign}{amount} {code}"),
    }
}

struct Currency;
impl HelperDef for Currency {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        need(h, 1)?;
        let Some(x) = number_of(param(h, 0)) else {
            return derived("");
        };
        let code = match param(h, 1) {
            Json::String(s) => s.clone(),
            _ => ctx
                .data()
                .pointer("/shop/currency")
                .and_then(Json::as_str)
                .unwrap_or("USD")
                .to_string(),
        };
        derived(format_currency(x, &code))
    }
}

struct Number;
impl HelperDef for Number {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        need(h, 1)?;
        let Some(x) = number_of(param(h, 0)) else {
            return derived("");
        };
        let decimals = number_of(param(h, 1)).map_or(0, |d| d.clamp(0.0, 10.0) as usize);
        derived(format_number(x, decimals))
    }
}

/// Whether a strftime format is valid (chrono panics on display of an
/// invalid one; templates must never panic).
pub fn valid_date_format(fmt: &str) -> bool {
    use chrono::format::{Item, StrftimeItems};
    !StrftimeItems::new(fmt).any(|i| matches!(i, Item::Error))
}

struct Date;
impl HelperDef for Date {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        need(h, 1)?;
        let fmt = match param(h, 1) {
            Json::String(s) => s.as_str(),
            _ => "%-d %B %Y",
        };
        if !valid_date_format(fmt) {
            return Err(RenderErrorReason::Other(format!("date: invalid format {fmt:?}")).into());
        }
        let Json::String(s) = param(h, 0) else {
            return derived("");
        };
        let text = if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
            t.format(fmt).to_string()
        } else if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            // A date has no time of day: format it at midnight.
            d.and_hms_opt(0, 0, 0)
                .map(|t| t.format(fmt).to_string())
                .unwrap_or_default()
        } else {
            s.clone()
        };
        derived(text)
    }
}

/// Empty for `default` and fallbacks: null, missing, "", whitespace, [].
pub fn is_empty(v: &Json) -> bool {
    match v {
        Json::Null => true,
        Json::String(s) => s.trim().is_empty(),
        Json::Array(a) => a.is_empty(),
        Json::Object(o) => o.is_empty(),
        _ => false,
    }
}

struct Default;
impl HelperDef for Default {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        need(h, 2)?;
        let v = param(h, 0);
        derived(if is_empty(v) {
            param(h, 1).clone()
        } else {
            v.clone()
        })
    }
}

struct Pluralize;
impl HelperDef for Pluralize {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        need(h, 2)?;
        let n = number_of(param(h, 0)).unwrap_or(0.0);
        let one = param(h, 1).render();
        let word = if n == 1.0 {
            one
        } else {
            match param(h, 2) {
                Json::String(p) => p.clone(),
                _ => plural(&one),
            }
        };
        derived(word)
    }
}

/// English plural of a word: `box` → `boxes`, `city` → `cities`.
pub fn plural(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    if lower.ends_with('y')
        && !lower.ends_with("ay")
        && !lower.ends_with("ey")
        && !lower.ends_with("oy")
        && !lower.ends_with("uy")
    {
        format!("{}ies", &word[..word.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        format!("{word}es")
    } else {
        format!("{word}s")
    }
}

#[derive(Clone, Copy)]
enum TextOp {
    Capitalize,
    Upper,
    Lower,
}

struct Text(TextOp);
impl HelperDef for Text {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        need(h, 1)?;
        let v = param(h, 0);
        if v.is_null() {
            return derived("");
        }
        let s = v.render();
        derived(match self.0 {
            TextOp::Upper => s.to_uppercase(),
            TextOp::Lower => s.to_lowercase(),
            TextOp::Capitalize => {
                let mut c = s.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().chain(c).collect(),
                    None => String::new(),
                }
            }
        })
    }
}

struct Truncate;
impl HelperDef for Truncate {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        need(h, 2)?;
        let v = param(h, 0);
        if v.is_null() {
            return derived("");
        }
        let s = v.render();
        let max = number_of(param(h, 1)).map_or(usize::MAX, |n| n.max(1.0) as usize);
        if s.chars().count() <= max {
            return derived(s);
        }
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out = out.trim_end().to_string();
        out.push('…');
        derived(out)
    }
}

struct InSegment;
impl HelperDef for InSegment {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        need(h, 1)?;
        let name = param(h, 0).render();
        let inside = ctx
            .data()
            .get("segments")
            .and_then(Json::as_array)
            .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(name.as_str())));
        derived(inside)
    }
}

struct JsonText;
impl HelperDef for JsonText {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        derived(param(h, 0).to_string())
    }
}

/// Handlebars truthiness (what `{{#if}}` tests): false, null, "", 0 and
/// empty lists are false.
pub fn truthy(v: &Json) -> bool {
    v.is_truthy(false)
}
