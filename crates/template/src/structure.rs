//! The block-structure check the engine's parser leaves out: every `{{if}}`, `{{range}}`,
//! `{{with}}`, `{{define}}` and `{{block}}` must be closed by its `{{end}}`, and `{{end}}`,
//! `{{else}}`, `{{break}}` and `{{continue}}` must sit inside a block that allows them. The
//! engine silently accepts an unclosed block or a stray `{{end}}` (and drops everything after
//! it); Go reports "unexpected EOF" / "unexpected {{end}}", and so does this check.
//!
//! It also bounds nesting before the engine parses: the engine's parser and the checks after
//! it recurse once per nested block and once per `{{else if}}`/`{{else with}}` of a chain, so
//! a text nesting deeper than [`MAX_NESTING`] (or more than [`MAX_BLOCKS`] blocks, the
//! engine's own limit) is refused here, with the line it went too deep on, and never reaches
//! the engine.
//!
//! This is a small iterative scanner over the actions of a text. It honours custom delimiters,
//! trim markers (`{{- ` and ` -}}`), comments, and the three quoted forms (`"…"`, `` `…` ``,
//! `'…'`), so a delimiter inside a string does not end an action. An action whose end it cannot
//! find (an unclosed string or comment) is reported as [`Problem::Lost`]: the engine's lexer
//! reports that text more precisely, and it must not be parsed unchecked.

/// Blocks (`{{if}}`, `{{range}}`, …) that may be open at once: the engine's parser allows 99.
pub(crate) const MAX_BLOCKS: usize = 99;

/// How deeply a template may nest, counting each open block and each `{{else if}}` or
/// `{{else with}}` of a chain as one level.
pub(crate) const MAX_NESTING: usize = 150;

/// A problem with the block structure at `offset` (bytes into the text).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StructureError {
    pub offset: usize,
    pub message: String,
    pub problem: Problem,
}

/// What kind of problem a [`StructureError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// A block keyword misplaced, or a block left open. Engine syntax errors come first.
    Misplaced,
    /// Nesting past [`MAX_NESTING`] or [`MAX_BLOCKS`]: the engine must not parse the text.
    TooDeep,
    /// An action whose end cannot be found: the engine must not parse the text.
    Lost,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    If,
    Range,
    With,
    Define,
    Block,
}

impl Kind {
    fn keyword(self) -> &'static str {
        match self {
            Kind::If => "if",
            Kind::Range => "range",
            Kind::With => "with",
            Kind::Define => "define",
            Kind::Block => "block",
        }
    }
}

/// An open block.
struct Open {
    kind: Kind,
    offset: usize,
    /// A plain `{{else}}` was seen: only `{{end}}` may follow.
    else_seen: bool,
    /// `{{else if}}`/`{{else with}}` links chained to it so far.
    links: usize,
}

/// Checks the block structure of `text` with delimiters `left`/`right`.
pub(crate) fn check(text: &str, left: &str, right: &str) -> Result<(), StructureError> {
    if left.is_empty() || right.is_empty() {
        return Ok(());
    }
    let mut blocks = Blocks {
        text,
        open: Vec::new(),
        nesting: 0,
    };
    let mut pos = 0;
    while let Some(found) = text.get(pos..).and_then(|rest| rest.find(left)) {
        let start = pos + found;
        let Some(action) = next_action(text, start, left, right) else {
            return Err(StructureError {
                offset: start,
                message: "cannot find where this action ends: a quoted string or character constant in it does not end on its line, or a raw string or comment is not closed".into(),
                problem: Problem::Lost,
            });
        };
        if let Some(body) = action.body {
            blocks.action(start, body)?;
        }
        pos = action.next;
    }
    match blocks.open.last() {
        None => Ok(()),
        Some(open) => {
            let (line, _) = crate::error::line_column(text, open.offset);
            Err(StructureError {
                offset: text.len(),
                message: format!(
                    "unexpected EOF: the {{{{{}}}}} opened on line {line} has no {{{{end}}}}; close it with {{{{end}}}}",
                    open.kind.keyword()
                ),
                problem: Problem::Misplaced,
            })
        }
    }
}

/// One action: its body (`None` for a comment) and where scanning resumes.
struct Action<'a> {
    body: Option<&'a str>,
    next: usize,
}

/// The action whose left delimiter starts at `start`, or `None` if it cannot be delimited.
fn next_action<'a>(text: &'a str, start: usize, left: &str, right: &str) -> Option<Action<'a>> {
    let mut at = start + left.len();
    let rest = text.get(at..)?;
    if rest.starts_with('-') && rest[1..].starts_with(is_trim_space) {
        at += 2;
    }
    if text.get(at..)?.starts_with("/*") {
        let close = at + 2 + text.get(at + 2..)?.find("*/")? + 2;
        let end = close + text.get(close..)?.find(right)?;
        return Some(Action {
            body: None,
            next: end + right.len(),
        });
    }
    let (end, next) = action_end(text, at, right)?;
    Some(Action {
        body: Some(&text[at..end]),
        next,
    })
}

fn is_trim_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Where the action body starting at `at` ends and where the text after its right delimiter
/// starts, skipping quoted strings and character constants. A right delimiter preceded by a
/// trim marker (` -`) ends the action there, as the engine's lexer has it.
fn action_end(text: &str, at: usize, right: &str) -> Option<(usize, usize)> {
    let mut pos = at;
    while pos < text.len() {
        let rest = text.get(pos..)?;
        if rest.starts_with(is_trim_space)
            && rest[1..].starts_with('-')
            && rest[2..].starts_with(right)
        {
            return Some((pos, pos + 2 + right.len()));
        }
        if rest.starts_with(right) {
            return Some((pos, pos + right.len()));
        }
        let c = rest.chars().next()?;
        pos += match c {
            '"' => quoted_len(rest, '"', true)?,
            '\'' => quoted_len(rest, '\'', true)?,
            '`' => quoted_len(rest, '`', false)?,
            _ => c.len_utf8(),
        };
    }
    None
}

/// Length in bytes of the quoted form at the start of `rest`, quotes included.
fn quoted_len(rest: &str, quote: char, escapes: bool) -> Option<usize> {
    let mut chars = rest.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Some(i + c.len_utf8());
        }
        if escapes && c == '\\' {
            chars.next()?;
        } else if escapes && c == '\n' {
            return None;
        }
    }
    None
}

/// The stack of open blocks and the rules for each keyword.
struct Blocks<'a> {
    text: &'a str,
    open: Vec<Open>,
    /// Open blocks plus the chain links of each.
    nesting: usize,
}

impl Blocks<'_> {
    fn action(&mut self, offset: usize, body: &str) -> Result<(), StructureError> {
        let mut words = body
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty());
        let first_is_word = body
            .trim_start()
            .starts_with(|c: char| c.is_alphabetic() || c == '_');
        if !first_is_word {
            return Ok(());
        }
        let Some(word) = words.next() else {
            return Ok(());
        };
        let kind = match word {
            "if" => Kind::If,
            "range" => Kind::Range,
            "with" => Kind::With,
            "block" => Kind::Block,
            "define" => {
                if let Some(outer) = self.open.last() {
                    return Err(self.error(
                        offset,
                        format!(
                            "unexpected {{{{define}}}} inside the {{{{{}}}}} opened on line {}; define templates at the top level",
                            outer.kind.keyword(),
                            self.line(outer.offset)
                        ),
                    ));
                }
                Kind::Define
            }
            "end" => return self.end(offset),
            "else" => return self.else_(offset, words.next()),
            "break" | "continue" => return self.loop_control(offset, word),
            _ => return Ok(()),
        };
        if self.open.len() >= MAX_BLOCKS {
            return Err(self.too_deep(offset, format!("blocks nest more than {MAX_BLOCKS} deep")));
        }
        self.deeper(offset)?;
        self.open.push(Open {
            kind,
            offset,
            else_seen: false,
            links: 0,
        });
        Ok(())
    }

    /// One level deeper, unless that is past [`MAX_NESTING`].
    fn deeper(&mut self, offset: usize) -> Result<(), StructureError> {
        if self.nesting >= MAX_NESTING {
            return Err(self.too_deep(
                offset,
                format!(
                    "blocks and {{{{else if}}}}/{{{{else with}}}} chains nest more than {MAX_NESTING} deep"
                ),
            ));
        }
        self.nesting += 1;
        Ok(())
    }

    fn too_deep(&self, offset: usize, what: String) -> StructureError {
        StructureError {
            offset,
            message: format!(
                "{what}; move parts into {{{{define}}}}d templates or use a shorter chain"
            ),
            problem: Problem::TooDeep,
        }
    }

    fn end(&mut self, offset: usize) -> Result<(), StructureError> {
        match self.open.pop() {
            Some(open) => {
                self.nesting -= 1 + open.links;
                Ok(())
            }
            None => Err(self.error(
                offset,
                "unexpected {{end}}: there is no open {{if}}, {{range}}, {{with}}, {{define}} or {{block}} for it to close".into(),
            )),
        }
    }

    fn else_(&mut self, offset: usize, next: Option<&str>) -> Result<(), StructureError> {
        let chained = match next {
            Some("if") => Some(Kind::If),
            Some("with") => Some(Kind::With),
            _ => None,
        };
        let shown = match chained {
            Some(kind) => format!("{{{{else {}}}}}", kind.keyword()),
            None => "{{else}}".to_string(),
        };
        let Some(open) = self.open.last() else {
            return Err(self.error(
                offset,
                format!("unexpected {shown}: it is not inside an {{{{if}}}}, {{{{range}}}} or {{{{with}}}}"),
            ));
        };
        let (kind, opened, else_seen) = (open.kind, open.offset, open.else_seen);
        let allowed = match chained {
            Some(chain) => chain == kind,
            None => matches!(kind, Kind::If | Kind::Range | Kind::With),
        };
        if !allowed {
            return Err(self.error(
                offset,
                format!(
                    "unexpected {shown} in the {{{{{}}}}} opened on line {}",
                    kind.keyword(),
                    self.line(opened)
                ),
            ));
        }
        if else_seen {
            return Err(self.error(
                offset,
                format!(
                    "expected {{{{end}}}}, found {shown}: the {{{{{}}}}} opened on line {} already had its {{{{else}}}}",
                    kind.keyword(),
                    self.line(opened)
                ),
            ));
        }
        if chained.is_some() {
            self.deeper(offset)?;
        }
        if let Some(open) = self.open.last_mut() {
            match chained {
                Some(_) => open.links += 1,
                None => open.else_seen = true,
            }
        }
        Ok(())
    }

    /// `{{break}}`/`{{continue}}` belong in the body of a `{{range}}` (not its `{{else}}`),
    /// within the same template.
    fn loop_control(&self, offset: usize, word: &str) -> Result<(), StructureError> {
        let in_range = self
            .open
            .iter()
            .rev()
            .take_while(|o| !matches!(o.kind, Kind::Define | Kind::Block))
            .any(|o| o.kind == Kind::Range && !o.else_seen);
        if in_range {
            Ok(())
        } else {
            Err(self.error(offset, format!("{{{{{word}}}}} outside {{{{range}}}}")))
        }
    }

    fn line(&self, offset: usize) -> usize {
        crate::error::line_column(self.text, offset).0
    }

    fn error(&self, offset: usize, message: String) -> StructureError {
        StructureError {
            offset,
            message,
            problem: Problem::Misplaced,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) {
        assert_eq!(check(text, "{{", "}}"), Ok(()), "{text}");
    }

    fn err(text: &str, contains: &str) -> usize {
        match check(text, "{{", "}}") {
            Err(e) => {
                assert!(e.message.contains(contains), "{text}: {}", e.message);
                e.offset
            }
            Ok(()) => panic!("{text} passed"),
        }
    }

    #[test]
    fn well_formed_blocks_pass() {
        ok("plain text");
        ok("{{if .A}}a{{else if .B}}b{{else}}c{{end}}");
        ok("{{with .A}}a{{else with .B}}b{{else}}c{{end}}");
        ok("{{range $i, $v := .L}}{{if $i}},{{end}}{{$v}}{{else}}none{{end}}");
        ok("{{range .L}}{{if .}}{{break}}{{end}}{{continue}}{{end}}");
        ok("{{define \"x\"}}{{if .}}y{{end}}{{end}}{{template \"x\" .}}");
        ok("{{block \"b\" .}}default{{end}}");
        ok("{{- if .A -}} a {{- end -}}");
        ok("{{/* {{if}} in a comment */}}{{- /* trimmed */ -}}");
        ok("{{ \"}}{{if\" }}{{ `{{end}}` }}{{ '}' }}");
        ok("{{.end}}{{$end := 1}}{{ending}}");
    }

    #[test]
    fn unclosed_blocks_are_unexpected_eof() {
        for (text, kind) in [
            ("{{if .A}}x", "{{if}}"),
            ("{{range .L}}x", "{{range}}"),
            ("{{with .A}}x", "{{with}}"),
            ("{{define \"a\"}}x", "{{define}}"),
            ("{{block \"a\" .}}x", "{{block}}"),
            ("{{if .A}}{{if .B}}x{{end}}", "{{if}}"),
        ] {
            let offset = err(text, "unexpected EOF");
            assert_eq!(offset, text.len());
            err(text, kind);
        }
        err("a\n{{if .A}}\nb", "opened on line 2");
    }

    #[test]
    fn stray_keywords_are_reported_where_they_are() {
        assert_eq!(err("ab{{end}}cd", "unexpected {{end}}"), 2);
        err("{{if .A}}{{end}}{{end}}", "unexpected {{end}}");
        err("x{{else}}y", "unexpected {{else}}");
        err(
            "{{define \"a\"}}{{else}}{{end}}",
            "unexpected {{else}} in the {{define}}",
        );
        err(
            "{{range .L}}{{else if .A}}{{end}}",
            "unexpected {{else if}} in the {{range}}",
        );
        err(
            "{{if .A}}{{else with .B}}{{end}}",
            "unexpected {{else with}} in the {{if}}",
        );
        err(
            "{{if .A}}{{else}}{{else}}{{end}}",
            "expected {{end}}, found {{else}}",
        );
        err("{{break}}", "{{break}} outside {{range}}");
        err(
            "{{if .}}{{continue}}{{end}}",
            "{{continue}} outside {{range}}",
        );
        err(
            "{{range .}}{{define \"x\"}}{{end}}{{end}}",
            "define templates at the top level",
        );
        err(
            "{{range .}}{{block \"x\" .}}{{break}}{{end}}{{end}}",
            "{{break}} outside {{range}}",
        );
    }

    #[test]
    fn custom_delimiters_are_honoured() {
        assert_eq!(check("[[if .A]]{{end}}[[end]]", "[[", "]]"), Ok(()));
        assert!(check("[[if .A]]{{end}}", "[[", "]]").is_err());
        assert!(check("<% end %>", "<%", "%>").is_err());
    }

    #[test]
    fn texts_it_cannot_delimit_are_lost() {
        for text in [
            "{{if \"unterminated}}",
            "x{{ /* not closed",
            "{{",
            "{{ \"two\nlines\" }}",
        ] {
            let e = check(text, "{{", "}}").unwrap_err();
            assert_eq!(e.problem, Problem::Lost, "{text}");
            assert_eq!(e.offset, text.find("{{").unwrap());
        }
    }

    #[test]
    fn break_in_a_ranges_else_is_outside_the_range() {
        err(
            "{{range .L}}{{else}}{{break}}{{end}}",
            "{{break}} outside {{range}}",
        );
        err(
            "{{range .L}}{{else}}{{if .}}{{continue}}{{end}}{{end}}",
            "{{continue}} outside {{range}}",
        );
        ok("{{range .A}}{{range .L}}{{else}}{{break}}{{end}}{{end}}");
    }

    #[test]
    fn nesting_is_bounded_before_the_engine_parses() {
        let chain = |n: usize| format!("{{{{if 0}}}}{}{{{{end}}}}", "{{else if 0}}".repeat(n));
        ok(&chain(MAX_NESTING - 1));
        let e = check(&chain(50_000), "{{", "}}").unwrap_err();
        assert_eq!(e.problem, Problem::TooDeep);
        assert!(e.message.contains("more than 150 deep"), "{}", e.message);
        assert_eq!(
            e.offset,
            "{{if 0}}".len() + (MAX_NESTING - 1) * "{{else if 0}}".len()
        );

        let nested = |n: usize| format!("{}{}", "{{with 1}}".repeat(n), "{{end}}".repeat(n));
        ok(&nested(MAX_BLOCKS));
        let e = check(&nested(MAX_BLOCKS + 1), "{{", "}}").unwrap_err();
        assert_eq!(e.problem, Problem::TooDeep);
        assert!(e.message.contains("more than 99 deep"), "{}", e.message);

        // Closed blocks and chains give their levels back.
        let many = format!("{}{}", chain(100), chain(100));
        ok(&many.repeat(10));
        // Chains inside nested blocks count with them.
        let inner = format!(
            "{}{}{}",
            "{{with 1}}".repeat(60),
            chain(100),
            "{{end}}".repeat(60)
        );
        assert_eq!(
            check(&inner, "{{", "}}").unwrap_err().problem,
            Problem::TooDeep
        );
    }
}
