//! Task states and events as Nomad reports them, and the allocation status they add up to.

use std::collections::BTreeMap;
use std::time::Duration;

use drover_api::allocs::event;
use drover_api::{
    ALLOC_CLIENT_COMPLETE, ALLOC_CLIENT_FAILED, ALLOC_CLIENT_PENDING, ALLOC_CLIENT_RUNNING,
    TASK_STATE_DEAD, TASK_STATE_PENDING, TASK_STATE_RUNNING, TaskEvent, TaskState,
};
use drover_drivers::{ExitResult, Signal};

/// Events kept per task (oldest dropped first), as Nomad keeps 10.
const MAX_EVENTS: usize = 10;

/// Nomad's event type for a signal sent to a task.
pub const EVENT_SIGNALING: &str = "Signaling";
/// Nomad's event type for a restart asked of a running task (not counted by the restart
/// policy).
pub const EVENT_RESTART_SIGNALED: &str = "Restart Signaled";
/// Nomad's event type for what templates wait for or did.
pub const EVENT_TEMPLATE: &str = "Template";
/// Event type for a task waiting on Vault for its token.
pub const EVENT_VAULT: &str = "Vault";
/// Why re-rendered templates restart their task (Nomad's words).
pub const REASON_TEMPLATE_RESTART: &str = "Template with change_mode restart re-rendered";
/// Why re-rendered templates signal their task.
pub const REASON_TEMPLATE_SIGNAL: &str = "Template re-rendered";
/// Why a replaced Vault token signals or restarts its task.
pub const REASON_VAULT_TOKEN_CHANGED: &str = "Vault: new Vault token acquired";
/// Why a renewed workload identity signals or restarts its task.
pub const REASON_IDENTITY_RENEWED: &str = "Identity renewed";

fn now() -> i64 {
    drover_api::time::now_unix_nano()
}

fn go_duration(d: Duration) -> String {
    drover_api::duration::format(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// A bare event of `kind` now.
pub fn new_event(kind: &str, display: impl Into<String>) -> TaskEvent {
    TaskEvent {
        r#type: kind.to_string(),
        time: now(),
        display_message: display.into(),
        ..Default::default()
    }
}

pub fn received() -> TaskEvent {
    new_event(event::RECEIVED, "Task received by client")
}

pub fn setup() -> TaskEvent {
    let mut e = new_event(event::SETUP, "Building Task Directory");
    e.message = "Building Task Directory".to_string();
    e
}

pub fn started() -> TaskEvent {
    new_event(event::STARTED, "Task started by client")
}

pub fn terminated(exit: &ExitResult) -> TaskEvent {
    let mut display = format!("Exit Code: {}", exit.exit_code);
    if exit.signal != 0 {
        display.push_str(&format!(", Signal: {}", exit.signal));
    }
    if exit.unknown {
        display = format!("Exit Code: unknown ({})", ExitResult::UNKNOWN_DETAIL);
    }
    let mut e = new_event(event::TERMINATED, display);
    e.exit_code = exit.exit_code;
    e.signal = exit.signal;
    e.details = exit.details.clone();
    e.details
        .insert("exit_code".into(), exit.exit_code.to_string());
    e.details.insert("signal".into(), exit.signal.to_string());
    if exit.unknown {
        e.details
            .insert("exit_code".into(), ExitResult::UNKNOWN_DETAIL.into());
    }
    e
}

pub fn restarting(delay: Duration, reason: &str) -> TaskEvent {
    let mut e = new_event(
        event::RESTARTING,
        format!("Task restarting in {}", go_duration(delay)),
    );
    e.start_delay = i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX);
    e.details
        .insert("restart_reason".into(), reason.to_string());
    e.message = reason.to_string();
    e
}

pub fn not_restarting(reason: &str, failed: bool) -> TaskEvent {
    let mut e = new_event(event::NOT_RESTARTING, reason);
    e.fails_task = failed;
    e.details
        .insert("restart_reason".into(), reason.to_string());
    e
}

/// Nomad words this event the same whatever the kill signal.
pub fn killing(timeout: Duration) -> TaskEvent {
    let mut e = new_event(
        event::KILLING,
        format!(
            "Sent interrupt. Waiting {} before force killing",
            go_duration(timeout)
        ),
    );
    e.kill_timeout = i64::try_from(timeout.as_nanos()).unwrap_or(i64::MAX);
    e
}

/// Emitted on a task killed because `sibling` failed.
pub fn sibling_failed(sibling: &str) -> TaskEvent {
    let mut e = new_event(
        event::SIBLING_FAILED,
        format!("Task's sibling {sibling:?} failed"),
    );
    e.failed_sibling = sibling.to_string();
    e.details
        .insert("failed_sibling".into(), sibling.to_string());
    e
}

/// Emitted on a task killed because the group's leader task died.
pub fn leader_dead() -> TaskEvent {
    new_event(event::LEADER_DEAD, "Leader Task in Group dead")
}

/// `signal` is being sent to the task, for `reason`.
pub fn signaling(signal: Signal, reason: &str) -> TaskEvent {
    let mut e = new_event(EVENT_SIGNALING, reason);
    e.details
        .insert("task_signal".into(), signal.as_str().to_string());
    e.details
        .insert("task_signal_reason".into(), reason.to_string());
    e
}

/// The task is being restarted in place, for `reason`.
pub fn restart_signaled(reason: &str) -> TaskEvent {
    let mut e = new_event(EVENT_RESTART_SIGNALED, reason);
    e.details
        .insert("restart_reason".into(), reason.to_string());
    e
}

pub fn killed() -> TaskEvent {
    new_event(event::KILLED, "Task successfully killed")
}

/// The driver could not start (or re-attach to) the task. Whether that fails the task is the
/// restart policy's call (a `Not Restarting` event follows if so).
pub fn driver_failure(err: &str) -> TaskEvent {
    let mut e = new_event(event::DRIVER_FAILURE, err);
    e.driver_error = err.to_string();
    e
}

/// A prestart hook failed; as with [`driver_failure`], the restart policy decides what follows.
pub fn setup_failure(err: &str) -> TaskEvent {
    let mut e = new_event(event::SETUP_FAILURE, err);
    e.message = err.to_string();
    e
}

/// A fresh task state: pending, no events.
pub fn pending() -> TaskState {
    TaskState {
        state: TASK_STATE_PENDING.to_string(),
        ..Default::default()
    }
}

/// Appends `e`, keeping the newest events.
pub fn push_event(state: &mut TaskState, e: TaskEvent) {
    state.events.push(e);
    if state.events.len() > MAX_EVENTS {
        let extra = state.events.len() - MAX_EVENTS;
        state.events.drain(..extra);
    }
}

pub fn mark_running(state: &mut TaskState) {
    state.state = TASK_STATE_RUNNING.to_string();
    if state.started_at.is_none() {
        state.started_at = Some(drover_api::time::rfc3339(now()));
    }
}

pub fn mark_restarting(state: &mut TaskState) {
    state.state = TASK_STATE_PENDING.to_string();
    state.restarts += 1;
    state.last_restart = Some(drover_api::time::rfc3339(now()));
}

pub fn mark_dead(state: &mut TaskState, failed: bool) {
    state.state = TASK_STATE_DEAD.to_string();
    state.failed = failed;
    state.finished_at = Some(drover_api::time::rfc3339(now()));
}

pub fn is_dead(state: &TaskState) -> bool {
    state.state == TASK_STATE_DEAD
}

/// The allocation's client status and description from its tasks' states, in Nomad's order
/// of precedence: failed, running, pending, complete.
pub fn client_status(states: &BTreeMap<String, TaskState>) -> (&'static str, &'static str) {
    let any = |f: &dyn Fn(&TaskState) -> bool| states.values().any(f);
    if any(&|s| is_dead(s) && s.failed) {
        (ALLOC_CLIENT_FAILED, "Failed tasks")
    } else if any(&|s| s.state == TASK_STATE_RUNNING) {
        (ALLOC_CLIENT_RUNNING, "Tasks are running")
    } else if states.is_empty() || any(&|s| s.state == TASK_STATE_PENDING || s.state.is_empty()) {
        (ALLOC_CLIENT_PENDING, "No tasks have started")
    } else {
        (ALLOC_CLIENT_COMPLETE, "All tasks have completed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(s: &str, failed: bool) -> TaskState {
        TaskState {
            state: s.into(),
            failed,
            ..Default::default()
        }
    }

    #[test]
    fn alloc_status_follows_tasks() {
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), state("pending", false));
        assert_eq!(client_status(&m).0, "pending");
        m.insert("b".to_string(), state("running", false));
        // Running outranks pending, as in Nomad's getClientStatus.
        assert_eq!(client_status(&m).0, "running");
        m.insert("b".to_string(), state("dead", false));
        assert_eq!(client_status(&m).0, "pending");
        m.insert("b".to_string(), state("running", false));
        m.insert("a".to_string(), state("running", false));
        assert_eq!(client_status(&m).0, "running");
        m.insert("a".to_string(), state("dead", false));
        assert_eq!(client_status(&m).0, "running");
        m.insert("b".to_string(), state("dead", false));
        assert_eq!(client_status(&m).0, "complete");
        m.insert("b".to_string(), state("dead", true));
        assert_eq!(client_status(&m).0, "failed");
    }

    #[test]
    fn events_read_like_nomad() {
        let exit = ExitResult {
            exit_code: 1,
            ..Default::default()
        };
        assert_eq!(terminated(&exit).display_message, "Exit Code: 1");
        assert_eq!(
            killing(Duration::from_secs(5)).display_message,
            "Sent interrupt. Waiting 5s before force killing"
        );
        let sibling = sibling_failed("db");
        assert_eq!(sibling.r#type, "Sibling Task Failed");
        assert_eq!(sibling.display_message, "Task's sibling \"db\" failed");
        assert_eq!(sibling.failed_sibling, "db");
        assert_eq!(leader_dead().r#type, "Leader Task Dead");
        assert!(!driver_failure("x").fails_task);
        assert_eq!(
            restarting(Duration::from_millis(100), "x").display_message,
            "Task restarting in 100ms"
        );
        let mut s = pending();
        for _ in 0..15 {
            push_event(&mut s, started());
        }
        assert_eq!(s.events.len(), MAX_EVENTS);
    }
}
