//! Behaviour of commands on the tables.

use std::time::Duration;

use drover_api::internal::AllocClientUpdate;
use drover_api::*;

use crate::{Command, StateStore, Table, Tables};

fn job(id: &str) -> Job {
    Job {
        id: id.into(),
        namespace: "default".into(),
        r#type: "service".into(),
        ..Default::default()
    }
}

fn eval(id: &str, job: &str, status: &str) -> Evaluation {
    Evaluation {
        id: id.into(),
        namespace: "default".into(),
        job_id: job.into(),
        status: status.into(),
        ..Default::default()
    }
}

fn alloc(id: &str, job: &Job) -> Allocation {
    Allocation {
        id: id.into(),
        namespace: "default".into(),
        job_id: job.id.clone(),
        node_id: "n1".into(),
        job: Some(job.clone()),
        desired_status: "run".into(),
        client_status: "pending".into(),
        ..Default::default()
    }
}

fn status(t: &Tables, id: &str) -> String {
    t.job("default", id).unwrap().status.clone()
}

fn register(t: &mut Tables, index: u64, j: &Job, e: Option<Evaluation>) {
    t.apply(
        index,
        &Command::JobRegister {
            job: Box::new(j.clone()),
            eval: e,
            now: index as i64,
        },
    );
}

#[test]
fn job_status_follows_nomads_rule() {
    let mut t = Tables::default();
    let j = job("web");
    register(&mut t, 1, &j, Some(eval("e1", "web", "pending")));
    assert_eq!(status(&t, "web"), "pending", "a pending evaluation");
    t.apply(
        2,
        &Command::ApplyPlan {
            allocs: vec![alloc("a1", &j)],
            stopped: vec![],
            evals: vec![eval("e1", "web", "complete")],
            now: 2,
        },
    );
    assert_eq!(
        status(&t, "web"),
        "running",
        "a live allocation, even if still pending"
    );
    let update = AllocClientUpdate {
        id: "a1".into(),
        client_status: "failed".into(),
        ..Default::default()
    };
    t.apply(
        3,
        &Command::AllocClientUpdate {
            updates: vec![update],
            evals: vec![],
            now: 3,
        },
    );
    assert_eq!(status(&t, "web"), "dead", "everything terminal");
    t.apply(
        4,
        &Command::EvalUpsert {
            evals: vec![eval("e2", "web", "pending")],
        },
    );
    assert_eq!(
        status(&t, "web"),
        "pending",
        "a follow-up evaluation is pending"
    );

    let empty = job("empty");
    register(&mut t, 5, &empty, Some(eval("e3", "empty", "complete")));
    assert_eq!(
        status(&t, "empty"),
        "dead",
        "count 0: evaluated, nothing to run"
    );
}

#[test]
fn stopping_a_job_keeps_the_running_version_in_history() {
    let mut t = Tables::default();
    register(&mut t, 1, &job("web"), None);
    t.apply(
        2,
        &Command::JobDeregister {
            namespace: "default".into(),
            job_id: "web".into(),
            purge: false,
            eval: None,
            now: 2,
        },
    );
    let versions = &t.job_versions[&("default".to_string(), "web".to_string())];
    assert_eq!(versions.len(), 2);
    assert!(versions[0].stop && versions[0].version == 1);
    assert!(!versions[1].stop && versions[1].version == 0);
}

#[test]
fn a_plan_never_revives_a_stopped_allocation() {
    let mut t = Tables::default();
    let j = job("web");
    register(&mut t, 1, &j, None);
    let a = alloc("a1", &j);
    t.apply(
        2,
        &Command::ApplyPlan {
            allocs: vec![a.clone()],
            stopped: vec![],
            evals: vec![],
            now: 2,
        },
    );
    t.apply(
        3,
        &Command::AllocStop {
            alloc_ids: vec!["a1".into()],
            description: "stopped".into(),
            evals: vec![],
            now: 3,
        },
    );
    // A plan computed before the stop updates the allocation in place.
    t.apply(
        4,
        &Command::ApplyPlan {
            allocs: vec![a],
            stopped: vec![],
            evals: vec![],
            now: 4,
        },
    );
    assert_eq!(t.allocs["a1"].desired_status, "stop");
}

#[test]
fn repeated_client_reports_change_nothing() {
    let mut t = Tables::default();
    let j = job("web");
    register(&mut t, 1, &j, None);
    t.apply(
        2,
        &Command::ApplyPlan {
            allocs: vec![alloc("a1", &j)],
            stopped: vec![],
            evals: vec![],
            now: 2,
        },
    );
    let update = AllocClientUpdate {
        id: "a1".into(),
        client_status: "failed".into(),
        ..Default::default()
    };
    t.apply(
        3,
        &Command::AllocClientUpdate {
            updates: vec![update.clone()],
            evals: vec![],
            now: 30,
        },
    );
    t.apply(
        4,
        &Command::AllocClientUpdate {
            updates: vec![update],
            evals: vec![],
            now: 40,
        },
    );
    assert_eq!(
        t.allocs["a1"].modify_time, 30,
        "reschedule delays count from the first report"
    );
    assert_eq!(t.allocs["a1"].modify_index, 3);
}

#[test]
fn a_lost_allocation_stays_lost() {
    let mut t = Tables::default();
    let j = job("web");
    register(&mut t, 1, &j, None);
    t.apply(
        2,
        &Command::ApplyPlan {
            allocs: vec![alloc("a1", &j)],
            stopped: vec![],
            evals: vec![],
            now: 2,
        },
    );
    let mut lost = alloc("a1", &j);
    lost.desired_status = "stop".into();
    lost.client_status = "lost".into();
    t.apply(
        3,
        &Command::ApplyPlan {
            allocs: vec![],
            stopped: vec![lost],
            evals: vec![],
            now: 3,
        },
    );
    let late = AllocClientUpdate {
        id: "a1".into(),
        client_status: "running".into(),
        ..Default::default()
    };
    t.apply(
        4,
        &Command::AllocClientUpdate {
            updates: vec![late],
            evals: vec![],
            now: 4,
        },
    );
    assert_eq!(t.allocs["a1"].client_status, "lost");
}

#[tokio::test]
async fn blocking_queries_wake_on_their_table_only() {
    let store = std::sync::Arc::new(StateStore::default());
    store.apply(
        1,
        &Command::EvalUpsert {
            evals: vec![eval("e1", "web", "pending")],
        },
    );
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .block_on_tables(&[Table::Jobs], 1, Duration::from_secs(5))
                .await
                .index
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    store.apply(
        2,
        &Command::EvalUpsert {
            evals: vec![eval("e2", "web", "pending")],
        },
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        !waiter.is_finished(),
        "an evaluation write must not wake a jobs query"
    );
    store.apply(
        3,
        &Command::JobRegister {
            job: Box::new(job("web")),
            eval: None,
            now: 3,
        },
    );
    assert_eq!(waiter.await.unwrap(), 3);
    // An expired wait returns the current state.
    let snap = store
        .block_on_tables(&[Table::Jobs], 99, Duration::from_millis(10))
        .await;
    assert_eq!(snap.index, 3);
}

fn root_key(id: &str, state: &str) -> crate::RootKey {
    crate::RootKey {
        meta: RootKeyMeta {
            key_id: id.into(),
            algorithm: KEY_ALGORITHM.into(),
            state: state.into(),
            ..Default::default()
        },
        wrapped: format!("wrapped-{id}"),
        ..Default::default()
    }
}

#[test]
fn activating_a_root_key_retires_the_active_one() {
    let s = StateStore::default();
    let upsert = |index, id: &str, retire_to: &str| {
        s.apply(
            index,
            &Command::RootKeyUpsert {
                key: Box::new(root_key(id, KEY_STATE_ACTIVE)),
                retire_to: retire_to.into(),
                deprecate_older: false,
                now: index as i64,
            },
        )
    };
    upsert(1, "k1", KEY_STATE_INACTIVE);
    let j = job("web");
    s.apply(
        2,
        &Command::ApplyPlan {
            allocs: vec![alloc("a1", &j)],
            stopped: vec![],
            evals: vec![],
            now: 2,
        },
    );
    upsert(3, "k2", KEY_STATE_REKEYING);
    let snap = s.snapshot();
    assert_eq!(snap.active_root_key().unwrap().meta.key_id, "k2");
    let k1 = &snap.root_keys["k1"];
    assert_eq!(k1.meta.state, KEY_STATE_REKEYING);
    assert_eq!(
        (k1.retired_index, k1.meta.create_index, k1.meta.modify_index),
        (3, 1, 3)
    );
    assert_eq!(snap.table_index(Table::RootKeys), 3);
    // a1 was placed while k1 signed: k1 stays in use until a1 finishes.
    assert!(snap.root_key_in_use(k1));
    s.apply(
        4,
        &Command::AllocClientUpdate {
            updates: vec![AllocClientUpdate {
                id: "a1".into(),
                client_status: ALLOC_CLIENT_COMPLETE.into(),
                ..Default::default()
            }],
            evals: vec![],
            now: 4,
        },
    );
    let snap = s.snapshot();
    assert!(!snap.root_key_in_use(&snap.root_keys["k1"]));

    // Promoting a prepublished key retires k2 to inactive; deleting forgets.
    upsert_prepublished(&s, 5, "k3");
    s.apply(
        6,
        &Command::RootKeyState {
            key_ids: vec!["k3".into()],
            state: KEY_STATE_ACTIVE.into(),
            now: 6,
        },
    );
    let snap = s.snapshot();
    assert_eq!(snap.active_root_key().unwrap().meta.key_id, "k3");
    assert_eq!(snap.root_keys["k2"].meta.state, KEY_STATE_INACTIVE);
    assert_eq!(snap.root_keys["k2"].retired_index, 6);
    s.apply(
        7,
        &Command::RootKeyDelete {
            key_ids: vec!["k1".into()],
        },
    );
    assert!(!s.snapshot().root_keys.contains_key("k1"));
}

fn upsert_prepublished(s: &StateStore, index: u64, id: &str) {
    s.apply(
        index,
        &Command::RootKeyUpsert {
            key: Box::new(root_key(id, KEY_STATE_PREPUBLISHED)),
            retire_to: KEY_STATE_INACTIVE.into(),
            deprecate_older: false,
            now: index as i64,
        },
    );
    assert_eq!(
        s.snapshot().root_keys[id].meta.state,
        KEY_STATE_PREPUBLISHED
    );
}

#[test]
fn snapshots_from_before_the_keyring_still_load() {
    let mut v = serde_json::to_value(Tables::default()).unwrap();
    v["table_index"] = serde_json::json!([1, 2, 3, 4]);
    v.as_object_mut().unwrap().remove("root_keys");
    let t: Tables = serde_json::from_value(v).unwrap();
    assert_eq!(t.table_index(Table::Nodes), 4);
    assert_eq!(t.table_index(Table::RootKeys), 0);
}

#[test]
fn the_active_root_key_survives_any_order_of_commands() {
    let s = StateStore::default();
    let add = |index: u64, id: &str, state: &str, deprecate_older: bool| {
        s.apply(
            index,
            &Command::RootKeyUpsert {
                key: Box::new(root_key(id, state)),
                retire_to: KEY_STATE_INACTIVE.into(),
                deprecate_older,
                now: index as i64,
            },
        )
    };
    add(1, "k1", KEY_STATE_ACTIVE, false);
    add(2, "k2", KEY_STATE_ACTIVE, false);
    // A stale "deprecate everything but k1" and a stale delete of the now active k2.
    s.apply(
        3,
        &Command::RootKeyState {
            key_ids: vec!["k2".into()],
            state: KEY_STATE_DEPRECATED.into(),
            now: 3,
        },
    );
    s.apply(
        4,
        &Command::RootKeyDelete {
            key_ids: vec!["k2".into()],
        },
    );
    let snap = s.snapshot();
    assert_eq!(snap.active_root_key().unwrap().meta.key_id, "k2");

    // Two prepublished keys never coexist, and an immediate rotation cancels a pending one.
    add(5, "p1", KEY_STATE_PREPUBLISHED, false);
    add(6, "p2", KEY_STATE_PREPUBLISHED, false);
    assert!(!s.snapshot().root_keys.contains_key("p1"));
    add(7, "k3", KEY_STATE_ACTIVE, false);
    let snap = s.snapshot();
    assert!(!snap.root_keys.contains_key("p2"));
    assert_eq!(snap.active_root_key().unwrap().meta.key_id, "k3");

    // A full rotation deprecates every older key in the same command.
    add(8, "k4", KEY_STATE_ACTIVE, true);
    let snap = s.snapshot();
    for old in ["k1", "k2", "k3"] {
        assert_eq!(
            snap.root_keys[old].meta.state, KEY_STATE_DEPRECATED,
            "{old}"
        );
    }
    assert_eq!(snap.root_keys["k3"].retired_index, 8);
    assert_eq!(snap.active_root_key().unwrap().meta.key_id, "k4");
}

#[test]
fn acl_bootstrap_happens_once_and_tokens_are_found_by_secret() {
    let s = StateStore::default();
    let token = |accessor: &str, secret: &str| AclToken {
        accessor_id: accessor.into(),
        secret_id: secret.into(),
        r#type: ACL_TOKEN_MANAGEMENT.into(),
        ..Default::default()
    };
    s.apply(
        1,
        &Command::AclBootstrap {
            token: Box::new(token("a1", "s1")),
        },
    );
    s.apply(
        2,
        &Command::AclBootstrap {
            token: Box::new(token("a2", "s2")),
        },
    );
    let snap = s.snapshot();
    assert_eq!(snap.acl_bootstrap_index, 1);
    assert!(snap.acl_token_by_secret("s2").is_none());
    assert_eq!(snap.acl_token_by_secret("s1").unwrap().accessor_id, "a1");

    // A new secret for the same accessor replaces the old one in the index.
    s.apply(
        3,
        &Command::AclTokenUpsert {
            tokens: vec![token("a1", "s1-new")],
        },
    );
    let snap = s.snapshot();
    assert!(snap.acl_token_by_secret("s1").is_none());
    assert_eq!(snap.acl_tokens["a1"].create_index, 1);
    assert_eq!(snap.acl_tokens["a1"].modify_index, 3);

    // The secret index is rebuilt from a snapshot.
    let json = serde_json::to_vec(&*snap).unwrap();
    let restored = StateStore::from_tables(serde_json::from_slice(&json).unwrap());
    assert_eq!(
        restored
            .snapshot()
            .acl_token_by_secret("s1-new")
            .unwrap()
            .accessor_id,
        "a1"
    );
    s.apply(
        4,
        &Command::AclTokenDelete {
            accessor_ids: vec!["a1".into()],
        },
    );
    assert!(s.snapshot().acl_token_by_secret("s1-new").is_none());
}
