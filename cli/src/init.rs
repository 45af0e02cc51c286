//! `deltaship init`: proposes the service roots and a manifest per deployable folder of an
//! existing repository ([`deltaship_core::adopt`]), and writes them with `--write`, never over a
//! file that exists.
//!
//! It reads the repository at a revision (default `HEAD`: what is committed, not the work
//! tree's uncommitted files), and writes into the work tree.
//!
//! Exit status: 0 (whatever it found), 1 when a file could not be written, 2 for bad input (not
//! a repository, an unknown revision, a bare repository with `--write`).

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use deltaship_core::adopt::{Proposal, propose, settings_text};
use deltaship_core::roots::DEFAULT_ROOTS;
use deltaship_core::settings::SETTINGS_FILE;
use serde::Serialize;

use crate::EXIT_OK;
use crate::git::GitRepo;
use crate::output::{CliError, Format, write_report};

/// `deltaship init`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// The git repository (or any folder inside it).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// The revision whose files are looked at.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub rev: String,
    /// Write the proposed files that do not exist yet (without it, print what would be written).
    #[arg(long)]
    pub write: bool,
    /// Output format: text, or one JSON document {"roots", "services", "skipped", "files"}.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// What happens to one proposed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// It would be written (no `--write`).
    WouldWrite,
    /// It was written.
    Wrote,
    /// A file is there already: left as it is.
    Exists,
}

/// One proposed file.
#[derive(Debug, Clone, Serialize)]
pub struct FileJson {
    /// Repository-relative path.
    pub path: String,
    /// What became of it.
    pub action: Action,
    /// The proposed text.
    pub text: String,
}

/// One proposed service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceJson {
    /// Its name.
    pub name: String,
    /// Its folder.
    pub folder: String,
    /// The build files that make it deployable.
    pub evidence: Vec<String>,
    /// What its Dockerfiles copy from outside its folder, as `depends_on` entries.
    pub depends_on: Vec<String>,
}

/// A folder that looked deployable and is not proposed.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedJson {
    /// The folder (`.`: the root).
    pub folder: String,
    /// Why.
    pub reason: String,
}

/// The JSON document `deltaship init --format json` prints. Keys may be added, never removed.
#[derive(Debug, Clone, Serialize)]
pub struct InitJson {
    /// The proposed service roots.
    pub roots: Vec<String>,
    /// The proposed services.
    pub services: Vec<ServiceJson>,
    /// The deployable-looking folders left out.
    pub skipped: Vec<SkippedJson>,
    /// Every proposed file and what became of it.
    pub files: Vec<FileJson>,
    /// What `deltaship.toml` should say, when it exists and does not say it.
    pub notes: Vec<String>,
}

/// Runs `deltaship init`.
pub fn run(args: &InitArgs) -> Result<ExitCode, CliError> {
    let git = GitRepo::open(&args.repo).map_err(CliError::bad_input)?;
    let commit = git.resolve(&args.rev).map_err(CliError::bad_input)?;
    let root = git.root().to_owned();
    if args.write && git.is_bare() {
        return Err(CliError::bad_input(format!(
            "{} is a bare repository: there is no work tree to write to",
            root.display()
        )));
    }
    let files = git.files_at(&commit).map_err(CliError::failure)?;
    let repository = std::fs::canonicalize(&root)
        .unwrap_or_else(|_| root.clone())
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("repository")
        .to_owned();
    let read =
        |path: &str| git.file_at(&commit, path).ok().flatten().and_then(|file| String::from_utf8(file.contents).ok());
    let proposal = propose(&repository, &files, read);

    let mut planned = Vec::new();
    let mut notes = Vec::new();
    let default_roots = proposal.roots.iter().map(String::as_str).eq(DEFAULT_ROOTS);
    if !proposal.roots.is_empty() && !default_roots {
        if root.join(SETTINGS_FILE).exists() {
            let roots: Vec<String> = proposal.roots.iter().map(|root| format!("{root:?}")).collect();
            notes.push(format!(
                "{SETTINGS_FILE} exists: add `services = [{}]` to it yourself (init writes no file that exists)",
                roots.join(", ")
            ));
        }
        planned.push((SETTINGS_FILE.to_owned(), settings_text(&proposal.roots)));
    }
    for service in &proposal.services {
        planned.push((format!("{}/service.toml", service.folder), service.manifest.clone()));
    }

    let mut written = Vec::new();
    for (path, text) in planned {
        let target = root.join(&path);
        let action = if target.exists() {
            Action::Exists
        } else if args.write {
            let written = match target.parent() {
                Some(folder) => std::fs::create_dir_all(folder).and_then(|()| std::fs::write(&target, &text)),
                None => std::fs::write(&target, &text),
            };
            written.map_err(|error| CliError::failure(format!("could not write {}: {error}", target.display())))?;
            Action::Wrote
        } else {
            Action::WouldWrite
        };
        written.push(FileJson { path, action, text });
    }

    let json = to_json(&proposal, written, notes);
    write_report(args.format, "the proposal", &json, |out| write_text(&json, args.write, out))?;
    Ok(ExitCode::from(EXIT_OK))
}

fn to_json(proposal: &Proposal, files: Vec<FileJson>, notes: Vec<String>) -> InitJson {
    InitJson {
        roots: proposal.roots.clone(),
        services: proposal
            .services
            .iter()
            .map(|service| ServiceJson {
                name: service.name.clone(),
                folder: service.folder.clone(),
                evidence: service.evidence.clone(),
                depends_on: service.depends_on.clone(),
            })
            .collect(),
        skipped: proposal
            .skipped
            .iter()
            .map(|skipped| SkippedJson { folder: skipped.folder.clone(), reason: skipped.reason.clone() })
            .collect(),
        files,
        notes,
    }
}

fn write_text(json: &InitJson, write: bool, out: &mut dyn Write) -> io::Result<()> {
    if json.services.is_empty() {
        writeln!(
            out,
            "deltaship init: no deployable folder found (a folder holding a Dockerfile, a Containerfile or a \
             buildspec.yml)."
        )?;
        write_skipped(json, out)?;
        return writeln!(out, "Write a service.toml yourself: docs/manifests.md.");
    }
    let count = json.services.len();
    writeln!(
        out,
        "deltaship init: {count} {} under {} {}",
        if count == 1 { "service" } else { "services" },
        if json.roots.len() == 1 { "the root" } else { "the roots" },
        json.roots.join(", ")
    )?;
    for service in &json.services {
        let depends = if service.depends_on.is_empty() {
            String::new()
        } else {
            format!(", depends on {}", service.depends_on.join(", "))
        };
        writeln!(out, "  {:<24} {} ({}{depends})", service.name, service.folder, service.evidence.join(", "))?;
    }
    write_skipped(json, out)?;
    writeln!(out)?;
    for file in &json.files {
        match file.action {
            Action::Exists => writeln!(out, "{} exists: left as it is", file.path)?,
            Action::Wrote => writeln!(out, "wrote {}", file.path)?,
            Action::WouldWrite => {
                writeln!(out, "would write {}:", file.path)?;
                for line in file.text.lines() {
                    if line.is_empty() { writeln!(out)? } else { writeln!(out, "    {line}")? }
                }
            }
        }
    }
    for note in &json.notes {
        writeln!(out, "note: {note}")?;
    }
    if write {
        writeln!(
            out,
            "\nNext: edit the placeholders in each service.toml, then `deltaship check` and `deltaship plan`."
        )
    } else {
        writeln!(out, "\nNothing was written: `deltaship init --write` writes the files that do not exist.")
    }
}

fn write_skipped(json: &InitJson, out: &mut dyn Write) -> io::Result<()> {
    if !json.skipped.is_empty() {
        writeln!(out, "not proposed:")?;
        for skipped in &json.skipped {
            writeln!(out, "  {:<24} {}", skipped.folder, skipped.reason)?;
        }
    }
    Ok(())
}
