//! How the ACL commands change the tables: tokens (indexed by secret as well as accessor),
//! policies, roles, and the one-time bootstrap.

use std::sync::Arc;

use drover_api::{AclPolicy, AclRole, AclToken};

use crate::store::Table;
use crate::tables::Tables;

impl Tables {
    pub(crate) fn acl_bootstrap(&mut self, index: u64, token: &AclToken) {
        if self.acl_bootstrap_index != 0 {
            return;
        }
        self.acl_bootstrap_index = index;
        self.upsert_acl_tokens(index, std::slice::from_ref(token));
    }

    pub(crate) fn upsert_acl_tokens(&mut self, index: u64, tokens: &[AclToken]) {
        for token in tokens {
            let mut token = token.clone();
            let old = self.acl_tokens.get(&token.accessor_id).cloned();
            if let Some(old) = &old {
                self.acl_token_secrets.remove(&old.secret_id);
            }
            token.create_index = old.map_or(index, |o| o.create_index);
            token.modify_index = index;
            self.acl_token_secrets
                .insert(token.secret_id.clone(), token.accessor_id.clone());
            self.acl_tokens
                .insert(token.accessor_id.clone(), Arc::new(token));
        }
        self.touch(Table::Acl, index);
    }

    pub(crate) fn delete_acl_tokens(&mut self, index: u64, accessor_ids: &[String]) {
        for id in accessor_ids {
            if let Some(old) = self.acl_tokens.remove(id) {
                self.acl_token_secrets.remove(&old.secret_id);
            }
        }
        self.touch(Table::Acl, index);
    }

    pub(crate) fn upsert_acl_policies(&mut self, index: u64, policies: &[AclPolicy]) {
        for policy in policies {
            let mut policy = policy.clone();
            policy.create_index = self
                .acl_policies
                .get(&policy.name)
                .map_or(index, |o| o.create_index);
            policy.modify_index = index;
            self.acl_policies
                .insert(policy.name.clone(), Arc::new(policy));
        }
        self.touch(Table::Acl, index);
    }

    pub(crate) fn delete_acl_policies(&mut self, index: u64, names: &[String]) {
        for name in names {
            self.acl_policies.remove(name);
        }
        self.touch(Table::Acl, index);
    }

    pub(crate) fn upsert_acl_roles(&mut self, index: u64, roles: &[AclRole]) {
        for role in roles {
            let mut role = role.clone();
            role.create_index = self
                .acl_roles
                .get(&role.id)
                .map_or(index, |o| o.create_index);
            role.modify_index = index;
            self.acl_roles.insert(role.id.clone(), Arc::new(role));
        }
        self.touch(Table::Acl, index);
    }

    pub(crate) fn delete_acl_roles(&mut self, index: u64, ids: &[String]) {
        for id in ids {
            self.acl_roles.remove(id);
        }
        self.touch(Table::Acl, index);
    }

    /// The token whose secret is `secret`.
    pub fn acl_token_by_secret(&self, secret: &str) -> Option<&Arc<AclToken>> {
        self.acl_tokens.get(self.acl_token_secrets.get(secret)?)
    }

    /// The role named `name`.
    pub fn acl_role_by_name(&self, name: &str) -> Option<&Arc<AclRole>> {
        self.acl_roles.values().find(|r| r.name == name)
    }
}
