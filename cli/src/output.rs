//! How every `deltaship` command ends: its report on stdout, as text or one JSON document
//! ([`Format`], [`write_report`]), or an error on stderr with its exit code ([`CliError`]:
//! [`EXIT_BAD_INPUT`] or [`EXIT_FAILURE`]).

use std::fmt::Display;
use std::io::{self, Write};
use std::process::ExitCode;

use serde::Serialize;

use crate::{EXIT_BAD_INPUT, EXIT_FAILURE};

/// How a command prints its report (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// One JSON document.
    Json,
}

/// Why a command stopped: what to tell the user, and whether their input is at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// What went wrong; one or more lines.
    pub message: String,
    /// Whether the caller's input (arguments, paths, revisions, manifests) is at fault.
    pub bad_input: bool,
}

impl CliError {
    /// The caller's input is at fault: exit code [`EXIT_BAD_INPUT`].
    pub fn bad_input(message: impl Display) -> Self {
        Self { message: message.to_string(), bad_input: true }
    }

    /// Something else failed: exit code [`EXIT_FAILURE`].
    pub fn failure(message: impl Display) -> Self {
        Self { message: message.to_string(), bad_input: false }
    }

    /// The exit code for this error.
    pub fn code(&self) -> u8 {
        if self.bad_input { EXIT_BAD_INPUT } else { EXIT_FAILURE }
    }

    /// Prints the message on stderr, each line as `deltaship: <line>`, and returns the exit code.
    pub fn report(&self) -> ExitCode {
        for line in self.message.lines() {
            eprintln!("deltaship: {line}");
        }
        ExitCode::from(self.code())
    }
}

/// A command's exit code: its own when it ran (e.g. 1 for a failed execution), else its error's,
/// reported on stderr.
pub fn exit(result: Result<ExitCode, CliError>) -> ExitCode {
    result.unwrap_or_else(|error| error.report())
}

/// Writes a report to stdout in `format`: text by `write_text`, or `json` as one pretty JSON
/// document and a newline. `what` names the report in the error ("the plan").
///
/// A reader that went away (`deltaship plan | head`) is not an error worth reporting.
pub fn write_report(
    format: Format,
    what: &str,
    json: &impl Serialize,
    write_text: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), CliError> {
    write_report_to(&mut io::stdout().lock(), format, what, json, write_text)
}

fn write_report_to(
    out: &mut dyn Write,
    format: Format,
    what: &str,
    json: &impl Serialize,
    write_text: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), CliError> {
    let written = match format {
        Format::Text => write_text(&mut *out),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, json).map_err(io::Error::from).and_then(|()| writeln!(out))
        }
    };
    match written.and_then(|()| out.flush()) {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => {
            Err(CliError::failure(format!("could not write {what}: {error}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A writer that fails every write with `kind`.
    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(self.0, "gone"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn write(out: &mut dyn Write, format: Format) -> Result<(), CliError> {
        write_report_to(out, format, "the plan", &json!({"a": [1]}), |out| out.write_all(b"text\n"))
    }

    #[test]
    fn each_format_writes_its_form() {
        let mut out = Vec::new();
        assert_eq!(write(&mut out, Format::Text), Ok(()));
        assert_eq!(String::from_utf8_lossy(&out), "text\n");
        let mut out = Vec::new();
        assert_eq!(write(&mut out, Format::Json), Ok(()));
        assert_eq!(String::from_utf8_lossy(&out), "{\n  \"a\": [\n    1\n  ]\n}\n");
    }

    #[test]
    fn a_broken_pipe_is_success_and_any_other_write_error_a_failure() {
        for format in [Format::Text, Format::Json] {
            assert_eq!(write(&mut Failing(io::ErrorKind::BrokenPipe), format), Ok(()));
            let error = write(&mut Failing(io::ErrorKind::PermissionDenied), format);
            assert_eq!(error, Err(CliError::failure("could not write the plan: gone")));
        }
    }

    #[test]
    fn bad_input_exits_2_and_other_failures_1() {
        assert_eq!(CliError::bad_input("x").code(), 2);
        assert_eq!(CliError::failure("x").code(), 1);
    }
}
