//! Constraint checking: resolving `${attr.*}`, `${meta.*}` and `${node.*}` targets against a
//! node, and the operators Nomad accepts (`=`, `!=`, ordering, `regexp`, `version`, `semver`,
//! `set_contains*`, `is_set`, `is_not_set`). `distinct_hosts` and `distinct_property` depend on
//! other placements and are checked by the placement loop, not here.

use std::cmp::Ordering;
use std::collections::HashMap;

use drover_api::{Constraint, Node};
use regex::Regex;

pub(crate) const DISTINCT_HOSTS: &str = "distinct_hosts";
pub(crate) const DISTINCT_PROPERTY: &str = "distinct_property";

/// The operand of a constraint, `=` when left empty.
pub(crate) fn operand(c: &Constraint) -> &str {
    if c.operand.is_empty() {
        "="
    } else {
        c.operand.as_str()
    }
}

/// The text Nomad shows for a constraint in `ConstraintFiltered`.
pub(crate) fn describe(c: &Constraint) -> String {
    format!("{} {} {}", c.l_target, operand(c), c.r_target)
}

/// Resolves a constraint target against a node. Text without `${…}` is a literal; unknown
/// references and missing attributes resolve to nothing.
pub(crate) fn resolve<'a>(target: &'a str, node: &'a Node) -> Option<&'a str> {
    let Some(reference) = target.strip_prefix("${").and_then(|t| t.strip_suffix('}')) else {
        return Some(target);
    };
    match reference {
        "node.unique.id" => Some(&node.id),
        "node.unique.name" => Some(&node.name),
        "node.datacenter" => Some(&node.datacenter),
        "node.class" => Some(&node.node_class),
        "node.pool" => Some(&node.node_pool),
        _ => {
            if let Some(attr) = reference.strip_prefix("attr.") {
                node.attributes.get(attr).map(String::as_str)
            } else if let Some(key) = reference.strip_prefix("meta.") {
                node.meta.get(key).map(String::as_str)
            } else {
                None
            }
        }
    }
}

/// Compiled regular expressions, kept for one evaluation. Invalid patterns map to `None`.
#[derive(Default)]
pub(crate) struct RegexCache {
    compiled: HashMap<String, Option<Regex>>,
}

impl RegexCache {
    fn is_match(&mut self, pattern: &str, text: &str) -> bool {
        if !self.compiled.contains_key(pattern) {
            self.compiled
                .insert(pattern.to_string(), Regex::new(pattern).ok());
        }
        matches!(self.compiled.get(pattern), Some(Some(re)) if re.is_match(text))
    }
}

/// Whether `node` satisfies `c`. Constraints that depend on other allocations are satisfied here.
pub(crate) fn satisfied(c: &Constraint, node: &Node, regexes: &mut RegexCache) -> bool {
    let op = operand(c);
    if op == DISTINCT_HOSTS || op == DISTINCT_PROPERTY {
        return true;
    }
    let left = resolve(&c.l_target, node);
    let right = resolve(&c.r_target, node);
    match op {
        "=" | "==" | "is" => left.is_some() && left == right,
        "!=" | "not" => left != right,
        "<" | "<=" | ">" | ">=" => match (left, right) {
            (Some(l), Some(r)) => check_order(op, l, r),
            _ => false,
        },
        "is_set" => left.is_some(),
        "is_not_set" => left.is_none(),
        "regexp" => match (left, right) {
            (Some(l), Some(r)) => regexes.is_match(r, l),
            _ => false,
        },
        "version" | "semver" => match (left, right) {
            (Some(l), Some(r)) => version_matches(l, r),
            _ => false,
        },
        "set_contains" | "set_contains_all" => match (left, right) {
            (Some(l), Some(r)) => {
                let have = split_set(l);
                split_set(r).all(|want| have.clone().any(|h| h == want))
            }
            _ => false,
        },
        "set_contains_any" => match (left, right) {
            (Some(l), Some(r)) => {
                let have = split_set(l);
                split_set(r).any(|want| have.clone().any(|h| h == want))
            }
            _ => false,
        },
        _ => false,
    }
}

fn split_set(s: &str) -> impl Iterator<Item = &str> + Clone {
    s.split(',').map(str::trim).filter(|item| !item.is_empty())
}

/// Orders two values numerically when both parse as numbers, else lexically.
fn check_order(op: &str, left: &str, right: &str) -> bool {
    let ordering = match (left.trim().parse::<i64>(), right.trim().parse::<i64>()) {
        (Ok(l), Ok(r)) => Some(l.cmp(&r)),
        _ => match (left.trim().parse::<f64>(), right.trim().parse::<f64>()) {
            (Ok(l), Ok(r)) => l.partial_cmp(&r),
            _ => Some(left.cmp(right)),
        },
    };
    let Some(ordering) = ordering else {
        return false;
    };
    match op {
        "<" => ordering == Ordering::Less,
        "<=" => ordering != Ordering::Greater,
        ">" => ordering == Ordering::Greater,
        ">=" => ordering != Ordering::Less,
        _ => false,
    }
}

/// Parses a dotted numeric version (`v1.2.3`, `1.2.3-beta+build` → `[1, 2, 3]`).
fn parse_version(text: &str) -> Option<Vec<u64>> {
    let text = text.trim();
    let text = text.strip_prefix('v').unwrap_or(text);
    let core = text.split(['-', '+']).next().unwrap_or_default();
    if core.is_empty() {
        return None;
    }
    core.split('.')
        .map(|part| part.parse::<u64>().ok())
        .collect()
}

fn compare_versions(a: &[u64], b: &[u64]) -> Ordering {
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| {
            a.get(i)
                .copied()
                .unwrap_or(0)
                .cmp(&b.get(i).copied().unwrap_or(0))
        })
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

/// Whether `version` meets every comma-separated term of `requirement` (`>= 1.2, < 2`).
pub(crate) fn version_matches(version: &str, requirement: &str) -> bool {
    let Some(version) = parse_version(version) else {
        return false;
    };
    let terms: Vec<&str> = requirement.split(',').map(str::trim).collect();
    !terms.is_empty() && terms.iter().all(|term| term_matches(&version, term))
}

fn term_matches(version: &[u64], term: &str) -> bool {
    const OPERATORS: [&str; 7] = [">=", "<=", "!=", "~>", ">", "<", "="];
    let (op, rest) = OPERATORS
        .iter()
        .find_map(|op| term.strip_prefix(op).map(|rest| (*op, rest)))
        .unwrap_or(("=", term));
    let Some(wanted) = parse_version(rest) else {
        return false;
    };
    let ordering = compare_versions(version, &wanted);
    match op {
        ">=" => ordering != Ordering::Less,
        "<=" => ordering != Ordering::Greater,
        ">" => ordering == Ordering::Greater,
        "<" => ordering == Ordering::Less,
        "!=" => ordering != Ordering::Equal,
        "~>" => {
            let mut upper: Vec<u64> = if wanted.len() > 1 {
                wanted[..wanted.len() - 1].to_vec()
            } else {
                wanted.clone()
            };
            if let Some(last) = upper.last_mut() {
                *last = last.saturating_add(1);
            }
            ordering != Ordering::Less && compare_versions(version, &upper) == Ordering::Less
        }
        _ => ordering == Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Node {
        Node {
            id: "n1".into(),
            name: "worker-1".into(),
            datacenter: "dc1".into(),
            node_class: "large".into(),
            node_pool: "default".into(),
            attributes: [
                ("kernel.name", "linux"),
                ("cpu.numcores", "8"),
                ("os.version", "22.04"),
                ("nomad.version", "1.9.3"),
                ("tags", "ssd, gpu,fast"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            meta: [("rack".to_string(), "r1".to_string())].into(),
            ..Default::default()
        }
    }

    fn check(l: &str, op: &str, r: &str) -> bool {
        let c = Constraint {
            l_target: l.into(),
            operand: op.into(),
            r_target: r.into(),
        };
        satisfied(&c, &node(), &mut RegexCache::default())
    }

    #[test]
    fn resolves_node_targets() {
        let n = node();
        assert_eq!(resolve("${node.unique.id}", &n), Some("n1"));
        assert_eq!(resolve("${node.unique.name}", &n), Some("worker-1"));
        assert_eq!(resolve("${node.datacenter}", &n), Some("dc1"));
        assert_eq!(resolve("${node.class}", &n), Some("large"));
        assert_eq!(resolve("${node.pool}", &n), Some("default"));
        assert_eq!(resolve("${attr.kernel.name}", &n), Some("linux"));
        assert_eq!(resolve("${meta.rack}", &n), Some("r1"));
        assert_eq!(resolve("${meta.missing}", &n), None);
        assert_eq!(resolve("${nonsense}", &n), None);
        assert_eq!(resolve("linux", &n), Some("linux"));
    }

    #[test]
    fn equality_operators() {
        assert!(check("${attr.kernel.name}", "=", "linux"));
        assert!(check("${attr.kernel.name}", "", "linux"));
        assert!(check("${attr.kernel.name}", "is", "linux"));
        assert!(!check("${attr.kernel.name}", "==", "windows"));
        assert!(check("${attr.kernel.name}", "!=", "windows"));
        assert!(check("${attr.missing}", "not", "windows"));
        assert!(!check("${attr.missing}", "=", "${attr.other_missing}"));
    }

    #[test]
    fn ordering_is_numeric_when_possible() {
        assert!(check("${attr.cpu.numcores}", ">=", "8"));
        assert!(check("${attr.cpu.numcores}", "<", "10"));
        assert!(!check("${attr.cpu.numcores}", ">", "10"));
        assert!(check("${attr.os.version}", ">", "9.1"));
        assert!(check("${meta.rack}", "<", "r2"));
        assert!(!check("${attr.missing}", "<", "r2"));
    }

    #[test]
    fn set_regexp_and_presence() {
        assert!(check("${attr.tags}", "set_contains", "gpu,ssd"));
        assert!(check("${attr.tags}", "set_contains_all", "fast"));
        assert!(!check("${attr.tags}", "set_contains", "gpu,hdd"));
        assert!(check("${attr.tags}", "set_contains_any", "hdd, gpu"));
        assert!(!check("${attr.tags}", "set_contains_any", "hdd"));
        assert!(check("${attr.kernel.name}", "regexp", "^lin"));
        assert!(!check("${attr.kernel.name}", "regexp", "^win"));
        assert!(!check("${attr.kernel.name}", "regexp", "(unclosed"));
        assert!(check("${meta.rack}", "is_set", ""));
        assert!(check("${meta.zone}", "is_not_set", ""));
        assert!(!check("${meta.rack}", "is_not_set", ""));
        assert!(check("x", "distinct_hosts", "true"));
        assert!(!check("x", "bogus_operator", "y"));
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(check("${attr.nomad.version}", "version", ">= 1.9, < 2.0"));
        assert!(check("${attr.nomad.version}", "semver", "> 1.9.2"));
        assert!(!check("${attr.nomad.version}", "version", ">= 1.10"));
        assert!(version_matches("1.10.0", ">= 1.9"));
        assert!(version_matches("v1.2.3-beta", "= 1.2.3"));
        assert!(version_matches("1.2.9", "~> 1.2.3"));
        assert!(!version_matches("1.3.0", "~> 1.2.3"));
        assert!(version_matches("1.9", "~> 1.2"));
        assert!(!version_matches("2.0", "~> 1.2"));
        assert!(version_matches("1.2", "!= 1.3"));
        assert!(!version_matches("garbage", ">= 1"));
        assert!(!version_matches("1.2", ">= garbage"));
    }
}
