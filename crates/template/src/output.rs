//! Executing a parsed template safely: into a string with a size limit, so no template (a loop
//! around a long string, say) can fill memory — past [`MAX_OUTPUT`] bytes execution stops with
//! an error — and on a thread of its own with a large stack, so a deeply recursive template
//! (`{{template}}` and `executeTemplate` calling themselves) meets the engine's depth limits
//! rather than the end of the caller's stack, whatever thread the caller runs on.

use std::fmt;

use gotmpl::Value;

/// The most text one execution may write: 64 MiB.
pub(crate) const MAX_OUTPUT: usize = 64 << 20;

/// Stack of the thread executions run on. Reserved, not committed: pages are touched only as
/// deep as a template recurses.
const STACK_SIZE: usize = 256 << 20;

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

/// A `String` that refuses to grow past [`MAX_OUTPUT`].
struct Limited {
    text: String,
    exceeded: bool,
}

impl fmt::Write for Limited {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.text.len() + s.len() > MAX_OUTPUT {
            self.exceeded = true;
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
    let mut out = Limited {
        text: String::new(),
        exceeded: false,
    };
    let result = match define {
        None => template.execute_fmt(&mut out, data),
        Some(name) => template.execute_template_fmt(&mut out, name, data),
    };
    match result {
        Ok(()) => Ok(out.text),
        Err(_) if out.exceeded => Err(gotmpl::TemplateError::Exec(format!(
            "the output grew past {} MiB; a template's output must be smaller",
            MAX_OUTPUT >> 20
        ))),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_limit_is_an_error() {
        let template = gotmpl::Template::new("t")
            .parse("{{ range 70 }}{{ printf \"%65535s\" \"\" }}{{ range 16 }}{{ printf \"%65535s\" \"\" }}{{ end }}{{ end }}")
            .unwrap();
        let err = execute(&template, None, &Value::Nil).unwrap_err();
        assert!(err.to_string().contains("grew past 64 MiB"), "{err}");
        let small = gotmpl::Template::new("t").parse("ok").unwrap();
        assert_eq!(execute(&small, None, &Value::Nil).unwrap(), "ok");
    }
}
