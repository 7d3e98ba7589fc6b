//! Name patterns where `*` stands for any run of characters, and Nomad's rule for choosing among
//! several that match: an exact name wins, otherwise the glob whose `*`s stand for the fewest
//! characters ("smallest character difference"), ties going to the pattern that sorts first.

use std::collections::BTreeMap;

/// Whether a rule name is a glob (matched by pattern) rather than an exact name.
pub(crate) fn is_glob(pattern: &str) -> bool {
    pattern.contains('*')
}

/// If `pattern` matches `name`, how many characters of `name` its `*`s stand for.
pub(crate) fn difference(pattern: &str, name: &str) -> Option<usize> {
    if !matches(pattern, name) {
        return None;
    }
    let literal_len = pattern.len() - pattern.matches('*').count();
    Some(name.len() - literal_len)
}

/// Whether `name` matches `pattern`; `*` matches any run of characters, including none.
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let middle_and_last: Vec<&str> = parts.collect();
    let Some((last, middle)) = middle_and_last.split_last() else {
        // No `*` at all: the whole name must be the pattern.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// The value of the closest match among `(difference, value)` candidates.
pub(crate) fn closest<'a, V>(candidates: impl Iterator<Item = (usize, &'a V)>) -> Option<&'a V> {
    candidates
        .min_by_key(|(difference, _)| *difference)
        .map(|(_, value)| value)
}

/// Rules keyed by an exact name or a glob.
#[derive(Debug, Clone)]
pub(crate) struct RuleTable<V> {
    exact: BTreeMap<String, V>,
    globs: BTreeMap<String, V>,
}

impl<V> Default for RuleTable<V> {
    fn default() -> Self {
        RuleTable {
            exact: BTreeMap::new(),
            globs: BTreeMap::new(),
        }
    }
}

impl<V: Default> RuleTable<V> {
    /// The value held for exactly this name or glob, created empty if there is none yet.
    pub(crate) fn entry(&mut self, pattern: &str) -> &mut V {
        let table = if is_glob(pattern) {
            &mut self.globs
        } else {
            &mut self.exact
        };
        table.entry(pattern.to_string()).or_default()
    }
}

impl<V> RuleTable<V> {
    /// The rule that applies to `name`: its exact rule, else the closest matching glob.
    pub(crate) fn lookup(&self, name: &str) -> Option<&V> {
        self.exact.get(name).or_else(|| {
            closest(
                self.globs
                    .iter()
                    .filter_map(|(pattern, value)| Some((difference(pattern, name)?, value))),
            )
        })
    }

    /// Every rule, exact ones first.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.exact.values().chain(self.globs.values())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_any_run_including_none() {
        assert!(matches("*", ""));
        assert!(matches("*", "anything/at/all"));
        assert!(matches("prod-*", "prod-"));
        assert!(matches("prod-*", "prod-web"));
        assert!(matches("*-web", "prod-web"));
        assert!(matches("p*d-*b", "prod-web"));
        assert!(matches("a*a*a", "aaa"));
        assert!(matches("nomad/*/x", "nomad/jobs/web/x"));
    }

    #[test]
    fn literal_parts_must_all_appear_in_order() {
        assert!(!matches("prod-*", "dev-web"));
        assert!(!matches("prod", "prod-web"));
        assert!(!matches("prod-web", "prod"));
        assert!(!matches("*-web", "prod-api"));
        assert!(!matches("a*a*a", "aa"));
        assert!(!matches("ab*ba", "aba"));
    }

    #[test]
    fn difference_counts_what_the_stars_stand_for() {
        assert_eq!(difference("*", "prod-web"), Some(8));
        assert_eq!(difference("prod-*", "prod-web"), Some(3));
        assert_eq!(difference("prod-web", "prod-web"), Some(0));
        assert_eq!(difference("prod-*", "dev"), None);
    }

    #[test]
    fn lookup_prefers_exact_then_the_closest_glob() {
        let mut table: RuleTable<&str> = RuleTable::default();
        *table.entry("*") = "star";
        *table.entry("prod-*") = "prod glob";
        *table.entry("prod-web") = "exact";
        assert_eq!(table.lookup("prod-web"), Some(&"exact"));
        assert_eq!(table.lookup("prod-api"), Some(&"prod glob"));
        assert_eq!(table.lookup("dev"), Some(&"star"));
    }

    #[test]
    fn equally_close_globs_resolve_to_the_one_sorting_first() {
        let mut table: RuleTable<&str> = RuleTable::default();
        *table.entry("web-*") = "suffix glob";
        *table.entry("*-api") = "prefix glob";
        assert_eq!(table.lookup("web-api"), Some(&"prefix glob"));
    }
}
