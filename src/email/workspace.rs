//! Everything email work needs from one workspace, loaded once: the
//! engine, templates, partials, the content map and a context builder as
//! of one time.

use std::collections::HashMap;
use std::sync::Arc;

use crate::engine::{Bitset, Engine, Schema, schema_of};
use crate::model::{MapEntry, SegmentRecord, Template};
use crate::store::Store;

use super::EmailError;
use super::context::ContextBuilder;
use super::mapping::{self, Assignment, Route};
use super::render::Renderer;
use super::shape::{Shape, context_shape};

/// Templates whose name starts with this are partials (`partial:header`
/// overrides the built-in header).
pub const PARTIAL_PREFIX: &str = "partial:";

pub struct Mail {
    pub engine: Arc<Engine>,
    pub schema: Schema,
    pub builder: ContextBuilder,
    /// Email templates (partials excluded), by id.
    pub templates: Vec<Template>,
    /// Workspace partials by name.
    pub partials: HashMap<String, String>,
    pub map: Vec<MapEntry>,
    /// Saved segments in priority order.
    pub segments: Vec<SegmentRecord>,
    pub shape: Shape,
}

impl Mail {
    pub fn load(store: &Store, engine: Arc<Engine>, as_of: i64) -> Result<Mail, EmailError> {
        let schema = schema_of(store)?;
        let builder = ContextBuilder::new(store, engine.clone(), &schema, as_of)?;
        let mut templates = Vec::new();
        let mut partials = HashMap::new();
        for t in store.templates()? {
            match t.name.strip_prefix(PARTIAL_PREFIX) {
                Some(p) => {
                    partials.insert(p.to_string(), t.body.clone());
                }
                None => templates.push(t),
            }
        }
        let mut segments = store.segments()?;
        segments.sort_by_key(|s| (s.priority, s.id));
        let shape = context_shape(&engine.data.fields);
        Ok(Mail {
            engine,
            schema,
            builder,
            templates,
            partials,
            map: store.content_map()?,
            segments,
            shape,
        })
    }

    /// A template by name (case-insensitive) or id.
    pub fn template(&self, which: &str) -> Result<&Template, EmailError> {
        let w = which.trim();
        self.templates
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(w))
            .or_else(|| {
                w.parse::<i64>()
                    .ok()
                    .and_then(|id| self.templates.iter().find(|t| t.id == id))
            })
            .ok_or_else(|| {
                let names: Vec<&str> = self.templates.iter().map(|t| t.name.as_str()).collect();
                EmailError::Invalid(format!(
                    "no template named {w:?} (templates: {})",
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                ))
            })
    }

    pub fn template_by_id(&self, id: i64) -> Option<&Template> {
        self.templates.iter().find(|t| t.id == id)
    }

    /// Compiles a template with the workspace's partials.
    pub fn renderer(&self, t: &Template) -> Result<Renderer, EmailError> {
        Renderer::new(t, &self.partials).map_err(|findings| EmailError::Template {
            template: t.name.clone(),
            findings,
        })
    }

    /// A saved segment by name (case-insensitive).
    pub fn segment(&self, name: &str) -> Result<&SegmentRecord, EmailError> {
        let n = name.trim();
        self.segments
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(n))
            .ok_or_else(|| {
                let names: Vec<&str> = self.segments.iter().map(|s| s.name.as_str()).collect();
                EmailError::Invalid(format!(
                    "no segment named {n:?} (segments: {})",
                    names.join(", ")
                ))
            })
    }

    /// A segment's member set, as of the builder's time.
    pub fn members_of(&self, segment_id: i64) -> Option<&Arc<Bitset>> {
        self.builder
            .segments
            .iter()
            .find(|(id, _, _)| *id == segment_id)
            .map(|(_, _, s)| s)
    }

    pub fn routes(&self) -> Vec<Route> {
        mapping::routes(&self.map, &self.segments)
    }

    /// Who gets which mapped template, by segment priority.
    pub fn assignments(&self, routes: &[Route]) -> Vec<Assignment> {
        let empty = Arc::new(Bitset::empty(self.engine.data.len()));
        let sets: Vec<&Bitset> = routes
            .iter()
            .map(|r| self.members_of(r.segment_id).unwrap_or(&empty).as_ref())
            .collect();
        mapping::assign(routes, &sets, &self.engine.data.ids)
    }
}
