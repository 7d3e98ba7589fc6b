//! Identity signing and verification throughput on one thread ("per core").
//!
//! Prints, for RS256 and EdDSA, the raw signatures/s of a root key over a message the size of a
//! real `header.payload`, the identities/s signed through `SigningKey::sign` with realistic
//! claims, and their ratio; then `verify` latency and a `VerifiedCache` hit. Rates are medians
//! of several rounds, and each round measures the baseline right before the figure.
//!
//! Run: `cargo run --release -p drover-identity --example identity_bench`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use drover_api::{IdentityClaims, identity_subject};
use drover_identity::{Algorithm, KeyMaterial, SigningKey, VerifiedCache, verify};

const ROUNDS: usize = 7;
const ROUND_TIME: Duration = Duration::from_millis(400);
const DISTINCT_CLAIMS: usize = 256;
const LATENCY_SAMPLES: usize = 2_000;
const CACHE_BATCH: usize = 64;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = SigningKey::new(uuid::Uuid::new_v4().to_string(), &KeyMaterial::generate()?)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let claims: Vec<IdentityClaims> = (0..DISTINCT_CLAIMS)
        .map(|_| realistic_claims(now))
        .collect();

    println!("drover identity benchmark: 1 thread, median of {ROUNDS} rounds of {ROUND_TIME:?}");
    for alg in Algorithm::ALL {
        let sample = key.sign(alg, &claims[0])?;
        let (signing_input, _) = sample.rsplit_once('.').ok_or("token has no signature")?;
        let message = signing_input.as_bytes().to_vec();
        let mut raw_rates = Vec::new();
        let mut sign_rates = Vec::new();
        for _ in 0..ROUNDS {
            raw_rates.push(rate(|_| {
                black_box(key.raw_sign(alg, black_box(&message)).map(|s| s.len()))
            }));
            sign_rates.push(rate(|i| {
                black_box(key.sign(alg, &claims[i % DISTINCT_CLAIMS]).map(|t| t.len()))
            }));
        }
        let (raw, signed) = (median(&mut raw_rates), median(&mut sign_rates));
        println!(
            "{alg:>5}: raw {raw:>9.0} signatures/s  sign {signed:>9.0} identities/s  ratio {:>5.1}%  (token {} bytes, signed part {} bytes)",
            100.0 * signed / raw,
            sample.len(),
            message.len(),
        );
    }

    for alg in Algorithm::ALL {
        let tokens = claims
            .iter()
            .map(|c| key.sign(alg, c))
            .collect::<Result<Vec<_>, _>>()?;
        let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
        for i in 0..LATENCY_SAMPLES {
            let token = &tokens[i % tokens.len()];
            let start = Instant::now();
            let verified = verify(black_box(token), &key, now);
            samples.push(start.elapsed());
            verified?;
        }
        samples.sort();
        println!(
            "verify {alg:>5}: p50 {:>8.1?}  p99 {:>8.1?}  (full signature check)",
            percentile(&samples, 50),
            percentile(&samples, 99)
        );
    }

    let cache = VerifiedCache::default();
    let tokens = claims
        .iter()
        .map(|c| key.sign(Algorithm::Rs256, c))
        .collect::<Result<Vec<_>, _>>()?;
    for (token, claims) in tokens.iter().zip(&claims) {
        cache.insert(token, Arc::new(claims.clone()), key.key_id().to_string());
    }
    let mut per_lookup = Vec::with_capacity(LATENCY_SAMPLES);
    for round in 0..LATENCY_SAMPLES {
        let start = Instant::now();
        for i in 0..CACHE_BATCH {
            let hit = cache.get(black_box(&tokens[(round + i) % tokens.len()]));
            black_box(hit.ok_or("cached token missing")?);
        }
        per_lookup.push(start.elapsed() / CACHE_BATCH as u32);
    }
    per_lookup.sort();
    println!(
        "VerifiedCache::get hit: p50 {:.1?}  p99 {:.1?}  (per lookup, timed in batches of {CACHE_BATCH}, {} tokens cached)",
        percentile(&per_lookup, 50),
        percentile(&per_lookup, 99),
        cache.len()
    );
    Ok(())
}

/// Operations per second of `op` over one round; `op` gets the iteration number.
fn rate<T>(mut op: impl FnMut(usize) -> T) -> f64 {
    let start = Instant::now();
    let mut done = 0;
    while start.elapsed() < ROUND_TIME {
        for _ in 0..8 {
            black_box(op(done));
            done += 1;
        }
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(sorted: &[Duration], pct: usize) -> Duration {
    sorted[(sorted.len() - 1) * pct / 100]
}

/// The default identity of a task of a placed allocation, as the plan applier signs it.
fn realistic_claims(now: i64) -> IdentityClaims {
    let job = "payments-api";
    IdentityClaims {
        nomad_namespace: "default".into(),
        nomad_job_id: job.into(),
        nomad_allocation_id: uuid::Uuid::new_v4().to_string(),
        nomad_task: Some("server".into()),
        sub: identity_subject("global", "default", job, "api", "server", "default"),
        aud: vec!["nomadproject.io".into()],
        iat: now,
        nbf: now,
        jti: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    }
}
