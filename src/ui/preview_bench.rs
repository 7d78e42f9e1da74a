//! `prism bench preview`: the Preview screen driven headless, frame by
//! frame, on a real workspace. What it times:
//!
//! - `switch_member_*`: from pressing Next (a member not shown before, so
//!   nothing is cached) to the new image's textures on screen, one column
//!   of every customer at desktop width, per starter template, once the
//!   segment's lint has finished; frames are paced at 60 Hz, so a figure
//!   is a whole number of frames;
//! - `keystroke_to_4_columns`: from a keystroke in the email's heading (so
//!   every column must render and paint again) to all four columns showing
//!   it, the typing pause included;
//! - `frame_while_rendering`: each frame's CPU time (layout and
//!   tessellation) while those renders run;
//! - `paint_*`: the HTML engine alone, at desktop width, per starter.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::app::{AppOptions, PrismApp, Settings};
use super::bench::{Driver, p};
use super::preview::{Column, Mode};
use crate::app::Screen;
use crate::email::export::slug;
use crate::email::starter::starter_templates;
use crate::paint::{PaintOptions, html_to_image};

/// Every column with members shows its email for the time asked.
fn loaded(a: &PrismApp) -> bool {
    a.preview
        .preview
        .as_ref()
        .is_some_and(|p| p.as_of() == a.segments.as_of())
        && !a.preview.columns.is_empty()
        && a.preview
            .columns
            .iter()
            .all(|c| c.members.is_empty() || (!c.running && c.shown.is_some()))
}

pub fn run(workspace: PathBuf, switches: usize, keystrokes: usize) -> Result<(), String> {
    let mut d = Driver {
        ctx: egui::Context::default(),
        app: PrismApp::new(
            AppOptions {
                workspace: Some(workspace.clone()),
                screen: Some(Screen::Preview),
                data_dir: std::env::temp_dir().join("prism-bench"),
                exit_after_shown: false,
                import: None,
                demo: false,
                started: Instant::now(),
            },
            Settings::default(),
        ),
        frames: Vec::new(),
    };
    let started = Instant::now();
    d.run_until("the workspace", Duration::from_secs(600), |a| {
        a.workspace.is_some()
    })?;
    // Evaluated as of the end of the workspace's data (a generated one ends
    // in the past), as its segments were designed.
    if let Some((_, last)) = d.app.workspace.as_ref().and_then(|w| w.event_range) {
        d.app.segments.live_as_of = last + 1;
    }
    d.run_until("the preview", Duration::from_secs(900), loaded)?;
    println!("workspace = {}", workspace.display());
    println!(
        "open_to_first_previews = {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let preview = d.app.preview.preview.clone().ok_or("no preview")?;
    let starters: Vec<(i64, String)> = starter_templates(0)
        .iter()
        .filter_map(|s| {
            preview
                .mail
                .templates
                .iter()
                .find(|t| t.name == s.name)
                .map(|t| (t.id, t.name.clone()))
        })
        .collect();
    if starters.is_empty() {
        return Err("the workspace has none of the starter templates".into());
    }
    let everyone = preview.members(None);
    let mut busy = Vec::new();

    // Member switches, one column of everyone, per starter template.
    for (id, name) in &starters {
        d.app.preview.mode = Some(Mode::Template(*id));
        d.app.preview.columns = vec![Column::new(None, everyone.clone())];
        // Start in the middle of the workspace: members not shown before.
        d.app.preview.columns[0].position = everyone.len() / 3;
        d.run_until("the first image", Duration::from_secs(60), loaded)?;
        // The segment's lint (over every customer) runs once per template;
        // the switches are timed after it, as a QA stepping through
        // members sees them.
        d.run_until("the segment lint", Duration::from_secs(300), |a| {
            a.jobs.is_idle()
        })?;
        let mut times = Vec::new();
        for _ in 0..switches {
            let c = &mut d.app.preview.columns[0];
            if c.position + 1 >= c.members.len() {
                break;
            }
            let t0 = Instant::now();
            c.position += 1;
            d.frames.clear();
            d.run_until("the next member's image", Duration::from_secs(60), |a| {
                let c = &a.preview.columns[0];
                loaded(a)
                    && !c.textures.is_empty()
                    && c.shown.as_ref().map(|s| s.request.row) == c.row()
            })?;
            times.push(t0.elapsed().as_secs_f64() * 1000.0);
            busy.append(&mut d.frames);
        }
        let slug = slug(name).replace('-', "_");
        println!("switch_member_samples_{slug} = {}", times.len());
        println!(
            "switch_member_p50_{slug} = {:.1} ms",
            p(&mut times.clone(), 50.0)
        );
        println!("switch_member_p95_{slug} = {:.1} ms", p(&mut times, 95.0));
    }

    // Keystrokes in the editor, four columns of one template.
    let (id, name) = starters
        .iter()
        .find(|(_, n)| n == "Newsletter")
        .cloned()
        .unwrap_or_else(|| starters[0].clone());
    d.app.preview.mode = Some(Mode::Template(id));
    let segments: Vec<i64> = preview
        .mail
        .segments
        .iter()
        .map(|s| s.id)
        .filter(|&s| !preview.members(Some(s)).is_empty())
        .take(4)
        .collect();
    d.app.preview.columns = segments
        .iter()
        .map(|&s| Column::new(Some(s), preview.members(Some(s))))
        .collect();
    while d.app.preview.columns.len() < 4 {
        d.app
            .preview
            .columns
            .push(Column::new(None, everyone.clone()));
    }
    d.app.preview.editor.set_open(true, &preview, Some(id));
    d.run_until("four columns", Duration::from_secs(120), loaded)?;
    d.run_until("background work to finish", Duration::from_secs(300), |a| {
        a.jobs.is_idle()
    })?;
    let mut typing = Vec::new();
    for k in 0..keystrokes {
        // A character typed into the heading: every column's email
        // changes, so every image is painted anew (no cache hit).
        let text = &mut d.app.preview.editor.text;
        let Some(at) = text.find("title=\"").map(|a| a + "title=\"".len()) else {
            return Err(format!("{name} has no heading to type into"));
        };
        let ch = (b'a' + (k % 26) as u8) as char;
        text.insert(at, ch);
        let t0 = Instant::now();
        d.app.preview.editor.edited_at = Some(t0);
        d.frames.clear();
        d.run_until("four columns re-rendered", Duration::from_secs(60), |a| {
            let key = a.preview.editor.draft.as_ref().map(|d| d.1);
            a.preview.editor.edited_at.is_none()
                && key.is_some()
                && a.preview.columns.iter().all(|c| {
                    !c.running
                        && !c.textures.is_empty()
                        && c.shown.as_ref().is_some_and(|s| s.request.draft == key)
                })
        })?;
        typing.push(t0.elapsed().as_secs_f64() * 1000.0);
        busy.append(&mut d.frames);
    }
    println!("keystroke_samples = {}", typing.len());
    println!(
        "keystroke_to_4_columns_p50 = {:.1} ms",
        p(&mut typing.clone(), 50.0)
    );
    println!(
        "keystroke_to_4_columns_p95 = {:.1} ms",
        p(&mut typing, 95.0)
    );
    println!("frames_while_rendering = {}", busy.len());
    println!(
        "frame_while_rendering_p50 = {:.2} ms",
        p(&mut busy.clone(), 50.0)
    );
    println!(
        "frame_while_rendering_p95 = {:.2} ms",
        p(&mut busy.clone(), 95.0)
    );
    println!("frame_while_rendering_max = {:.2} ms", p(&mut busy, 100.0));

    // The HTML engine alone, once nothing else runs: each starter for 30
    // members, desktop width.
    d.run_until("background work to finish", Duration::from_secs(300), |a| {
        a.jobs.is_idle()
    })?;
    for (id, name) in &starters {
        let t = preview.mail.template_by_id(*id).ok_or("template gone")?;
        let r = preview.renderer(t).map_err(|e| e.to_string())?;
        let mut times = Vec::new();
        let mut height = 0;
        for &row in everyone
            .iter()
            .step_by((everyone.len() / 30).max(1))
            .take(30)
        {
            let html = r
                .render(preview.mail.builder.build(row))
                .map_err(|e| e.to_string())?
                .html;
            let t0 = Instant::now();
            let painted =
                html_to_image(&html, &PaintOptions::default()).map_err(|e| e.to_string())?;
            times.push(t0.elapsed().as_secs_f64() * 1000.0);
            height = painted.css_height;
        }
        let slug = slug(name).replace('-', "_");
        println!("paint_p50_{slug} = {:.1} ms", p(&mut times.clone(), 50.0));
        println!("paint_p95_{slug} = {:.1} ms", p(&mut times, 95.0));
        println!("paint_height_{slug} = {height} px");
    }
    Ok(())
}
