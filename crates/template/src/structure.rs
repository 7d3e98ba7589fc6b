//! The block-structure check the engine's parser leaves out: every `{{if}}`, `{{range}}`,
//! `{{with}}`, `{{define}}` and `{{block}}` must be closed by its `{{end}}`, and `{{end}}`,
//! `{{else}}`, `{{break}}` and `{{continue}}` must sit inside a block that allows them. The
//! engine silently accepts an unclosed block or a stray `{{end}}` (and drops everything after
//! it); Go reports "unexpected EOF" / "unexpected {{end}}", and so does this check.
//!
//! This is a small scanner over the actions of a text the engine has already lexed and parsed
//! without error. It honours custom delimiters, trim markers (`{{- ` and ` -}}`), comments, and
//! the three quoted forms (`"…"`, `` `…` ``, `'…'`), so a delimiter inside a string does not end
//! an action. Should it ever lose its way in such a text it reports nothing rather than guess.

/// A misplaced or unclosed block keyword at `offset` (bytes into the text).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StructureError {
    pub offset: usize,
    pub message: String,
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
}

/// Checks the block structure of `text` with delimiters `left`/`right`.
pub(crate) fn check(text: &str, left: &str, right: &str) -> Result<(), StructureError> {
    if left.is_empty() || right.is_empty() {
        return Ok(());
    }
    let mut blocks = Blocks {
        text,
        open: Vec::new(),
    };
    let mut pos = 0;
    while let Some(found) = text.get(pos..).and_then(|rest| rest.find(left)) {
        let start = pos + found;
        let Some(action) = next_action(text, start, left, right) else {
            return Ok(());
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
    let end = action_end(text, at, right)?;
    Some(Action {
        body: Some(&text[at..end]),
        next: end + right.len(),
    })
}

fn is_trim_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Byte offset of the right delimiter closing the action body that starts at `at`, skipping
/// quoted strings and character constants.
fn action_end(text: &str, at: usize, right: &str) -> Option<usize> {
    let mut pos = at;
    while pos < text.len() {
        let rest = text.get(pos..)?;
        if rest.starts_with(right) {
            return Some(pos);
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
        self.open.push(Open {
            kind,
            offset,
            else_seen: false,
        });
        Ok(())
    }

    fn end(&mut self, offset: usize) -> Result<(), StructureError> {
        match self.open.pop() {
            Some(_) => Ok(()),
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
        if chained.is_none()
            && let Some(open) = self.open.last_mut()
        {
            open.else_seen = true;
        }
        Ok(())
    }

    fn loop_control(&self, offset: usize, word: &str) -> Result<(), StructureError> {
        let in_range = self
            .open
            .iter()
            .rev()
            .take_while(|o| !matches!(o.kind, Kind::Define | Kind::Block))
            .any(|o| o.kind == Kind::Range);
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
        StructureError { offset, message }
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
    fn texts_it_cannot_delimit_are_left_to_the_parser() {
        ok("{{if \"unterminated}}");
        ok("{{ /* not closed");
        ok("{{");
    }
}
