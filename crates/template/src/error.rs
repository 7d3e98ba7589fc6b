//! The crate's one error type, [`TemplateError`]: what went wrong in parsing or rendering a
//! template, where (line and column for anything found in the text), and what to do about it.

/// Why a template could not be parsed or rendered.
///
/// Parse-time variants carry the 1-based line and column of the offending text. Render-time
/// failures carry no position: the engine reports them without one.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The text is not a valid Go template: a lexical or syntax error, a block (`{{if}}`,
    /// `{{range}}`, `{{with}}`, `{{define}}`, `{{block}}`) left without its `{{end}}`, or an
    /// `{{end}}`/`{{else}}`/`{{break}}` with no block to belong to.
    #[error("template {name:?}: line {line}, column {column}: {message}")]
    Syntax {
        name: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// The template calls a function that this function set does not define.
    #[error(
        "template {name:?}: line {line}, column {column}: function {function:?} not defined{hint}"
    )]
    UnknownFunction {
        name: String,
        line: usize,
        column: usize,
        function: String,
        /// Empty, or a sentence starting with "; " that says why the name is not available.
        hint: String,
    },
    /// A function is called with a number of arguments it never accepts.
    #[error(
        "template {name:?}: line {line}, column {column}: wrong number of arguments for {function}: expected {expected}, got {got}"
    )]
    ArgumentCount {
        name: String,
        line: usize,
        column: usize,
        function: String,
        /// What the function takes, e.g. "1", "1 or 3", "at least 2".
        expected: String,
        got: usize,
    },
    /// Executing the template failed: a function returned an error, a value had the wrong type
    /// for an operation, a limit was reached.
    #[error("template {name:?}: rendering failed: {message}")]
    Render { name: String, message: String },
    /// Rendering kept discovering new data to fetch (each value read led to another lookup)
    /// after the pass limit.
    #[error(
        "template {name:?}: rendering found new data to fetch in each of {passes} passes; lookups that depend on the results of other lookups may nest at most {passes} levels deep"
    )]
    Unsettled { name: String, passes: usize },
}

impl TemplateError {
    /// The 1-based line the error points at, for errors found in the template's text.
    pub fn line(&self) -> Option<usize> {
        match self {
            TemplateError::Syntax { line, .. }
            | TemplateError::UnknownFunction { line, .. }
            | TemplateError::ArgumentCount { line, .. } => Some(*line),
            TemplateError::Render { .. } | TemplateError::Unsettled { .. } => None,
        }
    }
}

/// 1-based (line, column) of a byte offset in `text`; the column counts characters.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_columns() {
        let text = "ab\ncdé\nf";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        assert_eq!(line_column(text, 7), (2, 4));
        assert_eq!(line_column(text, 9), (3, 2));
        assert_eq!(line_column(text, 100), (3, 2));
        // Inside a multi-byte character: the character's own column.
        assert_eq!(line_column(text, 6), (2, 3));
    }
}
