//! Changes to email templates, one transaction each: `prism template add`
//! and the Preview screen's editor both save through [`save`].

use std::collections::HashMap;

use crate::email::workspace::PARTIAL_PREFIX;
use crate::email::{EmailError, Renderer};
use crate::model::Template;
use crate::store::Store;

/// Saves `t` as a new version of the template of the same name (or a new
/// template), after checking that it renders with the workspace's
/// partials: a template with a syntax error, an unknown helper, a missing
/// partial or unescaped output is not saved, and the findings say where.
/// A template named `partial:NAME` is a partial. Returns the template's id
/// and the new version.
pub fn save(store: &mut Store, mut t: Template, note: &str) -> Result<(i64, i64), EmailError> {
    let existing = store.templates()?;
    t.id = existing
        .iter()
        .find(|o| o.name.eq_ignore_ascii_case(&t.name))
        .map_or(0, |o| o.id);
    let mut partials: HashMap<String, String> = existing
        .iter()
        .filter_map(|o| {
            o.name
                .strip_prefix(PARTIAL_PREFIX)
                .map(|n| (n.to_string(), o.body.clone()))
        })
        .collect();
    let check = match t.name.strip_prefix(PARTIAL_PREFIX) {
        Some(p) => {
            partials.insert(p.to_string(), t.body.clone());
            Renderer::new(&Template::default(), &partials)
        }
        None => Renderer::new(&t, &partials),
    };
    if let Err(findings) = check {
        return Err(EmailError::Template {
            template: t.name.clone(),
            findings,
        });
    }
    Ok(store.transaction(|s| s.save_template(&t, note))?)
}
