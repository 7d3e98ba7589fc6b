//! Variables rules keyed by (namespace, path), both possibly globs. An exact namespace and exact
//! path wins; otherwise the closest glob pair, its difference being the sum of both sides'.

use std::collections::BTreeMap;

use crate::capability_set::CapabilitySet;
use crate::glob::{closest, difference, is_glob};

#[derive(Debug, Clone, Default)]
pub(crate) struct VariableRules {
    /// namespace → path → capabilities, for rules with no `*` on either side.
    exact: BTreeMap<String, BTreeMap<String, CapabilitySet>>,
    /// (namespace pattern, path pattern) → capabilities, for the rest.
    globs: BTreeMap<(String, String), CapabilitySet>,
}

impl VariableRules {
    /// The capabilities held for exactly this namespace and path pattern, created empty.
    pub(crate) fn entry(&mut self, namespace: &str, path: &str) -> &mut CapabilitySet {
        if is_glob(namespace) || is_glob(path) {
            self.globs
                .entry((namespace.to_string(), path.to_string()))
                .or_default()
        } else {
            self.exact
                .entry(namespace.to_string())
                .or_default()
                .entry(path.to_string())
                .or_default()
        }
    }

    /// The rule written for exactly this namespace and path, if any.
    pub(crate) fn exact(&self, namespace: &str, path: &str) -> Option<&CapabilitySet> {
        self.exact.get(namespace)?.get(path)
    }

    /// The closest glob rule matching this namespace and path, if any.
    pub(crate) fn closest_glob(&self, namespace: &str, path: &str) -> Option<&CapabilitySet> {
        closest(
            self.globs
                .iter()
                .filter_map(|((namespace_glob, path_glob), rule)| {
                    let namespace_difference = difference(namespace_glob, namespace)?;
                    let path_difference = difference(path_glob, path)?;
                    Some((namespace_difference + path_difference, rule))
                }),
        )
    }
}
