//! Renderings of API objects shared by several commands: job lists, allocation lists, evaluation
//! lists and job summaries, with Nomad's column names. Pure functions of their input and "now".

use std::collections::BTreeMap;

use drover_api::{AllocListStub, Evaluation, JobListStub, TaskGroupSummary};

use crate::format::{limit, list, time_ago, unix_nano};

/// A job's status with ` (stopped)` when it was stopped, as Nomad shows it.
pub fn job_status(status: &str, stop: bool) -> String {
    if stop {
        format!("{status} (stopped)")
    } else {
        status.to_string()
    }
}

/// `job status` / `status` without an ID.
pub fn job_list(jobs: &[JobListStub]) -> String {
    if jobs.is_empty() {
        return "No running jobs".to_string();
    }
    let mut rows = vec![row(&["ID", "Type", "Priority", "Status", "Submit Date"])];
    rows.extend(jobs.iter().map(|j| {
        vec![
            j.id.clone(),
            j.r#type.clone(),
            j.priority.to_string(),
            job_status(&j.status, j.stop),
            unix_nano(j.submit_time),
        ]
    }));
    list(rows)
}

/// Allocation rows as in `job status`, `job allocs` and `node status`.
pub fn alloc_list(allocs: &[AllocListStub], verbose: bool, id_len: usize, now: i64) -> String {
    if allocs.is_empty() {
        return "No allocations placed".to_string();
    }
    let mut sorted: Vec<&AllocListStub> = allocs.iter().collect();
    sorted.sort_by(|a, b| {
        b.create_index
            .cmp(&a.create_index)
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut rows = Vec::with_capacity(sorted.len() + 1);
    if verbose {
        rows.push(row(&[
            "ID",
            "Eval ID",
            "Node ID",
            "Node Name",
            "Task Group",
            "Version",
            "Desired",
            "Status",
            "Created",
            "Modified",
        ]));
        rows.extend(sorted.iter().map(|a| {
            vec![
                limit(&a.id, id_len).to_string(),
                limit(&a.eval_id, id_len).to_string(),
                limit(&a.node_id, id_len).to_string(),
                a.node_name.clone(),
                a.task_group.clone(),
                a.job_version.to_string(),
                a.desired_status.clone(),
                a.client_status.clone(),
                unix_nano(a.create_time),
                unix_nano(a.modify_time),
            ]
        }));
    } else {
        rows.push(row(&[
            "ID",
            "Node ID",
            "Task Group",
            "Version",
            "Desired",
            "Status",
            "Created",
            "Modified",
        ]));
        rows.extend(sorted.iter().map(|a| {
            vec![
                limit(&a.id, id_len).to_string(),
                limit(&a.node_id, id_len).to_string(),
                a.task_group.clone(),
                a.job_version.to_string(),
                a.desired_status.clone(),
                a.client_status.clone(),
                time_ago(a.create_time, now),
                time_ago(a.modify_time, now),
            ]
        }));
    }
    list(rows)
}

/// `Evaluations` section of `job status -evals`.
pub fn eval_list(evals: &[Evaluation], id_len: usize) -> String {
    let mut rows = vec![row(&[
        "ID",
        "Priority",
        "Triggered By",
        "Status",
        "Placement Failures",
    ])];
    rows.extend(evals.iter().map(|e| {
        let failures = e.failed_tg_allocs.as_ref().is_some_and(|f| !f.is_empty());
        vec![
            limit(&e.id, id_len).to_string(),
            e.priority.to_string(),
            e.triggered_by.clone(),
            e.status.clone(),
            failures.to_string(),
        ]
    }));
    list(rows)
}

/// `Summary` section of `job status`: allocation counts per group.
pub fn summary(groups: &BTreeMap<String, TaskGroupSummary>) -> String {
    let mut rows = vec![row(&[
        "Task Group",
        "Queued",
        "Starting",
        "Running",
        "Failed",
        "Complete",
        "Lost",
        "Unknown",
    ])];
    rows.extend(groups.iter().map(|(name, s)| {
        vec![
            name.clone(),
            s.queued.to_string(),
            s.starting.to_string(),
            s.running.to_string(),
            s.failed.to_string(),
            s.complete.to_string(),
            s.lost.to_string(),
            s.unknown.to_string(),
        ]
    }));
    list(rows)
}

/// Allocation counts per group derived from the allocations themselves, for agents that do not
/// serve `/v1/job/:id/summary`.
pub fn summary_from_allocs(
    groups: impl IntoIterator<Item = String>,
    allocs: &[AllocListStub],
) -> BTreeMap<String, TaskGroupSummary> {
    let mut out: BTreeMap<String, TaskGroupSummary> = groups
        .into_iter()
        .map(|g| (g, TaskGroupSummary::default()))
        .collect();
    for alloc in allocs {
        let entry = out.entry(alloc.task_group.clone()).or_default();
        match alloc.client_status.as_str() {
            drover_api::ALLOC_CLIENT_PENDING => entry.starting += 1,
            drover_api::ALLOC_CLIENT_RUNNING => entry.running += 1,
            drover_api::ALLOC_CLIENT_COMPLETE => entry.complete += 1,
            drover_api::ALLOC_CLIENT_FAILED => entry.failed += 1,
            drover_api::ALLOC_CLIENT_LOST => entry.lost += 1,
            _ => entry.unknown += 1,
        }
    }
    out
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;
    const NOW: i64 = 1_795_464_855 * S;

    fn stub(id: &str, status: &str, create_index: u64) -> AllocListStub {
        AllocListStub {
            id: id.into(),
            eval_id: "0f3d1a2b-eeee".into(),
            node_id: "6a7b8c9d-ffff".into(),
            node_name: "node1".into(),
            task_group: "cache".into(),
            job_version: 0,
            desired_status: "run".into(),
            client_status: status.into(),
            create_index,
            create_time: NOW - 21 * S,
            modify_time: NOW - 10 * S,
            ..Default::default()
        }
    }

    #[test]
    fn job_list_uses_nomad_columns() {
        let jobs = vec![JobListStub {
            id: "example".into(),
            r#type: "service".into(),
            priority: 50,
            status: "dead".into(),
            stop: true,
            submit_time: NOW,
            ..Default::default()
        }];
        assert_eq!(
            job_list(&jobs),
            "ID       Type     Priority  Status          Submit Date\n\
             example  service  50        dead (stopped)  2026-11-23T20:14:15Z"
        );
        assert_eq!(job_list(&[]), "No running jobs");
    }

    #[test]
    fn alloc_list_is_newest_first_with_short_ids() {
        let allocs = vec![
            stub("c413424b-1111", "pending", 5),
            stub("c2b4606d-2222", "running", 9),
        ];
        assert_eq!(
            alloc_list(&allocs, false, 8, NOW),
            "ID        Node ID   Task Group  Version  Desired  Status   Created  Modified\n\
             c2b4606d  6a7b8c9d  cache       0        run      running  21s ago  10s ago\n\
             c413424b  6a7b8c9d  cache       0        run      pending  21s ago  10s ago"
        );
        assert_eq!(alloc_list(&[], false, 8, NOW), "No allocations placed");
    }

    #[test]
    fn verbose_alloc_list_shows_full_ids_and_times() {
        let out = alloc_list(
            &[stub("c2b4606d-2222", "running", 9)],
            true,
            usize::MAX,
            NOW,
        );
        let mut lines = out.lines();
        assert!(
            lines
                .next()
                .is_some_and(|h| h.starts_with("ID             Eval ID"))
        );
        let line = lines.next().unwrap_or_default();
        assert!(line.contains("c2b4606d-2222"));
        assert!(line.contains("node1"));
        assert!(line.contains("2026-11-23T20:13:54Z"));
    }

    #[test]
    fn summary_counts_allocations_by_status() {
        let allocs = vec![
            stub("a", "running", 1),
            stub("b", "failed", 2),
            stub("c", "pending", 3),
        ];
        let groups = summary_from_allocs(["cache".to_string(), "web".to_string()], &allocs);
        assert_eq!(
            summary(&groups),
            "Task Group  Queued  Starting  Running  Failed  Complete  Lost  Unknown\n\
             cache       0       1         1        1       0         0     0\n\
             web         0       0         0        0       0         0     0"
        );
    }

    #[test]
    fn eval_list_flags_placement_failures() {
        let evals = vec![Evaluation {
            id: "0f3d1a2b-eeee".into(),
            priority: 50,
            triggered_by: "job-register".into(),
            status: "complete".into(),
            failed_tg_allocs: Some([("cache".to_string(), Default::default())].into()),
            ..Default::default()
        }];
        assert_eq!(
            eval_list(&evals, 8),
            "ID        Priority  Triggered By  Status    Placement Failures\n\
             0f3d1a2b  50        job-register  complete  true"
        );
    }
}
