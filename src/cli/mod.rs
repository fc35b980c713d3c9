//! The example binaries' command lines (clap) and their shared `main`. The libraries take
//! configs and name config fields in their errors; flags, their parsing and the exit codes
//! live here.
//!
//! ```no_run
//! use std::process::ExitCode;
//! fn main() -> ExitCode {
//!     twinscan::cli::run_main(|| {
//!         // parse → build config → call → print
//!         Ok(())
//!     })
//! }
//! ```

use std::error::Error;
use std::process::ExitCode;

#[cfg(feature = "train")]
pub mod embed;
#[cfg(feature = "train")]
pub mod experiment;
#[cfg(feature = "train")]
pub mod predict;
pub mod prepare;
#[cfg(feature = "train")]
pub mod pretrain;
pub mod preview;
#[cfg(feature = "train")]
pub mod quickstart;

/// The device of a `--device` flag, else of `TWINSCAN_DEVICE`, else the CPU.
///
/// # Errors
/// An unknown device, or one not compiled into this binary (the error names the feature).
#[cfg(feature = "train")]
pub fn device(
    flag: Option<&str>,
) -> Result<twinscan_models::burn::tensor::Device, twinscan_models::ModelsError> {
    twinscan_models::DeviceSpec::from_arg_or_env(flag)?.device()
}

/// What an example's body returns on success: `()` (exit 0) or an explicit [`ExitCode`]
/// (e.g. `experiment`'s 3 for an unfinished grid).
pub trait Outcome {
    /// The process exit code.
    fn exit_code(self) -> ExitCode;
}

impl Outcome for () {
    fn exit_code(self) -> ExitCode {
        ExitCode::SUCCESS
    }
}

impl Outcome for ExitCode {
    fn exit_code(self) -> ExitCode {
        self
    }
}

/// Runs an example's body: success gives its exit code; an error is printed to stderr as
/// `error: <message>` followed by each `caused by: <source>` of its chain, and exits 1.
pub fn run_main<T: Outcome>(body: impl FnOnce() -> Result<T, Box<dyn Error>>) -> ExitCode {
    match body() {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                // thiserror messages often already include their source's text.
                if !e.to_string().contains(&s.to_string()) {
                    eprintln!("  caused by: {s}");
                }
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}
