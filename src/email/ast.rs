//! A walk over a compiled Handlebars template that resolves every variable
//! to an absolute path in the context (through `#each`, `#with`, `../`,
//! `@root` and partial parameters), with its line and column. Lint, the
//! render safety checks and [`super::context::Needs`] all read it.

use std::collections::HashMap;

use handlebars::template::{
    BlockParam, DecoratorTemplate, HelperTemplate, Parameter, Template, TemplateElement,
};
use handlebars::{Path, TemplateError};
use serde_json::Value as Json;

use super::helpers::is_helper;

/// One step of a context path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    /// Every item of a list (inside `#each`).
    Items,
}

pub type AbsPath = Vec<Seg>;

pub fn path_text(p: &[Seg]) -> String {
    let mut s = String::new();
    for seg in p {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Items => s.push_str("[]"),
        }
    }
    if s.is_empty() { "this".into() } else { s }
}

/// Where in which source something is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pos {
    /// `body`, `subject`, `preheader`, `text`, or `partials/NAME`.
    pub part: String,
    pub line: usize,
    pub col: usize,
}

/// A condition of a block, as written.
#[derive(Clone, Debug)]
pub enum Cond {
    Path(AbsPath),
    /// A subexpression such as `(gt orders.count 3)`, as source text; only
    /// meaningful at the top level (`root` true).
    Expr {
        source: String,
        root: bool,
    },
    Literal(Json),
    Other,
}

#[derive(Clone, Debug)]
pub enum Item {
    /// A variable that is printed (or passed to a helper).
    Var {
        path: AbsPath,
        raw: String,
        pos: Pos,
        /// Inside the then-branch of an `#if` on the same path or a
        /// prefix, or the first argument of `default`.
        guarded: bool,
        /// Written with `{{{…}}}`.
        triple: bool,
    },
    Helper {
        name: String,
        pos: Pos,
        triple: bool,
    },
    Partial {
        name: String,
        pos: Pos,
    },
    Block {
        helper: String,
        cond: Cond,
        pos: Pos,
        has_inverse: bool,
    },
    Problem {
        pos: Pos,
        message: String,
    },
}

#[derive(Clone)]
struct Scope {
    /// The context path `this` is.
    base: AbsPath,
    /// Names bound by partial parameters, in this scope.
    aliases: HashMap<String, Alias>,
    /// Block parameter names (`as |item|`) → path.
    block_params: HashMap<String, AbsPath>,
}

#[derive(Clone, Debug)]
enum Alias {
    Path(AbsPath),
    Literal,
}

struct Walker<'a> {
    partials: &'a dyn Fn(&str) -> Option<&'a Template>,
    out: Vec<Item>,
    /// Partials being walked (cycle detection).
    stack: Vec<String>,
    guards: Vec<AbsPath>,
}

/// Walks `t` (the part named `part`), following partials through
/// `partials`, and returns everything it refers to.
pub fn walk<'a>(
    t: &'a Template,
    part: &str,
    partials: &'a dyn Fn(&str) -> Option<&'a Template>,
) -> Vec<Item> {
    let mut w = Walker {
        partials,
        out: Vec::new(),
        stack: Vec::new(),
        guards: Vec::new(),
    };
    let scopes = vec![Scope {
        base: Vec::new(),
        aliases: HashMap::new(),
        block_params: HashMap::new(),
    }];
    w.template(t, part, &scopes, None);
    w.out
}

type PartialBlock<'t> = Option<(&'t Template, String, Vec<Scope>)>;

impl<'a> Walker<'a> {
    fn template(&mut self, t: &Template, part: &str, scopes: &[Scope], pb: PartialBlock<'_>) {
        for (k, e) in t.elements.iter().enumerate() {
            let (line, col) = t.mapping.get(k).map_or((0, 0), |m| (m.0, m.1));
            let pos = Pos {
                part: part.to_string(),
                line,
                col,
            };
            match e {
                TemplateElement::RawString(_) | TemplateElement::Comment(_) => {}
                TemplateElement::Expression(h) => self.expression(h, pos, scopes, false),
                TemplateElement::HtmlExpression(h) => self.expression(h, pos, scopes, true),
                TemplateElement::HelperBlock(h) => self.block(h, part, pos, scopes, pb.clone()),
                TemplateElement::PartialExpression(d) => {
                    self.partial(d, None, part, pos, scopes, pb.clone())
                }
                TemplateElement::PartialBlock(d) => {
                    let block = d
                        .template
                        .as_ref()
                        .map(|b| (b, part.to_string(), scopes.to_vec()));
                    self.partial(d, block, part, pos, scopes, pb.clone())
                }
                _ => {
                    self.out.push(Item::Problem {
                        pos,
                        message: "decorators (`{{* …}}`) are not supported in email templates"
                            .into(),
                    });
                }
            }
        }
    }

    fn resolve(&self, raw: &str, scopes: &[Scope]) -> Option<AbsPath> {
        let mut level = scopes.len() - 1;
        let mut rest = raw.trim();
        if let Some(r) = rest.strip_prefix("@root") {
            let r = r.trim_start_matches(['.', '/']);
            return Some(split(r));
        }
        while let Some(r) = rest.strip_prefix("../") {
            level = level.saturating_sub(1);
            rest = r;
        }
        let scope = &scopes[level];
        let explicit_this = rest == "this"
            || rest.starts_with("this.")
            || rest.starts_with("this/")
            || rest.starts_with("./");
        let rest = rest
            .strip_prefix("this")
            .map(|r| r.trim_start_matches(['.', '/']))
            .filter(|_| explicit_this)
            .or_else(|| rest.strip_prefix("./"))
            .unwrap_or(rest);
        let segs = split(rest);
        if !explicit_this && let Some(Seg::Key(first)) = segs.first() {
            if let Some(bp) = scope.block_params.get(first) {
                let mut p = bp.clone();
                p.extend(segs[1..].iter().cloned());
                return Some(p);
            }
            match scope.aliases.get(first) {
                Some(Alias::Path(a)) => {
                    let mut p = a.clone();
                    p.extend(segs[1..].iter().cloned());
                    return Some(p);
                }
                Some(Alias::Literal) => return None,
                None => {}
            }
        }
        let mut p = scope.base.clone();
        p.extend(segs);
        Some(p)
    }

    fn param_path(&self, p: &Parameter, scopes: &[Scope]) -> Option<(AbsPath, String)> {
        match p {
            Parameter::Path(Path::Relative((_, raw))) => {
                self.resolve(raw, scopes).map(|a| (a, raw.clone()))
            }
            _ => None,
        }
    }

    fn guarded(&self, p: &AbsPath) -> bool {
        self.guards
            .iter()
            .any(|g| p.starts_with(g) && !g.is_empty())
    }

    fn var(&mut self, p: &Parameter, pos: &Pos, scopes: &[Scope], guarded: bool, triple: bool) {
        match p {
            Parameter::Path(Path::Relative(_)) => {
                if let Some((path, raw)) = self.param_path(p, scopes) {
                    let guarded = guarded || self.guarded(&path);
                    self.out.push(Item::Var {
                        path,
                        raw,
                        pos: pos.clone(),
                        guarded,
                        triple,
                    });
                }
            }
            Parameter::Subexpression(s) => {
                if let TemplateElement::Expression(h) | TemplateElement::HelperBlock(h) =
                    s.as_element()
                {
                    self.call(h, pos, scopes, false);
                }
            }
            _ => {}
        }
    }

    /// A helper call's name, params and hash.
    fn call(&mut self, h: &HelperTemplate, pos: &Pos, scopes: &[Scope], triple: bool) {
        let name = match &h.name {
            Parameter::Name(n) => n.clone(),
            Parameter::Path(p) => raw_of(p).to_string(),
            _ => String::new(),
        };
        self.out.push(Item::Helper {
            name: name.clone(),
            pos: pos.clone(),
            triple,
        });
        for (k, p) in h.params.iter().enumerate() {
            self.var(p, pos, scopes, name == "default" && k == 0, false);
        }
        for p in h.hash.values() {
            self.var(p, pos, scopes, false, false);
        }
    }

    fn expression(&mut self, h: &HelperTemplate, pos: Pos, scopes: &[Scope], triple: bool) {
        let is_call = !h.params.is_empty()
            || !h.hash.is_empty()
            || matches!(&h.name, Parameter::Name(_))
            || matches!(&h.name, Parameter::Path(p) if is_helper(raw_of(p)));
        if is_call {
            self.call(h, &pos, scopes, triple);
        } else {
            self.var(&h.name, &pos, scopes, false, triple);
        }
    }

    fn block(
        &mut self,
        h: &HelperTemplate,
        part: &str,
        pos: Pos,
        scopes: &[Scope],
        pb: PartialBlock<'_>,
    ) {
        let name = match &h.name {
            Parameter::Name(n) => n.clone(),
            Parameter::Path(p) => raw_of(p).to_string(),
            _ => String::new(),
        };
        self.out.push(Item::Helper {
            name: name.clone(),
            pos: pos.clone(),
            triple: false,
        });
        let first = h.params.first();
        let cond = match first {
            Some(p @ Parameter::Path(Path::Relative(_))) => match self.param_path(p, scopes) {
                Some((path, _)) => Cond::Path(path),
                None => Cond::Other,
            },
            Some(Parameter::Subexpression(_)) => Cond::Expr {
                source: first.map(param_source).unwrap_or_default(),
                root: scopes.len() == 1 && scopes[0].aliases.is_empty(),
            },
            Some(Parameter::Literal(v)) => Cond::Literal(v.clone()),
            _ => Cond::Other,
        };
        // The condition's own variables are read, not printed: a missing
        // value there is what the branch is for.
        if let Some(p @ Parameter::Subexpression(_)) = first {
            self.var(p, &pos, scopes, true, false);
        }
        for p in h.params.iter().skip(1) {
            self.var(p, &pos, scopes, false, false);
        }
        if matches!(name.as_str(), "if" | "unless" | "each" | "with") {
            self.out.push(Item::Block {
                helper: name.clone(),
                cond: cond.clone(),
                pos: pos.clone(),
                has_inverse: h.inverse.is_some(),
            });
        }
        let cond_path = match &cond {
            Cond::Path(p) => Some(p.clone()),
            _ => None,
        };
        // The then-branch.
        if let Some(t) = &h.template {
            match (name.as_str(), &cond_path) {
                ("each", Some(p)) => {
                    let mut base = p.clone();
                    base.push(Seg::Items);
                    let mut s = scopes.to_vec();
                    let mut bp = HashMap::new();
                    if let Some(
                        BlockParam::Single(Parameter::Name(n))
                        | BlockParam::Pair((Parameter::Name(n), _)),
                    ) = &h.block_param
                    {
                        bp.insert(n.clone(), base.clone());
                    }
                    let mut inherited = scopes
                        .last()
                        .map(|s| s.block_params.clone())
                        .unwrap_or_default();
                    inherited.extend(bp);
                    s.push(Scope {
                        base,
                        aliases: HashMap::new(),
                        block_params: inherited,
                    });
                    self.guards.push(p.clone());
                    self.template(t, part, &s, pb.clone());
                    self.guards.pop();
                }
                ("with", Some(p)) => {
                    let mut s = scopes.to_vec();
                    s.push(Scope {
                        base: p.clone(),
                        aliases: HashMap::new(),
                        block_params: scopes
                            .last()
                            .map(|s| s.block_params.clone())
                            .unwrap_or_default(),
                    });
                    self.guards.push(p.clone());
                    self.template(t, part, &s, pb.clone());
                    self.guards.pop();
                }
                ("if", Some(p)) => {
                    self.guards.push(p.clone());
                    self.template(t, part, scopes, pb.clone());
                    self.guards.pop();
                }
                _ => self.template(t, part, scopes, pb.clone()),
            }
        }
        if let Some(t) = &h.inverse {
            match (name.as_str(), &cond_path) {
                ("unless", Some(p)) => {
                    self.guards.push(p.clone());
                    self.template(t, part, scopes, pb);
                    self.guards.pop();
                }
                _ => self.template(t, part, scopes, pb),
            }
        }
    }

    fn partial(
        &mut self,
        d: &DecoratorTemplate,
        block: PartialBlock<'_>,
        _part: &str,
        pos: Pos,
        scopes: &[Scope],
        outer_pb: PartialBlock<'_>,
    ) {
        let name = match &d.name {
            Parameter::Name(n) => n.clone(),
            Parameter::Path(p) => raw_of(p).to_string(),
            Parameter::Literal(Json::String(s)) => s.clone(),
            _ => {
                self.out.push(Item::Problem {
                    pos,
                    message: "partial names must be written out (`{{> name}}`), not computed"
                        .into(),
                });
                return;
            }
        };
        if name == "@partial-block" {
            if let Some((t, p, s)) = outer_pb {
                self.template(t, &p, &s, None);
            }
            return;
        }
        self.out.push(Item::Partial {
            name: name.clone(),
            pos: pos.clone(),
        });
        if self.stack.contains(&name) {
            let chain = self.stack.join(" → ");
            self.out.push(Item::Problem {
                pos,
                message: format!("partial {name:?} includes itself ({chain} → {name})"),
            });
            return;
        }
        let Some(t) = (self.partials)(&name) else {
            return;
        };
        // Hash parameters bind names in the partial; a context parameter
        // (`{{> p some.path}}`) moves `this`.
        let mut scope = scopes.last().cloned().expect("a scope");
        if let Some(p) = d.params.first()
            && let Some((path, _)) = self.param_path(p, scopes)
        {
            scope.base = path;
        }
        for (k, v) in &d.hash {
            let alias = match v {
                Parameter::Path(Path::Relative(_)) => match self.param_path(v, scopes) {
                    Some((p, _)) => Alias::Path(p),
                    None => Alias::Literal,
                },
                _ => Alias::Literal,
            };
            scope.aliases.insert(k.clone(), alias);
            // Passed on, not printed: the partial decides what is shown.
            self.var(v, &pos, scopes, true, false);
        }
        let mut s = scopes.to_vec();
        s.push(scope);
        // Inside the partial, `../` still reaches the caller's scopes.
        self.stack.push(name.clone());
        let pb = match block {
            Some(b) => Some(b),
            None => outer_pb,
        };
        self.template(t, &format!("partials/{name}"), &s, pb);
        self.stack.pop();
    }
}

fn raw_of(p: &Path) -> &str {
    match p {
        Path::Relative((_, raw)) => raw,
        Path::Local((_, _, raw)) => raw,
    }
}

fn split(s: &str) -> AbsPath {
    s.split(['.', '/'])
        .filter(|x| !x.is_empty())
        .map(|x| {
            let x = x.trim_start_matches('[').trim_end_matches(']');
            if x.bytes().all(|b| b.is_ascii_digit()) {
                Seg::Items
            } else {
                Seg::Key(x.to_string())
            }
        })
        .collect()
}

/// A parameter as Handlebars source (for probe templates).
pub fn param_source(p: &Parameter) -> String {
    match p {
        Parameter::Name(n) => n.clone(),
        Parameter::Path(p) => raw_of(p).to_string(),
        Parameter::Literal(v) => v.to_string(),
        Parameter::Subexpression(s) => match s.as_element() {
            TemplateElement::Expression(h) | TemplateElement::HelperBlock(h) => {
                let mut out = format!("({}", param_source(&h.name));
                for p in &h.params {
                    out.push(' ');
                    out.push_str(&param_source(p));
                }
                let mut hash: Vec<_> = h.hash.iter().collect();
                hash.sort_by(|a, b| a.0.cmp(b.0));
                for (k, v) in hash {
                    out.push_str(&format!(" {k}={}", param_source(v)));
                }
                out.push(')');
                out
            }
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// Largest source Prism compiles: email HTML is tens of kilobytes; a
/// megabyte is a pasted file gone wrong.
pub const MAX_SOURCE: usize = 1 << 20;
/// Deepest nesting of blocks (the parser recurses per level).
pub const MAX_DEPTH: usize = 64;

/// Compiles one part, refusing what would exhaust memory or the stack.
/// Errors carry a line and column where one exists.
pub fn compile(source: &str) -> Result<Template, (usize, usize, String)> {
    if source.len() > MAX_SOURCE {
        return Err((
            1,
            1,
            format!(
                "the template is {:.1} MB; templates are limited to {} MB",
                source.len() as f64 / 1e6,
                MAX_SOURCE >> 20
            ),
        ));
    }
    let (mut depth, mut line, mut col) = (0usize, 1usize, 1usize);
    let bytes = source.as_bytes();
    for (k, &b) in bytes.iter().enumerate() {
        if b == b'{' && bytes.get(k + 1) == Some(&b'{') {
            let next = bytes.get(k + 2).copied();
            let next = if next == Some(b'~') {
                bytes.get(k + 3).copied()
            } else {
                next
            };
            match next {
                Some(b'#') => depth += 1,
                Some(b'/') => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth > MAX_DEPTH {
                return Err((
                    line,
                    col,
                    format!("blocks are nested more than {MAX_DEPTH} deep"),
                ));
            }
        }
        if b == b'\n' {
            line += 1;
            col = 1;
        } else if b & 0xC0 != 0x80 {
            col += 1;
        }
    }
    Template::compile(source).map_err(|e: TemplateError| {
        let (l, c) = e.pos().unwrap_or((1, 1));
        (l, c, e.reason().to_string())
    })
}
