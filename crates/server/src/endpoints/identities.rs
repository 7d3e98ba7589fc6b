//! Workload identities: signing the identities of a node's allocations on its client's request
//! (outside the plan applier, on at most all cores but one, so placements never wait on
//! signatures), and verifying a JWT presented as a token.

use std::sync::Arc;

use drover_api::internal::{
    IdentityRejection, IdentityRequest, SignIdentitiesRequest, SignIdentitiesResponse,
    SignedIdentity,
};
use drover_api::{IdentityClaims, Job};
use drover_identity::{Algorithm, SigningKey};
use drover_state::Snapshot;

use crate::keyring::ClaimsInput;
use crate::{Server, ServerError};

/// Most identities one request may ask for.
const MAX_IDENTITIES_PER_REQUEST: usize = 1024;

/// A verified workload identity.
#[derive(Debug, Clone)]
pub struct VerifiedIdentity {
    pub claims: Arc<IdentityClaims>,
    pub key_id: String,
}

impl Server {
    /// `POST /v1/internal/identities/sign`.
    pub async fn sign_identities(
        &self,
        secret: &str,
        request: SignIdentitiesRequest,
    ) -> Result<SignIdentitiesResponse, ServerError> {
        self.authenticate_node(&request.node_id, secret)?;
        if request.identities.len() > MAX_IDENTITIES_PER_REQUEST {
            return Err(ServerError::BadRequest(format!(
                "at most {MAX_IDENTITIES_PER_REQUEST} identities may be signed per request"
            )));
        }
        // One snapshot for the key and the allocations, so the key-in-use rule holds: an
        // allocation placed after this key retired is never signed with it.
        let (snapshot, key) = self.keyring.active_key(self.state()).await?;
        let now = drover_api::time::now_unix_nano() / 1_000_000_000;
        let mut response = SignIdentitiesResponse::default();
        let mut work: Vec<(IdentityRequest, IdentityClaims, Algorithm)> = Vec::new();
        for r in request.identities {
            match self.identity_claims(&snapshot, &request.node_id, &r, now) {
                Ok((claims, alg)) => work.push((r, claims, alg)),
                Err(reason) => response.rejections.push(IdentityRejection {
                    request: r,
                    reason: reason.to_string(),
                }),
            }
        }
        // A snapshot held while signing would make every write copy the tables.
        drop(snapshot);
        if !work.is_empty() {
            let _permit = self
                .keyring
                .signers
                .acquire()
                .await
                .map_err(|e| ServerError::Internal(format!("signing identities: {e}")))?;
            response.signed_identities = tokio::task::spawn_blocking(move || sign_all(&key, work))
                .await
                .map_err(|e| ServerError::Internal(format!("signing identities: {e}")))??;
        }
        Ok(response)
    }

    /// The claims of one requested identity, or why it is refused.
    fn identity_claims(
        &self,
        snapshot: &Snapshot,
        node_id: &str,
        r: &IdentityRequest,
        now: i64,
    ) -> Result<(IdentityClaims, Algorithm), &'static str> {
        let alloc = snapshot
            .allocs
            .get(&r.alloc_id)
            .filter(|a| a.node_id == node_id)
            .ok_or("allocation not found")?;
        if alloc.terminal() {
            return Err("allocation is terminal");
        }
        // The job version the allocation runs, whose identity blocks apply.
        let job: &Job = alloc.job.as_ref().ok_or("allocation not found")?;
        let task = job
            .task_groups
            .iter()
            .find(|g| g.name == alloc.task_group)
            .and_then(|g| g.tasks.iter().find(|t| t.name == r.task_name))
            .ok_or("task not found")?;
        let block = task
            .identity_block(&r.identity_name)
            .ok_or("identity not found")?;
        let alg = match block.signing_algorithm.parse::<Algorithm>() {
            Ok(alg) => alg,
            Err(_) => self.config.keyring.signing_algorithm,
        };
        let claims = ClaimsInput {
            region: &self.config.region,
            issuer: self.config.keyring.oidc_issuer.as_deref(),
            alloc,
            job,
            node: snapshot.nodes.get(node_id).map(|n| &**n),
            task: &task.name,
            block: &block,
            now,
        }
        .claims();
        Ok((claims, alg))
    }

    /// Checks a JWT presented as a token: signature by its `kid`, time claims, and that its
    /// allocation still exists and has not finished. Verified tokens are cached, so a repeat
    /// costs a lookup and the time and allocation checks.
    pub fn verify_workload_identity(&self, token: &str) -> Result<VerifiedIdentity, ServerError> {
        let denied =
            |why: String| ServerError::Forbidden(format!("invalid workload identity: {why}"));
        let snapshot = self.state().snapshot();
        let now = drover_api::time::now_unix_nano() / 1_000_000_000;
        let (claims, key_id) = match self.keyring.verified.get(token) {
            Some(hit) => {
                drover_identity::check_times(&hit.0, now).map_err(|e| denied(e.to_string()))?;
                hit
            }
            None => {
                let header =
                    drover_identity::decode_header(token).map_err(|e| denied(e.to_string()))?;
                let root = snapshot
                    .root_keys
                    .get(&header.kid)
                    .ok_or_else(|| denied(format!("unknown key ID {:?}", header.kid)))?;
                let key = self.keyring.signing_key(root)?;
                let claims =
                    drover_identity::verify(token, &key, now).map_err(|e| denied(e.to_string()))?;
                let claims = Arc::new(claims);
                self.keyring
                    .verified
                    .insert(token, claims.clone(), header.kid.clone());
                (claims, header.kid)
            }
        };
        if !snapshot.root_keys.contains_key(&key_id) {
            return Err(denied(format!("key {key_id} has been removed")));
        }
        match snapshot.allocs.get(&claims.nomad_allocation_id) {
            Some(alloc) if !alloc.client_terminal() => Ok(VerifiedIdentity { claims, key_id }),
            Some(_) => Err(denied("its allocation has finished".into())),
            None => Err(denied("its allocation no longer exists".into())),
        }
    }
}

fn sign_all(
    key: &SigningKey,
    work: Vec<(IdentityRequest, IdentityClaims, Algorithm)>,
) -> Result<Vec<SignedIdentity>, ServerError> {
    work.into_iter()
        .map(|(request, claims, alg)| {
            let jwt = key
                .sign(alg, &claims)
                .map_err(|e| ServerError::Internal(format!("signing an identity: {e}")))?;
            Ok(SignedIdentity {
                request,
                jwt,
                expiration: claims.exp.map_or(0, |s| s.saturating_mul(1_000_000_000)),
                key_id: key.key_id().to_string(),
            })
        })
        .collect()
}
