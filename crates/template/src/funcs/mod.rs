//! The function sets templates are parsed with, built once: [`TASK`] for task templates (Go's
//! builtins, consul-template's helpers, Nomad's data functions and `sprig_*`) and [`CLI`] for
//! `-t` output (Go's builtins and `sprig_*`, as Nomad's CLI offers). Every function checks its
//! argument count when called, and the parse-time check uses the same [`Arity`]. Every call —
//! Go's builtins included, and the hooks [`crate::instrument`] adds — is metered by
//! [`crate::limits`]: a step per call, and the result measured.

pub(crate) mod args;
mod builtins;
pub(crate) mod data;
mod helpers;
mod sprig;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use gotmpl::{FuncMap, Value, ValueFunc};

use crate::{instrument, limits};

/// A function body: the arguments (count already checked) to a value, or an error message.
pub(crate) type Impl = fn(&[Value]) -> Result<Value, String>;

/// How many arguments a function takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arity {
    /// From `min` to `max` (no upper bound when `None`).
    Range { min: usize, max: Option<usize> },
    /// Exactly one of two counts.
    Either(usize, usize),
}

impl Arity {
    pub(crate) const fn exactly(n: usize) -> Arity {
        Arity::Range {
            min: n,
            max: Some(n),
        }
    }

    pub(crate) const fn between(min: usize, max: usize) -> Arity {
        Arity::Range {
            min,
            max: Some(max),
        }
    }

    pub(crate) const fn at_least(min: usize) -> Arity {
        Arity::Range { min, max: None }
    }

    pub(crate) fn accepts(self, n: usize) -> bool {
        match self {
            Arity::Range { min, max } => n >= min && max.is_none_or(|max| n <= max),
            Arity::Either(a, b) => n == a || n == b,
        }
    }
}

impl fmt::Display for Arity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Arity::Range {
                min,
                max: Some(max),
            } if max == min => write!(f, "{max}"),
            Arity::Range {
                min,
                max: Some(max),
            } if max == min + 1 => write!(f, "{min} or {max}"),
            Arity::Range {
                min,
                max: Some(max),
            } => write!(f, "{min} to {max}"),
            Arity::Range { min, max: None } => write!(f, "at least {min}"),
            Arity::Either(a, b) => write!(f, "{a} or {b}"),
        }
    }
}

/// One function: its name in templates, what it takes, what it does.
pub(crate) struct Func {
    pub name: &'static str,
    pub arity: Arity,
    pub call: Impl,
}

/// Shorthand for the function tables.
pub(crate) const fn func(name: &'static str, arity: Arity, call: Impl) -> Func {
    Func { name, arity, call }
}

/// Go's `text/template` builtins, which the engine provides itself.
const BUILTINS: &[&str] = &[
    "and", "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt", "ne", "not", "or",
    "print", "printf", "println", "slice", "urlquery",
];

/// Names real templates use that drover does not define, and why.
const NOT_OFFERED: &[(&str, &str)] = &[
    ("key", CONSUL),
    ("keyExists", CONSUL),
    ("keyOrDefault", CONSUL),
    ("ls", CONSUL),
    ("safeLs", CONSUL),
    ("tree", CONSUL),
    ("safeTree", CONSUL),
    ("service", CONSUL),
    ("services", CONSUL),
    ("connect", CONSUL),
    ("caRoots", CONSUL),
    ("caLeaf", CONSUL),
    ("node", CONSUL),
    ("nodes", CONSUL),
    ("datacenters", CONSUL),
    ("byKey", CONSUL),
    ("explode", CONSUL),
    ("writeToFile", DENIED),
    ("plugin", DENIED),
    ("file", NOT_YET),
    ("secrets", NOT_YET),
    ("pkiCert", NOT_YET),
    ("sockaddr", NOT_YET),
    ("scratch", NOT_YET),
    ("md5sum", NOT_YET),
    ("parseYAML", NOT_YET),
    ("toTOML", NOT_YET),
];
const CONSUL: &str = "; it reads Consul, and drover has no Consul integration";
const DENIED: &str = "; Nomad denies it in templates by default, and drover does not offer it";
const NOT_YET: &str = "; drover does not support it yet";

/// A set of functions a template may call.
pub(crate) struct FuncSet {
    arities: BTreeMap<String, Arity>,
    map: FuncMap,
}

impl FuncSet {
    fn build(groups: &[(&str, &'static [Func])]) -> FuncSet {
        let mut set = FuncSet {
            arities: BTreeMap::new(),
            map: FuncMap::new(),
        };
        for (prefix, funcs) in groups {
            for f in *funcs {
                set.add(format!("{prefix}{}", f.name), f.arity, f.call);
            }
        }
        builtins::install(&mut set.map);
        set.hook(instrument::ITERATION, limits::iteration);
        set.hook(instrument::ENTERED, limits::step);
        set
    }

    fn add(&mut self, name: String, arity: Arity, call: Impl) {
        let shown = name.clone();
        let wrapped: ValueFunc = Arc::new(move |args: &[Value]| {
            let fail = |message: String| gotmpl::TemplateError::Exec(format!("{shown}: {message}"));
            limits::step().map_err(fail)?;
            if !arity.accepts(args.len()) {
                return Err(gotmpl::TemplateError::Exec(format!(
                    "wrong number of arguments for {shown}: expected {arity}, got {}",
                    args.len()
                )));
            }
            let result = call(args).map_err(fail)?;
            limits::account(&result).map_err(fail)?;
            Ok(result)
        });
        self.arities.insert(name.clone(), arity);
        self.map.insert(name, wrapped);
    }

    /// Adds a metering hook: a function of no arguments returning nil.
    fn hook(&mut self, name: &str, charge: fn() -> Result<(), String>) {
        let hook: ValueFunc = Arc::new(move |_: &[Value]| {
            charge()
                .map(|()| Value::Nil)
                .map_err(gotmpl::TemplateError::Exec)
        });
        self.map.insert(name.to_string(), hook);
    }

    /// True if templates of this set may call `name`.
    pub(crate) fn defines(&self, name: &str) -> bool {
        BUILTINS.contains(&name) || self.arities.contains_key(name)
    }

    /// The arity of one of drover's functions (`None` for builtins and unknown names).
    pub(crate) fn arity(&self, name: &str) -> Option<Arity> {
        self.arities.get(name).copied()
    }

    /// Why `name` is not defined, as "; …", or "".
    pub(crate) fn hint(&self, name: &str) -> String {
        if let Some((_, why)) = NOT_OFFERED.iter().find(|(n, _)| *n == name) {
            return (*why).to_string();
        }
        if let Some(bare) = name.strip_prefix("sprig_")
            && self.defines(bare)
        {
            return format!("; use {bare:?}");
        }
        if self.defines(&format!("sprig_{name}")) {
            return format!("; did you mean \"sprig_{name}\"?");
        }
        String::new()
    }

    /// The engine's function map for this set.
    pub(crate) fn func_map(&self) -> FuncMap {
        self.map.clone()
    }
}

/// Functions of task templates.
pub(crate) static TASK: LazyLock<FuncSet> = LazyLock::new(|| {
    FuncSet::build(&[
        ("", helpers::FUNCS),
        ("", data::FUNCS),
        ("", sprig::DEFAULT),
        ("sprig_", sprig::FUNCS),
        ("sprig_", data::SPRIG_ENV),
    ])
});

/// Functions of the CLI's `-t` output.
pub(crate) static CLI: LazyLock<FuncSet> =
    LazyLock::new(|| FuncSet::build(&[("sprig_", sprig::FUNCS), ("sprig_", sprig::PROCESS_ENV)]));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arities_accept_and_describe_their_counts() {
        assert!(Arity::exactly(1).accepts(1));
        assert!(!Arity::exactly(1).accepts(2));
        assert!(Arity::between(0, 1).accepts(0));
        assert!(!Arity::at_least(2).accepts(1));
        assert!(Arity::at_least(2).accepts(20));
        assert_eq!(Arity::exactly(2).to_string(), "2");
        assert_eq!(Arity::between(1, 2).to_string(), "1 or 2");
        assert_eq!(Arity::between(1, 3).to_string(), "1 to 3");
        assert_eq!(Arity::at_least(1).to_string(), "at least 1");
        assert!(Arity::Either(1, 3).accepts(3));
        assert!(!Arity::Either(1, 3).accepts(2));
        assert_eq!(Arity::Either(1, 3).to_string(), "1 or 3");
    }

    #[test]
    fn the_sets_hold_what_they_promise() {
        for name in [
            "env",
            "nomadVar",
            "toJSON",
            "split",
            "default",
            "sprig_toPrettyJson",
            "len",
        ] {
            assert!(TASK.defines(name), "{name}");
        }
        for name in [
            "sprig_toPrettyJson",
            "sprig_toJson",
            "sprig_upper",
            "sprig_join",
            "index",
        ] {
            assert!(CLI.defines(name), "{name}");
        }
        for name in ["toJSON", "nomadVar", "env"] {
            assert!(!CLI.defines(name), "{name}");
        }
        assert!(TASK.hint("key").contains("Consul"));
        assert_eq!(
            CLI.hint("toPrettyJson"),
            "; did you mean \"sprig_toPrettyJson\"?"
        );
        assert_eq!(TASK.hint("nonsense"), "");
    }

    #[test]
    fn no_function_is_listed_twice_or_shadows_a_builtin() {
        let mut seen = std::collections::BTreeSet::new();
        for (prefix, funcs) in [
            ("", helpers::FUNCS),
            ("", data::FUNCS),
            ("", sprig::DEFAULT),
            ("sprig_", sprig::FUNCS),
            ("sprig_", data::SPRIG_ENV),
        ] {
            for f in funcs {
                let name = format!("{prefix}{}", f.name);
                assert!(seen.insert(name.clone()), "{name} twice");
                assert!(
                    !BUILTINS.contains(&name.as_str()),
                    "{name} shadows a builtin"
                );
            }
        }
    }
}
