//! Rendered emails to disk: a folder per segment with one `.html`, `.eml`
//! or `.txt` file per member, or one CSV of subject lines. Everything is
//! written into a temporary sibling and renamed into place when complete,
//! so a half-written export never exists under the name asked for.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value as Json;

use super::EmailError;
use super::context::ContextBuilder;
use super::render::{Rendered, Renderer};
use crate::progress::Progress;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Html,
    Eml,
    Text,
    /// One CSV: customer, segment, variant, template, subject, preheader.
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "html" => Some(Format::Html),
            "eml" => Some(Format::Eml),
            "text" | "txt" => Some(Format::Text),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    pub fn ext(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Eml => "eml",
            Format::Text => "txt",
            Format::Csv => "csv",
        }
    }
}

/// One email to write: which renderer, for which member, filed where.
#[derive(Clone, Debug)]
pub struct Unit {
    pub renderer: usize,
    pub row: usize,
    /// The folder (the segment's name) and variant.
    pub segment: String,
    pub variant: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    pub files: usize,
    pub bytes: u64,
}

/// `Recent high-value buyers` → `recent-high-value-buyers`.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "segment".into()
    } else {
        out.chars().take(80).collect()
    }
}

fn file_stem(external_id: &str, id: i64) -> String {
    let s: String = external_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() {
        format!("customer-{id}")
    } else {
        s
    }
}

/// An `.eml` message: multipart/alternative with text and HTML parts,
/// UTF-8 headers, dated `date`.
pub fn eml(r: &Rendered, to: Option<&str>, date: i64, message_id: &str) -> Result<Vec<u8>, String> {
    let text = r.text.clone().unwrap_or_default();
    let mut m = mail_builder::MessageBuilder::new()
        .from((r.from_name.as_str(), r.from_address.as_str()))
        .subject(r.subject.as_str())
        .date(date)
        .message_id(message_id.to_string())
        .text_body(text)
        .html_body(r.html.as_str());
    if let Some(to) = to {
        m = m.to(to);
    }
    if !r.preheader.is_empty() {
        m = m.header(
            "X-Preheader",
            mail_builder::headers::text::Text::new(r.preheader.clone()),
        );
    }
    m.write_to_vec().map_err(|e| e.to_string())
}

fn csv_field(s: &str) -> String {
    crate::model::text::csv_field(s)
}

/// Where the finished export goes must be free: a missing path, an empty
/// folder, or (with `force`) anything, which is replaced only once the
/// new export is complete.
fn check_target(out: &Path, force: bool) -> Result<(), EmailError> {
    match std::fs::metadata(out) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => {
            let empty = std::fs::read_dir(out)
                .map_err(|e| EmailError::io(out, e))?
                .next()
                .is_none();
            if empty || force {
                Ok(())
            } else {
                Err(EmailError::Invalid(format!(
                    "{} exists and is not empty; choose a new folder or pass --force to replace it",
                    out.display()
                )))
            }
        }
        Ok(_) if force => Ok(()),
        Ok(_) => Err(EmailError::Invalid(format!(
            "{} exists; choose a new name or pass --force to replace it",
            out.display()
        ))),
    }
}

fn temp_sibling(out: &Path) -> PathBuf {
    let name = out.file_name().and_then(|n| n.to_str()).unwrap_or("export");
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parent.join(format!(".{name}.partial-{}", std::process::id()))
}

/// Moves the finished temporary export into place.
fn publish(tmp: &Path, out: &Path) -> Result<(), EmailError> {
    if std::fs::symlink_metadata(out).is_ok() {
        let old = temp_sibling(out).with_extension("old");
        std::fs::rename(out, &old).map_err(|e| EmailError::io(out, e))?;
        if let Err(e) = std::fs::rename(tmp, out) {
            let _ = std::fs::rename(&old, out);
            return Err(EmailError::io(out, e));
        }
        if old.is_dir() {
            let _ = std::fs::remove_dir_all(&old);
        } else {
            let _ = std::fs::remove_file(&old);
        }
        return Ok(());
    }
    std::fs::rename(tmp, out).map_err(|e| EmailError::io(out, e))
}

struct Cleanup(PathBuf);
impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.0.is_dir() {
            let _ = std::fs::remove_dir_all(&self.0);
        } else {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// Records an export of `emails` emails in `format` to `to` in the
/// audit log of `workspace`.
pub fn record_export(
    workspace: &Path,
    format: Format,
    emails: usize,
    to: &Path,
) -> Result<(), crate::store::StoreError> {
    let detail = serde_json::json!({
        "what": "emails", "format": format!("{format:?}").to_lowercase(),
        "emails": emails, "to": to.display().to_string(),
    });
    crate::store::Store::audit(workspace, "export", &detail)
}

/// Renders and writes `units`. Two threads; progress; cancel leaves
/// nothing behind.
pub fn export(
    builder: &ContextBuilder,
    renderers: &[Renderer],
    units: &[Unit],
    out: &Path,
    format: Format,
    force: bool,
    progress: &dyn Progress,
) -> Result<ExportStats, EmailError> {
    check_target(out, force)?;
    let tmp = temp_sibling(out);
    let _ = std::fs::remove_dir_all(&tmp);
    let _ = std::fs::remove_file(&tmp);
    let guard = Cleanup(tmp.clone());
    let stats = if format == Format::Csv {
        write_csv(builder, renderers, units, &tmp, progress)?
    } else {
        write_files(builder, renderers, units, &tmp, format, progress)?
    };
    // A cancel that arrives while the last files are written still wins:
    // the old export stays as it was.
    if progress.is_cancelled() {
        return Err(EmailError::Cancelled);
    }
    publish(&tmp, out)?;
    std::mem::forget(guard);
    Ok(stats)
}

fn member_ids(ctx: &Json) -> (i64, String, Option<String>) {
    (
        ctx["id"].as_i64().unwrap_or_default(),
        ctx["external_id"].as_str().unwrap_or_default().to_string(),
        ctx["email"].as_str().map(str::to_string),
    )
}

fn write_csv(
    builder: &ContextBuilder,
    renderers: &[Renderer],
    units: &[Unit],
    tmp: &Path,
    progress: &dyn Progress,
) -> Result<ExportStats, EmailError> {
    let file = std::fs::File::create(tmp).map_err(|e| EmailError::io(tmp, e))?;
    let mut w = std::io::BufWriter::new(file);
    let io = |e| EmailError::io(tmp, e);
    writeln!(
        w,
        "customer_id,external_id,email,segment,variant,template,subject,preheader"
    )
    .map_err(io)?;
    let mut stats = ExportStats::default();
    for (k, u) in units.iter().enumerate() {
        if k % 1000 == 0 {
            if progress.is_cancelled() {
                return Err(EmailError::Cancelled);
            }
            progress.report(
                k as f32 / units.len().max(1) as f32,
                &format!("{k} of {} subjects", units.len()),
            );
        }
        let r = &renderers[u.renderer];
        let ctx = builder.build_for(u.row, r.needs);
        let (id, ext, email) = member_ids(&ctx);
        let hb = handlebars::Context::from(ctx);
        let out = r.render_ctx(&hb)?;
        writeln!(
            w,
            "{id},{},{},{},{},{},{},{}",
            csv_field(&ext),
            csv_field(email.as_deref().unwrap_or("")),
            csv_field(&u.segment),
            csv_field(&u.variant),
            csv_field(&r.template.name),
            csv_field(&out.subject),
            csv_field(&out.preheader)
        )
        .map_err(io)?;
        stats.files += 1;
    }
    w.flush().map_err(io)?;
    w.get_ref().sync_all().map_err(io)?;
    stats.bytes = std::fs::metadata(tmp).map(|m| m.len()).unwrap_or(0);
    Ok(stats)
}

fn write_files(
    builder: &ContextBuilder,
    renderers: &[Renderer],
    units: &[Unit],
    tmp: &Path,
    format: Format,
    progress: &dyn Progress,
) -> Result<ExportStats, EmailError> {
    std::fs::create_dir_all(tmp).map_err(|e| EmailError::io(tmp, e))?;
    // Names are chosen up front (one thread), so they are the same on
    // every run whatever the thread timing.
    let mut folders: HashSet<String> = HashSet::new();
    let mut taken: HashSet<(String, String)> = HashSet::new();
    let data = &builder.engine().data;
    let ext_col = data.column("external_id").map(|(_, c)| c);
    let names: Vec<PathBuf> = units
        .iter()
        .map(|u| {
            let mut folder = slug(&u.segment);
            if !u.variant.is_empty() {
                folder = format!("{folder}/{}", slug(&u.variant));
            }
            folders.insert(folder.clone());
            let id = data.ids[u.row];
            let ext = ext_col
                .and_then(|c| c.display(u.row, crate::model::FieldType::Text))
                .unwrap_or_default();
            let mut stem = file_stem(&ext, id);
            if !taken.insert((folder.clone(), stem.clone())) {
                stem = format!("{stem}-{id}");
                taken.insert((folder.clone(), stem.clone()));
            }
            tmp.join(folder).join(format!("{stem}.{}", format.ext()))
        })
        .collect();
    for f in &folders {
        let p = tmp.join(f);
        std::fs::create_dir_all(&p).map_err(|e| EmailError::io(&p, e))?;
    }
    let n = units.len();
    let done = AtomicUsize::new(0);
    let bytes = AtomicUsize::new(0);
    let threads = if n >= 200 { 2 } else { 1 };
    let chunk = n.div_ceil(threads).max(1);
    let as_of = builder.as_of;
    let domain = builder
        .shop_url()
        .split("://")
        .nth(1)
        .unwrap_or("prism.local")
        .split('/')
        .next()
        .unwrap_or("prism.local")
        .to_string();
    let results: Vec<Result<(), EmailError>> = std::thread::scope(|s| {
        let handles: Vec<_> = units
            .chunks(chunk)
            .zip(names.chunks(chunk))
            .enumerate()
            .map(|(t, (us, ns))| {
                let (done, bytes, domain) = (&done, &bytes, &domain);
                s.spawn(move || -> Result<(), EmailError> {
                    for (k, (u, path)) in us.iter().zip(ns).enumerate() {
                        if k % 256 == 0 {
                            if progress.is_cancelled() {
                                return Err(EmailError::Cancelled);
                            }
                            let d = done.fetch_add(256.min(us.len() - k), Ordering::Relaxed);
                            if t == 0 {
                                progress.report(d as f32 / n as f32, &format!("{d} of {n} emails"));
                            }
                        }
                        let r = &renderers[u.renderer];
                        let ctx = builder.build_for(u.row, r.needs);
                        let (id, _, email) = member_ids(&ctx);
                        let body: Vec<u8> = match format {
                            Format::Html => r.render(ctx)?.html.into_bytes(),
                            Format::Text => r
                                .render_with_text(ctx)?
                                .text
                                .unwrap_or_default()
                                .into_bytes(),
                            _ => {
                                let out = r.render_with_text(ctx)?;
                                let mid = format!("{id}.{}.{as_of}@{domain}", r.template.id);
                                eml(&out, email.as_deref(), as_of, &mid)
                                    .map_err(|e| EmailError::io(path, e))?
                            }
                        };
                        bytes.fetch_add(body.len(), Ordering::Relaxed);
                        std::fs::write(path, &body).map_err(|e| EmailError::io(path, e))?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(EmailError::Invalid("an export thread failed".into())))
            })
            .collect()
    });
    for r in results {
        r?;
    }
    progress.report(1.0, "done");
    Ok(ExportStats {
        files: n,
        bytes: bytes.load(Ordering::Relaxed) as u64,
    })
}
