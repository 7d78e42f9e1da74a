//! What the Preview screen computes, headless: a workspace's email side
//! loaded once ([`Preview`]), the members of a column's segment, which
//! template and variant a member gets, and one member's email rendered,
//! checked and painted ([`Preview::column`]). `prism snapshot` paints with
//! the same functions, so it writes exactly the image the screen shows.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::app::AppError;
use crate::email::lint::{self, LintReport};
use crate::email::mapping::{Route, variant_for};
use crate::email::{EmailError, Finding, Mail, Rendered, Renderer};
use crate::engine::Engine;
use crate::model::Template;
use crate::model::rng::Rng;
use crate::paint::{PaintCache, PaintError, PaintOptions, Painted};
use crate::progress::Progress;
use crate::store::Store;

/// How much memory painted images may hold.
pub const PAINT_CACHE_BYTES: usize = 256 * 1024 * 1024;

/// Which template a column shows.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Choice {
    /// The segment's mapped template: `variant` names one of its A/B
    /// variants, or `None` for the variant the member is assigned.
    Mapped { variant: Option<String> },
    /// One template, whatever the segment.
    Template(i64),
}

/// One email of a column: what was rendered for whom, and how it looks.
pub struct ColumnView {
    pub row: usize,
    pub customer_id: i64,
    pub template_id: i64,
    pub template: String,
    /// The A/B variant shown, when the segment has variants.
    pub variant: Option<String>,
    /// Set when, in the mapped content, this member is sent another
    /// segment's email (a segment of higher priority).
    pub receives_instead: Option<String>,
    pub rendered: Rendered,
    /// The member's render context as indented JSON.
    pub context: String,
    /// The QA lint for this member.
    pub findings: Vec<Finding>,
    pub painted: Result<Arc<Painted>, String>,
}

/// A jump target of the member picker: an edge case and the member
/// showing it.
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeCase {
    pub label: String,
    pub row: usize,
}

/// The email side of one workspace, as of one time.
pub struct Preview {
    pub mail: Mail,
    pub paint: PaintCache,
    renderers: Mutex<HashMap<u64, Arc<Renderer>>>,
}

impl Preview {
    pub fn load(path: &Path, engine: Arc<Engine>, as_of: i64) -> Result<Preview, AppError> {
        let store = Store::open_read_only(path)?;
        let mail = Mail::load(&store, engine, as_of).map_err(email_error)?;
        Ok(Preview::new(mail))
    }

    pub fn new(mail: Mail) -> Preview {
        Preview {
            mail,
            paint: PaintCache::new(PAINT_CACHE_BYTES),
            renderers: Mutex::new(HashMap::new()),
        }
    }

    pub fn as_of(&self) -> i64 {
        self.mail.builder.as_of
    }

    /// A segment's members who can be emailed (engine rows, in customer
    /// id order); `None`: every customer. The unreachable are left out, as
    /// from exports and renders.
    pub fn members(&self, segment: Option<i64>) -> Vec<usize> {
        self.members_with(segment, false)
    }

    /// A segment's members, the unreachable too when `include_unreachable`
    /// (an override the caller records).
    pub fn members_with(&self, segment: Option<i64>, include_unreachable: bool) -> Vec<usize> {
        let reach = self.mail.engine.reachable(self.as_of());
        let keep = |i: &usize| include_unreachable || reach.get(*i);
        match segment {
            None => (0..self.mail.engine.data.len()).filter(keep).collect(),
            Some(id) => self
                .mail
                .members_of(id)
                .map(|s| s.iter().filter(keep).collect())
                .unwrap_or_default(),
        }
    }

    /// How many members a segment has, reachable or not.
    pub fn segment_size(&self, segment: Option<i64>) -> usize {
        match segment {
            None => self.mail.engine.data.len(),
            Some(id) => self.mail.members_of(id).map_or(0, |s| s.count()),
        }
    }

    /// The member a search names (workspace id, customer id or email), if
    /// they are in `members`.
    pub fn find_member(&self, members: &[usize], query: &str) -> Result<usize, String> {
        let q = query.trim();
        if q.is_empty() {
            return Err("type a customer id or an email".into());
        }
        let row = self
            .mail
            .builder
            .find(q)
            .ok_or_else(|| format!("no customer {q:?} in this workspace"))?;
        if members.binary_search(&row).is_ok() {
            Ok(row)
        } else if let Some(why) = self.mail.engine.why_unreachable(row, self.as_of()) {
            Err(format!(
                "customer {q:?} cannot be emailed ({why}); include unreachable customers to preview them"
            ))
        } else {
            Err(format!("customer {q:?} is not in this segment"))
        }
    }

    /// A member drawn at random (`seed`: the same seed, the same member).
    pub fn random_member(members: &[usize], seed: u64) -> Option<usize> {
        if members.is_empty() {
            return None;
        }
        let mut rng = Rng::new(seed);
        Some(members[rng.index(members.len())])
    }

    /// The template (and variant name) `row` gets in a column of
    /// `segment` showing `choice`.
    pub fn template_for(
        &self,
        choice: &Choice,
        segment: Option<i64>,
        row: usize,
    ) -> Result<(&Template, Option<String>), AppError> {
        match choice {
            Choice::Template(id) => self
                .mail
                .template_by_id(*id)
                .map(|t| (t, None))
                .ok_or_else(|| AppError::Invalid(format!("no template with id {id}"))),
            Choice::Mapped { variant } => {
                let routes = self.mail.routes();
                let route = self.route(&routes, segment)?;
                let k = match variant {
                    Some(v) => route
                        .variants
                        .iter()
                        .position(|(name, _, _)| name == v)
                        .ok_or_else(|| {
                            AppError::Invalid(format!("{} has no variant {v:?}", route.segment))
                        })?,
                    None => {
                        let weights: Vec<u32> = route.variants.iter().map(|v| v.2).collect();
                        let id = self.mail.engine.data.ids[row];
                        variant_for(id, route.segment_id, &weights)
                    }
                };
                let (name, template_id, _) = &route.variants[k];
                let t = self.mail.template_by_id(*template_id).ok_or_else(|| {
                    AppError::Invalid(format!("the mapped template {template_id} is gone"))
                })?;
                let variant = (route.variants.len() > 1).then(|| name.clone());
                Ok((t, variant))
            }
        }
    }

    fn route<'r>(&self, routes: &'r [Route], segment: Option<i64>) -> Result<&'r Route, AppError> {
        let Some(id) = segment else {
            return Err(AppError::Invalid(
                "all customers have no mapped template: choose a segment or one template".into(),
            ));
        };
        routes.iter().find(|r| r.segment_id == id).ok_or_else(|| {
            let name = self
                .mail
                .segments
                .iter()
                .find(|s| s.id == id)
                .map_or_else(|| format!("segment {id}"), |s| s.name.clone());
            AppError::Invalid(format!(
                "{name} has no mapped template: map one with `prism map`, or choose one template"
            ))
        })
    }

    /// The variants of a segment's mapped template, by name.
    pub fn variants(&self, segment: Option<i64>) -> Vec<String> {
        let routes = self.mail.routes();
        self.route(&routes, segment)
            .map(|r| r.variants.iter().map(|v| v.0.clone()).collect())
            .unwrap_or_default()
    }

    /// The segment whose email `row` is sent in the mapped content (the
    /// highest-priority mapped segment they are in).
    pub fn mapped_segment_of(&self, row: usize) -> Option<&str> {
        let routes = self.mail.routes();
        routes.iter().find_map(|r| {
            self.mail
                .members_of(r.segment_id)
                .filter(|s| s.get(row))
                .and_then(|_| {
                    self.mail
                        .segments
                        .iter()
                        .find(|s| s.id == r.segment_id)
                        .map(|s| s.name.as_str())
                })
        })
    }

    /// `t` compiled with the workspace's partials; compiled once per
    /// content, then shared.
    pub fn renderer(&self, t: &Template) -> Result<Arc<Renderer>, EmailError> {
        let key = template_key(t);
        let mut cache = self
            .renderers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(r) = cache.get(&key) {
            return Ok(r.clone());
        }
        let r = Arc::new(self.mail.renderer(t)?);
        if cache.len() > 64 {
            cache.clear();
        }
        cache.insert(key, r.clone());
        Ok(r)
    }

    /// One member's email in a column: rendered, linted, painted.
    pub fn column(
        &self,
        renderer: &Renderer,
        segment: Option<i64>,
        variant: Option<String>,
        row: usize,
        paint: &PaintOptions,
        progress: &dyn Progress,
    ) -> Result<ColumnView, AppError> {
        let data = self.mail.builder.build(row);
        let context = serde_json::to_string_pretty(&data).unwrap_or_default();
        let rendered = renderer
            .render_with_text(data.clone())
            .map_err(email_error)?;
        let findings = lint::member_findings(renderer, &data, &rendered);
        if progress.is_cancelled() {
            return Err(AppError::Cancelled);
        }
        let painted = match self
            .paint
            .paint(&rendered.html, paint, &|| progress.is_cancelled())
        {
            Err(PaintError::Cancelled) => return Err(AppError::Cancelled),
            other => other.map_err(|e| e.to_string()),
        };
        let own = segment.and_then(|id| {
            self.mail
                .segments
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.name.as_str())
        });
        let receives_instead = match (own, self.mapped_segment_of(row)) {
            (Some(own), Some(sent)) if own != sent => Some(sent.to_string()),
            _ => None,
        };
        Ok(ColumnView {
            row,
            customer_id: self.mail.engine.data.ids[row],
            template_id: renderer.template.id,
            template: renderer.template.name.clone(),
            variant,
            receives_instead,
            rendered,
            context,
            findings,
            painted,
        })
    }

    /// The QA lint of a template over a segment's members, with progress.
    pub fn lint_segment(
        &self,
        renderer: &Renderer,
        members: &[usize],
        progress: &dyn Progress,
    ) -> LintReport {
        lint::lint(
            renderer,
            &self.mail.builder,
            members,
            &self.mail.shape,
            progress,
        )
    }

    /// Edge cases among `members` for the picker's "jump to": a fallback
    /// first name, an empty cart, no recommendations, no orders, and one
    /// member for each side of every branch (from a segment lint).
    pub fn edge_cases(
        &self,
        members: &[usize],
        report: Option<&LintReport>,
        progress: &dyn Progress,
    ) -> Vec<EdgeCase> {
        let mut out: Vec<EdgeCase> = lint::edge_cases(&self.mail.builder, members, progress)
            .into_iter()
            .filter_map(|(label, row)| {
                row.map(|row| EdgeCase {
                    label: label.to_string(),
                    row,
                })
            })
            .collect();
        if let Some(report) = report {
            for b in &report.branches {
                let cond = format!("{{{{#{} {}}}}}", b.helper, b.condition);
                let (yes, no) = if b.helper == "unless" {
                    (b.else_example, b.then_example)
                } else {
                    (b.then_example, b.else_example)
                };
                let other = match b.helper.as_str() {
                    "each" => "empty",
                    _ if b.has_inverse => "{{else}}",
                    _ => "false",
                };
                for (row, side) in [(yes, "true"), (no, other)] {
                    let side = if b.helper == "each" && side == "true" {
                        "has items"
                    } else {
                        side
                    };
                    if let Some(row) = row {
                        out.push(EdgeCase {
                            label: format!("{cond}: {side} (line {})", b.pos.line),
                            row,
                        });
                    }
                }
            }
        }
        out
    }
}

/// A template's content, as a cache key.
pub fn template_key(t: &Template) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        t.id,
        &t.name,
        &t.subject,
        &t.preheader,
        &t.from_name,
        &t.from_address,
        &t.body,
        &t.text_body,
    )
        .hash(&mut h);
    h.finish()
}

fn email_error(e: EmailError) -> AppError {
    AppError::Invalid(e.to_string())
}

/// The member a column shows first: the first in customer id order.
pub fn first_member(members: &[usize]) -> Option<usize> {
    members.first().copied()
}
