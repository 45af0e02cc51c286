//! The notification request-approval publishes when a push starts waiting at a gate
//! ([`crate::gates`]): an SNS message whose subject asks the question and whose plain-text body
//! names the service, the environment, the commit, who pushed it, the image, the execution (with
//! its console link when the state machine is known), when the wait expires, and the two
//! commands that answer it.
//!
//! SNS takes a `Subject` of printable ASCII without line breaks or control characters, shorter
//! than 100 characters (the `Publish` API reference, `Subject`); [`notice`] keeps it so whatever
//! the names are. The body is UTF-8 text, far below `Publish`'s 256 KB.

use std::fmt::Write as _;

use crate::gates::GateRecord;
use crate::links;

/// The longest subject [`notice`] writes: SNS wants fewer than 100 characters.
pub const SUBJECT_MAX_CHARS: usize = 99;

/// A notification: the message's subject and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The subject (email subscribers see it as the mail's subject).
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

/// The notification of `record`, a push now waiting at its gate. `state_machine_arn` (the
/// pipeline's, when the function knows it) gives the execution's console link, in the state
/// machine's region.
pub fn notice(record: &GateRecord, state_machine_arn: Option<&str>) -> Notice {
    let GateRecord { service, environment, commit, execution, .. } = record;
    let short = crate::commit::short(commit);
    let subject = subject(&format!("deltaship: approve {service} {short} into {environment}?"));
    let pushed_by = if record.pushed_by.trim().is_empty() { "unknown" } else { record.pushed_by.as_str() };
    let link = state_machine_arn.and_then(|arn| execution_link(arn, execution));
    let waits = record.expires_at.saturating_sub(record.requested_at);
    let target = format!("--service {} --environment {}", shell_word(service), shell_word(environment));
    let execution_word = shell_word(execution);

    let mut body = String::new();
    let mut line = |text: &str| {
        body.push_str(text);
        body.push('\n');
    };
    line(&format!("{service} waits for an approval to be promoted into {environment}."));
    line("");
    line(&format!("Service:      {service}"));
    line(&format!("Environment:  {environment}"));
    line(&format!("Repository:   {}", record.repository));
    line(&format!("Commit:       {commit}"));
    line(&format!("Pushed by:    {pushed_by}"));
    line(&format!("Image:        {}", record.image));
    line(&format!("Execution:    {execution}"));
    if let Some(link) = &link {
        line(&format!("              {link}"));
    }
    line(&format!("Expires:      {} (waits {})", utc(record.expires_at), duration(waits)));
    line("");
    line("Approve (deploys this image into the environment):");
    line(&format!("  deltaship approve {target} --execution {execution_word}"));
    line("");
    line("Reject (the environment keeps its revision):");
    line(&format!("  deltaship reject {target} --execution {execution_word} --comment \"...\""));
    line("");
    line(&format!(
        "Without an answer by then, {service} is not promoted into {environment} (not_promoted). A newer push of \
         {service} reaching this gate supersedes this one."
    ));
    Notice { subject, body }
}

/// The console link of the execution `name` of `state_machine_arn`, in its region; `None` if that
/// is not a state machine ARN.
pub fn execution_link(state_machine_arn: &str, name: &str) -> Option<String> {
    let arn = links::execution_arn(state_machine_arn, name)?;
    let region = state_machine_arn.split(':').nth(3).filter(|region| !region.is_empty())?;
    Some(links::execution(region, &arn))
}

/// `text` as an SNS subject: printable ASCII only (anything else becomes `?`), at most
/// [`SUBJECT_MAX_CHARS`] characters (cut with `...`).
fn subject(text: &str) -> String {
    let printable: String = text
        .chars()
        .map(|character| if character.is_ascii_graphic() || character == ' ' { character } else { '?' })
        .collect();
    if printable.chars().count() <= SUBJECT_MAX_CHARS {
        return printable;
    }
    let mut cut: String = printable.chars().take(SUBJECT_MAX_CHARS - 3).collect();
    cut.push_str("...");
    cut
}

/// `word` as one shell word: as it is when it holds only characters no shell treats specially,
/// else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word.chars().all(|character| character.is_ascii_alphanumeric() || "-_.:/@+=,".contains(character));
    if plain { word.to_owned() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

/// A duration in the largest whole unit: `24 h`, `90 min`, `45 s`.
fn duration(seconds: i64) -> String {
    match seconds {
        seconds if seconds > 0 && seconds % 3600 == 0 => format!("{} h", seconds / 3600),
        seconds if seconds > 0 && seconds % 60 == 0 => format!("{} min", seconds / 60),
        seconds => format!("{} s", seconds.max(0)),
    }
}

/// `at` (seconds since the Unix epoch) as `2023-11-14 22:13:20 UTC`.
fn utc(at: i64) -> String {
    let (days, seconds) = (at.div_euclid(86_400), at.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let mut text = String::new();
    let _ = write!(
        text,
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    );
    text
}

/// The proleptic Gregorian date of day `days` since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MACHINE: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:deltaship-pipeline";

    fn record() -> GateRecord {
        GateRecord {
            repository: "shop".into(),
            service: "user-service".into(),
            environment: "production".into(),
            commit: "7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901".into(),
            execution: "deltaship-main-7f0103fa1b2c-0123456789".into(),
            pushed_at: 1_700_000_000,
            pushed_by: "arn:aws:iam::123456789012:user/mary".into(),
            image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users@sha256:ab12".into(),
            token: "token".into(),
            requested_at: 1_700_000_600,
            expires_at: 1_700_087_000,
        }
    }

    #[test]
    fn the_notice_names_everything_and_the_two_commands() {
        let notice = notice(&record(), Some(MACHINE));
        assert_eq!(notice.subject, "deltaship: approve user-service 7f0103fa1b2c into production?");
        let expected = "\
user-service waits for an approval to be promoted into production.

Service:      user-service
Environment:  production
Repository:   shop
Commit:       7f0103fa1b2c3d4e5f60718293a4b5c6d7e8f901
Pushed by:    arn:aws:iam::123456789012:user/mary
Image:        123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/users@sha256:ab12
Execution:    deltaship-main-7f0103fa1b2c-0123456789
              https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn%3Aaws%3Astates%3Aeu-west-1%3A123456789012%3Aexecution%3Adeltaship-pipeline%3Adeltaship-main-7f0103fa1b2c-0123456789
Expires:      2023-11-15 22:23:20 UTC (waits 24 h)

Approve (deploys this image into the environment):
  deltaship approve --service user-service --environment production --execution deltaship-main-7f0103fa1b2c-0123456789

Reject (the environment keeps its revision):
  deltaship reject --service user-service --environment production --execution deltaship-main-7f0103fa1b2c-0123456789 --comment \"...\"

Without an answer by then, user-service is not promoted into production (not_promoted). A newer push of user-service reaching this gate supersedes this one.
";
        assert_eq!(notice.body, expected);
    }

    #[test]
    fn without_a_state_machine_or_an_author_the_notice_says_less() {
        let mut record = record();
        record.pushed_by = String::new();
        for machine in [None, Some("deltaship-pipeline")] {
            let notice = notice(&record, machine);
            assert!(notice.body.contains("Pushed by:    unknown\n"), "{}", notice.body);
            assert!(notice.body.contains("Execution:    deltaship-main-7f0103fa1b2c-0123456789\nExpires:"));
            assert!(!notice.body.contains("https://"));
        }
    }

    #[test]
    fn subjects_stay_short_printable_ascii() {
        let mut record = record();
        record.service = "s".repeat(120);
        let long = notice(&record, None).subject;
        assert_eq!(long.chars().count(), SUBJECT_MAX_CHARS);
        assert!(long.ends_with("..."), "{long}");
        record.service = "usérs\nnew".into();
        let odd = notice(&record, None).subject;
        assert_eq!(odd, "deltaship: approve us?rs?new 7f0103fa1b2c into production?");
        assert!(odd.chars().all(|character| character.is_ascii() && !character.is_ascii_control()));
    }

    #[test]
    fn commands_quote_what_a_shell_would_split() {
        assert_eq!(shell_word("user-service"), "user-service");
        assert_eq!(shell_word("it's here"), r"'it'\''s here'");
        assert_eq!(shell_word(""), "''");
        let mut record = record();
        record.environment = "prod eu".into();
        assert!(notice(&record, None).body.contains("--environment 'prod eu' --execution"));
    }

    #[test]
    fn times_and_durations_read_as_people_write_them() {
        let cases = [
            (0, "1970-01-01 00:00:00 UTC"),
            (951_782_400, "2000-02-29 00:00:00 UTC"),
            (1_700_000_000, "2023-11-14 22:13:20 UTC"),
            (-1, "1969-12-31 23:59:59 UTC"),
        ];
        for (at, text) in cases {
            assert_eq!(utc(at), text, "{at}");
        }
        assert_eq!(
            (duration(86_400), duration(5400), duration(45), duration(-3)),
            ("24 h".to_owned(), "90 min".to_owned(), "45 s".to_owned(), "0 s".to_owned())
        );
        assert_eq!(execution_link("arn:aws:states::1:stateMachine:m", "x"), None, "no region");
    }
}
