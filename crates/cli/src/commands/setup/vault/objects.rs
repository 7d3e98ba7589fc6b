//! What `drover setup vault` puts in Vault, as Nomad's `setup vault` does: the JWT auth method
//! `jwt-nomad`, its configuration (trust drover's JWKS), the ACL policy `nomad-workloads`
//! (each job reads its own KV v2 secrets) and the role `nomad-workloads` — and how what Vault
//! holds is compared with it.

use serde_json::{Value, json};

/// Where the JWT auth method is mounted.
pub const AUTH_PATH: &str = "jwt-nomad";
/// The role tasks log in with by default, and the policy it grants.
pub const ROLE: &str = "nomad-workloads";
pub const POLICY: &str = "nomad-workloads";
/// The audience of the identities tasks log in with.
pub const AUDIENCE: &str = "vault.io";
/// The description `setup vault` gives the auth method; `-destroy` removes only a method that
/// carries it.
pub const DESCRIPTION: &str = "drover workload identities (created by drover setup vault)";

/// The auth method's configuration: trust the keys at `jwks_url`.
pub fn auth_config(jwks_url: &str, jwks_ca_pem: &str) -> Value {
    json!({
        "jwks_url": jwks_url,
        "jwks_ca_pem": jwks_ca_pem,
        "jwt_supported_algs": ["EdDSA", "RS256"],
        "default_role": ROLE,
    })
}

/// The role: identities for Vault become periodic service tokens with the policy, their
/// namespace, job and task kept as alias metadata.
pub fn role() -> Value {
    json!({
        "role_type": "jwt",
        "bound_audiences": [AUDIENCE],
        "user_claim": "/nomad_job_id",
        "user_claim_json_pointer": true,
        "claim_mappings": {
            "nomad_namespace": "nomad_namespace",
            "nomad_job_id": "nomad_job_id",
            "nomad_task": "nomad_task",
        },
        "token_type": "service",
        // 30 minutes, in seconds: the unit Vault answers in, so a read-back compares equal.
        "token_period": 1800,
        "token_policies": [POLICY],
    })
}

/// The policy for the auth method with mount accessor `accessor`: read
/// `<kv>/data/<namespace>/<job>` and below, list the namespace's and the mount's metadata.
pub fn policy(kv_path: &str, accessor: &str) -> String {
    let alias =
        |field: &str| format!("{{{{identity.entity.aliases.{accessor}.metadata.{field}}}}}");
    let (namespace, job) = (alias("nomad_namespace"), alias("nomad_job_id"));
    let rule = |path: String, capability: &str| {
        format!("path \"{kv_path}/{path}\" {{\n  capabilities = [\"{capability}\"]\n}}\n")
    };
    [
        rule(format!("data/{namespace}/{job}/*"), "read"),
        rule(format!("data/{namespace}/{job}"), "read"),
        rule(format!("metadata/{namespace}/*"), "list"),
        rule("metadata/*".to_string(), "list"),
    ]
    .join("\n")
}

/// Fields of a JWT role that `role()` leaves unset; a role with any of them set was changed or
/// written by someone else.
const UNSET_IN_ROLE: [&str; 13] = [
    "bound_claims",
    "bound_subject",
    "groups_claim",
    "allowed_redirect_uris",
    "oidc_scopes",
    "max_age",
    "token_bound_cidrs",
    "token_ttl",
    "token_max_ttl",
    "token_explicit_max_ttl",
    "token_num_uses",
    "token_no_default_policy",
    "token_strictly_bind_ip",
];

/// True when `have` (a role as Vault reads it back) is exactly the role `role()` writes: the
/// same values for the fields it sets, and none of the others set.
pub fn is_setup_role(have: &Value) -> bool {
    differences(&role(), have).is_empty()
        && UNSET_IN_ROLE
            .iter()
            .all(|field| is_unset(have.get(field).unwrap_or(&Value::Null)))
}

fn is_unset(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
    }
}

/// True when `text` is exactly a policy `policy()` writes, for some KV path and for the mount
/// accessor `accessor` (any accessor when `None`: the auth method is gone).
pub fn is_setup_policy(text: &str, accessor: Option<&str>) -> bool {
    let Some((kv_path, written_for)) = policy_parameters(text) else {
        return false;
    };
    accessor.is_none_or(|a| a == written_for) && policy(kv_path, written_for).trim() == text.trim()
}

/// The KV path and mount accessor a policy from `policy()` names in its first rule.
fn policy_parameters(text: &str) -> Option<(&str, &str)> {
    let rest = text.trim_start().strip_prefix("path \"")?;
    let (kv_path, rest) = rest.split_once("/data/{{identity.entity.aliases.")?;
    let (accessor, _) = rest.split_once(".metadata.")?;
    Some((kv_path, accessor))
}

/// The fields of `want` whose value in `have` differs, as `field is X, want Y` (lists compare
/// as sets, objects field by field).
pub fn differences(want: &Value, have: &Value) -> Vec<String> {
    let Some(fields) = want.as_object() else {
        return Vec::new();
    };
    fields
        .iter()
        .filter_map(|(field, wanted)| {
            let current = have.get(field).unwrap_or(&Value::Null);
            (!same(wanted, current))
                .then(|| format!("{field} is {}, want {wanted}", shown(current)))
        })
        .collect()
}

fn same(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Array(w), Value::Array(h)) => {
            let mut w: Vec<String> = w.iter().map(Value::to_string).collect();
            let mut h: Vec<String> = h.iter().map(Value::to_string).collect();
            w.sort();
            h.sort();
            w.dedup();
            h.dedup();
            w == h
        }
        (Value::Object(w), Value::Object(h)) => {
            w.len() == h.len()
                && w.iter()
                    .all(|(k, v)| h.get(k).is_some_and(|other| same(v, other)))
        }
        // Vault reads an unset string back as "".
        (Value::String(w), Value::Null) => w.is_empty(),
        _ => want == have,
    }
}

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "unset".to_string(),
        other => other.to_string(),
    }
}

/// The lines of the agent configuration that use this setup.
pub fn agent_config(vault_address: &str) -> String {
    format!(
        "vault {{\n  enabled               = true\n  address               = {address}\n  jwt_auth_backend_path = \"{AUTH_PATH}\"\n\n  default_identity {{\n    aud = [\"{AUDIENCE}\"]\n    ttl = \"1h\"\n  }}\n}}",
        address = Value::from(vault_address)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_templated_through_the_mount_accessor() {
        let text = policy("kv", "auth_jwt_123");
        let alias = "identity.entity.aliases.auth_jwt_123.metadata";
        assert!(text.contains(&format!(
            "path \"kv/data/{{{{{alias}.nomad_namespace}}}}/{{{{{alias}.nomad_job_id}}}}/*\" {{\n  capabilities = [\"read\"]"
        )), "{text}");
        assert!(
            text.contains("path \"kv/metadata/*\" {\n  capabilities = [\"list\"]"),
            "{text}"
        );
        assert_eq!(text.matches("path ").count(), 4);
    }

    #[test]
    fn lists_compare_as_sets_and_unset_strings_as_empty() {
        let want = json!({"algs": ["EdDSA", "RS256"], "ca": "", "period": 1800});
        let have = json!({"algs": ["RS256", "EdDSA"], "ca": null, "period": 1800, "extra": 1});
        assert!(differences(&want, &have).is_empty());
        let have = json!({"algs": ["RS256"], "period": 3600});
        assert_eq!(
            differences(&want, &have),
            [
                r#"algs is ["RS256"], want ["EdDSA","RS256"]"#,
                "period is 3600, want 1800"
            ]
        );
    }

    #[test]
    fn claim_mappings_compare_field_by_field() {
        let want = role();
        let mut have = role();
        assert!(differences(&want, &have).is_empty());
        have["claim_mappings"]["extra"] = json!("x");
        assert_eq!(differences(&want, &have).len(), 1);
    }

    #[test]
    fn only_exactly_the_setups_policy_is_recognised() {
        let ours = policy("kv/team", "auth_jwt_1");
        assert!(is_setup_policy(&ours, Some("auth_jwt_1")));
        assert!(is_setup_policy(&format!("\n{ours}\n"), None));
        assert!(!is_setup_policy(&ours, Some("auth_jwt_2")));
        let widened =
            format!("{ours}\npath \"kv/team/data/*\" {{\n  capabilities = [\"read\"]\n}}\n");
        assert!(!is_setup_policy(&widened, Some("auth_jwt_1")));
        assert!(!is_setup_policy(
            "path \"secret/*\" { capabilities = [\"read\"] }",
            None
        ));
        assert!(!is_setup_policy("", None));
    }

    #[test]
    fn only_exactly_the_setups_role_is_recognised() {
        let mut have = role();
        // Vault reads back every field, the unset ones empty, null or zero.
        have["bound_claims"] = Value::Null;
        have["token_ttl"] = json!(0);
        have["token_bound_cidrs"] = json!([]);
        have["callback_mode"] = json!("client");
        assert!(is_setup_role(&have));
        let mut narrowed = have.clone();
        narrowed["bound_claims"] = json!({"nomad_namespace": "prod"});
        assert!(!is_setup_role(&narrowed));
        let mut longer = have.clone();
        longer["token_period"] = json!(3600);
        assert!(!is_setup_role(&longer));
    }

    #[test]
    fn the_agent_configuration_quotes_the_address() {
        let text = agent_config("http://127.0.0.1:8200");
        assert!(
            text.contains("address               = \"http://127.0.0.1:8200\""),
            "{text}"
        );
        assert!(
            text.contains("jwt_auth_backend_path = \"jwt-nomad\""),
            "{text}"
        );
        assert!(text.contains("aud = [\"vault.io\"]"), "{text}");
    }
}
