//! Typed methods for Nomad Variables (`/v1/vars`, `/v1/var/:path`): list, read, write and
//! delete with check-and-set, and the variable lock operations.

use reqwest::Method;

use super::{Client, Error, QueryMeta, QueryOptions};
use crate::variables::{
    VAR_LOCK_ACQUIRE, VAR_LOCK_RELEASE, VAR_LOCK_RENEW, VARIABLES_PATH, Variable, VariableMetadata,
    variable_path,
};

/// HTTP status of a check-and-set or lock conflict.
const CONFLICT: u16 = 409;

impl Client {
    /// Metadata of the variables whose path starts with `q.prefix`, sorted by path.
    pub async fn var_list(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<VariableMetadata>, QueryMeta), Error> {
        self.get(VARIABLES_PATH, q).await
    }

    /// The variable at `path` with its items.
    pub async fn var_get(
        &self,
        path: &str,
        q: &QueryOptions,
    ) -> Result<(Variable, QueryMeta), Error> {
        self.get(&variable_path(path), q).await
    }

    /// Creates or replaces `var`. With `cas`, only when its current `ModifyIndex` is `cas`
    /// (`0`: only when it does not exist); a conflict is a 409 whose body
    /// [`cas_conflict`] reads.
    pub async fn var_put(&self, var: &Variable, cas: Option<u64>) -> Result<Variable, Error> {
        let cas = cas.map(|c| c.to_string());
        let params: Vec<(&str, &str)> = cas.iter().map(|c| ("cas", c.as_str())).collect();
        self.write(Method::PUT, &variable_path(&var.path), Some(var), &params)
            .await
    }

    /// Deletes the variable at `path`, with `cas` as in [`Client::var_put`].
    pub async fn var_delete(&self, path: &str, cas: Option<u64>) -> Result<(), Error> {
        let cas = cas.map(|c| c.to_string());
        let params: Vec<(&str, &str)> = cas.iter().map(|c| ("cas", c.as_str())).collect();
        self.delete::<serde_json::Value>(&variable_path(path), &params)
            .await
            .map(|_| ())
    }

    /// Acquires the lock of `var.path` (creating the variable if needed) with the `TTL` and
    /// `LockDelay` of `var.lock`; the answer carries the lock ID.
    pub async fn var_lock_acquire(&self, var: &Variable) -> Result<Variable, Error> {
        self.lock_op(var, VAR_LOCK_ACQUIRE).await
    }

    /// Renews the lock whose ID is in `var.lock`.
    pub async fn var_lock_renew(&self, var: &Variable) -> Result<VariableMetadata, Error> {
        self.lock_op(var, VAR_LOCK_RENEW).await
    }

    /// Releases the lock whose ID is in `var.lock`.
    pub async fn var_lock_release(&self, var: &Variable) -> Result<Variable, Error> {
        self.lock_op(var, VAR_LOCK_RELEASE).await
    }

    async fn lock_op<T: serde::de::DeserializeOwned>(
        &self,
        var: &Variable,
        op: &str,
    ) -> Result<T, Error> {
        self.write(
            Method::PUT,
            &variable_path(&var.path),
            Some(var),
            &[(op, "")],
        )
        .await
    }
}

/// The current variable a 409 conflict answered with, if `err` is one.
pub fn cas_conflict(err: &Error) -> Option<Variable> {
    match err {
        Error::Status { status, body } if *status == CONFLICT => serde_json::from_str(body).ok(),
        _ => None,
    }
}
