//! The app under egui_kittest, for the screen tests: no window, no GPU,
//! real workspace files, background jobs on real threads.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use prism::app::Screen;
use prism::ui::{AppOptions, PrismApp, Settings};

/// The app with its data in `data_dir`, opening `workspace` (the sample
/// when `None`) on `screen`, and the import wizard on `import` if given.
pub fn app(
    data_dir: &Path,
    workspace: Option<&Path>,
    screen: Option<Screen>,
    import: Option<PathBuf>,
) -> PrismApp {
    PrismApp::new(
        AppOptions {
            workspace: workspace.map(Path::to_path_buf),
            screen,
            data_dir: data_dir.to_path_buf(),
            exit_after_shown: false,
            import,
            demo: false,
            started: Instant::now(),
        },
        Settings::default(),
    )
}

/// `app` drawn into a window of `width` × `height` points.
pub fn harness(app: PrismApp, width: f32, height: f32) -> Harness<'static, PrismApp> {
    Harness::builder()
        .with_size(egui::vec2(width, height))
        .build_ui_state(|ui, app: &mut PrismApp| app.ui_root(ui), app)
}

/// Steps frames until `done` holds, failing after `timeout`.
pub fn run_until(
    h: &mut Harness<'_, PrismApp>,
    what: &str,
    timeout: Duration,
    done: impl Fn(&PrismApp) -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    h.run_ok();
}
