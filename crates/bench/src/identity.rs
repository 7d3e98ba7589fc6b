//! The identity scenario: does signing workload identities slow scheduling down? The same
//! 1,000-allocation job is placed on 5,000 nodes with nobody asking for identities (signing
//! off) and with simulated clients fetching every task's identity as soon as its allocation
//! appears (signing on), alternating rounds in one run. Also reports how fast identities are
//! issued end to end.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use drover_api::internal::{IdentityRequest, SignIdentitiesRequest, SignIdentitiesResponse};
use drover_api::*;

use crate::scenarios::{place, server_with_nodes, sleep_job};

const NODES: usize = 5000;
const ALLOCS: i32 = 1000;
const ROUNDS: usize = 7;

pub async fn identity(bin: &Path) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (mut agent, nodes, _) = server_with_nodes(bin, dir.path(), NODES).await?;
    let client = agent.client();
    let secrets: HashMap<String, String> = nodes.into_iter().map(|n| (n.id, n.secret_id)).collect();
    let (mut off, mut on, mut issued) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let t = place(
            &client,
            &sleep_job(&format!("off-{round}"), ALLOCS, "service"),
        )
        .await?;
        off.push(ALLOCS as f64 / t.as_secs_f64());

        let job_id = format!("on-{round}");
        let fetch = tokio::spawn(fetch_identities(
            client.clone(),
            secrets.clone(),
            job_id.clone(),
        ));
        let t = place(&client, &sleep_job(&job_id, ALLOCS, "service")).await?;
        on.push(ALLOCS as f64 / t.as_secs_f64());
        let all_signed = fetch.await.map_err(|e| e.to_string())??;
        issued.push(ALLOCS as f64 / all_signed.as_secs_f64());
    }
    let (off, on, issued) = (median(off), median(on), median(issued));
    println!(
        "identity: placements/s with identities fetched during placement {on:.0} vs {off:.0} with none = {:.0}% (median of {ROUNDS} alternating rounds, {ALLOCS} allocs on {NODES} nodes)",
        on / off * 100.0
    );
    println!(
        "identity: default identities (RS256) issued to clients end to end: {issued:.0}/s (submit to every task holding its token)"
    );
    agent.stop();
    Ok(())
}

/// Acts as the clients of the job's nodes: watches the job's allocations and asks for each
/// new one's identity with its node's secret. Returns when every allocation has its token.
async fn fetch_identities(
    client: Client,
    secrets: HashMap<String, String>,
    job_id: String,
) -> Result<Duration, String> {
    let start = Instant::now();
    let mut seen: HashSet<String> = HashSet::new();
    let mut index = 0;
    let mut requests = Vec::new();
    while seen.len() < ALLOCS as usize {
        let q = QueryOptions::blocking(index, Duration::from_secs(5));
        let Ok((allocs, meta)) = client.job_allocations(&job_id, false, &q).await else {
            continue;
        };
        index = meta.last_index;
        let mut by_node: BTreeMap<String, Vec<IdentityRequest>> = BTreeMap::new();
        for a in allocs.into_iter().filter(|a| seen.insert(a.id.clone())) {
            by_node.entry(a.node_id).or_default().push(IdentityRequest {
                alloc_id: a.id,
                task_name: "t".into(),
                identity_name: DEFAULT_IDENTITY.into(),
            });
        }
        for (node_id, identities) in by_node {
            let secret = secrets.get(&node_id).cloned().unwrap_or_default();
            let node_client = client.with_header(NODE_SECRET_HEADER, &secret);
            let request = SignIdentitiesRequest {
                node_id,
                identities,
            };
            requests.push(tokio::spawn(async move {
                node_client
                    .post::<_, SignIdentitiesResponse>(internal::IDENTITIES_SIGN_PATH, &request)
                    .await
            }));
        }
    }
    let mut signed = 0;
    for request in requests {
        signed += count_signed(request.await.map_err(|e| e.to_string())?)?;
    }
    if signed < ALLOCS as usize {
        return Err(format!("only {signed} of {ALLOCS} identities were signed"));
    }
    Ok(start.elapsed())
}

fn count_signed(result: Result<SignIdentitiesResponse, ClientError>) -> Result<usize, String> {
    let response = result.map_err(|e| format!("signing identities: {e}"))?;
    if let Some(r) = response.rejections.first() {
        return Err(format!("identity refused: {}", r.reason));
    }
    Ok(response.signed_identities.len())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}
