//! The `prism` binary: the app window, or a headless command.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use prism::app::workspace::data_dir;
use prism::cli::bench::BenchCommand;
use prism::cli::{Cli, Command};
use prism::ui::{AppOptions, run_app};

/// Imports allocate on a reader thread and free on the writer thread; the
/// system allocator serialises that on a lock, mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let started = Instant::now();
    let cli = Cli::parse();
    prism::cli::set_demo(cli.demo);
    let options = match cli.command {
        None => AppOptions {
            workspace: None,
            screen: None,
            data_dir: data_dir(),
            exit_after_shown: false,
            import: None,
            demo: cli.demo,
            started,
        },
        Some(Command::Open {
            file,
            screen,
            import,
            exit_after_shown,
        }) => {
            // Refuse a bad file here, with exit code 2, before any window opens.
            if let Err(e) = prism::store::Store::inspect(&file) {
                eprintln!("prism: {e}");
                return ExitCode::from(2);
            }
            AppOptions {
                workspace: Some(file),
                screen: screen.map(Into::into),
                data_dir: data_dir(),
                exit_after_shown,
                import,
                demo: cli.demo,
                started,
            }
        }
        Some(Command::Bench {
            what:
                BenchCommand::Ui {
                    workspace,
                    segment,
                    edits,
                },
        }) => {
            let workspace = match workspace {
                Some(w) => w,
                None => match prism::cli::bench::bench_workspace(1_000_000) {
                    Ok(w) => w,
                    Err(e) => {
                        eprintln!("prism: {}", e.message);
                        return ExitCode::from(e.code);
                    }
                },
            };
            return match prism::ui::bench::run(workspace, segment, edits) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("prism: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Bench {
            what:
                BenchCommand::Preview {
                    workspace,
                    customers,
                    switches,
                    keystrokes,
                },
        }) => {
            let workspace = match prism::cli::bench::given_or_bench_workspace(workspace, customers)
            {
                Ok(w) => w,
                Err(e) => {
                    eprintln!("prism: {}", e.message);
                    return ExitCode::from(e.code);
                }
            };
            return match prism::ui::preview_bench::run(workspace, switches, keystrokes) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("prism: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(other) => return prism::cli::run(other),
    };
    match run_app(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("prism: {e}");
            ExitCode::FAILURE
        }
    }
}
