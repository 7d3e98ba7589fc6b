//! Selecting service instances for `GET /v1/service/:name`: the `filter` expression (a small
//! subset of Nomad's filter language, enough to pick by health, tag or placement), the
//! `healthy=true` shorthand, and `choose=<n>|<key>` rendezvous hashing, which gives every
//! caller with the same key the same `n` instances while the set of instances is stable.

use drover_api::{HEALTH_PASSING, ServiceRegistration};

use crate::ApiError;

/// One term of a filter: `Field == "v"`, `Field != "v"`, `"v" in Tags`, `"v" not in Tags`.
#[derive(Debug, Clone, PartialEq)]
enum Term {
    Equals {
        field: Field,
        value: String,
        negate: bool,
    },
    HasTag {
        tag: String,
        negate: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Id,
    ServiceName,
    Namespace,
    NodeId,
    Datacenter,
    JobId,
    AllocId,
    Address,
    Port,
    Health,
}

impl Field {
    fn parse(name: &str) -> Option<Field> {
        Some(match name {
            "ID" => Field::Id,
            "ServiceName" => Field::ServiceName,
            "Namespace" => Field::Namespace,
            "NodeID" => Field::NodeId,
            "Datacenter" => Field::Datacenter,
            "JobID" => Field::JobId,
            "AllocID" => Field::AllocId,
            "Address" => Field::Address,
            "Port" => Field::Port,
            "Health" => Field::Health,
            _ => return None,
        })
    }

    fn value(self, s: &ServiceRegistration) -> std::borrow::Cow<'_, str> {
        let text = match self {
            Field::Id => &s.id,
            Field::ServiceName => &s.service_name,
            Field::Namespace => &s.namespace,
            Field::NodeId => &s.node_id,
            Field::Datacenter => &s.datacenter,
            Field::JobId => &s.job_id,
            Field::AllocId => &s.alloc_id,
            Field::Address => &s.address,
            Field::Health => &s.health,
            Field::Port => return s.port.to_string().into(),
        };
        text.as_str().into()
    }
}

/// A parsed filter: every term must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    terms: Vec<Term>,
}

impl Filter {
    /// Parses `terms joined by "and"`; the error says which part was not understood.
    pub fn parse(expression: &str) -> Result<Filter, ApiError> {
        let mut terms = Vec::new();
        for part in split_and(expression) {
            terms.push(parse_term(part.trim()).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "filter: cannot read {:?}; use Field == \"value\", Field != \"value\" or \"tag\" in Tags, joined by and (fields: ID, ServiceName, Namespace, NodeID, Datacenter, JobID, AllocID, Address, Port, Health)",
                    part.trim()
                ))
            })?);
        }
        Ok(Filter { terms })
    }

    /// Only healthy instances (`?healthy=true`).
    pub fn healthy() -> Filter {
        Filter {
            terms: vec![Term::Equals {
                field: Field::Health,
                value: HEALTH_PASSING.to_string(),
                negate: false,
            }],
        }
    }

    /// Both filters at once.
    pub fn and(mut self, other: Filter) -> Filter {
        self.terms.extend(other.terms);
        self
    }

    pub fn matches(&self, s: &ServiceRegistration) -> bool {
        self.terms.iter().all(|term| match term {
            Term::Equals {
                field,
                value,
                negate,
            } => (field.value(s) == value.as_str()) != *negate,
            Term::HasTag { tag, negate } => s.tags.contains(tag) != *negate,
        })
    }
}

/// Splits on the word `and` outside quotes.
fn split_and(expression: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let bytes = expression.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => in_quotes = !in_quotes,
            b' ' if !in_quotes && expression[i..].starts_with(" and ") => {
                parts.push(&expression[start..i]);
                i += " and ".len();
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&expression[start..]);
    parts
}

fn parse_term(term: &str) -> Option<Term> {
    if let Some(rest) = term.strip_prefix('"') {
        let (tag, rest) = rest.split_once('"')?;
        let negate = match rest.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["in", "Tags"] => false,
            ["not", "in", "Tags"] => true,
            _ => return None,
        };
        return Some(Term::HasTag {
            tag: tag.to_string(),
            negate,
        });
    }
    let (field, negate, value) = if let Some((f, v)) = term.split_once("==") {
        (f, false, v)
    } else {
        let (f, v) = term.split_once("!=")?;
        (f, true, v)
    };
    let field = Field::parse(field.trim())?;
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    Some(Term::Equals {
        field,
        value: value.to_string(),
        negate,
    })
}

/// `choose=<n>|<key>`: how many instances, and the key that ranks them.
pub fn parse_choose(value: &str) -> Result<(usize, &str), ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "choose {value:?}: use <count>|<key>, e.g. choose=2|my-client"
        ))
    };
    let (count, key) = value.split_once('|').ok_or_else(bad)?;
    let count: usize = count.parse().map_err(|_| bad())?;
    if count == 0 || key.is_empty() {
        return Err(bad());
    }
    Ok((count, key))
}

/// The `count` instances ranked highest for `key` by rendezvous (highest random weight)
/// hashing, best first.
pub fn choose(
    mut instances: Vec<ServiceRegistration>,
    count: usize,
    key: &str,
) -> Vec<ServiceRegistration> {
    instances.sort_by_cached_key(|s| std::cmp::Reverse((weight(key, &s.id), s.id.clone())));
    instances.truncate(count);
    instances
}

/// FNV-1a over `key`, a separator and `id`: stable across processes and versions.
fn weight(key: &str, id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes().chain([0]).chain(id.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(id: &str, health: &str, tags: &[&str]) -> ServiceRegistration {
        ServiceRegistration {
            id: id.into(),
            service_name: "web".into(),
            health: health.into(),
            port: 8080,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn filters_by_health_tags_and_fields() {
        let up = instance("a", "passing", &["v1"]);
        let down = instance("b", "critical", &["v2"]);
        let f = Filter::parse(r#"Health == "passing""#).unwrap();
        assert!(f.matches(&up) && !f.matches(&down));
        let f = Filter::parse(r#""v2" in Tags and Health != "passing""#).unwrap();
        assert!(!f.matches(&up) && f.matches(&down));
        let f = Filter::parse(r#""v2" not in Tags and Port == 8080"#).unwrap();
        assert!(f.matches(&up) && !f.matches(&down));
        assert!(Filter::healthy().matches(&up) && !Filter::healthy().matches(&down));
        let e = Filter::parse("Colour == \"red\"").unwrap_err();
        assert!(e.message.contains("Colour"), "{}", e.message);
    }

    #[test]
    fn quoted_and_is_not_a_separator() {
        let f = Filter::parse(r#"Address == "rock and roll""#).unwrap();
        let mut s = instance("a", "passing", &[]);
        s.address = "rock and roll".into();
        assert!(f.matches(&s));
    }

    #[test]
    fn choose_is_stable_per_key_and_spreads_across_keys() {
        let all: Vec<_> = (0..10)
            .map(|i| instance(&format!("id-{i}"), "passing", &[]))
            .collect();
        let pick = |key: &str| {
            choose(all.clone(), 2, key)
                .into_iter()
                .map(|s| s.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(pick("client-1"), pick("client-1"));
        assert_eq!(pick("client-1").len(), 2);
        let firsts: std::collections::BTreeSet<_> =
            (0..20).map(|k| pick(&format!("k{k}"))[0].clone()).collect();
        assert!(
            firsts.len() > 3,
            "keys should pick different instances: {firsts:?}"
        );
        // Removing an instance that was not chosen does not change the choice.
        let chosen = pick("client-1");
        let fewer: Vec<_> = all
            .iter()
            .filter(|s| !chosen.contains(&s.id) && s.id != "id-0" || chosen.contains(&s.id))
            .cloned()
            .collect();
        let again: Vec<_> = choose(fewer, 2, "client-1")
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(again, chosen);
        assert!(parse_choose("0|x").is_err() && parse_choose("2").is_err());
        assert_eq!(parse_choose("3|abc").unwrap(), (3, "abc"));
    }
}
