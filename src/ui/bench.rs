//! `prism bench ui`: the Segments screen driven headless, frame by frame,
//! on a real workspace: time from an edit to its count on screen, and frame
//! times (layout and tessellation) while counts compute.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use super::app::{AppOptions, PrismApp, Settings};
use super::segments::tree::{TreeAction, apply};
use crate::app::Screen;
use crate::engine::edit::{addresses, node_at};
use crate::engine::rule::Node;

pub(crate) fn p(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((q / 100.0) * (v.len() - 1) as f64).round() as usize]
}

pub(crate) struct Driver {
    pub ctx: egui::Context,
    pub app: PrismApp,
    pub frames: Vec<f64>,
}

impl Driver {
    /// One frame, paced like a 60 Hz display; returns its CPU time in ms.
    pub fn frame(&mut self) -> f64 {
        let started = Instant::now();
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(1600.0, 1000.0),
            )),
            ..Default::default()
        };
        let app = &mut self.app;
        let out = self.ctx.run_ui(input, |ui| app.ui_root(ui));
        let _ = self.ctx.tessellate(out.shapes, out.pixels_per_point);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if let Some(rest) = Duration::from_millis(16).checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
        ms
    }

    pub fn run_until(
        &mut self,
        what: &str,
        limit: Duration,
        done: impl Fn(&PrismApp) -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        while !done(&self.app) {
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for {what}"));
            }
            let ms = self.frame();
            self.frames.push(ms);
        }
        Ok(())
    }
}

/// The first leaf with a numeric value, and that value.
fn numeric_leaf(root: &Node) -> Option<(Vec<usize>, f64)> {
    addresses(root).into_iter().find_map(|a| {
        let v = match node_at(root, &a)? {
            Node::Event(e) => e.value.as_f64(),
            Node::Profile(p) => p.value.as_f64(),
            Node::Trait(t) => t.value.as_f64(),
            _ => None,
        }?;
        Some((a, v))
    })
}

pub fn run(workspace: PathBuf, segment: Option<String>, edits: usize) -> Result<(), String> {
    let mut d = Driver {
        ctx: egui::Context::default(),
        app: PrismApp::new(
            AppOptions {
                workspace: Some(workspace.clone()),
                screen: Some(Screen::Segments),
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
    d.run_until("the engine", Duration::from_secs(600), |a| {
        a.engine.is_some()
    })?;
    let loaded = started.elapsed();
    if let Some(name) = segment {
        let id = d
            .app
            .segments
            .saved
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.id)
            .ok_or_else(|| format!("no segment named {name:?}"))?;
        d.app.segments.open(id);
    }
    d.run_until("the first count", Duration::from_secs(120), |a| {
        a.segments.eval.shown > 0
    })?;
    let loaded_to_count = started.elapsed();
    // Then whatever else opening started (saved counts, email sends).
    d.run_until("the jobs of opening", Duration::from_secs(600), |a| {
        a.jobs.is_idle()
    })?;
    d.frames.clear();

    let v0 = d
        .app
        .segments
        .draft()
        .and_then(|x| numeric_leaf(&x.history.rule.root))
        .map(|(_, v)| v)
        .ok_or("the segment has no condition with a number to edit")?;
    let mut clicks = Vec::new();
    let mut typing = Vec::new();
    let mut busy_frames = Vec::new();
    for k in 0..edits.max(1) {
        let root = d.app.segments.draft().map(|x| x.history.rule.root.clone());
        let Some((addr, _)) = root.as_ref().and_then(numeric_leaf) else {
            return Err("the segment has no condition with a number to edit".into());
        };
        let mut node = node_at(root.as_ref().unwrap(), &addr).unwrap().clone();
        // A value never used before: every edit is a new leaf for the
        // engine to compute, never a cache hit.
        let new = json!(v0 + 0.5 + k as f64 * 1e-3);
        match &mut node {
            Node::Event(e) => e.value = new,
            Node::Profile(p) => p.value = new,
            Node::Trait(t) => t.value = new,
            _ => {}
        }
        // Alternate a click-like edit (counted at once) and a typed one
        // (counted after the typing pause).
        let typed = k % 2 == 1;
        let shown = d.app.segments.eval.shown;
        let t0 = Instant::now();
        apply(
            &mut d.app.segments,
            vec![TreeAction::Replace {
                addr,
                node,
                typing: typed,
            }],
        );
        d.frames.clear();
        d.run_until("the new count", Duration::from_secs(60), |a| {
            a.segments.eval.shown > shown
        })?;
        // The frame that showed it is the last one run.
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        if typed {
            typing.push(ms);
        } else {
            clicks.push(ms);
        }
        busy_frames.append(&mut d.frames);
        // A few idle frames between edits.
        for _ in 0..5 {
            d.frame();
        }
    }
    let engine = d.app.engine.clone().ok_or("no engine")?;
    println!("workspace = {}", workspace.display());
    println!("customers = {}", engine.len());
    println!("load_to_ready = {:.2} s", loaded.as_secs_f64());
    println!(
        "load_to_first_count = {:.2} s",
        loaded_to_count.as_secs_f64()
    );
    println!("edits = {}", clicks.len() + typing.len());
    println!("edit_to_count_p50 = {:.1} ms", p(&mut clicks.clone(), 50.0));
    println!("edit_to_count_p95 = {:.1} ms", p(&mut clicks, 95.0));
    println!(
        "typed_edit_to_count_p50 = {:.1} ms",
        p(&mut typing.clone(), 50.0)
    );
    println!("typed_edit_to_count_p95 = {:.1} ms", p(&mut typing, 95.0));
    println!(
        "frame_while_counting_p50 = {:.2} ms",
        p(&mut busy_frames.clone(), 50.0)
    );
    println!(
        "frame_while_counting_p95 = {:.2} ms",
        p(&mut busy_frames.clone(), 95.0)
    );
    println!(
        "frame_while_counting_max = {:.2} ms",
        p(&mut busy_frames, 100.0)
    );
    Ok(())
}
