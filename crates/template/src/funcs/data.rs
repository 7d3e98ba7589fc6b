//! The functions that read outside data: `env` (and `mustEnv`, `envOrDefault`, `sprig_env`),
//! Nomad's `nomadVar`, `nomadVarExists`, `nomadVarList`, `nomadVarListSafe`, `nomadService`,
//! `nomadServices`, Vault's `secret`, and `executeTemplate`. Each names a [`Dependency`], asks
//! the render pass for it, and turns the JSON the client supplied into what templates see.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::Value;
use serde_json::Value as Json;

use super::args::{arg, int, string};
use super::{Arity, Func, func};
use crate::Dependency;
use crate::render;
use crate::value::{self, from_json};

const ONE: Arity = Arity::exactly(1);
const OPTIONAL: Arity = Arity::between(0, 1);

pub(crate) const FUNCS: &[Func] = &[
    func("env", ONE, |a| {
        Ok(value::string(
            render::env(&string(a, 0)?)?.unwrap_or_default(),
        ))
    }),
    func("mustEnv", ONE, must_env),
    func("envOrDefault", Arity::exactly(2), |a| {
        let found = render::env(&string(a, 0)?)?;
        Ok(value::string(match found {
            Some(v) => v,
            None => string(a, 1)?,
        }))
    }),
    func("nomadVar", ONE, nomad_var),
    func("nomadVarExists", ONE, nomad_var_exists),
    func("nomadVarList", OPTIONAL, |a| nomad_var_list(a, false)),
    func("nomadVarListSafe", OPTIONAL, |a| nomad_var_list(a, true)),
    func("nomadService", Arity::Either(1, 3), nomad_service),
    func("nomadServices", OPTIONAL, nomad_services),
    func("secret", Arity::at_least(1), secret),
    func("executeTemplate", Arity::between(1, 2), |a| {
        render::execute_template(&string(a, 0)?, arg(a, 1))
    }),
];

/// `sprig_env` in task templates reads the task's environment, like `env`.
pub(crate) const SPRIG_ENV: &[Func] = &[func("env", ONE, |a| {
    Ok(value::string(
        render::env(&string(a, 0)?)?.unwrap_or_default(),
    ))
})];

fn must_env(a: &[Value]) -> Result<Value, String> {
    let name = string(a, 0)?;
    match render::env(&name)? {
        Some(v) if !v.is_empty() => Ok(value::string(v)),
        // Not fetched yet: render on; the next pass has the answer.
        None if render::env_pending(&name)? => Ok(value::string("")),
        _ => Err(format!("required environment variable {name} is empty")),
    }
}

/// A variable path as Nomad takes it: trimmed of spaces and slashes, in the task's namespace.
fn var_path(raw: &str, function: &str) -> Result<String, String> {
    let path = raw.trim().trim_matches('/');
    if path.contains('@') {
        return Err(format!(
            "{raw:?}: reading variables of another namespace or region (path@namespace.region) is not supported; {function} reads the task's namespace"
        ));
    }
    Ok(path.to_string())
}

/// `nomadVar "path"`: the variable's items, keyed by name, ranged in key order. A variable
/// that does not exist (or is not fetched yet) is missing: the template waits for it.
fn nomad_var(a: &[Value]) -> Result<Value, String> {
    let path = var_path(&string(a, 0)?, "nomadVar")?;
    if path.is_empty() {
        return Ok(value::map(BTreeMap::new()));
    }
    let dep = Dependency::NomadVar { path };
    match render::fetch(&dep)? {
        Some(Json::Object(variable)) => Ok(items(variable.get("Items"))),
        Some(_) => {
            render::mark_missing(&dep)?;
            Ok(value::map(BTreeMap::new()))
        }
        None => Ok(value::map(BTreeMap::new())),
    }
}

/// A variable's items as a map of strings.
fn items(items: Option<&Json>) -> Value {
    let Some(Json::Object(items)) = items else {
        return value::map(BTreeMap::new());
    };
    value::map(
        items
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Json::String(s) => value::string(s),
                    other => from_json(other),
                };
                (Arc::from(k.as_str()), v)
            })
            .collect(),
    )
}

fn nomad_var_exists(a: &[Value]) -> Result<Value, String> {
    let path = var_path(&string(a, 0)?, "nomadVarExists")?;
    if path.is_empty() {
        return Ok(Value::Bool(false));
    }
    let found = render::fetch(&Dependency::NomadVar { path })?;
    Ok(Value::Bool(matches!(found, Some(Json::Object(_)))))
}

/// `nomadVarList ["prefix"]`: metadata of the variables under the prefix. The safe form
/// treats an empty answer as missing (waits) instead of rendering nothing.
fn nomad_var_list(a: &[Value], safe: bool) -> Result<Value, String> {
    let function = if safe {
        "nomadVarListSafe"
    } else {
        "nomadVarList"
    };
    let prefix = var_path(&string(a, 0)?, function)?;
    let dep = Dependency::NomadVarList { prefix };
    let listed = match render::fetch(&dep)? {
        Some(Json::Array(list)) => list,
        Some(_) | None => Vec::new(),
    };
    if safe && listed.is_empty() {
        render::mark_missing(&dep)?;
    }
    Ok(value::list(listed.iter().map(from_json).collect()))
}

/// `nomadService "[tag.]name"` or `nomadService COUNT "KEY" "[tag.]name"`.
fn nomad_service(a: &[Value]) -> Result<Value, String> {
    let (query, choose) = match a.len() {
        1 => (string(a, 0)?, None),
        3 => {
            let count = usize::try_from(int(a, 0)?)
                .map_err(|_| "the count must be a positive integer".to_string())?;
            (string(a, 2)?, Some((count, string(a, 1)?)))
        }
        n => {
            return Err(format!(
                "expected arguments <service> or <count> <key> <service>, got {n} arguments"
            ));
        }
    };
    let (name, tag) = service_query(&query)?;
    let dep = Dependency::NomadService {
        name,
        tag: tag.clone(),
    };
    let mut services: Vec<Value> = match render::fetch(&dep)? {
        Some(Json::Array(list)) => list
            .iter()
            .filter(|s| tag.as_deref().is_none_or(|tag| has_tag(s, tag)))
            .map(service)
            .collect(),
        Some(_) | None => Vec::new(),
    };
    if let Some((count, key)) = choose {
        services = choose_stable(services, count, &key);
    }
    Ok(value::list(services))
}

/// Splits `tag.name` (the tag may itself contain dots; a name has none).
fn service_query(query: &str) -> Result<(String, Option<String>), String> {
    let query = query.trim();
    if query.contains(['@', '?']) {
        return Err(format!(
            "{query:?}: other namespaces and regions (?ns=, @region) are not supported; services are read in the task's namespace"
        ));
    }
    let (tag, name) = match query.rsplit_once('.') {
        Some((tag, name)) => (Some(tag.to_string()), name),
        None => (None, query),
    };
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    };
    if !valid(name) || tag.as_deref().is_some_and(str::is_empty) {
        return Err(format!(
            "{query:?} is not a service name (letters, digits, - and _), optionally after a tag and a dot"
        ));
    }
    Ok((name.to_string(), tag))
}

fn has_tag(service: &Json, tag: &str) -> bool {
    service["Tags"]
        .as_array()
        .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(tag)))
}

/// One registration as templates see it: the API fields, tags sorted, and `Node` (the
/// consul-template name of `NodeID`).
fn service(json: &Json) -> Value {
    let mut entry = json.clone();
    if let Some(obj) = entry.as_object_mut() {
        if let Some(Json::Array(tags)) = obj.get_mut("Tags") {
            tags.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
        if !obj.contains_key("Node")
            && let Some(node) = obj.get("NodeID").cloned()
        {
            obj.insert("Node".into(), node);
        }
        if !obj.contains_key("Name")
            && let Some(name) = obj.get("ServiceName").cloned()
        {
            obj.insert("Name".into(), name);
        }
    }
    from_json(&entry)
}

/// The `count` registrations ranked highest for `key` by rendezvous hashing over their IDs:
/// the same key picks the same registrations while they exist, and removing one moves only
/// the holders that chose it.
fn choose_stable(services: Vec<Value>, count: usize, key: &str) -> Vec<Value> {
    let mut ranked: Vec<(u64, Value)> = services
        .into_iter()
        .map(|s| {
            let id = s.field("ID").map(value::text).unwrap_or_default();
            (fnv1a64(key, &id), s)
        })
        .collect();
    ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
    ranked.into_iter().take(count).map(|(_, s)| s).collect()
}

fn fnv1a64(key: &str, id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes().chain([0]).chain(id.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn nomad_services(a: &[Value]) -> Result<Value, String> {
    let filter = string(a, 0)?;
    if !filter.trim().is_empty() {
        return Err(format!(
            "{filter:?}: other namespaces and regions are not supported; nomadServices lists the task's namespace"
        ));
    }
    let listed = match render::fetch(&Dependency::NomadServices)? {
        Some(Json::Array(list)) => list.iter().map(service).collect(),
        Some(_) | None => Vec::new(),
    };
    Ok(value::list(listed))
}

/// `secret "path"` reads; `secret "path" "k=v" …` writes the pairs and returns the answer.
fn secret(a: &[Value]) -> Result<Value, String> {
    let path = string(a, 0)?.trim().trim_matches('/').to_string();
    if path.is_empty() {
        return Ok(value::map(BTreeMap::new()));
    }
    let mut write = Vec::new();
    for i in 1..a.len() {
        let pair = string(a, i)?;
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("argument {}: not a k=v pair: {pair:?}", i + 1))?;
        write.push((k.trim().to_string(), v.trim().to_string()));
    }
    let dep = Dependency::Secret { path, write };
    match render::fetch(&dep)? {
        Some(Json::Object(response)) => Ok(from_json(&Json::Object(pascal_keys(response)))),
        Some(_) => {
            render::mark_missing(&dep)?;
            Ok(value::map(BTreeMap::new()))
        }
        None => Ok(value::map(BTreeMap::new())),
    }
}

/// Vault's response with consul-template's field names: `request_id` → `RequestID`, `data` →
/// `Data` (its contents untouched), and the same for the `auth` and `wrap_info` objects.
fn pascal_keys(response: serde_json::Map<String, Json>) -> serde_json::Map<String, Json> {
    response
        .into_iter()
        .map(|(key, v)| {
            let v = match (key.as_str(), v) {
                ("auth" | "wrap_info", Json::Object(inner)) => {
                    Json::Object(inner.into_iter().map(|(k, v)| (pascal(&k), v)).collect())
                }
                (_, v) => v,
            };
            (pascal(&key), v)
        })
        .collect()
}

/// `lease_id` → `LeaseID`, `ttl` → `TTL`.
fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|part| match part {
            "id" | "ttl" => part.to_uppercase(),
            _ => {
                let mut chars = part.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_queries_split_tag_and_name() {
        assert_eq!(service_query("db"), Ok(("db".into(), None)));
        assert_eq!(
            service_query(" v1.2.primary.db "),
            Ok(("db".into(), Some("v1.2.primary".into())))
        );
        assert!(
            service_query("db@dc2")
                .unwrap_err()
                .contains("not supported")
        );
        assert!(
            service_query("a b")
                .unwrap_err()
                .contains("not a service name")
        );
        assert!(service_query(".db").is_err());
        assert!(service_query("").is_err());
    }

    #[test]
    fn variable_paths_are_trimmed_and_namespaced_forms_refused() {
        assert_eq!(
            var_path(" /nomad/jobs/x/ ", "nomadVar"),
            Ok("nomad/jobs/x".into())
        );
        assert!(
            var_path("a@prod", "nomadVar")
                .unwrap_err()
                .contains("not supported")
        );
    }

    #[test]
    fn vault_fields_become_pascal_case() {
        let response = serde_json::json!({
            "request_id": "r", "lease_id": "", "lease_duration": 60, "renewable": false,
            "data": {"data": {"pass_word": "x"}}, "warnings": null,
            "auth": {"client_token": "t", "entity_id": "e"}, "wrap_info": {"ttl": 5},
        });
        let Json::Object(obj) = response else {
            unreachable!()
        };
        let mapped = Json::Object(pascal_keys(obj));
        assert_eq!(mapped["RequestID"], "r");
        assert_eq!(mapped["LeaseDuration"], 60);
        assert_eq!(mapped["Data"]["data"]["pass_word"], "x");
        assert_eq!(mapped["Auth"]["ClientToken"], "t");
        assert_eq!(mapped["Auth"]["EntityID"], "e");
        assert_eq!(mapped["WrapInfo"]["TTL"], 5);
        assert!(mapped.get("Warnings").is_some());
    }

    #[test]
    fn choosing_is_stable_and_moves_little() {
        let svc = |id: &str| from_json(&serde_json::json!({ "ID": id }));
        let all: Vec<Value> = (0..10).map(|i| svc(&format!("s{i}"))).collect();
        let ids = |v: Vec<Value>| -> Vec<String> {
            v.iter()
                .map(|s| value::text(s.field("ID").unwrap()))
                .collect()
        };
        let picked = ids(choose_stable(all.clone(), 3, "alloc-1"));
        assert_eq!(picked.len(), 3);
        assert_eq!(picked, ids(choose_stable(all.clone(), 3, "alloc-1")));
        // Reordering the input does not change the choice.
        let mut reversed = all.clone();
        reversed.reverse();
        assert_eq!(picked, ids(choose_stable(reversed, 3, "alloc-1")));
        // Removing an unchosen registration does not change the choice.
        let unchosen: Vec<Value> = all
            .iter()
            .filter(|s| {
                value::text(s.field("ID").unwrap()) != "s0" || picked.contains(&"s0".into())
            })
            .cloned()
            .collect();
        if unchosen.len() == 9 {
            assert_eq!(picked, ids(choose_stable(unchosen, 3, "alloc-1")));
        }
        assert_eq!(choose_stable(all, 20, "k").len(), 10);
    }
}
