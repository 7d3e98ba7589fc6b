//! Diagnostics: what went wrong, where (file:line:col), and the source map that turns byte
//! offsets from the HCL parser into line and column numbers.

use std::fmt;
use std::ops::Range;

/// One problem found in a jobspec or in the variable values given for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file (or source such as `-var`) the problem is in.
    pub file: String,
    /// 1-based line; 0 when the problem has no position.
    pub line: usize,
    /// 1-based column in characters; 0 when the problem has no position.
    pub column: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

/// A jobspec that could not be parsed or validated; holds one or more diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.diagnostics))]
pub struct ParseError {
    diagnostics: Vec<Diagnostic>,
}

fn render(diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(Diagnostic::to_string).collect();
    lines.join("\n")
}

impl ParseError {
    /// Wraps diagnostics; an empty list becomes a single generic diagnostic so that an error
    /// always says something.
    pub fn new(mut diagnostics: Vec<Diagnostic>) -> Self {
        if diagnostics.is_empty() {
            diagnostics.push(Diagnostic {
                file: String::new(),
                line: 0,
                column: 0,
                message: "invalid jobspec".to_string(),
            });
        }
        ParseError { diagnostics }
    }

    /// A single problem without a position, such as a malformed `-var` flag.
    pub fn unpositioned(file: &str, message: impl Into<String>) -> Self {
        ParseError::new(vec![Diagnostic {
            file: file.to_string(),
            line: 0,
            column: 0,
            message: message.into(),
        }])
    }

    /// Every problem found, in source order of discovery.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }
}

/// Maps byte offsets of one source text to 1-based line and column numbers.
#[derive(Debug)]
pub(crate) struct SourceMap<'a> {
    pub file: &'a str,
    pub text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceMap {
            file,
            text,
            line_starts,
        }
    }

    /// Line and column (both 1-based, column in characters) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self
            .line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |prefix| prefix.chars().count())
            + 1;
        (line.max(1), column)
    }

    /// A diagnostic at the start of `span` (or at 1:1 when the span is unknown).
    pub fn diag(&self, span: Option<Range<usize>>, message: impl Into<String>) -> Diagnostic {
        let (line, column) = self.position(span.map_or(0, |s| s.start));
        Diagnostic {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    /// The source text of a span, if it is valid for this source.
    pub fn slice(&self, span: &Range<usize>) -> Option<&'a str> {
        self.text.get(span.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let map = SourceMap::new("f.hcl", "ab\n\u{e9}cd\n");
        assert_eq!(map.position(0), (1, 1));
        assert_eq!(map.position(1), (1, 2));
        assert_eq!(map.position(3), (2, 1));
        // 'é' is two bytes but one column.
        assert_eq!(map.position(5), (2, 2));
        assert_eq!(map.position(100), (3, 1));
    }

    #[test]
    fn display_names_file_line_and_column() {
        let err = ParseError::new(vec![
            Diagnostic {
                file: "a.hcl".into(),
                line: 3,
                column: 5,
                message: "bad".into(),
            },
            Diagnostic {
                file: "-var".into(),
                line: 0,
                column: 0,
                message: "worse".into(),
            },
        ]);
        assert_eq!(err.to_string(), "a.hcl:3:5: bad\n-var: worse");
    }
}
