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

/// A library error re-worded for a command line: every config field the libraries name in
/// backticks (`` `size` ``, see `twinscan_data::DataError::InvalidConfig`) and that `flags`
/// maps becomes the flag that sets it (`--size`). Its sources are the original error's.
#[derive(Debug)]
pub struct Reworded<E> {
    message: String,
    inner: E,
}

impl<E> Reworded<E> {
    /// The original error.
    pub fn inner(&self) -> &E {
        &self.inner
    }
}

impl<E> std::fmt::Display for Reworded<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: Error + 'static> Error for Reworded<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.inner.source()
    }
}

/// `text` with each `` `field` `` of `flags` (config field → flag) replaced by its flag.
///
/// ```
/// use twinscan::cli::with_flags;
/// let t = with_flags("invalid `size`: 0 (`overwrite` replaces it)", &[("size", "--size")]);
/// assert_eq!(t, "invalid --size: 0 (`overwrite` replaces it)");
/// ```
pub fn with_flags(text: &str, flags: &[(&str, &str)]) -> String {
    flags.iter().fold(text.to_string(), |t, (field, flag)| {
        t.replace(&format!("`{field}`"), flag)
    })
}

/// `e` re-worded with [`with_flags`].
pub fn reword<E: Error>(e: E, flags: &[(&str, &str)]) -> Reworded<E> {
    Reworded {
        message: with_flags(&e.to_string(), flags),
        inner: e,
    }
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
