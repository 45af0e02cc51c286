//! Intrinsic functions of a template's `key.$` field (`"environments.$": "States.Format('[{}]',
//! $.record.environments)"`): a tokenizer, a recursive-descent parser and an evaluator, for the
//! functions the pipeline uses, as the AWS Step Functions developer guide defines them
//! ("Intrinsic functions for JSONPath states in Step Functions",
//! <https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html>).
//!
//! Grammar (an argument is a path, a nested call, or a literal; calls nest up to 10 deep, the
//! guide's limit):
//!
//! ```text
//! call     = NAME "(" [ argument { "," argument } ] ")"
//! argument = PATH | call | STRING | NUMBER | "true" | "false" | "null"
//! ```
//!
//! - A `PATH` is `$...` up to the next `,`, `)` or blank, read as [`super::read`] reads paths.
//! - A `STRING` is in single quotes. The guide's reserved characters `'`, `{`, `}` and `\` are
//!   written `\'`, `\{`, `\}` and `\\` ("Reserved characters in intrinsic functions"); any other
//!   backslash is an error, as it is in Step Functions ("If an open escape backslash \ is found in
//!   the intrinsic invocation string, the interpreter will throw a runtime error"). An unescaped
//!   `{}` is a placeholder of `States.Format`'s template; any other unescaped `{` or `}` is an
//!   error (a reserved character), and so is a placeholder in any other string.
//!
//! The functions (the guide's sections "Intrinsics for arrays", "... for JSON data manipulation",
//! "... for Math operations", "... for generic operations"):
//!
//! | function | arguments | result |
//! |----------|-----------|--------|
//! | `States.Format(template, args...)` | a literal template, then one argument per `{}` (a count mismatch is an error) | the template with each `{}` replaced by its argument: a string as is (raw, unquoted), a number as its JSON text |
//! | `States.JsonToString(path)` | a path (the guide: "This argument must be a Path") | the JSON text of the value |
//! | `States.StringToJson(string)` | a path or a call giving a string | the parsed JSON value |
//! | `States.ArrayLength(array)` | a list | its length |
//! | `States.ArrayGetItem(array, index)` | a list and a whole number | the item at the index (from 0); past the end is an error |
//! | `States.ArrayContains(array, value)` | a list and any value | whether the list holds the value |
//! | `States.MathAdd(a, b)` | two whole numbers | their sum |
//! | `States.JsonMerge(a, b, false)` | two objects and `false` (the shallow mode) | `a`'s fields with `b`'s, `b`'s winning where both have one |
//!
//! What the model does not know is an error naming the expression and the problem, never a guess:
//! another function, a template read from a path, a `States.Format` argument that is not a
//! string or a number, `States.JsonMerge`'s deep mode (`true`), a `States.MathAdd` argument that
//! is not a whole number.

use serde_json::{Map, Number, Value};

use super::{PathError, read};

/// How deep calls may nest (the guide: "You can nest up to 10 intrinsic functions within a
/// field").
const MAX_NESTING: usize = 10;

/// The functions the model knows, for the error naming them.
const KNOWN: &str = "States.Format, States.JsonToString, States.StringToJson, States.ArrayLength, \
                     States.ArrayGetItem, States.ArrayContains, States.MathAdd and States.JsonMerge";

/// A piece of a string literal: text, or a `{}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Slot,
}

/// A token, with the text it was read from.
#[derive(Debug, Clone, PartialEq)]
enum Token<'e> {
    Name(&'e str),
    Path(&'e str),
    Text(Vec<Piece>),
    Literal(Value),
    Open,
    Close,
    Comma,
}

/// A token and where it is in the expression (byte offsets).
#[derive(Debug, Clone, PartialEq)]
struct Spanned<'e> {
    token: Token<'e>,
    start: usize,
    end: usize,
}

/// The tokens of `expression`, or what is wrong with it.
fn tokenize(expression: &str) -> Result<Vec<Spanned<'_>>, String> {
    let mut tokens = Vec::new();
    let mut chars = expression.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        let token = match c {
            _ if c.is_whitespace() => {
                chars.next();
                continue;
            }
            '(' | ')' | ',' => {
                chars.next();
                match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Comma,
                }
            }
            '$' => {
                let end = scan(&mut chars, |c| !(c == ',' || c == ')' || c.is_whitespace()));
                Token::Path(slice(expression, start, end))
            }
            '\'' => {
                chars.next();
                Token::Text(string(&mut chars)?)
            }
            '"' => return Err(format!("string literals are in single quotes ('...'), not double quotes (at {start})")),
            '-' | '0'..='9' => {
                let end = scan(&mut chars, |c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
                let text = slice(expression, start, end);
                let number: Number =
                    serde_json::from_str(text).map_err(|_| format!("{text:?} is not a number (at {start})"))?;
                Token::Literal(Value::Number(number))
            }
            _ if c.is_ascii_alphabetic() => {
                let end = scan(&mut chars, |c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                match slice(expression, start, end) {
                    "true" => Token::Literal(Value::Bool(true)),
                    "false" => Token::Literal(Value::Bool(false)),
                    "null" => Token::Literal(Value::Null),
                    name => Token::Name(name),
                }
            }
            other => return Err(format!("unexpected {other:?} (at {start})")),
        };
        let end = chars.peek().map_or(expression.len(), |&(at, _)| at);
        tokens.push(Spanned { token, start, end });
    }
    Ok(tokens)
}

/// Consumes the characters that `keep` takes; the offset after them.
fn scan(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, keep: impl Fn(char) -> bool) -> usize {
    let mut end = 0;
    while let Some(&(at, c)) = chars.peek() {
        if !keep(c) {
            return at;
        }
        end = at + c.len_utf8();
        chars.next();
    }
    end
}

fn slice(text: &str, start: usize, end: usize) -> &str {
    text.get(start..end).unwrap_or_default()
}

/// A string literal's pieces, after its opening quote, through its closing one.
fn string(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    loop {
        let Some((at, c)) = chars.next() else { return Err("a string literal is not closed".into()) };
        match c {
            '\'' => break,
            '\\' => match chars.next() {
                Some((_, escaped @ ('\'' | '{' | '}' | '\\'))) => text.push(escaped),
                Some((_, other)) => return Err(format!("an open escape \\{other} (at {at}): only \\' \\{{ \\}} \\\\")),
                None => return Err("a string literal ends in an open escape \\".into()),
            },
            '{' if chars.peek().is_some_and(|&(_, next)| next == '}') => {
                chars.next();
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Slot);
            }
            '{' | '}' => return Err(format!("the reserved character {c} (at {at}) must be escaped: \\{c}")),
            other => text.push(other),
        }
    }
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// A parsed argument, with the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
struct Expr<'e> {
    kind: Kind<'e>,
    text: &'e str,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind<'e> {
    Path(&'e str),
    Call { name: &'e str, args: Vec<Expr<'e>> },
    Text(Vec<Piece>),
    Literal(Value),
}

/// The recursive-descent parser over the tokens of one expression.
struct Parser<'e> {
    expression: &'e str,
    tokens: Vec<Spanned<'e>>,
    at: usize,
}

impl<'e> Parser<'e> {
    fn peek(&self) -> Option<&Spanned<'e>> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Spanned<'e>> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    /// `call`, at `depth` calls deep.
    fn call(&mut self, depth: usize) -> Result<Expr<'e>, String> {
        let Some(Spanned { token: Token::Name(name), start, .. }) = self.next() else {
            return Err("expected a function name, like States.Format".into());
        };
        if depth > MAX_NESTING {
            return Err(format!("calls nest more than {MAX_NESTING} deep (Step Functions' limit)"));
        }
        match self.next() {
            Some(Spanned { token: Token::Open, .. }) => {}
            _ => return Err(format!("{name} must be followed by its arguments in parentheses")),
        }
        let mut args = Vec::new();
        if matches!(self.peek(), Some(Spanned { token: Token::Close, .. })) {
            self.next();
        } else {
            loop {
                args.push(self.argument(depth)?);
                match self.next() {
                    Some(Spanned { token: Token::Comma, .. }) => {}
                    Some(Spanned { token: Token::Close, .. }) => break,
                    Some(Spanned { start, .. }) => {
                        return Err(format!("{name}: expected , or ) after an argument (at {start})"));
                    }
                    None => return Err(format!("{name}( is not closed")),
                }
            }
        }
        let end = self.tokens.get(self.at - 1).map_or(self.expression.len(), |token| token.end);
        Ok(Expr { kind: Kind::Call { name, args }, text: slice(self.expression, start, end) })
    }

    /// `argument`.
    fn argument(&mut self, depth: usize) -> Result<Expr<'e>, String> {
        let Some(Spanned { token, start, end }) = self.peek().cloned() else {
            return Err("an argument is missing at the end".into());
        };
        let text = slice(self.expression, start, end);
        let kind = match token {
            Token::Name(_) => return self.call(depth + 1),
            Token::Path(path) => Kind::Path(path),
            Token::Text(pieces) => Kind::Text(pieces),
            Token::Literal(value) => Kind::Literal(value),
            Token::Open | Token::Close | Token::Comma => {
                return Err(format!("an argument is missing (at {start})"));
            }
        };
        self.next();
        Ok(Expr { kind, text: text.trim_end() })
    }
}

/// `expression` (a call, as a `key.$` field holds it) parsed.
fn parse(expression: &str) -> Result<Expr<'_>, String> {
    let mut parser = Parser { expression, tokens: tokenize(expression)?, at: 0 };
    let call = parser.call(1)?;
    match parser.next() {
        None => Ok(call),
        Some(Spanned { start, .. }) => Err(format!("unexpected text after the call (at {start})")),
    }
}

/// The value of the intrinsic call `expression` over `data`.
pub(super) fn evaluate(expression: &str, data: &Value) -> Result<Value, PathError> {
    let function = |problem: String| PathError::Function { expression: expression.to_owned(), problem };
    let call = parse(expression).map_err(function)?;
    Evaluator { expression, data }.value(&call)
}

struct Evaluator<'a> {
    expression: &'a str,
    data: &'a Value,
}

impl Evaluator<'_> {
    fn error(&self, problem: String) -> PathError {
        PathError::Function { expression: self.expression.to_owned(), problem }
    }

    /// The value of an argument (a path must exist: Step Functions fails the state otherwise).
    fn value(&self, expr: &Expr<'_>) -> Result<Value, PathError> {
        match &expr.kind {
            Kind::Path(path) => read(self.data, path)?.ok_or_else(|| PathError::Missing((*path).to_owned())),
            Kind::Literal(value) => Ok(value.clone()),
            Kind::Text(pieces) => match pieces.as_slice() {
                [Piece::Text(text)] => Ok(Value::String(text.clone())),
                _ => Err(self.error(format!("{} holds a {{}}, which only States.Format's template may", expr.text))),
            },
            Kind::Call { name, args } => self.call(name, args),
        }
    }

    fn call(&self, name: &str, args: &[Expr<'_>]) -> Result<Value, PathError> {
        match name {
            "States.Format" => self.format(args),
            "States.JsonToString" => {
                let [argument] = self.arguments(name, args, "one argument, a path")?;
                if !matches!(argument.kind, Kind::Path(_)) {
                    return Err(self.error(format!("{name}'s argument must be a path, not {}", argument.text)));
                }
                let value = self.value(argument)?;
                serde_json::to_string(&value)
                    .map(Value::String)
                    .map_err(|error| self.error(format!("{}: {error}", argument.text)))
            }
            "States.StringToJson" => {
                let [argument] = self.arguments(name, args, "one argument, a string")?;
                let text = self.string(argument)?;
                serde_json::from_str(&text)
                    .map_err(|error| self.error(format!("{} is not JSON text ({error}): {text:?}", argument.text)))
            }
            "States.ArrayLength" => {
                let [list] = self.arguments(name, args, "one argument, a list")?;
                Ok(Value::from(self.list(list)?.len()))
            }
            "States.ArrayGetItem" => {
                let [list, index] = self.arguments(name, args, "two arguments, a list and an index")?;
                let items = self.list(list)?;
                let at = self.value(index)?;
                let position = at
                    .as_u64()
                    .ok_or_else(|| self.error(format!("the index {} is {at}, not a whole number >= 0", index.text)))?;
                let item = usize::try_from(position).ok().and_then(|position| items.get(position));
                item.cloned().ok_or_else(|| {
                    let count = items.len();
                    self.error(format!(
                        "the index {} is {position}, past the end of {} ({count} items)",
                        index.text, list.text
                    ))
                })
            }
            "States.ArrayContains" => {
                let [list, wanted] = self.arguments(name, args, "two arguments, a list and a value")?;
                let items = self.list(list)?;
                Ok(Value::Bool(items.contains(&self.value(wanted)?)))
            }
            "States.MathAdd" => {
                let [a, b] = self.arguments(name, args, "two arguments, whole numbers")?;
                let (a, b) = (self.whole(a)?, self.whole(b)?);
                a.checked_add(b).map(Value::from).ok_or_else(|| self.error(format!("{a} + {b} overflows")))
            }
            "States.JsonMerge" => {
                let [first, second, deep] = self.arguments(name, args, "three arguments, two objects and false")?;
                match self.value(deep)? {
                    Value::Bool(false) => {}
                    Value::Bool(true) => {
                        return Err(self.error(format!(
                            "{name}'s deep mode ({} is true) is beyond the model: it knows the shallow merge (false)",
                            deep.text
                        )));
                    }
                    other => {
                        return Err(
                            self.error(format!("{name}'s third argument {} is {other}, not a boolean", deep.text))
                        );
                    }
                }
                let mut merged: Map<String, Value> = self.object(first)?;
                merged.extend(self.object(second)?);
                Ok(Value::Object(merged))
            }
            other if other.starts_with("States.") => {
                Err(self.error(format!("deltaship knows no {other}: it knows {KNOWN}")))
            }
            other => Err(self.error(format!("{other} is not an intrinsic function (they are States.*)"))),
        }
    }

    /// The `N` arguments of `name`, or an error saying what it takes.
    fn arguments<'x, 'e, const N: usize>(
        &self,
        name: &str,
        args: &'x [Expr<'e>],
        what: &str,
    ) -> Result<&'x [Expr<'e>; N], PathError> {
        <&[Expr<'e>; N]>::try_from(args)
            .map_err(|_| self.error(format!("{name} takes {what}, not {} argument(s)", args.len())))
    }

    /// `States.Format`: the template's `{}`s replaced by the arguments, in order.
    fn format(&self, args: &[Expr<'_>]) -> Result<Value, PathError> {
        let Some((template, values)) = args.split_first() else {
            return Err(self.error("States.Format takes a template and its arguments".into()));
        };
        let Kind::Text(pieces) = &template.kind else {
            return Err(self.error(format!(
                "States.Format's template {} is not a string literal: the model knows literal templates only",
                template.text
            )));
        };
        let slots = pieces.iter().filter(|piece| **piece == Piece::Slot).count();
        if slots != values.len() {
            return Err(self.error(format!(
                "States.Format's template has {slots} {{}} and {} argument(s) to put in them",
                values.len()
            )));
        }
        let mut values = values.iter();
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Slot => {
                    let Some(argument) = values.next() else { break };
                    match self.value(argument)? {
                        Value::String(text) => out.push_str(&text),
                        Value::Number(number) => out.push_str(&number.to_string()),
                        other => {
                            return Err(self.error(format!(
                                "States.Format's argument {} is {other}: the model formats strings and numbers only",
                                argument.text
                            )));
                        }
                    }
                }
            }
        }
        Ok(Value::String(out))
    }

    fn string(&self, expr: &Expr<'_>) -> Result<String, PathError> {
        match self.value(expr)? {
            Value::String(text) => Ok(text),
            other => Err(self.error(format!("{} is {other}, not a string", expr.text))),
        }
    }

    fn list(&self, expr: &Expr<'_>) -> Result<Vec<Value>, PathError> {
        match self.value(expr)? {
            Value::Array(items) => Ok(items),
            _ => Err(PathError::NotAList(expr.text.to_owned())),
        }
    }

    fn object(&self, expr: &Expr<'_>) -> Result<Map<String, Value>, PathError> {
        match self.value(expr)? {
            Value::Object(fields) => Ok(fields),
            other => Err(self.error(format!("{} is {other}, not an object", expr.text))),
        }
    }

    fn whole(&self, expr: &Expr<'_>) -> Result<i64, PathError> {
        let value = self.value(expr)?;
        value.as_i64().ok_or_else(|| self.error(format!("{} is {value}, not a whole number", expr.text)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn data() -> Value {
        json!({
            "name": "users",
            "count": 2,
            "zero": 0,
            "big": i64::MAX,
            "half": 1.5,
            "flag": true,
            "nothing": null,
            "list": ["a", "b", "c"],
            "numbers": [1, 2, 3],
            "empty": [],
            "last": { "name": "staging", "ok": true, "outcome": "deployed" },
            "summary": { "name": "users", "environments": [] },
            "text": "{\"a\":1}",
            "records": "{\"name\":\"staging\"},{\"name\":\"production\"}",
            "template": "Hello {}",
            "outcomes": [{ "ok": true }, { "ok": false }],
        })
    }

    fn eval(expression: &str) -> Result<Value, PathError> {
        evaluate(expression, &data())
    }

    /// What each function makes, as the guide's examples and the pipeline use them.
    #[test]
    fn each_function_makes_what_the_guide_says() {
        let table: Vec<(&str, Value)> = vec![
            // States.Format: strings raw, numbers as JSON text, escapes.
            ("States.Format('Hello, my name is {}.', $.name)", json!("Hello, my name is users.")),
            ("States.Format('{},{}', $.name, $.count)", json!("users,2")),
            ("States.Format('[{}]', $.records)", json!("[{\"name\":\"staging\"},{\"name\":\"production\"}]")),
            ("States.Format('no placeholders')", json!("no placeholders")),
            ("States.Format('{}', 'lit')", json!("lit")),
            ("States.Format('{}{}', -1, 2.5)", json!("-12.5")),
            (r"States.Format('\'{}\' \{x\} \\ {}', $.name, $.zero)", json!(r"'users' {x} \ 0")),
            // States.JsonToString / StringToJson.
            ("States.JsonToString($.last)", json!(r#"{"name":"staging","ok":true,"outcome":"deployed"}"#)),
            ("States.JsonToString($.name)", json!(r#""users""#)),
            ("States.StringToJson($.text)", json!({ "a": 1 })),
            (
                "States.StringToJson(States.Format('[{}]', $.records))",
                json!([{ "name": "staging" }, { "name": "production" }]),
            ),
            ("States.StringToJson(States.JsonToString($.last))", data()["last"].clone()),
            ("States.StringToJson('[]')", json!([])),
            // Arrays.
            ("States.ArrayLength($.list)", json!(3)),
            ("States.ArrayLength($.empty)", json!(0)),
            ("States.ArrayLength($.outcomes[*].ok)", json!(2)),
            ("States.ArrayGetItem($.list, 0)", json!("a")),
            ("States.ArrayGetItem($.list, $.count)", json!("c")),
            ("States.ArrayGetItem($.numbers, States.MathAdd($.zero, 1))", json!(2)),
            ("States.ArrayContains($.outcomes[*].ok, false)", json!(true)),
            ("States.ArrayContains($.list, 'z')", json!(false)),
            ("States.ArrayContains($.numbers, $.count)", json!(true)),
            // Math.
            ("States.MathAdd($.count, 1)", json!(3)),
            ("States.MathAdd(-5, $.zero)", json!(-5)),
            ("States.MathAdd(States.ArrayLength($.list), -3)", json!(0)),
            // JSON merge: the second's fields win; shallow.
            (
                "States.JsonMerge($.last, $.summary, false)",
                json!({ "name": "users", "ok": true, "outcome": "deployed", "environments": [] }),
            ),
            (
                "States.JsonMerge($.summary, $.last, false)",
                json!({ "name": "staging", "ok": true, "outcome": "deployed", "environments": [] }),
            ),
            // Blanks around arguments.
            ("States.MathAdd(  $.count ,1 )", json!(3)),
        ];
        for (expression, expected) in table {
            assert_eq!(eval(expression), Ok(expected), "{expression}");
        }
    }

    /// The guide's shallow merge: a field both objects have is the second's, whole (not merged).
    #[test]
    fn json_merge_is_shallow() {
        let data = json!({ "a": { "x": { "k": 1 }, "y": 2 }, "b": { "x": { "j": 3 }, "z": 4 } });
        let merged = evaluate("States.JsonMerge($.a, $.b, false)", &data);
        assert_eq!(merged, Ok(json!({ "x": { "j": 3 }, "y": 2, "z": 4 })));
    }

    /// `$` is a path too: the state machine's *Promote* merges the next environment's target over
    /// the whole state (`States.JsonMerge($, $.promotion.target, false)`), so the target's fields
    /// replace the service's, `null` ones included, and the rest stays.
    #[test]
    fn json_merge_over_the_whole_state() {
        let data = json!({
            "name": "users", "cluster": "shop", "timeout_minutes": 15,
            "answer": { "decision": "approved", "by": "arn:ops", "comment": null },
            "promotion": { "target": { "cluster": "shop-production", "timeout_minutes": 45, "answer": null } },
        });
        let merged = evaluate("States.JsonMerge($, $.promotion.target, false)", &data).unwrap();
        assert_eq!(
            merged,
            json!({
                "name": "users", "cluster": "shop-production", "timeout_minutes": 45, "answer": null,
                "promotion": data["promotion"].clone(),
            })
        );
    }

    /// Errors name the expression and the problem.
    #[test]
    fn errors_name_the_expression_and_the_problem() {
        let table = [
            ("States.Format('{} and {}', $.name)", "has 2 {} and 1 argument(s)"),
            ("States.Format('{}', $.name, $.name)", "has 1 {} and 2 argument(s)"),
            ("States.Format($.template, $.name)", "not a string literal"),
            ("States.Format('{}', $.last)", "formats strings and numbers only"),
            ("States.Format('{}', $.flag)", "formats strings and numbers only"),
            ("States.Format()", "takes a template"),
            ("States.Format('a { b')", "reserved character { (at 17) must be escaped: \\{"),
            ("States.Format('', )", "an argument is missing"),
            ("States.Format('a } b')", "reserved character }"),
            (r"States.Format('a \n b')", r"open escape \n"),
            ("States.Format('unclosed)", "not closed"),
            ("States.Format(\"{}\", $.name)", "single quotes"),
            ("States.JsonToString('text')", "must be a path"),
            ("States.JsonToString($.name, $.name)", "takes one argument, a path, not 2"),
            ("States.StringToJson($.name)", "is not JSON text"),
            ("States.StringToJson($.count)", "not a string"),
            ("States.ArrayGetItem($.list, 3)", "past the end of $.list (3 items)"),
            ("States.ArrayGetItem($.list, -1)", "not a whole number >= 0"),
            ("States.ArrayGetItem($.list, $.half)", "not a whole number >= 0"),
            ("States.MathAdd($.half, 1)", "$.half is 1.5, not a whole number"),
            ("States.MathAdd($.big, 1)", "overflows"),
            ("States.MathAdd($.name, 1)", "not a whole number"),
            ("States.MathAdd(1)", "takes two arguments, whole numbers, not 1 argument(s)"),
            ("States.JsonMerge($.last, $.summary, true)", "deep mode"),
            ("States.JsonMerge($.last, $.summary, 0)", "not a boolean"),
            ("States.JsonMerge($.last, $.list, false)", "$.list is"),
            ("States.JsonMerge($.last, $.summary)", "takes three arguments, two objects and false"),
            ("States.UUID()", "deltaship knows no States.UUID"),
            ("Other.Thing($.name)", "not an intrinsic function"),
            ("States.MathAdd($.count, 1) extra", "unexpected text after the call"),
            ("States.MathAdd($.count 1)", "expected , or )"),
            ("States.MathAdd($.count,)", "an argument is missing"),
            ("States.MathAdd", "must be followed by its arguments"),
            ("States.Format('{}', 'a{}')", "only States.Format's template may"),
        ];
        for (expression, problem) in table {
            let error = eval(expression).unwrap_err();
            let PathError::Function { expression: named, .. } = &error else {
                panic!("{expression}: {error:?}");
            };
            assert_eq!(named, expression);
            assert!(error.to_string().contains(problem), "{expression}: {error}");
        }
        // Paths that do not exist, and arguments that are not lists, keep their own errors.
        assert_eq!(eval("States.ArrayLength($.none)"), Err(PathError::Missing("$.none".into())));
        assert_eq!(eval("States.ArrayLength($.name)"), Err(PathError::NotAList("$.name".into())));
        assert_eq!(
            eval("States.ArrayContains(States.JsonToString($.list), 'a')"),
            Err(PathError::NotAList("States.JsonToString($.list)".into()))
        );
        assert_eq!(eval("States.JsonToString($..x)"), Err(PathError::Unknown("$..x".into())));
    }

    /// Up to 10 calls nest; an eleventh is Step Functions' limit passed.
    #[test]
    fn calls_nest_ten_deep() {
        let nested = |depth: usize| {
            let mut expression = "$.zero".to_owned();
            for _ in 0..depth {
                expression = format!("States.MathAdd({expression}, 1)");
            }
            expression
        };
        assert_eq!(eval(&nested(10)), Ok(json!(10)));
        let error = eval(&nested(11)).unwrap_err();
        assert!(error.to_string().contains("nest more than 10 deep"), "{error}");
    }

    #[test]
    fn strings_are_tokenized_with_their_escapes_and_placeholders() {
        let tokens = tokenize(r"States.Format('a\'{}\{\}\\', $.x, 1.5e1, true, null)").unwrap();
        let kinds: Vec<Token<'_>> = tokens.into_iter().map(|spanned| spanned.token).collect();
        assert_eq!(
            kinds,
            vec![
                Token::Name("States.Format"),
                Token::Open,
                Token::Text(vec![Piece::Text("a'".into()), Piece::Slot, Piece::Text(r"{}\".into())]),
                Token::Comma,
                Token::Path("$.x"),
                Token::Comma,
                Token::Literal(json!(15.0)),
                Token::Comma,
                Token::Literal(json!(true)),
                Token::Comma,
                Token::Literal(Value::Null),
                Token::Close,
            ]
        );
        assert_eq!(tokenize("''").unwrap()[0].token, Token::Text(vec![Piece::Text(String::new())]));
    }
}
