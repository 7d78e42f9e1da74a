//! The app: the open workspace, the screens and the frame loop. Each screen
//! owns its state and draws and handles its messages through a
//! [`ScreenCtx`] (see `ctx.rs`): a small borrowed view of what screens share
//! (the workspace, the engine, the job runner, the settings) and a list of
//! [`Request`]s back to the app.

use std::path::PathBuf;
use std::time::Instant;

use super::commands::UiCommand;
pub use super::ctx::{FilePurpose, Msg, Request, SETTINGS_KEY, ScreenCtx, Settings};
use super::data_screen::DataScreen;
use super::performance::PerformanceScreen;
use super::preview::PreviewScreen;
use super::segments::SegmentsScreen;
use super::{status_bar, top_bar};
use crate::analytics::{Attribution, Sends};
use crate::app::Screen;
use crate::app::jobs::{JobKey, Jobs};
use crate::app::workspace::{
    create_workspace, ensure_sample_workspace, open_workspace, sample_workspace_path,
    save_workspace_as,
};
use crate::engine::Engine;
use crate::store::WorkspaceInfo;
use std::sync::Arc;

/// How the app was started.
#[derive(Clone, Debug)]
pub struct AppOptions {
    /// Open this workspace instead of the last one.
    pub workspace: Option<PathBuf>,
    /// Show this screen first.
    pub screen: Option<Screen>,
    /// Where the built-in sample workspace lives.
    pub data_dir: PathBuf,
    /// Print startup timings once the workspace is shown, then quit.
    pub exit_after_shown: bool,
    /// Start the import wizard on this file once the workspace is open.
    pub import: Option<PathBuf>,
    /// Start in demo mode (`--demo`).
    pub demo: bool,
    /// When the process started.
    pub started: Instant,
}

/// A [`ScreenCtx`] from the app's fields, borrowed apart from its screens.
macro_rules! screen_ctx {
    ($app:expr, $requests:expr) => {
        ScreenCtx {
            workspace: $app.workspace.as_ref(),
            engine: $app.engine.as_ref(),
            jobs: &mut $app.jobs,
            settings: &$app.settings,
            requests: &mut $requests,
            as_of: $app.segments.as_of(),
            sends: $app.sends.as_ref().map(|(_, s)| s),
            demo: $app.demo,
            mask: if $app.demo {
                $app.masker.as_ref()
            } else {
                None
            },
        }
    };
}

pub struct PrismApp {
    pub options: AppOptions,
    pub settings: Settings,
    pub screen: Screen,
    /// The open workspace, once loaded.
    pub workspace: Option<WorkspaceInfo>,
    pub jobs: Jobs<Msg>,
    /// The open workspace in memory, once loaded.
    pub engine: Option<Arc<Engine>>,
    /// Every campaign's sends, read as of (time, attribution).
    pub sends: Option<((i64, Attribution), Arc<Sends>)>,
    /// The attribution the sends are read with (the Performance screen's
    /// setting).
    pub attribution: Attribution,
    sends_loading: Option<(i64, Attribution)>,
    pub data: DataScreen,
    pub segments: SegmentsScreen,
    pub preview: PreviewScreen,
    pub performance: PerformanceScreen,
    /// Messages waiting in the error dialog.
    pub errors: Vec<String>,
    /// Commands screens asked for, run after the frame's drawing.
    pending_commands: Vec<UiCommand>,
    started_up: bool,
    /// Startup timings printed so far (`--exit-after-shown`): the
    /// workspace, the first count, every saved segment's count.
    reported: [bool; 3],
    /// Demo mode: every personal field shown as a stand-in.
    pub demo: bool,
    /// What demo mode masks in the open workspace, once loaded.
    pub masker: Option<Arc<crate::model::mask::Masker>>,
    /// `--demo` at launch is recorded in the audit log once.
    demo_recorded: bool,
}

impl PrismApp {
    pub fn new(options: AppOptions, settings: Settings) -> PrismApp {
        let screen = options.screen.unwrap_or(settings.screen);
        PrismApp {
            settings,
            screen,
            workspace: None,
            jobs: Jobs::new(),
            engine: None,
            sends: None,
            attribution: Attribution::default(),
            sends_loading: None,
            data: DataScreen::default(),
            segments: SegmentsScreen::default(),
            preview: PreviewScreen::default(),
            performance: PerformanceScreen::default(),
            errors: Vec::new(),
            pending_commands: Vec::new(),
            started_up: false,
            reported: [false; 3],
            demo: options.demo,
            masker: None,
            demo_recorded: !options.demo,
            options,
        }
    }

    /// Opens `path` in the background. If it fails, `fallback` (if any) is
    /// opened instead, and the error is shown.
    pub fn open_workspace(&mut self, path: PathBuf, fallback: Option<PathBuf>) {
        let sample = sample_workspace_path(&self.options.data_dir);
        let label = format!("Opening {}", path.display());
        self.jobs.spawn(JobKey::Workspace, label, move |ctx| {
            let result = if path == sample {
                ensure_sample_workspace(&path, ctx).and_then(|_| open_workspace(&path))
            } else {
                open_workspace(&path)
            };
            Msg::WorkspaceOpened {
                result: result.map_err(|e| e.to_string()),
                fallback,
            }
        });
    }

    fn start(&mut self, ctx: &egui::Context) {
        let waker = ctx.clone();
        self.jobs.set_waker(move || waker.request_repaint());
        if let Some(dark) = self.settings.dark {
            ctx.set_theme(if dark {
                egui::Theme::Dark
            } else {
                egui::Theme::Light
            });
        }
        let sample = sample_workspace_path(&self.options.data_dir);
        match (
            self.options.workspace.clone(),
            self.settings.last_workspace.clone(),
        ) {
            (Some(p), _) => self.open_workspace(p, None),
            (None, Some(last)) if last != sample => self.open_workspace(last, Some(sample)),
            _ => self.open_workspace(sample, None),
        }
    }

    fn handle(&mut self, msg: Msg) {
        let mut requests = Vec::new();
        match msg {
            Msg::WorkspaceOpened { result, fallback } => match result {
                Ok(info) => {
                    // Whatever still runs answers questions about the last
                    // workspace: drop it.
                    self.jobs.supersede_all();
                    // Absolute: the next launch may start in another folder.
                    self.settings.last_workspace =
                        Some(std::path::absolute(&info.path).unwrap_or_else(|_| info.path.clone()));
                    self.engine = None;
                    self.masker = None;
                    self.sends = None;
                    self.sends_loading = None;
                    self.data.workspace_changed(&info);
                    self.performance.unload();
                    self.segments.unload();
                    self.preview.unload();
                    self.load_engine(info.path.clone());
                    self.workspace = Some(info);
                    if let Some(file) = self.options.import.take() {
                        self.screen = Screen::Data;
                        self.data
                            .start_import(file, &mut screen_ctx!(self, requests));
                    }
                }
                Err(e) => {
                    self.errors.push(e);
                    if let Some(f) = fallback {
                        self.open_workspace(f, None);
                    }
                }
            },
            Msg::FilePicked { purpose, path } => {
                if let Some(path) = path {
                    self.file_picked(purpose, path);
                }
            }
            Msg::EngineReady(result) => match result {
                Ok(loaded) => {
                    if self.demo {
                        loaded.engine.set_mask(Some(loaded.masker.clone()));
                        warm_standins(&loaded.engine);
                    }
                    self.masker = Some(loaded.masker.clone());
                    self.engine = Some(loaded.engine.clone());
                    if !self.demo_recorded {
                        self.demo_recorded = true;
                        self.record_demo(true);
                    }
                    self.segments
                        .loaded(loaded, &mut screen_ctx!(self, requests));
                    self.retrain_if_stale();
                }
                Err(e) => self
                    .errors
                    .push(format!("Could not load the workspace: {e}")),
            },
            Msg::Segments(m) => self.segments.handle(m, &mut screen_ctx!(self, requests)),
            Msg::Data(m) => self.data.handle(m, &mut screen_ctx!(self, requests)),
            Msg::Preview(m) => self.preview.handle(m, &mut screen_ctx!(self, requests)),
            Msg::Performance(m) => self.performance.handle(m, &mut screen_ctx!(self, requests)),
            Msg::MaskerReady(r) => match r {
                Ok(m) => {
                    if let (true, Some(engine)) = (self.demo, &self.engine) {
                        engine.set_mask(Some(m.clone()));
                        self.preview.demo_changed();
                    }
                    self.masker = Some(m);
                }
                Err(e) => self.errors.push(e),
            },
            Msg::Audited(r) => {
                if let Err(e) = r {
                    self.errors.push(e);
                }
                self.data.audit_changed();
            }
            Msg::SendsReady { key, result } => {
                if self.sends_loading == Some(key) {
                    self.sends_loading = None;
                }
                match result {
                    Ok(sends) => {
                        self.sends = Some((key, sends));
                        // The draft's live metrics follow.
                        self.segments.sends_changed();
                        self.performance.sends_changed();
                    }
                    Err(e) => self
                        .errors
                        .push(format!("Could not read the email sends: {e}")),
                }
            }
        }
        self.apply(requests);
    }

    /// Carries out what the screens asked for.
    fn apply(&mut self, requests: Vec<Request>) {
        for r in requests {
            match r {
                Request::OpenWorkspace(path) => self.open_workspace(path, None),
                Request::Command(c) => self.pending_commands.push(c),
                Request::Error(e) => self.errors.push(e),
                Request::Attribution(a) => self.attribution = a,
                Request::PrivacyChanged => self.reload_masker(),
            }
        }
    }

    /// Reads every campaign's sends in the background when the engine,
    /// the evaluation time or the attribution changed.
    fn maybe_load_sends(&mut self) {
        let (Some(engine), Some(ws)) = (self.engine.clone(), self.workspace.as_ref()) else {
            return;
        };
        let key = (self.segments.as_of(), self.attribution);
        if self.sends.as_ref().is_some_and(|(k, _)| *k == key) || self.sends_loading == Some(key) {
            return;
        }
        self.sends_loading = Some(key);
        let path = ws.path.clone();
        self.jobs
            .spawn(JobKey::Sends, "Reading email sends", move |ctx| {
                let result = crate::store::Store::open_read_only(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|store| {
                        crate::app::performance::load_sends(&store, &engine, key.1, key.0, ctx)
                            .map_err(|e| e.to_string())
                    })
                    .map(Arc::new);
                Msg::SendsReady { key, result }
            });
    }

    /// Loads the workspace into the segment engine in the background.
    pub fn load_engine(&mut self, path: PathBuf) {
        self.jobs
            .spawn(JobKey::Engine, "Loading customers and events", move |ctx| {
                Msg::EngineReady(crate::app::segments::load(&path, ctx))
            });
    }

    fn file_picked(&mut self, purpose: FilePurpose, path: PathBuf) {
        match purpose {
            FilePurpose::Open => self.open_workspace(path, None),
            FilePurpose::New => {
                self.jobs
                    .spawn(JobKey::Workspace, "Creating workspace", move |_| {
                        Msg::WorkspaceOpened {
                            result: create_workspace(&path).map_err(|e| e.to_string()),
                            fallback: None,
                        }
                    });
            }
            FilePurpose::SaveAs => {
                if let Some(ws) = &self.workspace {
                    let src = ws.path.clone();
                    self.jobs
                        .spawn(JobKey::Workspace, "Saving a copy", move |_| {
                            Msg::WorkspaceOpened {
                                result: save_workspace_as(&src, &path).map_err(|e| e.to_string()),
                                fallback: None,
                            }
                        });
                }
            }
        }
    }

    /// Shows a native file dialog on a worker thread; the answer comes back
    /// as [`Msg::FilePicked`].
    fn pick_file(&mut self, purpose: FilePurpose) {
        let start_dir = self
            .workspace
            .as_ref()
            .and_then(|w| w.path.parent().map(|p| p.to_path_buf()));
        self.jobs
            .spawn(JobKey::FileDialog, "Waiting for a file", move |_| {
                let mut dialog = rfd::FileDialog::new().add_filter("Prism workspace", &["prism"]);
                if let Some(dir) = start_dir {
                    dialog = dialog.set_directory(dir);
                }
                let path = match purpose {
                    FilePurpose::Open => dialog.pick_file(),
                    FilePurpose::New => dialog.set_file_name("Untitled.prism").save_file(),
                    FilePurpose::SaveAs => dialog.set_file_name("Copy.prism").save_file(),
                };
                Msg::FilePicked { purpose, path }
            });
    }

    pub fn run_command(&mut self, ctx: &egui::Context, command: UiCommand) {
        match command {
            UiCommand::NewWorkspace => self.pick_file(FilePurpose::New),
            UiCommand::OpenWorkspace => self.pick_file(FilePurpose::Open),
            UiCommand::SaveWorkspaceAs => self.pick_file(FilePurpose::SaveAs),
            UiCommand::OpenSampleWorkspace => {
                let sample = sample_workspace_path(&self.options.data_dir);
                self.open_workspace(sample, None);
            }
            UiCommand::ToggleTheme => {
                let dark = ctx.theme() != egui::Theme::Dark;
                ctx.set_theme(if dark {
                    egui::Theme::Dark
                } else {
                    egui::Theme::Light
                });
                self.settings.dark = Some(dark);
            }
            UiCommand::ShowScreen(s) => {
                self.screen = s;
                self.settings.screen = s;
            }
            UiCommand::ToggleDemo => self.set_demo(!self.demo),
            UiCommand::CancelJobs => self.jobs.cancel_all(),
            UiCommand::Undo if self.screen == Screen::Segments => self.segments.undo(),
            UiCommand::Redo if self.screen == Screen::Segments => self.segments.redo(),
            UiCommand::SaveSegment if self.screen == Screen::Segments => {
                let mut requests = Vec::new();
                self.segments.save_current(&mut screen_ctx!(self, requests));
                self.apply(requests);
            }
            UiCommand::NewSegment => {
                self.screen = Screen::Segments;
                self.segments.new_segment();
            }
            UiCommand::Undo | UiCommand::Redo | UiCommand::SaveSegment => {}
        }
    }

    /// Turns demo mode on or off: every screen shows stand-ins for
    /// personal fields from the next frame; the switch is audited.
    pub fn set_demo(&mut self, on: bool) {
        if self.demo == on {
            return;
        }
        self.demo = on;
        if let Some(engine) = &self.engine {
            engine.set_mask(if on { self.masker.clone() } else { None });
            if on {
                warm_standins(engine);
            }
        }
        self.segments.demo_changed();
        self.preview.demo_changed();
        self.record_demo(on);
    }

    /// The propensity model follows the data: trained on older data than
    /// the workspace now holds (an import since), it is trained again in
    /// the background.
    fn retrain_if_stale(&mut self) {
        use crate::ui::segments::discover::{DiscoverMsg, trained};
        let (Some(engine), Some(ws)) = (
            self.engine.clone(),
            self.workspace.as_ref().map(|w| w.path.clone()),
        ) else {
            return;
        };
        self.jobs.spawn(
            JobKey::Propensity,
            "Checking the propensity model",
            move |job| {
                let stale = crate::store::Store::open_read_only(&ws)
                    .map_err(crate::app::AppError::from)
                    .and_then(|s| {
                        crate::app::discover::propensity_stale(&s, engine.data.data_version)
                    });
                let msg = match stale {
                    Ok(true) => DiscoverMsg::Trained(trained(&ws, &engine, job)),
                    _ => DiscoverMsg::Figures(None),
                };
                Msg::Segments(crate::ui::segments::SegMsg::Discover(msg))
            },
        );
    }

    /// Reads what demo mode masks again (a field was marked or unmarked).
    fn reload_masker(&mut self) {
        let Some(path) = self.workspace.as_ref().map(|w| w.path.clone()) else {
            return;
        };
        self.jobs
            .spawn(JobKey::Masker, "Reading personal fields", move |_| {
                Msg::MaskerReady(
                    crate::store::Store::open_read_only(&path)
                        .and_then(|s| s.masker())
                        .map(Arc::new)
                        .map_err(|e| e.to_string()),
                )
            });
    }

    /// Records a demo-mode switch in the open workspace's audit log.
    fn record_demo(&mut self, on: bool) {
        let Some(path) = self.workspace.as_ref().map(|w| w.path.clone()) else {
            return;
        };
        self.jobs
            .spawn(JobKey::DemoRecord, "Recording demo mode", move |_| {
                Msg::Audited(
                    crate::app::privacy::record_demo(&path, on)
                        .map_err(|e| format!("Demo mode was not recorded in the audit log: {e}")),
                )
            });
    }

    /// Draws the whole app into `ui`: one frame.
    pub fn ui_root(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if !self.started_up {
            self.started_up = true;
            self.start(&ctx);
            if self.options.exit_after_shown {
                println!(
                    "first_frame = {:.0} ms",
                    self.options.started.elapsed().as_secs_f64() * 1000.0
                );
            }
        }
        for msg in self.jobs.poll() {
            self.handle(msg);
        }
        self.maybe_load_sends();
        self.errors.extend(self.jobs.take_failures());
        for command in UiCommand::pressed(&ctx) {
            self.run_command(&ctx, command);
        }
        // A file dropped on the window starts an import.
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        let mut requests = Vec::new();
        if let Some(path) = dropped.into_iter().next()
            && self.workspace.is_some()
        {
            self.screen = Screen::Data;
            self.data
                .start_import(path, &mut screen_ctx!(self, requests));
        }

        let mut commands = Vec::new();
        egui::Panel::top("top_bar").show(ui, |ui| {
            top_bar::top_bar_ui(ui, self, &mut commands);
        });
        egui::Panel::bottom("status_bar").show(ui, |ui| {
            status_bar::status_bar_ui(ui, self);
        });
        egui::CentralPanel::default().show(ui, |ui| {
            let ctx = &mut screen_ctx!(self, requests);
            match self.screen {
                Screen::Data => self.data.ui(ui, ctx),
                Screen::Segments => self.segments.ui(ui, ctx),
                Screen::Preview => self.preview.ui(ui, ctx),
                Screen::Performance => self.performance.ui(ui, ctx),
            }
        });
        self.apply(requests);
        commands.append(&mut self.pending_commands);
        for command in commands {
            self.run_command(&ctx, command);
        }
        super::dialogs::error_dialog_ui(&ctx, &mut self.errors);

        if self.options.exit_after_shown {
            self.report_startup(&ctx);
        }
    }
}

impl PrismApp {
    /// Prints, once each, when the workspace, the first exact count and
    /// every saved segment's count reached the screen; then closes.
    fn report_startup(&mut self, ctx: &egui::Context) {
        let ms = self.options.started.elapsed().as_secs_f64() * 1000.0;
        let seg = &self.segments;
        let now = [
            self.workspace.is_some(),
            self.engine.is_some() && (seg.eval.shown > 0 || !seg.counts.is_empty()),
            self.engine.is_some() && (seg.counts.len() == seg.saved.len()),
        ];
        let names = ["workspace_shown", "first_count_shown", "saved_counts_shown"];
        for k in 0..3 {
            if now[k] && !self.reported[k] {
                self.reported[k] = true;
                println!("{} = {ms:.0} ms", names[k]);
            }
        }
        if self.reported.iter().all(|&r| r) {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        // Keep frames coming while waiting for the counts.
        ctx.request_repaint();
    }
}

impl eframe::App for PrismApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.ui_root(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, SETTINGS_KEY, &self.settings);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.jobs.cancel_all();
    }
}

/// Builds demo mode's stand-in email index on a worker thread, so that a
/// search by a stand-in's email (the Preview's pickers, Explain) finds it
/// built rather than building it on the UI thread.
fn warm_standins(engine: &Arc<Engine>) {
    let engine = engine.clone();
    let _ = std::thread::Builder::new()
        .name("standins".into())
        .spawn(move || {
            engine.standin_index();
        });
}
