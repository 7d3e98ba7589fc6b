//! Typed methods for `/v1/acl/*` (bootstrap, tokens, policies, roles) and for a client node's
//! dynamic metadata (`/v1/client/metadata`). Paths come from [`crate::acl`]; every method is one
//! request.

use reqwest::Method;

use super::{Client, Error, QueryMeta, QueryOptions};
use crate::acl::{
    ACL_BOOTSTRAP_PATH, ACL_POLICIES_PATH, ACL_ROLE_CREATE_PATH, ACL_ROLES_PATH,
    ACL_TOKEN_CREATE_PATH, ACL_TOKEN_SELF_PATH, ACL_TOKENS_PATH, AclBootstrapRequest, AclPolicy,
    AclRole, AclToken, CLIENT_METADATA_PATH, NodeMetaApplyRequest, NodeMetaResponse,
    acl_policy_path, acl_role_by_name_path, acl_role_path, acl_token_path,
};

impl Client {
    /// Bootstraps the ACL system and returns the initial management token. `secret` (a UUID)
    /// becomes its secret ID; without one the agent generates it.
    pub async fn acl_bootstrap(&self, secret: Option<&str>) -> Result<AclToken, Error> {
        let body = secret.map(|secret| AclBootstrapRequest {
            bootstrap_secret: secret.to_string(),
        });
        self.write(Method::POST, ACL_BOOTSTRAP_PATH, body.as_ref(), &[])
            .await
    }

    /// Every ACL token, without its secret.
    pub async fn acl_tokens(&self, q: &QueryOptions) -> Result<(Vec<AclToken>, QueryMeta), Error> {
        self.get(ACL_TOKENS_PATH, q).await
    }

    /// Creates a token from `token`'s name, type, policies, roles, global flag and TTL.
    pub async fn acl_token_create(&self, token: &AclToken) -> Result<AclToken, Error> {
        self.post(ACL_TOKEN_CREATE_PATH, token).await
    }

    /// The token with this accessor ID.
    pub async fn acl_token(
        &self,
        accessor_id: &str,
        q: &QueryOptions,
    ) -> Result<(AclToken, QueryMeta), Error> {
        self.get(&acl_token_path(accessor_id), q).await
    }

    /// Rewrites the token `token.accessor_id` names with the rest of `token`.
    pub async fn acl_token_update(&self, token: &AclToken) -> Result<AclToken, Error> {
        self.post(&acl_token_path(&token.accessor_id), token).await
    }

    /// Deletes the token with this accessor ID.
    pub async fn acl_token_delete(&self, accessor_id: &str) -> Result<(), Error> {
        self.delete_discarding(&acl_token_path(accessor_id)).await
    }

    /// The token this client sends.
    pub async fn acl_token_self(&self, q: &QueryOptions) -> Result<(AclToken, QueryMeta), Error> {
        self.get(ACL_TOKEN_SELF_PATH, q).await
    }

    /// Every ACL policy, without its rules.
    pub async fn acl_policies(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<AclPolicy>, QueryMeta), Error> {
        self.get(ACL_POLICIES_PATH, q).await
    }

    /// The policy with this name, rules included.
    pub async fn acl_policy(
        &self,
        name: &str,
        q: &QueryOptions,
    ) -> Result<(AclPolicy, QueryMeta), Error> {
        self.get(&acl_policy_path(name), q).await
    }

    /// Creates or replaces the policy `policy.name` names.
    pub async fn acl_policy_upsert(&self, policy: &AclPolicy) -> Result<(), Error> {
        self.post::<_, serde_json::Value>(&acl_policy_path(&policy.name), policy)
            .await
            .map(|_| ())
    }

    /// Deletes the policy with this name.
    pub async fn acl_policy_delete(&self, name: &str) -> Result<(), Error> {
        self.delete_discarding(&acl_policy_path(name)).await
    }

    /// Every ACL role.
    pub async fn acl_roles(&self, q: &QueryOptions) -> Result<(Vec<AclRole>, QueryMeta), Error> {
        self.get(ACL_ROLES_PATH, q).await
    }

    /// Creates a role; the agent assigns its ID.
    pub async fn acl_role_create(&self, role: &AclRole) -> Result<AclRole, Error> {
        self.post(ACL_ROLE_CREATE_PATH, role).await
    }

    /// The role with this ID.
    pub async fn acl_role(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(AclRole, QueryMeta), Error> {
        self.get(&acl_role_path(id), q).await
    }

    /// The role with this name.
    pub async fn acl_role_by_name(
        &self,
        name: &str,
        q: &QueryOptions,
    ) -> Result<(AclRole, QueryMeta), Error> {
        self.get(&acl_role_by_name_path(name), q).await
    }

    /// Rewrites the role `role.id` names with the rest of `role`.
    pub async fn acl_role_update(&self, role: &AclRole) -> Result<AclRole, Error> {
        self.post(&acl_role_path(&role.id), role).await
    }

    /// Deletes the role with this ID.
    pub async fn acl_role_delete(&self, id: &str) -> Result<(), Error> {
        self.delete_discarding(&acl_role_path(id)).await
    }

    /// A client node's metadata: `node_id`'s, or that of the agent's own node when `None`.
    pub async fn node_meta(
        &self,
        node_id: Option<&str>,
        q: &QueryOptions,
    ) -> Result<(NodeMetaResponse, QueryMeta), Error> {
        let q = match node_id {
            Some(id) => q.clone().param("node_id", id),
            None => q.clone(),
        };
        self.get(CLIENT_METADATA_PATH, &q).await
    }

    /// Sets and unsets (`None`) dynamic metadata keys on a client node (the agent's own when
    /// `request.node_id` is empty) and returns the node's metadata afterwards.
    pub async fn node_meta_apply(
        &self,
        request: &NodeMetaApplyRequest,
    ) -> Result<NodeMetaResponse, Error> {
        self.post(CLIENT_METADATA_PATH, request).await
    }

    /// A `DELETE` whose answer carries nothing the caller needs.
    async fn delete_discarding(&self, path: &str) -> Result<(), Error> {
        self.delete::<serde_json::Value>(path, &[])
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    use super::super::test_server::{Recorded, TestServer};
    use super::*;
    use crate::acl::{AclRolePolicyLink, AclTokenRoleLink, JobAcl};

    const ACCESSOR: &str = "b780e702-98ce-521f-2e5f-c6b87de05b24";
    const SECRET: &str = "3f4a0fcd-7c42-773c-25db-2d31ba0c05fe";
    const ROLE_ID: &str = "e3f4a5b6-1111-4222-8333-444455556666";

    fn token_json() -> Value {
        json!({
            "AccessorID": ACCESSOR,
            "SecretID": SECRET,
            "Name": "Bootstrap Token",
            "Type": "management",
            "Policies": null,
            "Roles": null,
            "Global": true,
            "CreateTime": "2026-11-23T20:14:15.123456789Z",
            "CreateIndex": 7,
            "ModifyIndex": 7
        })
    }

    fn role_json() -> Value {
        json!({
            "ID": ROLE_ID,
            "Name": "ops",
            "Description": "operators",
            "Policies": [{"Name": "read-all"}],
            "CreateIndex": 20,
            "ModifyIndex": 21
        })
    }

    fn policy_json() -> Value {
        json!({
            "Name": "read-all",
            "Description": "reads",
            "Rules": "namespace \"*\" { policy = \"read\" }",
            "JobACL": null,
            "CreateIndex": 9,
            "ModifyIndex": 9
        })
    }

    /// The canned answers of the test agent, by method and path.
    fn answer(method: &str, path: &str) -> Value {
        match (method, path) {
            (_, "/v1/acl/bootstrap") | ("POST", "/v1/acl/token") => token_json(),
            ("GET", "/v1/acl/tokens") => json!([token_json()]),
            (_, p) if p.starts_with("/v1/acl/token/") => match method {
                "DELETE" => Value::Null,
                _ => token_json(),
            },
            ("GET", "/v1/acl/policies") => json!([policy_json()]),
            ("GET", p) if p.starts_with("/v1/acl/policy/") => policy_json(),
            (_, p) if p.starts_with("/v1/acl/policy/") => Value::Null,
            ("GET", "/v1/acl/roles") => json!([role_json()]),
            ("DELETE", p) if p.starts_with("/v1/acl/role/") => Value::Null,
            (_, p) if p.starts_with("/v1/acl/role") => role_json(),
            (_, "/v1/client/metadata") => json!({
                "Meta": {"rack": "r1", "zone": "a"},
                "Dynamic": {"rack": "r1", "gone": null},
                "Static": {"zone": "a", "gone": "x"}
            }),
            _ => json!({"unexpected": path}),
        }
    }

    /// Asserts the one request the server saw since the last call.
    fn assert_request(server: &TestServer, method: &str, path: &str, body: Option<Value>) {
        let seen = server.take();
        assert_eq!(seen.len(), 1, "{seen:?}");
        let Recorded {
            method: m,
            path: p,
            body: b,
            ..
        } = &seen[0];
        assert_eq!((m.as_str(), p.as_str()), (method, path));
        assert_eq!(b.clone(), body, "body of {method} {path}");
    }

    async fn acl_methods_send_nomads_requests(server: TestServer) {
        let client = server.client(Some(SECRET));
        let none = QueryOptions::default();

        let token = client.acl_bootstrap(None).await.unwrap();
        assert_eq!(token.secret_id, SECRET);
        assert!(token.is_management() && token.global);
        assert_request(&server, "POST", "/v1/acl/bootstrap", None);

        client.acl_bootstrap(Some(SECRET)).await.unwrap();
        assert_request(
            &server,
            "POST",
            "/v1/acl/bootstrap",
            Some(json!({"BootstrapSecret": SECRET})),
        );

        let (tokens, _) = client.acl_tokens(&none).await.unwrap();
        assert_eq!(tokens[0].accessor_id, ACCESSOR);
        assert_request(&server, "GET", "/v1/acl/tokens", None);

        let request = AclToken {
            name: "ci".into(),
            r#type: "client".into(),
            policies: vec!["read-all".into()],
            roles: vec![AclTokenRoleLink {
                id: String::new(),
                name: "ops".into(),
            }],
            expiration_ttl: 3_600_000_000_000,
            ..Default::default()
        };
        client.acl_token_create(&request).await.unwrap();
        let seen = server.take();
        assert_eq!(seen[0].path, "/v1/acl/token");
        let body = seen[0].body.clone().unwrap();
        assert_eq!(body["Name"], "ci");
        assert_eq!(body["Policies"], json!(["read-all"]));
        assert_eq!(body["Roles"], json!([{"ID": "", "Name": "ops"}]));
        assert_eq!(body["ExpirationTTL"], 3_600_000_000_000i64);

        client.acl_token(ACCESSOR, &none).await.unwrap();
        assert_request(&server, "GET", &format!("/v1/acl/token/{ACCESSOR}"), None);

        let update = AclToken {
            accessor_id: ACCESSOR.into(),
            name: "renamed".into(),
            ..Default::default()
        };
        client.acl_token_update(&update).await.unwrap();
        let seen = server.take();
        assert_eq!(seen[0].method, "POST");
        assert_eq!(seen[0].path, format!("/v1/acl/token/{ACCESSOR}"));
        assert_eq!(seen[0].body.as_ref().unwrap()["Name"], "renamed");

        client.acl_token_delete(ACCESSOR).await.unwrap();
        assert_request(
            &server,
            "DELETE",
            &format!("/v1/acl/token/{ACCESSOR}"),
            None,
        );

        let (me, _) = client.acl_token_self(&none).await.unwrap();
        assert_eq!(me.name, "Bootstrap Token");
        assert_request(&server, "GET", "/v1/acl/token/self", None);

        let (policies, _) = client.acl_policies(&none).await.unwrap();
        assert_eq!(policies[0].name, "read-all");
        assert_request(&server, "GET", "/v1/acl/policies", None);

        let (policy, _) = client.acl_policy("read-all", &none).await.unwrap();
        assert!(policy.rules.contains("read"));
        assert_request(&server, "GET", "/v1/acl/policy/read-all", None);

        let policy = AclPolicy {
            name: "web vars".into(),
            description: "for web".into(),
            rules: "namespace \"default\" {}".into(),
            job_acl: Some(JobAcl {
                namespace: "default".into(),
                job_id: "web".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        client.acl_policy_upsert(&policy).await.unwrap();
        let seen = server.take();
        assert_eq!(seen[0].method, "POST");
        assert_eq!(seen[0].path, "/v1/acl/policy/web%20vars");
        let body = seen[0].body.clone().unwrap();
        assert_eq!(body["Rules"], "namespace \"default\" {}");
        assert_eq!(
            body["JobACL"],
            json!({"Namespace": "default", "JobID": "web", "Group": "", "Task": ""})
        );

        client.acl_policy_delete("read-all").await.unwrap();
        assert_request(&server, "DELETE", "/v1/acl/policy/read-all", None);

        let (roles, _) = client.acl_roles(&none).await.unwrap();
        assert_eq!(roles[0].policies[0].name, "read-all");
        assert_request(&server, "GET", "/v1/acl/roles", None);

        let role = AclRole {
            name: "ops".into(),
            policies: vec![AclRolePolicyLink {
                name: "read-all".into(),
            }],
            ..Default::default()
        };
        let created = client.acl_role_create(&role).await.unwrap();
        assert_eq!(created.id, ROLE_ID);
        let seen = server.take();
        assert_eq!(
            (seen[0].method.as_str(), seen[0].path.as_str()),
            ("POST", "/v1/acl/role")
        );
        assert_eq!(
            seen[0].body.as_ref().unwrap()["Policies"],
            json!([{"Name": "read-all"}])
        );

        client.acl_role(ROLE_ID, &none).await.unwrap();
        assert_request(&server, "GET", &format!("/v1/acl/role/{ROLE_ID}"), None);

        client.acl_role_by_name("ops", &none).await.unwrap();
        assert_request(&server, "GET", "/v1/acl/role/name/ops", None);

        client.acl_role_update(&created).await.unwrap();
        let seen = server.take();
        assert_eq!(seen[0].path, format!("/v1/acl/role/{ROLE_ID}"));
        assert_eq!(seen[0].body.as_ref().unwrap()["ID"], ROLE_ID);

        client.acl_role_delete(ROLE_ID).await.unwrap();
        assert_request(&server, "DELETE", &format!("/v1/acl/role/{ROLE_ID}"), None);
    }

    #[tokio::test]
    async fn acl_methods_over_a_unix_socket() {
        acl_methods_send_nomads_requests(TestServer::unix(answer).await).await;
    }

    #[tokio::test]
    async fn acl_methods_over_tcp() {
        acl_methods_send_nomads_requests(TestServer::tcp(answer).await).await;
    }

    #[tokio::test]
    async fn node_meta_reads_the_agents_own_node_or_the_one_named() {
        let server = TestServer::unix(answer).await;
        let client = server.client(Some(SECRET));

        let (meta, _) = client
            .node_meta(None, &QueryOptions::default())
            .await
            .unwrap();
        assert_eq!(meta.meta["rack"], "r1");
        assert_eq!(meta.dynamic["gone"], None);
        assert_eq!(meta.r#static["gone"], "x");
        let seen = server.take();
        assert_eq!(seen[0].path, "/v1/client/metadata");
        assert_eq!(seen[0].query, "");

        client
            .node_meta(Some("f7476465"), &QueryOptions::default())
            .await
            .unwrap();
        let seen = server.take();
        assert_eq!(seen[0].query, "node_id=f7476465");
    }

    #[tokio::test]
    async fn node_meta_apply_sends_sets_and_unsets() {
        let server = TestServer::unix(answer).await;
        let client = server.client(Some(SECRET));
        let request = NodeMetaApplyRequest {
            node_id: String::new(),
            meta: BTreeMap::from([
                ("rack".to_string(), Some("r1".to_string())),
                ("gone".to_string(), None),
            ]),
        };
        let answer = client.node_meta_apply(&request).await.unwrap();
        assert_eq!(answer.meta["zone"], "a");
        assert_request(
            &server,
            "POST",
            "/v1/client/metadata",
            Some(json!({"NodeID": "", "Meta": {"gone": null, "rack": "r1"}})),
        );
    }
}
