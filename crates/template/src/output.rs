//! Executing a parsed template safely: into a string with a size limit, so no template (a loop
//! around a long string, say) can fill memory — past [`MAX_OUTPUT`] bytes execution stops with
//! an error — with every write charged as a step of the render's [`crate::limits`], and on a
//! thread of its own with a large stack, so a deeply recursive template (`{{template}}` and
//! `executeTemplate` calling themselves) meets the engine's depth limits rather than the end of
//! the caller's stack, whatever thread the caller runs on.

use std::fmt;

use gotmpl::Value;

use crate::{instrument, limits};

/// The most text one execution may write: 64 MiB.
pub(crate) const MAX_OUTPUT: usize = 64 << 20;

/// Stack of the thread executions run on. Reserved, not committed: pages are touched only as
/// deep as a template recurses, which the engine's depth limit (200 levels per execution),
/// `executeTemplate`'s (16 nested executions) and the nesting limits on templates and values
/// keep well inside it.
const STACK_SIZE: usize = 64 << 20;

/// Runs `f` on a new thread with a [`STACK_SIZE`] stack, waiting for it.
pub(crate) fn on_large_stack<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, String> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("template".into())
            .stack_size(STACK_SIZE)
            .spawn_scoped(scope, f)
            .map_err(|e| format!("could not start a thread to render on: {e}"))?
            .join()
            .map_err(|_| "rendering stopped unexpectedly".to_string())
    })
}

/// A `String` that refuses to grow past its limit, charging a step for every write.
pub(crate) struct Capped {
    text: String,
    limit: usize,
    /// Why the last write was refused: a limit of the render, or `None` for this buffer's.
    refused: Option<Option<String>>,
}

impl Capped {
    pub(crate) fn new(limit: usize) -> Capped {
        Capped {
            text: String::new(),
            limit,
            refused: None,
        }
    }

    pub(crate) fn into_text(self) -> String {
        self.text
    }

    /// Why writing failed, for a value being built: a limit of the render, else the value
    /// would have been too large for one value or for what the render may still make.
    pub(crate) fn failure(&self) -> String {
        match &self.refused {
            Some(Some(limit)) => limit.clone(),
            _ if self.limit >= limits::MAX_VALUE_SIZE => format!(
                "the result would be larger than {} MiB",
                limits::MAX_VALUE_SIZE >> 20
            ),
            _ => limits::out_of_bytes(),
        }
    }
}

impl fmt::Write for Capped {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if let Err(limit) = limits::step() {
            self.refused = Some(Some(limit));
            return Err(fmt::Error);
        }
        if self.text.len().saturating_add(s.len()) > self.limit {
            self.refused = Some(None);
            return Err(fmt::Error);
        }
        self.text.push_str(s);
        Ok(())
    }
}

/// Executes `template` (or its `{{define}}`d template `define`) with `data` as dot.
pub(crate) fn execute(
    template: &gotmpl::Template,
    define: Option<&str>,
    data: &Value,
) -> gotmpl::Result<String> {
    let mut out = Capped::new(MAX_OUTPUT);
    let result = template.execute_template_fmt(&mut out, define.unwrap_or(instrument::ENTRY), data);
    match (result, out.refused.take()) {
        (Ok(()), _) => Ok(out.text),
        (Err(_), Some(Some(limit))) => Err(gotmpl::TemplateError::Exec(limit)),
        (Err(_), Some(None)) => Err(gotmpl::TemplateError::Exec(format!(
            "the output grew past {} MiB; a template's output must be smaller",
            MAX_OUTPUT >> 20
        ))),
        (Err(e), None) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    #[test]
    fn output_past_the_limit_is_an_error() {
        let parse = |text| crate::Template::parse("t", text, None).unwrap();
        let big = parse(
            "{{ range 70 }}{{ printf \"%65535s\" \"\" }}{{ range 16 }}{{ printf \"%65535s\" \"\" }}{{ end }}{{ end }}",
        );
        let err = execute(&big.inner, None, &Value::Nil).unwrap_err();
        assert!(err.to_string().contains("grew past 64 MiB"), "{err}");
        assert_eq!(
            execute(&parse("ok").inner, None, &Value::Nil).unwrap(),
            "ok"
        );
    }

    #[test]
    fn capped_buffers_say_why_they_stopped() {
        let mut capped = Capped::new(4);
        assert!(capped.write_str("abcd").is_ok());
        assert!(capped.write_str("e").is_err());
        assert!(
            capped.failure().contains("add up to more than"),
            "{}",
            capped.failure()
        );
        let mut big = Capped::new(limits::MAX_VALUE_SIZE);
        big.refused = Some(None);
        assert!(big.failure().contains("larger than 64 MiB"));
    }
}
