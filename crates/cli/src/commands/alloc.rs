//! `drover alloc …`: status, logs (`-f`, `-stderr`, `-tail -n`), stop, exec.

use std::io::Write;

use clap::{Args, Subcommand};
use drover_api::client::escape;
use drover_api::{Allocation, Client, QueryOptions, TaskEvent, TaskState};

use super::ApiArgs;
use crate::error::{CliError, CmdResult, Doing, Outcome};
use crate::format::{self, id_length, kv, limit, list, unix_nano};
use crate::logs::{BYTES_PER_LINE, FrameDecoder, last_lines};
use crate::monitor::{Monitor, alloc_metrics_lines};
use crate::output::say;
use crate::resolve::{self, Match};
use crate::views;

mod exec;

#[derive(Debug, Subcommand)]
pub enum AllocCommand {
    /// Display an allocation's status and its tasks' events.
    Status(StatusArgs),
    /// Print or follow a task's logs.
    Logs(LogsArgs),
    /// Stop an allocation (the scheduler replaces it).
    Stop(StopArgs),
    /// Run a command inside a task of an allocation.
    Exec(exec::ExecArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
    /// Show full IDs, exact times and placement metrics.
    #[arg(long)]
    pub verbose: bool,
    /// Only the allocation's fields and each task's latest event.
    #[arg(long)]
    pub short: bool,
    /// Allocation ID or prefix; with -json and no ID, every allocation.
    #[arg(value_name = "ALLOC")]
    pub alloc: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Show stderr instead of stdout.
    #[arg(long)]
    pub stderr: bool,
    /// Show stdout (the default).
    #[arg(long)]
    pub stdout: bool,
    /// Keep streaming new output.
    #[arg(short = 'f')]
    pub follow: bool,
    /// Start from the end of the log.
    #[arg(long)]
    pub tail: bool,
    /// With -tail: how many lines to show (default 10).
    #[arg(short = 'n', value_name = "LINES")]
    pub lines: Option<u64>,
    /// With -tail: how many bytes to show.
    #[arg(short = 'c', value_name = "BYTES")]
    pub bytes: Option<u64>,
    /// Show full IDs.
    #[arg(long)]
    pub verbose: bool,
    /// Allocation ID or prefix.
    #[arg(value_name = "ALLOC")]
    pub alloc: String,
    /// Task name; optional when the group has one task.
    #[arg(value_name = "TASK")]
    pub task: Option<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Return right after stopping, printing the evaluation ID.
    #[arg(long)]
    pub detach: bool,
    /// Show full IDs.
    #[arg(long)]
    pub verbose: bool,
    /// Allocation ID or prefix.
    #[arg(value_name = "ALLOC")]
    pub alloc: String,
}

pub async fn run(command: AllocCommand) -> CmdResult {
    match command {
        AllocCommand::Status(args) => status(args).await,
        AllocCommand::Logs(args) => logs(args).await,
        AllocCommand::Stop(args) => stop(args).await,
        AllocCommand::Exec(args) => exec::run(args).await,
    }
}

/// The allocation `prefix` names; `Ok(None)` after listing candidates when it is ambiguous.
async fn lookup(
    client: &Client,
    prefix: &str,
    verbose: bool,
) -> Result<Option<Allocation>, CliError> {
    match resolve::allocs(client, prefix).await? {
        Match::None => Err(CliError::Message(format!(
            "No allocation(s) with prefix or id {prefix:?} found"
        ))),
        Match::Many(stubs) => {
            let table = views::alloc_list(&stubs, verbose, id_length(verbose), format::now());
            say!("Prefix matched multiple allocations\n\n{table}")?;
            Ok(None)
        }
        Match::One(stub) => {
            let (alloc, _) = client
                .allocation(&stub.id, &QueryOptions::default())
                .await
                .doing("querying allocation")?;
            Ok(Some(alloc))
        }
    }
}

async fn status(args: StatusArgs) -> CmdResult {
    let client = args.api.client()?;
    let Some(prefix) = args.alloc.as_deref() else {
        if !args.json {
            return Err(CliError::Message(
                "This command takes one argument: <allocation>".into(),
            ));
        }
        let (allocs, _) = client
            .allocations(&QueryOptions::default())
            .await
            .doing("querying allocations")?;
        say!("{}", format::json(&allocs))?;
        return Ok(Outcome::Success);
    };
    let Some(alloc) = lookup(&client, prefix, args.verbose).await? else {
        return Ok(Outcome::Success);
    };
    if args.json {
        say!("{}", format::json(&alloc))?;
    } else {
        say!(
            "{}",
            render_status(&alloc, args.short, args.verbose, format::now())
        )?;
    }
    Ok(Outcome::Success)
}

/// Prints one allocation's status, as `status <alloc>` does.
pub async fn show_alloc(client: &Client, id: &str, json: bool) -> CmdResult {
    let (alloc, _) = client
        .allocation(id, &QueryOptions::default())
        .await
        .doing("querying allocation")?;
    if json {
        say!("{}", format::json(&alloc))?;
    } else {
        say!("{}", render_status(&alloc, false, false, format::now()))?;
    }
    Ok(Outcome::Success)
}

/// The text of `alloc status`.
pub fn render_status(alloc: &Allocation, short: bool, verbose: bool, now: i64) -> String {
    let id_len = id_length(verbose);
    let when = |ns: i64| {
        if verbose {
            unix_nano(ns)
        } else {
            format::time_ago(ns, now)
        }
    };
    let mut pairs = vec![
        ("ID", alloc.id.clone()),
        ("Eval ID", limit(&alloc.eval_id, id_len).to_string()),
        ("Name", alloc.name.clone()),
        ("Node ID", limit(&alloc.node_id, id_len).to_string()),
        ("Node Name", alloc.node_name.clone()),
        ("Job ID", alloc.job_id.clone()),
        (
            "Job Version",
            alloc
                .job
                .as_ref()
                .map(|j| j.version)
                .unwrap_or_default()
                .to_string(),
        ),
        ("Client Status", alloc.client_status.clone()),
        ("Client Description", alloc.client_description.clone()),
        ("Desired Status", alloc.desired_status.clone()),
        ("Desired Description", alloc.desired_description.clone()),
        ("Created", when(alloc.create_time)),
        ("Modified", when(alloc.modify_time)),
    ];
    if !alloc.next_allocation.is_empty() {
        pairs.push((
            "Replacement Alloc ID",
            limit(&alloc.next_allocation, id_len).to_string(),
        ));
    }
    let metrics = alloc.metrics.clone().unwrap_or_default();
    if verbose {
        pairs.extend([
            ("Evaluated Nodes", metrics.nodes_evaluated.to_string()),
            ("Filtered Nodes", metrics.nodes_filtered.to_string()),
            ("Exhausted Nodes", metrics.nodes_exhausted.to_string()),
            (
                "Allocation Time",
                drover_api::duration::format(metrics.allocation_time),
            ),
            ("Failures", metrics.coalesced_failures.to_string()),
        ]);
    }
    let mut out = kv(&pairs);
    if short {
        out.push_str("\n\n");
        out.push_str(&task_summary(alloc));
        return out;
    }
    if let Some(addresses) = addresses(alloc) {
        out.push_str("\n\nAllocation Addresses:\n");
        out.push_str(&addresses);
    }
    for (name, state) in &alloc.task_states {
        out.push_str(&format!("\n\nTask {name:?} is {:?}", state.state));
        if let Some(resources) = task_resources(alloc, name) {
            out.push_str("\nTask Resources:\n");
            out.push_str(&resources);
        }
        out.push_str("\n\n");
        out.push_str(&task_events(state));
    }
    if verbose {
        out.push_str("\n\nPlacement Metrics\n");
        out.push_str(&alloc_metrics_lines(&metrics, "  ").join("\n"));
    }
    out
}

/// `Tasks` table of `alloc status -short`.
fn task_summary(alloc: &Allocation) -> String {
    let mut rows = vec![vec![
        "Name".to_string(),
        "State".into(),
        "Last Event".into(),
        "Time".into(),
    ]];
    for (name, state) in &alloc.task_states {
        let last = state.events.last();
        rows.push(vec![
            name.clone(),
            state.state.clone(),
            last.map(|e| e.r#type.clone()).unwrap_or_default(),
            last.map(|e| unix_nano(e.time)).unwrap_or_default(),
        ]);
    }
    format!("Tasks\n{}", list(rows))
}

fn addresses(alloc: &Allocation) -> Option<String> {
    let resources = alloc.allocated_resources.as_ref()?;
    let ports = &resources.shared.ports;
    if ports.is_empty() {
        return None;
    }
    let group = alloc.job.as_ref().and_then(|j| j.group(&alloc.task_group));
    let is_static = |label: &str| {
        group.is_some_and(|g| {
            g.networks
                .iter()
                .any(|n| n.reserved_ports.iter().any(|p| p.label == label))
        })
    };
    let mut rows = vec![vec![
        "Label".to_string(),
        "Dynamic".into(),
        "Address".into(),
    ]];
    for port in ports {
        let mut address = format!("{}:{}", port.host_ip, port.value);
        if port.to > 0 {
            address.push_str(&format!(" -> {}", port.to));
        }
        let dynamic = if is_static(&port.label) { "no" } else { "yes" };
        rows.push(vec![port.label.clone(), dynamic.to_string(), address]);
    }
    Some(list(rows))
}

fn task_resources(alloc: &Allocation, task: &str) -> Option<String> {
    let resources = alloc.allocated_resources.as_ref()?;
    let task_res = resources.tasks.get(task)?;
    Some(list(vec![
        vec!["CPU".to_string(), "Memory".into(), "Disk".into()],
        vec![
            format!("{} MHz", task_res.cpu.cpu_shares),
            format::mib(task_res.memory.memory_mb),
            format::mib(resources.shared.disk_mb),
        ],
    ]))
}

fn task_events(state: &TaskState) -> String {
    let mut out = String::from("Task Events:\n");
    out.push_str(&kv(&[
        (
            "Started At",
            format::rfc3339_or_na(state.started_at.as_deref()),
        ),
        (
            "Finished At",
            format::rfc3339_or_na(state.finished_at.as_deref()),
        ),
        ("Total Restarts", state.restarts.to_string()),
        (
            "Last Restart",
            format::rfc3339_or_na(state.last_restart.as_deref()),
        ),
    ]));
    out.push_str("\n\nRecent Events:\n");
    let mut rows = vec![vec![
        "Time".to_string(),
        "Type".into(),
        "Description".into(),
    ]];
    rows.extend(
        state
            .events
            .iter()
            .rev()
            .map(|e| vec![unix_nano(e.time), e.r#type.clone(), event_description(e)]),
    );
    out.push_str(&list(rows));
    out
}

/// A task event's description: its display message, or one built from its fields.
pub fn event_description(event: &TaskEvent) -> String {
    use drover_api::event;
    if !event.display_message.is_empty() {
        return event.display_message.clone();
    }
    let or = |text: &str, fallback: &str| {
        if text.is_empty() {
            fallback.to_string()
        } else {
            text.to_string()
        }
    };
    match event.r#type.as_str() {
        event::STARTED => "Task started by client".into(),
        event::RECEIVED => "Task received by client".into(),
        event::SETUP_FAILURE => or(&event.message, "Task setup failed"),
        event::DRIVER_FAILURE => or(&event.driver_error, "Failed to start task"),
        event::KILLING if event.kill_timeout != 0 => format!(
            "Sent interrupt. Waiting {} before force killing",
            drover_api::duration::format(event.kill_timeout)
        ),
        event::KILLING => "Sent interrupt".into(),
        event::KILLED => "Task successfully killed".into(),
        event::TERMINATED => {
            let mut parts = vec![format!("Exit Code: {}", event.exit_code)];
            if event.signal != 0 {
                parts.push(format!("Signal: {}", event.signal));
            }
            if !event.message.is_empty() {
                parts.push(format!("Exit Message: {:?}", event.message));
            }
            parts.join(", ")
        }
        event::RESTARTING => {
            format!(
                "Task restarting in {}",
                drover_api::duration::format(event.start_delay)
            )
        }
        event::NOT_RESTARTING => or(&event.message, "Task exceeded restart policy"),
        _ => event.message.clone(),
    }
}

/// Which task's logs to read: the one named, or the group's only task.
pub fn choose_task(
    alloc: &Allocation,
    requested: Option<&str>,
    id_len: usize,
) -> Result<String, CliError> {
    let mut tasks: Vec<String> = alloc
        .job
        .as_ref()
        .and_then(|j| j.group(&alloc.task_group))
        .map(|g| g.tasks.iter().map(|t| t.name.clone()).collect())
        .unwrap_or_default();
    if tasks.is_empty() {
        tasks = alloc.task_states.keys().cloned().collect();
    }
    match requested {
        Some(task) if tasks.is_empty() || tasks.iter().any(|t| t == task) => Ok(task.to_string()),
        Some(task) => Err(CliError::Message(format!(
            "Could not find task named: {task}"
        ))),
        None if tasks.len() == 1 => Ok(tasks.remove(0)),
        None if tasks.is_empty() => Err(CliError::Message(format!(
            "Allocation {:?} has no tasks yet; please specify the task.",
            limit(&alloc.id, id_len)
        ))),
        None => Err(CliError::Message(format!(
            "Allocation {:?} is running the following tasks:\n  * {}\n\nPlease specify the task.",
            limit(&alloc.id, id_len),
            tasks.join("\n  * ")
        ))),
    }
}

/// Where to start reading and how many lines to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogWindow {
    pub origin: &'static str,
    pub offset: u64,
    pub keep_lines: Option<usize>,
}

impl LogWindow {
    pub fn from_args(tail: bool, lines: Option<u64>, bytes: Option<u64>) -> Self {
        let tail = tail || lines.is_some() || bytes.is_some();
        match (tail, bytes, lines) {
            (false, _, _) => LogWindow {
                origin: "start",
                offset: 0,
                keep_lines: None,
            },
            (true, Some(bytes), _) => LogWindow {
                origin: "end",
                offset: bytes,
                keep_lines: None,
            },
            (true, None, lines) => {
                let lines = lines.unwrap_or(10);
                LogWindow {
                    origin: "end",
                    offset: lines.saturating_mul(BYTES_PER_LINE),
                    keep_lines: Some(usize::try_from(lines).unwrap_or(usize::MAX)),
                }
            }
        }
    }
}

async fn logs(args: LogsArgs) -> CmdResult {
    let client = args.api.client()?;
    let Some(alloc) = lookup(&client, &args.alloc, args.verbose).await? else {
        return Ok(Outcome::Success);
    };
    let task = choose_task(&alloc, args.task.as_deref(), id_length(args.verbose))?;
    let window = LogWindow::from_args(args.tail, args.lines, args.bytes);
    let kind = if args.stderr { "stderr" } else { "stdout" };
    let q = QueryOptions::default()
        .param("task", task)
        .param("type", kind)
        .param("follow", args.follow.to_string())
        .param("origin", window.origin)
        .param("offset", window.offset.to_string());
    let path = format!("/v1/client/fs/logs/{}", escape(&alloc.id));
    let mut resp = client.get_raw(&path, &q).await.doing("reading logs")?;

    let mut decoder = FrameDecoder::default();
    let mut held: Option<Vec<u8>> = window.keep_lines.map(|_| Vec::new());
    let mut stdout = std::io::stdout();
    loop {
        let chunk = resp
            .chunk()
            .await
            .map_err(|e| CliError::Message(format!("Error reading logs: {e}")))?;
        let Some(chunk) = chunk else { break };
        let payloads = decoder
            .push(&chunk)
            .map_err(|e| CliError::Message(format!("Error reading logs: {e}")))?;
        for data in payloads {
            match held.as_mut() {
                Some(buf) => buf.extend_from_slice(&data),
                None => stdout.write_all(&data).doing("writing logs")?,
            }
        }
        // When following, the tail window is the first decoded batch; stream everything after.
        if args.follow
            && held.as_ref().is_some_and(|buf| !buf.is_empty())
            && let (Some(buf), Some(n)) = (held.take(), window.keep_lines)
        {
            stdout
                .write_all(last_lines(&buf, n))
                .doing("writing logs")?;
        }
        stdout.flush().doing("writing logs")?;
    }
    if let (Some(buf), Some(n)) = (held, window.keep_lines) {
        stdout
            .write_all(last_lines(&buf, n))
            .doing("writing logs")?;
    }
    stdout.flush().doing("writing logs")?;
    if decoder.has_partial() {
        return Err(CliError::Message(
            "Error reading logs: the stream ended inside a frame".into(),
        ));
    }
    Ok(Outcome::Success)
}

async fn stop(args: StopArgs) -> CmdResult {
    let client = args.api.client()?;
    let Some(alloc) = lookup(&client, &args.alloc, args.verbose).await? else {
        return Ok(Outcome::Success);
    };
    let resp = client
        .allocation_stop(&alloc.id)
        .await
        .doing("stopping allocation")?;
    if args.detach || resp.eval_id.is_empty() {
        say!("{}", resp.eval_id)?;
        return Ok(Outcome::Success);
    }
    Monitor::new(&client, args.verbose).run(&resp.eval_id).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api::{Job, Task, TaskGroup};

    fn alloc_with_tasks(tasks: &[&str]) -> Allocation {
        Allocation {
            id: "5c1d2e3f-aaaa-bbbb".into(),
            task_group: "cache".into(),
            job: Some(Job {
                task_groups: vec![TaskGroup {
                    name: "cache".into(),
                    tasks: tasks
                        .iter()
                        .map(|t| Task {
                            name: t.to_string(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn single_task_is_chosen_implicitly() {
        let alloc = alloc_with_tasks(&["redis"]);
        assert_eq!(choose_task(&alloc, None, 8).ok().as_deref(), Some("redis"));
    }

    #[test]
    fn several_tasks_need_a_name() {
        let alloc = alloc_with_tasks(&["redis", "web"]);
        let err = choose_task(&alloc, None, 8)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            "Allocation \"5c1d2e3f\" is running the following tasks:\n  * redis\n  * web\n\nPlease specify the task."
        );
        assert_eq!(
            choose_task(&alloc, Some("web"), 8).ok().as_deref(),
            Some("web")
        );
        assert!(choose_task(&alloc, Some("nope"), 8).is_err());
    }

    #[test]
    fn log_window_follows_tail_flags() {
        assert_eq!(
            LogWindow::from_args(false, None, None),
            LogWindow {
                origin: "start",
                offset: 0,
                keep_lines: None
            }
        );
        assert_eq!(
            LogWindow::from_args(true, None, None),
            LogWindow {
                origin: "end",
                offset: 1200,
                keep_lines: Some(10)
            }
        );
        assert_eq!(
            LogWindow::from_args(false, Some(3), None),
            LogWindow {
                origin: "end",
                offset: 360,
                keep_lines: Some(3)
            }
        );
        assert_eq!(
            LogWindow::from_args(true, Some(3), Some(50)),
            LogWindow {
                origin: "end",
                offset: 50,
                keep_lines: None
            }
        );
    }

    #[test]
    fn events_without_display_message_are_described() {
        let terminated = TaskEvent {
            r#type: "Terminated".into(),
            exit_code: 1,
            signal: 9,
            ..Default::default()
        };
        assert_eq!(event_description(&terminated), "Exit Code: 1, Signal: 9");
        let started = TaskEvent {
            r#type: "Started".into(),
            ..Default::default()
        };
        assert_eq!(event_description(&started), "Task started by client");
        let custom = TaskEvent {
            r#type: "Started".into(),
            display_message: "hi".into(),
            ..Default::default()
        };
        assert_eq!(event_description(&custom), "hi");
    }

    #[test]
    fn status_lists_tasks_with_newest_event_first() {
        let mut alloc = alloc_with_tasks(&["redis"]);
        alloc.client_status = "running".into();
        alloc.task_states.insert(
            "redis".into(),
            TaskState {
                state: "running".into(),
                started_at: Some("2026-11-23T20:14:15.5Z".into()),
                events: vec![
                    TaskEvent {
                        r#type: "Received".into(),
                        time: 1_795_464_854_000_000_000,
                        ..Default::default()
                    },
                    TaskEvent {
                        r#type: "Started".into(),
                        time: 1_795_464_855_000_000_000,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
        );
        let out = render_status(&alloc, false, false, 0);
        assert!(out.starts_with("ID                  = 5c1d2e3f-aaaa-bbbb\n"));
        assert!(out.contains("\n\nTask \"redis\" is \"running\"\n\nTask Events:\nStarted At     = 2026-11-23T20:14:15Z\n"));
        assert!(out.ends_with(
            "Recent Events:\n\
             Time                  Type      Description\n\
             2026-11-23T20:14:15Z  Started   Task started by client\n\
             2026-11-23T20:14:14Z  Received  Task received by client"
        ));
    }
}
