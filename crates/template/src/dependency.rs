//! What a template reads from outside itself: [`Dependency`] (one thing to fetch and watch),
//! [`Lookup`] (how the renderer asks for it), and [`Rendered`] (the text plus which
//! dependencies were used and which were still missing).

use std::fmt;

/// One piece of outside data a template reads. The client fetches and watches each one and
/// answers [`Lookup::get`] for it; the value shapes are described in the crate documentation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dependency {
    /// `nomadVar "path"` and `nomadVarExists "path"`: one Nomad variable in the task's
    /// namespace. The path has no leading or trailing `/`.
    NomadVar { path: String },
    /// `nomadVarList ["prefix"]` and `nomadVarListSafe ["prefix"]`: the variables under a
    /// prefix (empty: all the task may list).
    NomadVarList { prefix: String },
    /// `nomadService "name"` or `nomadService "tag.name"` (also with the `count "key"` form):
    /// the registrations of one service, optionally only those carrying `tag`.
    NomadService { name: String, tag: Option<String> },
    /// `nomadServices`: every service name in the task's namespace.
    NomadServices,
    /// `secret "path"` (a Vault read) or `secret "path" "k=v" …` (a Vault write of the `k=v`
    /// pairs, in the order given).
    Secret {
        path: String,
        write: Vec<(String, String)>,
    },
}

impl fmt::Display for Dependency {
    /// Nomad's names for dependencies, as in "Missing: vault.read(secret/data/x)". A Vault
    /// write shows a short hash of its data, never the data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dependency::NomadVar { path } => write!(f, "nomad.var.get({path})"),
            Dependency::NomadVarList { prefix } => write!(f, "nomad.var.list({prefix})"),
            Dependency::NomadService {
                name,
                tag: Some(tag),
            } => write!(f, "nomad.service({tag}.{name})"),
            Dependency::NomadService { name, tag: None } => write!(f, "nomad.service({name})"),
            Dependency::NomadServices => write!(f, "nomad.services"),
            Dependency::Secret { path, write } if write.is_empty() => {
                write!(f, "vault.read({path})")
            }
            Dependency::Secret { path, write } => {
                write!(f, "vault.write({path} -> {:08x})", write_hash(write))
            }
        }
    }
}

/// A 32-bit FNV-1a hash of the written pairs: enough to tell two writes apart in an event.
fn write_hash(pairs: &[(String, String)]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for (k, v) in pairs {
        for byte in k.bytes().chain([b'=']).chain(v.bytes()).chain([0]) {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    }
    hash
}

/// What a template reads from the outside. Rendering calls these between its passes, never
/// while a pass runs, and never blocks on them: an answer of `None` means "not fetched yet".
pub trait Lookup {
    /// The task's environment variable `name` (`env "X"` renders "" when it is `None`).
    fn env(&self, name: &str) -> Option<String>;
    /// The current value of `dep`, in the shape the crate documentation gives, or `None` when
    /// it has not been fetched yet: the template records it in [`Rendered::missing`] and renders
    /// on with an empty value.
    fn get(&self, dep: &Dependency) -> Option<serde_json::Value>;
}

/// The result of one render.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    /// The output. Meaningful only when `missing` is empty: while data is missing the text is
    /// rendered with empty values (or is empty if rendering failed for want of them).
    pub text: String,
    /// Dependencies the output needed but did not have (not fetched, or, for `nomadVar`, a
    /// variable that does not exist yet), deduplicated and sorted.
    pub missing: Vec<Dependency>,
    /// Every dependency the template read, deduplicated and sorted: what to watch.
    pub used: Vec<Dependency>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_display_as_nomad_names_them() {
        let cases = [
            (
                Dependency::NomadVar {
                    path: "nomad/jobs/web".into(),
                },
                "nomad.var.get(nomad/jobs/web)",
            ),
            (
                Dependency::NomadVarList {
                    prefix: "nomad/jobs".into(),
                },
                "nomad.var.list(nomad/jobs)",
            ),
            (
                Dependency::NomadService {
                    name: "db".into(),
                    tag: None,
                },
                "nomad.service(db)",
            ),
            (
                Dependency::NomadService {
                    name: "db".into(),
                    tag: Some("primary".into()),
                },
                "nomad.service(primary.db)",
            ),
            (Dependency::NomadServices, "nomad.services"),
            (
                Dependency::Secret {
                    path: "secret/data/x".into(),
                    write: vec![],
                },
                "vault.read(secret/data/x)",
            ),
        ];
        for (dep, shown) in cases {
            assert_eq!(dep.to_string(), shown);
        }
    }

    #[test]
    fn a_vault_write_shows_a_hash_of_its_data_not_the_data() {
        let write = |v: &str| Dependency::Secret {
            path: "pki/issue/web".into(),
            write: vec![("common_name".into(), v.into())],
        };
        let a = write("a.example.com").to_string();
        let b = write("b.example.com").to_string();
        assert!(a.starts_with("vault.write(pki/issue/web -> "), "{a}");
        assert!(!a.contains("example"), "{a}");
        assert_ne!(a, b);
        assert_eq!(a, write("a.example.com").to_string());
    }
}
