//! Which branches the template's `Branches` patterns take: EventBridge's `wildcard` matching, the
//! same in the push rule (where EventBridge applies it) and in the reconciler (which lists the
//! repository's branches and keeps those a pattern matches).
//!
//! EventBridge's content filter `{"wildcard": "..."}` ("Wildcard matching", Amazon EventBridge
//! user guide, <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-wildcard-matching>):
//! `*` matches any run of characters, none included, `/` included; `\*` matches a star and `\\`
//! a backslash; every other character matches itself, and the pattern matches the whole value.
//!
//! | pattern | matches | does not match |
//! |---------|---------|----------------|
//! | `main` | `main` | `main2`, `maint/x` |
//! | `release/*` | `release/1.2`, `release/1.2/hotfix` | `hotfix/release/1` |
//! | `*` | every branch | |
//!
//! A `Branches` pattern is written into the push rule's JSON pattern, so it may not hold what
//! JSON or the parameter list would read otherwise ([`check_branch_pattern`]; the template's
//! `AllowedPattern` says the same).

/// The longest `Branches` pattern (the template's `AllowedPattern`).
pub const MAX_PATTERN_LEN: usize = 256;

/// Whether `text` matches the EventBridge wildcard `pattern` (the whole of it).
pub fn matches(pattern: &str, text: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Token {
        Any,
        Char(char),
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('*' | '\\')) => tokens.extend(chars.next().map(Token::Char)),
            '*' => tokens.push(Token::Any),
            c => tokens.push(Token::Char(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // Greedy match, backtracking to the last star.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(Token::Char(c)) if Some(c) == text.get(t) => {
                t += 1;
                p += 1;
            }
            Some(Token::Any) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    tokens.get(p..).is_some_and(|rest| rest.iter().all(|token| *token == Token::Any))
}

/// Whether any of `patterns` matches `branch`.
pub fn any_matches<S: AsRef<str>>(patterns: &[S], branch: &str) -> bool {
    patterns.iter().any(|pattern| matches(pattern.as_ref(), branch))
}

/// Checks one `Branches` pattern: 1 to [`MAX_PATTERN_LEN`] characters, none of them a double
/// quote, a backslash, a comma or white space (a branch name holds none of these but the quote,
/// and the pattern is written into the rule's JSON unescaped).
pub fn check_branch_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() || pattern.chars().count() > MAX_PATTERN_LEN {
        return Err(format!("branch pattern {pattern:?}: need 1 to {MAX_PATTERN_LEN} characters"));
    }
    if let Some(bad) = pattern.chars().find(|c| matches!(c, '"' | '\\' | ',') || c.is_whitespace()) {
        return Err(format!(
            "branch pattern {pattern:?}: {bad:?} is not allowed (no quote, backslash, comma or space)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_whole_values() {
        let table = [
            ("main", "main", true),
            ("main", "main2", false),
            ("release/*", "release/1.2", true),
            ("release/*", "release/1.2/hotfix", true),
            ("release/*", "release/", true),
            ("release/*", "hotfix/release/1", false),
            ("*/1.*", "release/1.2", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
            ("*", "anything/at/all", true),
            ("", "", true),
            ("", "x", false),
        ];
        for (pattern, text, expected) in table {
            assert_eq!(matches(pattern, text), expected, "{pattern} ~ {text}");
        }
        assert!(any_matches(&["main", "release/*"], "release/2"));
        assert!(!any_matches(&["main", "release/*"], "feature/x"));
        assert!(!any_matches::<&str>(&[], "main"));
    }

    #[test]
    fn branch_patterns_are_checked_as_the_template_checks_them() {
        for good in ["main", "release/*", "*", "feat-#12_x.y", &"a".repeat(MAX_PATTERN_LEN)] {
            assert_eq!(check_branch_pattern(good), Ok(()), "{good}");
        }
        for bad in ["", "a\"b", "a\\*", "a,b", "a b", "\tx", &"a".repeat(MAX_PATTERN_LEN + 1)] {
            assert!(check_branch_pattern(bad).is_err(), "{bad:?}");
        }
    }
}
