//! `prism snapshot`: the image the Preview screen shows, as a PNG file,
//! for QA scripts, visual regression in a CI pipeline and bug reports.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::CliError;
use super::email::read_template_file;
use super::segments::load_engine;
use crate::app::preview::{Choice, Preview, first_member};
use crate::email::Mail;
use crate::paint::{self, DESKTOP_WIDTH, PaintOptions, Painted};
use crate::store::Store;

#[derive(Args, Debug)]
pub struct SnapshotArgs {
    /// The workspace (not needed with --html).
    pub workspace: Option<PathBuf>,
    /// Render this template.
    #[arg(long, conflicts_with_all = ["mapped", "html"])]
    pub template: Option<String>,
    /// Render the segment's mapped template (the variant the member gets,
    /// or --variant).
    #[arg(long, requires = "segment", conflicts_with = "html")]
    pub mapped: bool,
    /// One of the mapped template's A/B variants.
    #[arg(long, requires = "mapped")]
    pub variant: Option<String>,
    /// For this customer: workspace id, customer id or email.
    #[arg(long, conflicts_with = "segment")]
    pub customer: Option<String>,
    /// For the member of this segment the Preview shows first (the
    /// first by customer id), or --customer within it.
    #[arg(long)]
    pub segment: Option<String>,
    /// An HTML file instead of a template (images beside it are shown).
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Layout width in CSS pixels (375 for a phone).
    #[arg(long, default_value_t = DESKTOP_WIDTH)]
    pub width: u32,
    /// Paint with `prefers-color-scheme: dark`.
    #[arg(long)]
    pub dark: bool,
    /// Device pixels per CSS pixel (2 for a high-density screen).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f32,
    /// The PNG file to write.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub as_of: Option<String>,
}

pub fn snapshot(args: SnapshotArgs) -> Result<(), CliError> {
    if !(100..=4000).contains(&args.width) {
        return Err(CliError::new(
            2,
            format!(
                "--width {}: use a width from 100 to 4000 pixels",
                args.width
            ),
        ));
    }
    if !(args.scale > 0.0 && args.scale <= 4.0) {
        return Err(CliError::new(
            2,
            format!("--scale {}: use a scale above 0, at most 4", args.scale),
        ));
    }
    let mut opts = PaintOptions {
        width: args.width,
        dark: args.dark,
        scale: args.scale,
        base_dir: None,
    };
    let painted = if let Some(file) = &args.html {
        let html = read_template_file(file)?;
        opts.base_dir = file.parent().map(Path::to_path_buf);
        paint::html_to_image(&html, &opts).map_err(|e| CliError::new(1, e.to_string()))?
    } else {
        let Some(workspace) = &args.workspace else {
            return Err(CliError::new(
                2,
                "name a workspace, or an HTML file with --html",
            ));
        };
        workspace_snapshot(workspace, &args, &opts)?
    };
    write_png_atomically(&painted, &args.out)?;
    println!(
        "size = {} x {} px",
        painted.image.width, painted.image.height
    );
    println!("blocked_images = {}", painted.blocked.len());
    if let Some(cut) = &painted.cut {
        println!("note = {cut}");
    }
    Ok(())
}

fn workspace_snapshot(
    workspace: &Path,
    args: &SnapshotArgs,
    opts: &PaintOptions,
) -> Result<Painted, CliError> {
    if args.template.is_none() && !args.mapped {
        return Err(CliError::new(
            2,
            "choose the email: --template NAME, or --mapped with --segment",
        ));
    }
    if args.customer.is_none() && args.segment.is_none() {
        return Err(CliError::new(
            2,
            "choose whose email: --customer ID or --segment NAME",
        ));
    }
    let as_of = super::parse_as_of_or_now(args.as_of.clone())?;
    let store = Store::open_read_only(workspace)?;
    let engine = Arc::new(load_engine(&store)?);
    let preview = Preview::new(Mail::load(&store, engine, as_of)?);
    let choice = match &args.template {
        Some(name) => Choice::Template(preview.mail.template(name)?.id),
        None => Choice::Mapped {
            variant: args.variant.clone(),
        },
    };
    let segment = match &args.segment {
        Some(name) => Some(preview.mail.segment(name)?.id),
        None => None,
    };
    let row =
        match (&args.customer, segment) {
            (Some(who), None) => preview.mail.builder.find(who).ok_or_else(|| {
                CliError::new(2, format!("no customer {who:?} in this workspace"))
            })?,
            (Some(who), Some(_)) => {
                let members = preview.members(segment);
                preview
                    .find_member(&members, who)
                    .map_err(|e| CliError::new(2, e))?
            }
            (None, _) => first_member(&preview.members(segment)).ok_or_else(|| {
                CliError::new(
                    2,
                    format!(
                        "{} has no members who can be emailed",
                        args.segment.as_deref().unwrap_or("the workspace")
                    ),
                )
            })?,
        };
    let (template, variant) = preview.template_for(&choice, segment, row)?;
    let renderer = preview.renderer(template)?;
    let view = preview.column(
        &renderer,
        segment,
        variant.clone(),
        row,
        opts,
        &crate::progress::NoProgress,
    )?;
    println!(
        "member = {}",
        preview.mail.engine.data.ids.get(row).copied().unwrap_or(0)
    );
    println!(
        "template = {}{}",
        view.template,
        variant
            .map(|v| format!(" (variant {v})"))
            .unwrap_or_default()
    );
    println!("subject = {}", view.rendered.subject);
    let painted = view.painted.map_err(|e| CliError::new(1, e))?;
    Ok(Arc::unwrap_or_clone(painted))
}

/// Writes the PNG beside its place and renames it there: a failed write
/// leaves no half-written image.
fn write_png_atomically(painted: &Painted, out: &Path) -> Result<(), CliError> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .ok_or_else(|| CliError::new(2, format!("{}: not a file name", out.display())))?;
    let tmp = dir.join(format!(".{}.part", name.to_string_lossy()));
    painted
        .image
        .write_png(&tmp)
        .map_err(|e| CliError::new(1, e.to_string()))?;
    std::fs::rename(&tmp, out).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::new(1, format!("{}: {e}", out.display()))
    })
}
