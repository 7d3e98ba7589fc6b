//! Runtime interpolation of `${…}` references in task config, args and env values:
//! environment names (`${NOMAD_PORT_http}`, `${env.X}`, `${env["X"]}`), node attributes
//! (`${attr.kernel.name}`), node meta (`${meta.rack}`) and node fields (`${node.unique.id}`,
//! `${node.unique.name}`, `${node.datacenter}`, `${node.region}`, `${node.class}`,
//! `${node.pool}`). A reference that resolves to nothing is left as written, as Nomad does.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::task_env::NodeInfo;

/// What references resolve against.
pub struct Interpolator<'a> {
    pub env: &'a BTreeMap<String, String>,
    pub node: &'a NodeInfo,
}

impl Interpolator<'_> {
    /// The value of one reference (the text between `${` and `}`).
    fn resolve(&self, key: &str) -> Option<String> {
        let key = key.trim();
        let node = self.node;
        let field = match key {
            "node.unique.id" => Some(&node.id),
            "node.unique.name" => Some(&node.name),
            "node.datacenter" => Some(&node.datacenter),
            "node.region" => Some(&node.region),
            "node.class" => Some(&node.class),
            "node.pool" => Some(&node.pool),
            _ => None,
        };
        if let Some(v) = field {
            return Some(v.clone());
        }
        if let Some(attr) = key.strip_prefix("attr.") {
            return node.attributes.get(attr).cloned();
        }
        if let Some(meta) = key.strip_prefix("meta.") {
            return node.meta.get(meta).cloned();
        }
        if let Some(name) = key.strip_prefix("env.") {
            return self.env.get(name).cloned();
        }
        if let Some(name) = key
            .strip_prefix("env[")
            .and_then(|r| r.strip_suffix(']'))
            .map(|r| r.trim().trim_matches('"'))
        {
            return self.env.get(name).cloned();
        }
        self.env.get(key).cloned()
    }

    /// Replaces every resolvable `${…}` in `input`.
    pub fn string(&self, input: &str) -> String {
        drover_api::interpolate::substitute(input, |name| self.resolve(name))
    }

    /// Interpolates every string inside a JSON value (lists and maps recursively).
    pub fn value(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.string(s)),
            Value::Array(items) => Value::Array(items.iter().map(|i| self.value(i)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Interpolates a task's `config` block.
    pub fn config(&self, config: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
        config
            .iter()
            .map(|(k, v)| (k.clone(), self.value(v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node() -> NodeInfo {
        let mut n = NodeInfo {
            id: "nid".into(),
            name: "n1".into(),
            datacenter: "dc1".into(),
            ..Default::default()
        };
        n.attributes.insert("kernel.name".into(), "linux".into());
        n.meta.insert("rack".into(), "r1".into());
        n
    }

    #[test]
    fn resolves_env_node_attr_and_meta() {
        let mut env = BTreeMap::new();
        env.insert("NOMAD_PORT_http".to_string(), "8080".to_string());
        let node = node();
        let i = Interpolator {
            env: &env,
            node: &node,
        };
        assert_eq!(i.string("--port=${NOMAD_PORT_http}"), "--port=8080");
        assert_eq!(
            i.string("${env.NOMAD_PORT_http}/${env[\"NOMAD_PORT_http\"]}"),
            "8080/8080"
        );
        assert_eq!(
            i.string("${node.unique.id} ${node.unique.name} ${node.datacenter}"),
            "nid n1 dc1"
        );
        assert_eq!(i.string("${attr.kernel.name}-${meta.rack}"), "linux-r1");
    }

    #[test]
    fn leaves_unknown_and_unterminated_references() {
        let env = BTreeMap::new();
        let node = node();
        let i = Interpolator {
            env: &env,
            node: &node,
        };
        assert_eq!(i.string("a ${NOPE} b"), "a ${NOPE} b");
        assert_eq!(i.string("tail ${oops"), "tail ${oops");
        assert_eq!(i.string("no refs"), "no refs");
    }

    #[test]
    fn walks_config_recursively() {
        let mut env = BTreeMap::new();
        env.insert("X".to_string(), "1".to_string());
        let node = node();
        let i = Interpolator {
            env: &env,
            node: &node,
        };
        let out = i.value(&json!({"args": ["${X}", 2, {"k": "${X}${X}"}]}));
        assert_eq!(out, json!({"args": ["1", 2, {"k": "11"}]}));
    }
}
