//! `deltaship cost`'s arguments: what the model runs (durations, whether events flow, wait bounds,
//! deadlines, the Lambdas' size, how many services, how many environments and whether their
//! promotions wait for approvals), and how a duration (`90s`, `5m`, `1h`) and
//! wait bounds (`MIN..MAX`, validated as the Lambdas validate theirs) are read from the command
//! line.

use std::path::PathBuf;

use deltaship_core::WaitPolicy;

use super::walk::Events;
use crate::output::Format;

/// `deltaship cost`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct CostArgs {
    /// The state machine definition to walk.
    #[arg(long, value_name = "FILE", default_value = "state-machine/pipeline.asl.json")]
    pub asl: PathBuf,
    /// How long each build runs, e.g. 5m, 90s, 1h.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub build: u64,
    /// How long each rollout runs until ECS reports it COMPLETED.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub rollout: u64,
    /// How long a rollback deltaship asks for (a rollout past its deadline) runs until ECS
    /// reports it done.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub rollback: u64,
    /// Whether the builds' and rollouts' EventBridge events reach wake-waits (`flowing`), or none
    /// ever does and every wait ends by its fallback timeouts (`lost`, what `deltaship local run
    /// --drop-events` runs).
    #[arg(long, value_enum, default_value_t = Events::Flowing)]
    pub events: Events,
    /// Services the push deploys.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub services: u64,
    /// Services in the repository, each with its own CodePipeline pipeline (default: --services).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub repository_services: Option<u64>,
    /// Bounds of a build wait's fallback timeout, MIN..MAX seconds (default: the Lambdas').
    #[arg(long, value_name = "MIN..MAX", value_parser = parse_wait)]
    pub build_wait: Option<WaitPolicy>,
    /// Bounds of a rollout wait's fallback timeout, MIN..MAX seconds (default: the Lambdas').
    #[arg(long, value_name = "MIN..MAX", value_parser = parse_wait)]
    pub rollout_wait: Option<WaitPolicy>,
    /// The service's rollout deadline (`deploy.timeout_minutes`); a longer rollout is rolled back.
    #[arg(long, value_name = "MINUTES", default_value_t = 30)]
    pub timeout_minutes: u32,
    /// The service's build deadline (`build.timeout_minutes`, 5 to 2160); a longer build fails.
    #[arg(long, value_name = "MINUTES", default_value_t = 60, value_parser = clap::value_parser!(u32).range(5..=2160))]
    pub build_timeout_minutes: u32,
    /// Environments each service deploys to, in order (deltaship.toml's `[[environments]]`); each
    /// after the first is a promotion of the same image.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub environments: u32,
    /// Each environment after the first waits for an approval (`approval = true`).
    #[arg(long)]
    pub approvals: bool,
    /// How long after it is asked for each approval is given (`deltaship approve`); one past the
    /// environment's 24-hour approval timeout ends the service `not_promoted`.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub approval: u64,
    /// Billed duration of one Lambda invocation, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub lambda_ms: u64,
    /// The Lambdas' memory, in MB (sam/template.yaml: 128).
    #[arg(long, value_name = "MB", default_value_t = 128)]
    pub lambda_memory_mb: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// A duration: a whole number with `s`, `m` or `h`, e.g. `90s`, `5m`.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("`{text}` is not a duration like 90s, 5m or 1h")),
    };
    let value: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration like 90s, 5m or 1h"))?;
    match value.checked_mul(factor) {
        Some(seconds) if (1..=24 * 3600).contains(&seconds) => Ok(seconds),
        _ => Err(format!("`{text}`: a duration from 1s to 24h")),
    }
}

/// Wait bounds `MIN..MAX` in seconds, validated as the Lambdas validate them.
pub fn parse_wait(text: &str) -> Result<WaitPolicy, String> {
    let (min, max) = text.split_once("..").ok_or_else(|| format!("`{text}` is not MIN..MAX, e.g. 60..120"))?;
    let number = |part: &str| part.trim().parse::<u32>().map_err(|_| format!("`{text}` is not MIN..MAX, e.g. 60..120"));
    WaitPolicy::new(number(min)?, number(max)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_waits_parse_strictly() {
        for (text, seconds) in [("90s", Some(90)), ("5m", Some(300)), ("1h", Some(3600)), ("0s", None), ("5", None)] {
            assert_eq!(parse_duration(text).ok(), seconds, "{text}");
        }
        for bad in ["m", "1.5m", "-1m", "25h", "5 min"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_wait("60..120"), Ok(WaitPolicy { min_seconds: 60, max_seconds: 120 }));
        for bad in ["60", "0..10", "20..10", "a..b", "1..3601"] {
            assert!(parse_wait(bad).is_err(), "{bad}");
        }
    }

    /// `--environments` takes as many as deltaship.toml may list.
    #[test]
    fn environments_are_bounded_as_deltaship_toml_is() {
        use clap::Parser;
        #[derive(Parser)]
        struct Command {
            #[command(flatten)]
            args: CostArgs,
        }
        let most = deltaship_core::environments::MAX_ENVIRONMENTS.to_string();
        let parsed =
            Command::try_parse_from(["cost", "--environments", &most, "--approvals", "--approval", "1h"]).unwrap();
        assert_eq!(
            (parsed.args.environments.to_string(), parsed.args.approvals, parsed.args.approval),
            (most, true, 3600)
        );
        let too_many = (deltaship_core::environments::MAX_ENVIRONMENTS + 1).to_string();
        assert!(Command::try_parse_from(["cost", "--environments", &too_many]).is_err());
        assert!(Command::try_parse_from(["cost", "--environments", "0"]).is_err());
        let default = Command::try_parse_from(["cost"]).unwrap().args;
        assert_eq!((default.environments, default.approvals, default.approval), (1, false, 600));
    }
}
