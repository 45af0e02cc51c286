//! `deltaship check`: the repository's deltaship configuration at one revision, validated, with
//! what triggers each service and which paths no service owns ([`deltaship_core::check`]).
//!
//! Exit status: 0 when nothing is wrong, 1 when a manifest or `deltaship.toml` has a problem or
//! two services conflict, 2 for bad input (not a repository, an unknown revision).

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use deltaship_core::check::{CheckReport, Triggers, check};
use deltaship_core::settings::roots_of;
use deltaship_core::{Catalog, CommitId, ManifestError};
use serde::Serialize;

use crate::git::GitRepo;
use crate::output::{CliError, Format, write_report};
use crate::{EXIT_FAILURE, EXIT_OK};

/// How many unowned paths the text lists (JSON lists them all).
const UNOWNED_SHOWN: usize = 20;

/// `deltaship check`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// The git repository (or any folder inside it).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// The revision to check.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub rev: String,
    /// Output format: text, or one JSON document {"revision", "roots", "ok", "problems",
    /// "services", "unowned"}.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The JSON document `deltaship check --format json` prints. Keys may be added, never removed.
#[derive(Debug, Serialize)]
pub struct CheckJson<'a> {
    /// The commit checked.
    pub revision: &'a str,
    /// The service roots (`deltaship.toml`'s `services`).
    pub roots: &'a [String],
    /// Whether nothing is wrong.
    pub ok: bool,
    /// Every problem: `{"file", "line", "key", "problem"}`.
    pub problems: &'a [ManifestError],
    /// Each service's triggers: `{"name", "folder", "watch", "depends_on", "deploy_all",
    /// "ignore", "files"}`.
    pub services: &'a [Triggers<'a>],
    /// The files no service owns: a change there deploys nothing.
    pub unowned: &'a [&'a str],
}

/// Runs `deltaship check`.
pub fn run(args: &CheckArgs) -> Result<ExitCode, CliError> {
    let repo = GitRepo::open(&args.repo).map_err(CliError::bad_input)?;
    let commit = repo.resolve(&args.rev).map_err(CliError::bad_input)?;
    let (settings, manifests) = repo.manifests(&commit).map_err(CliError::failure)?;
    let files = repo.files_at(&commit).map_err(CliError::failure)?;
    let roots = roots_of(settings.as_ref());
    let catalog = Catalog::load(settings.as_ref(), &manifests);
    let report = check(&catalog, &files);
    let json = to_json(&commit, roots.patterns(), &report);
    write_report(args.format, "the check", &json, |out| write_text(&commit, roots.patterns(), &report, out))?;
    Ok(ExitCode::from(if report.has_problems() { EXIT_FAILURE } else { EXIT_OK }))
}

fn to_json<'a>(commit: &'a CommitId, roots: &'a [String], report: &'a CheckReport<'a>) -> CheckJson<'a> {
    CheckJson {
        revision: commit.as_str(),
        roots,
        ok: !report.has_problems(),
        problems: &report.problems,
        services: &report.services,
        unowned: &report.unowned,
    }
}

fn write_text(commit: &CommitId, roots: &[String], report: &CheckReport<'_>, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "deltaship check at {} (service roots: {})", commit.short(), roots.join(", "))?;
    if report.has_problems() {
        let count = report.problems.len();
        writeln!(out, "{count} {}:", if count == 1 { "problem" } else { "problems" })?;
        for problem in &report.problems {
            writeln!(out, "  {problem}")?;
        }
        return Ok(());
    }
    if report.services.is_empty() {
        writeln!(
            out,
            "no service is defined: no folder these roots match holds a service.toml. `deltaship init` proposes them."
        )?;
    } else {
        let count = report.services.len();
        writeln!(out, "{count} {}, and what deploys each:", if count == 1 { "service" } else { "services" })?;
        for service in &report.services {
            writeln!(out, "  {}  ({}, {} files)", service.name, service.folder, service.files)?;
            for (label, patterns) in [
                ("watch", service.watch),
                ("depends_on", service.depends_on),
                ("deploy_all", service.deploy_all),
                ("ignore", service.ignore),
            ] {
                if !patterns.is_empty() {
                    writeln!(out, "      {label:<11} {}", patterns.join(", "))?;
                }
            }
        }
    }
    if !report.unowned.is_empty() {
        let count = report.unowned.len();
        writeln!(
            out,
            "{count} {} no service owns (a change there deploys nothing):",
            if count == 1 { "path" } else { "paths" }
        )?;
        for path in report.unowned.iter().take(UNOWNED_SHOWN) {
            writeln!(out, "  {path}")?;
        }
        if count > UNOWNED_SHOWN {
            writeln!(out, "  ... and {} more (--format json lists them all)", count - UNOWNED_SHOWN)?;
        }
    }
    writeln!(out, "ok: no problem found")
}
