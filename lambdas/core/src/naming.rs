//! Deterministic Step Functions execution names.
//!
//! Standard workflows refuse a second execution with a name already used (for 90 days), so a name
//! derived only from the push makes a duplicated EventBridge delivery start nothing new.
//!
//! The name is `<repository>-<branch>-<commit, 12 digits>-<digest, 10 digits>`:
//!
//! * readable: ops find the execution of a commit by its short id in the console;
//! * valid: at most 80 characters, only `A-Z a-z 0-9 - _` (the stricter set Step Functions asks
//!   for when CloudWatch logging is on, which excludes every forbidden character);
//! * unique per (repository, branch, commit): repository and branch are shortened and their
//!   other characters replaced to fit, so `feature/x` and `feature-x` read the same; the digest is
//!   taken over the exact, unshortened triple and tells them apart.
//!
//! This format is stable: tools (and the reconciler) may parse the commit back out of a name.
//!
//! A second push of a commit that already has an execution on the branch (the branch was reset
//! back to it, or force-pushed) is a new deployment, not a duplicate delivery: it runs as attempt
//! 2, 3, ... whose name ends in `-r<attempt>` ([`execution_name_attempt`]); the rest of the name is
//! shortened to keep within 80 characters. See `docs/RELIABILITY.md`.

use sha2::{Digest, Sha256};

use crate::CommitId;

/// The longest execution name Step Functions accepts.
pub const MAX_EXECUTION_NAME_LEN: usize = 80;

const DIGEST_LEN: usize = 10;

/// How many executions one commit may have on one branch (its first push and up to
/// `MAX_ATTEMPTS - 1` later pushes of the same commit within Step Functions' 90 days).
pub const MAX_ATTEMPTS: u32 = 20;

/// The execution name for the push of `commit` to `branch` of `repository`.
pub fn execution_name(repository: &str, branch: &str, commit: &CommitId) -> String {
    execution_name_attempt(repository, branch, commit, 1)
}

/// The execution name of the `attempt`-th push of `commit` to `branch` (1 is the first, named
/// as [`execution_name`]; later ones end in `-r<attempt>`).
pub fn execution_name_attempt(repository: &str, branch: &str, commit: &CommitId, attempt: u32) -> String {
    execution_name_part(repository, branch, commit, attempt, 1)
}

/// The name of part `part` of a push's execution, when its plan is split into several
/// executions ([`crate::budget`]): part 1 is named as the whole would be, later parts end in
/// `-p<part>`.
pub fn execution_name_part(repository: &str, branch: &str, commit: &CommitId, attempt: u32, part: u32) -> String {
    let digest = hex_digest(&[repository, branch, commit.as_str()], DIGEST_LEN);
    let mut tail = tail(commit.short(), &digest, attempt);
    if part > 1 {
        tail.push_str(&format!("-p{part}"));
    }

    // Room left for "<repository>-<branch>" once the tail and its separator are placed.
    let room = MAX_EXECUTION_NAME_LEN - tail.len() - 1;
    let (repository, branch) = (sanitize(repository), sanitize(branch));
    let (repository, branch) = fit(&repository, &branch, room);
    [repository, branch, &tail].into_iter().filter(|part| !part.is_empty()).collect::<Vec<_>>().join("-")
}

fn tail(short: &str, digest: &str, attempt: u32) -> String {
    if attempt <= 1 { format!("{short}-{digest}") } else { format!("{short}-{digest}-r{attempt}") }
}

/// The idempotency token of the build of `service` (built by `project`) at `commit`: the same
/// for every retry of the same build, so CodeBuild starts it once. `deltaship-` and 32 hex digits
/// of a SHA-256 over the three.
pub fn build_token(project: &str, service: &str, commit: &CommitId) -> String {
    format!("deltaship-{}", hex_digest(&[project, service, commit.as_str()], 32))
}

/// The first `digits` lowercase hex digits of a SHA-256 over `parts`, each ended by a NUL byte
/// (so that `("ab", "c")` and `("a", "bc")` differ).
fn hex_digest(parts: &[&str], digits: usize) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .flat_map(|byte| [byte >> 4, byte & 0xf])
        .take(digits)
        .map(|nibble| char::from_digit(u32::from(nibble), 16).unwrap_or('0'))
        .collect()
}

/// Shortens the two parts so that `a-b` fits in `room` characters, sharing the room fairly: a
/// part shorter than its half leaves the rest to the other.
fn fit<'a>(a: &'a str, b: &'a str, room: usize) -> (&'a str, &'a str) {
    let avail = room.saturating_sub(1);
    if a.len() + b.len() <= avail {
        return (a, b);
    }
    let half = avail / 2;
    let (a_len, b_len) = if a.len() <= half {
        (a.len(), avail - a.len())
    } else if b.len() <= avail - half {
        (avail - b.len(), b.len())
    } else {
        (half, avail - half)
    };
    // Both parts are ASCII after `sanitize`, so byte offsets are character boundaries.
    let cut = |s: &'a str, len: usize| s.get(..len.min(s.len())).unwrap_or(s).trim_end_matches('-');
    (cut(a, a_len), cut(b, b_len))
}

/// Keeps ASCII letters, digits, `-` and `_`; every other run of characters becomes one `-`.
fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORBIDDEN: &str = " <>{}[]?*\"#%\\^|~`$&,;:/";

    fn commit(c: char) -> CommitId {
        CommitId::parse(&c.to_string().repeat(40)).unwrap()
    }

    fn assert_valid(name: &str) {
        assert!(name.len() <= MAX_EXECUTION_NAME_LEN, "{name} is {} long", name.len());
        assert!(!name.is_empty());
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{name} has a character outside A-Z a-z 0-9 - _"
        );
        assert!(!name.chars().any(|c| FORBIDDEN.contains(c) || c.is_whitespace()));
    }

    #[test]
    fn reads_as_repository_branch_commit() {
        let name = execution_name("monorepo", "main", &commit('a'));
        assert!(name.starts_with("monorepo-main-aaaaaaaaaaaa-"), "{name}");
        assert_eq!(name.len(), "monorepo-main-aaaaaaaaaaaa-".len() + DIGEST_LEN);
        assert_valid(&name);
    }

    #[test]
    fn is_deterministic() {
        assert_eq!(execution_name("repo", "main", &commit('b')), execution_name("repo", "main", &commit('b')));
    }

    #[test]
    fn names_are_valid_for_hostile_and_long_inputs() {
        let long = "x".repeat(500);
        let cases: &[(&str, &str)] = &[
            ("repo", "feature/new <thing> {x}[y]?*\"#%\\^|~`$&,;:"),
            ("ünïcödé", "分支"),
            (&long, "main"),
            ("repo", &long),
            (&long, &long),
            ("---", "///"),
            ("a", "b\tc\nd e"),
        ];
        for (repository, branch) in cases {
            assert_valid(&execution_name(repository, branch, &commit('c')));
        }
    }

    #[test]
    fn unique_per_repository_branch_and_commit() {
        let long = "y".repeat(200);
        let long_other = format!("{}z", "y".repeat(199));
        // Pairs that read the same once sanitised or shortened must still get different names.
        type Push<'a> = (&'a str, &'a str, char);
        let pairs: &[(Push<'_>, Push<'_>)] = &[
            (("repo", "feature/x", 'a'), ("repo", "feature-x", 'a')),
            (("repo", "feature x", 'a'), ("repo", "feature_x", 'a')),
            (("repo-a", "b", 'a'), ("repo", "a-b", 'a')),
            (("repo", &long, 'a'), ("repo", &long_other, 'a')),
            (("repo", "main", 'a'), ("repo", "main", 'b')),
            (("repo", "main", 'a'), ("other", "main", 'a')),
        ];
        for ((r1, b1, c1), (r2, b2, c2)) in pairs {
            let one = execution_name(r1, b1, &commit(*c1));
            let two = execution_name(r2, b2, &commit(*c2));
            assert_ne!(one, two, "({r1}, {b1}) and ({r2}, {b2}) collide");
        }
    }

    #[test]
    fn long_parts_share_the_room_and_keep_the_commit() {
        let name = execution_name(&"r".repeat(100), &"b".repeat(100), &commit('d'));
        assert_eq!(name.len(), MAX_EXECUTION_NAME_LEN);
        assert!(name.contains(&"r".repeat(27)), "{name}");
        assert!(name.contains(&"b".repeat(28)), "{name}");
        assert!(name.contains("-dddddddddddd-"), "{name}");

        // A short repository leaves the rest of the room to the branch.
        let name = execution_name("api", &"b".repeat(100), &commit('d'));
        assert_eq!(name.len(), MAX_EXECUTION_NAME_LEN);
        assert!(name.starts_with(&format!("api-{}-", "b".repeat(52))), "{name}");
    }

    #[test]
    fn sanitize_collapses_and_trims() {
        assert_eq!(sanitize("feature//new thing/"), "feature-new-thing");
        assert_eq!(sanitize("release-1.2"), "release-1-2");
        assert_eq!(sanitize("snake_case"), "snake_case");
        assert_eq!(sanitize("///"), "");
    }

    #[test]
    fn parts_that_sanitize_to_nothing_are_left_out() {
        let name = execution_name("日本", "main", &commit('e'));
        assert!(name.starts_with("main-eeeeeeeeeeee-"), "{name}");
    }

    #[test]
    fn later_attempts_end_in_r_and_stay_valid() {
        let first = execution_name("shop", "main", &commit('a'));
        assert_eq!(execution_name_attempt("shop", "main", &commit('a'), 1), first);
        let second = execution_name_attempt("shop", "main", &commit('a'), 2);
        assert_eq!(second, format!("{first}-r2"));
        let long = execution_name_attempt(&"r".repeat(100), &"b".repeat(100), &commit('a'), MAX_ATTEMPTS);
        assert_valid(&long);
        assert!(long.contains("-aaaaaaaaaaaa-"), "{long}");
        assert!(long.ends_with(&format!("-r{MAX_ATTEMPTS}")), "{long}");
    }

    #[test]
    fn parts_of_a_split_plan_end_in_p_and_stay_valid() {
        let whole = execution_name_attempt("shop", "main", &commit('a'), 2);
        assert_eq!(execution_name_part("shop", "main", &commit('a'), 2, 1), whole);
        assert_eq!(execution_name_part("shop", "main", &commit('a'), 2, 3), format!("{whole}-p3"));
        let long = execution_name_part(&"r".repeat(100), &"b".repeat(100), &commit('a'), MAX_ATTEMPTS, 120);
        assert_valid(&long);
        assert!(long.ends_with(&format!("-r{MAX_ATTEMPTS}-p120")), "{long}");
    }

    #[test]
    fn build_tokens_are_stable_and_distinct() {
        let commit = CommitId::parse(&"c".repeat(40)).unwrap();
        let token = build_token("users-build", "users", &commit);
        assert_eq!(token, build_token("users-build", "users", &commit));
        assert_eq!(token.len(), "deltaship-".len() + 32);
        assert!(token.starts_with("deltaship-") && token[10..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(token, build_token("users-build", "products", &commit));
        assert_ne!(token, build_token("users-buil", "dusers", &commit), "parts are separated");
        let other = CommitId::parse(&"d".repeat(40)).unwrap();
        assert_ne!(token, build_token("users-build", "users", &other));
    }

    #[test]
    fn digests_match_an_independent_sha256() {
        // Computed with Python's hashlib over the NUL-ended parts.
        let commit = CommitId::parse(&"c".repeat(40)).unwrap();
        assert_eq!(execution_name("shop", "main", &commit), "shop-main-cccccccccccc-02e914e789");
        assert_eq!(build_token("users-build", "users", &commit), "deltaship-ac3d8b8466aba2573da6b4a70d38f32c");
    }
}
