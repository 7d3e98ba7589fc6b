//! Rendering a task's templates: the first time before the task starts ([`first_render`]),
//! which waits, saying what is missing, until every piece of data they read exists and can be
//! read; and while it runs ([`Watcher`]), following each piece of data (blocking queries on
//! Nomad data, leases on secrets) and rendering again when one changes. Changed outputs are
//! written at once; what the task must then be told waits a random share of the blocks'
//! `splay` first, so that many tasks do not restart together.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use drover_template::Dependency;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use super::sources::{Next, Sources};
use super::{Change, Data, TaskTemplates};
use crate::identity::Backoff;

/// Retries of data that cannot be fetched yet: 1 s doubling to 30 s.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(30);

/// What the first render leaves for the watcher.
pub struct Rendered {
    pub templates: TaskTemplates,
    pub data: Data,
    /// When to look at each piece of data again.
    pub next: BTreeMap<Dependency, Next>,
}

/// `Missing: a, b` — Nomad's words for data a template waits for.
pub fn missing_message(missing: &BTreeSet<Dependency>) -> String {
    let names: Vec<String> = missing.iter().map(ToString::to_string).collect();
    format!("Missing: {}", names.join(", "))
}

/// Renders until complete and writes the outputs. `report` is told (once per distinct set)
/// what is still missing while it waits. A template that cannot render is an error.
pub async fn first_render(
    mut templates: TaskTemplates,
    sources: &Sources,
    report: impl Fn(String),
) -> Result<Rendered, String> {
    let mut data = Data::default();
    let mut next = BTreeMap::new();
    let mut backoff = Backoff::new(FIRST_RETRY, MAX_RETRY);
    let mut rng = SmallRng::from_os_rng();
    let mut reported = String::new();
    let mut pass = templates.render(&data).await?;
    loop {
        if pass.missing.is_empty() {
            let changed = templates.write(&pass)?;
            tracing::debug!(written = changed.len(), "templates rendered");
            return Ok(Rendered {
                templates,
                data,
                next,
            });
        }
        let mut fetched_any = false;
        for dep in &pass.missing {
            match sources.fetch(dep, 0).await {
                Ok(f) => {
                    fetched_any |= data.absorb(dep.clone(), f.value);
                    next.insert(dep.clone(), f.next);
                }
                Err(e) => tracing::warn!(error = %e, "template data cannot be read yet"),
            }
        }
        if !fetched_any {
            // Nothing new arrived: say what is still missing and wait before asking again.
            let message = missing_message(&pass.missing);
            if message != reported {
                report(message.clone());
                reported = message;
            }
            tokio::time::sleep(backoff.next_wait(&mut rng)).await;
        }
        // New data may complete the templates, or reveal data read behind it.
        pass = templates.render(&data).await?;
    }
}

/// Follows a running task's template data and renders again on change.
pub struct Watcher {
    changes: mpsc::Receiver<Result<Change, String>>,
    task: JoinHandle<()>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Watcher {
    pub fn spawn(rendered: Rendered, sources: Sources) -> Self {
        let (tx, changes) = mpsc::channel(4);
        let task = tokio::spawn(run(rendered, sources, tx));
        Watcher { changes, task }
    }

    /// The next change the task must be told of (after its splay), or a render error.
    /// Pending forever once the watcher has nothing more to say.
    pub async fn next(&mut self) -> Result<Change, String> {
        match self.changes.recv().await {
            Some(change) => change,
            None => std::future::pending().await,
        }
    }
}

async fn run(rendered: Rendered, sources: Sources, out: mpsc::Sender<Result<Change, String>>) {
    let Rendered {
        mut templates,
        mut data,
        next,
    } = rendered;
    let (tx, mut updates) = mpsc::channel::<(Dependency, Value)>(64);
    // Dropped with this task (when the watcher is): every follower stops with it.
    let mut followers = Followers::default();
    for (dep, n) in next {
        followers.start(dep, n, &sources, &tx);
    }
    // Whatever the templates read that nobody follows yet (all of it, for templates taken
    // over after an agent restart) is fetched from scratch.
    if let Ok(pass) = templates.render(&data).await {
        follow_new(&mut followers, &pass, &sources, &tx);
    }
    let mut rng = SmallRng::from_os_rng();
    while let Some((dep, value)) = updates.recv().await {
        let mut changed_data = data.absorb(dep, value);
        // Take whatever else arrives while the data settles (the templates' `wait`), so one
        // change renders once.
        let (quiet, longest) = templates.quiescence();
        let settle_until = tokio::time::Instant::now() + longest.max(quiet);
        loop {
            while let Ok((dep, value)) = updates.try_recv() {
                changed_data |= data.absorb(dep, value);
            }
            if quiet.is_zero() {
                break;
            }
            let deadline = (tokio::time::Instant::now() + quiet).min(settle_until);
            match tokio::time::timeout_at(deadline, updates.recv()).await {
                Ok(Some((dep, value))) => {
                    changed_data |= data.absorb(dep, value);
                    if tokio::time::Instant::now() >= settle_until {
                        break;
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
        if !changed_data {
            continue;
        }
        let pass = match templates.render(&data).await {
            Ok(pass) => pass,
            Err(e) => {
                let _ = out.send(Err(e)).await;
                continue;
            }
        };
        follow_new(&mut followers, &pass, &sources, &tx);
        if !pass.missing.is_empty() {
            // Keep the outputs as they are until the new data is there.
            continue;
        }
        let changed = match templates.write(&pass) {
            Ok(changed) => changed,
            Err(e) => {
                let _ = out.send(Err(e)).await;
                continue;
            }
        };
        if changed.is_empty() {
            continue;
        }
        let change = templates.change_for(&changed);
        if !change.splay.is_zero() {
            let wait = change.splay.mul_f64(rng.random::<f64>());
            tokio::time::sleep(wait).await;
        }
        if out.send(Ok(change)).await.is_err() {
            break;
        }
    }
}

/// The tasks following each piece of data; dropping this stops them all.
#[derive(Default)]
struct Followers {
    following: BTreeSet<Dependency>,
    tasks: JoinSet<()>,
}

impl Followers {
    fn start(
        &mut self,
        dep: Dependency,
        next: Next,
        sources: &Sources,
        tx: &mpsc::Sender<(Dependency, Value)>,
    ) {
        if self.following.insert(dep.clone()) {
            self.tasks
                .spawn(follow(dep, sources.clone(), next, tx.clone()));
        }
    }
}

/// Starts following what `pass` read that is not followed yet.
fn follow_new(
    followers: &mut Followers,
    pass: &super::Pass,
    sources: &Sources,
    tx: &mpsc::Sender<(Dependency, Value)>,
) {
    for dep in pass.used.iter().chain(&pass.missing) {
        followers.start(dep.clone(), Next::After(0), sources, tx);
    }
}

/// Fetches one piece of data whenever it may have changed, sending each answer on.
async fn follow(
    dep: Dependency,
    sources: Sources,
    mut next: Next,
    tx: mpsc::Sender<(Dependency, Value)>,
) {
    let mut backoff = Backoff::new(FIRST_RETRY, MAX_RETRY);
    let mut rng = SmallRng::from_os_rng();
    loop {
        if tx.is_closed() {
            return;
        }
        let index = match &next {
            Next::After(index) => *index,
            Next::Reread(wait) => {
                tokio::time::sleep(*wait).await;
                0
            }
            Next::Renew {
                lease_id,
                lease,
                wait,
            } => {
                tokio::time::sleep(*wait).await;
                if let Some(renewed) = sources.renew(lease_id, *lease).await {
                    next = renewed;
                    continue;
                }
                0
            }
        };
        match sources.fetch(&dep, index).await {
            Ok(f) => {
                backoff.reset();
                // A blocking query that came back at once without a newer index must not spin.
                if let (Next::After(before), Next::After(after)) = (&next, &f.next)
                    && *before > 0
                    && after <= before
                {
                    tokio::time::sleep(FIRST_RETRY).await;
                }
                next = f.next;
                if tx.send((dep.clone(), f.value)).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "template data cannot be read; retrying");
                tokio::time::sleep(backoff.next_wait(&mut rng)).await;
                if !matches!(next, Next::After(_)) {
                    next = Next::After(0);
                }
            }
        }
    }
}
