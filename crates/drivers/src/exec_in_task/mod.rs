//! Running a command inside a running task's context, for `alloc exec`: the task's
//! environment, its directory as the working directory and its `user`, with the caller's
//! stdin, stdout and stderr relayed as [`drover_api::exec`] frames, or one terminal for all
//! three (`tty`). The command runs in a process group of its own (a session with a terminal),
//! which is killed when the caller goes away, when whoever runs the task ends the session
//! ([`ExecControl`], as the task stops) and, like a task's, when the command exits.

mod control;
mod pty;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use drover_api::exec::{ExecInput, ExecOutput};
use nix::sys::signal::Signal;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::proc::signal_group;
use crate::raw_exec::user;
use crate::{DriverError, ExitResult, TaskConfig};

pub use control::ExecControl;

/// Frames buffered each way before the slower side holds the other back.
const CHANNEL_DEPTH: usize = 64;
/// Largest chunk of output sent in one frame.
const CHUNK: usize = 16 * 1024;
/// How long output may take to drain after the command exited.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// What to run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// The program and its arguments; the program is looked up in the task's `PATH`.
    pub command: Vec<String>,
    /// Run on a terminal (stdout and stderr are then one stream).
    pub tty: bool,
}

/// A command started in a task. Dropping `output` kills it, as does `control`.
pub struct ExecSession {
    /// Frames from the caller: stdin bytes, its end, terminal sizes, heartbeats (`{}`).
    pub input: mpsc::Sender<ExecInput>,
    /// Frames for the caller: stdout and stderr bytes, then one exit frame, then the end.
    pub output: mpsc::Receiver<ExecOutput>,
    /// Ends the command from outside (the task stops) and tells whether it is over.
    pub control: ExecControl,
}

/// Where the caller's input goes.
enum Stdin {
    Pipe(Option<ChildStdin>),
    Terminal(Arc<pty::PtyMaster>),
}

/// Starts `options.command` in `task`'s context.
pub async fn exec_in_task(
    task: &TaskConfig,
    options: ExecOptions,
) -> Result<ExecSession, DriverError> {
    let Some((program, args)) = options.command.split_first() else {
        return Err(DriverError::InvalidConfig(
            "exec needs a command to run".into(),
        ));
    };
    let user = task.user.clone();
    let ids = tokio::task::spawn_blocking(move || user::resolve(&user))
        .await
        .map_err(|e| DriverError::Runtime(format!("looking up the task's user: {e}")))??;

    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(&task.env)
        .current_dir(&task.task_dir);
    if let Some(ids) = ids {
        cmd.uid(ids.uid).gid(ids.gid);
    }
    let terminal = if options.tty {
        let (master, slave) = pty::open(ids.map(|i| i.uid))?;
        let io = |f: &std::fs::File| {
            f.try_clone()
                .map(Stdio::from)
                .map_err(|e| DriverError::io("sharing the terminal", "/dev/ptmx", e))
        };
        cmd.stdin(io(&slave)?)
            .stdout(io(&slave)?)
            .stderr(Stdio::from(slave));
        pty::make_controlling(&mut cmd);
        Some(Arc::new(master))
    } else {
        cmd.process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        None
    };
    let spawned = cmd.spawn();
    // The Command holds the parent's copies of the terminal's slave: without them, the
    // terminal reports its end once the command and its children are gone.
    drop(cmd);
    let mut child = spawned.map_err(|source| DriverError::Spawn {
        command: program.clone(),
        source,
    })?;
    let pgid = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .ok_or_else(|| DriverError::InvalidState("spawned command has no pid".into()))?;

    let (out_tx, out_rx) = mpsc::channel(CHANNEL_DEPTH);
    let (in_tx, in_rx) = mpsc::channel(CHANNEL_DEPTH);
    let (stdin, pumps) = match terminal {
        Some(master) => {
            let pump = tokio::spawn(pump_terminal(master.clone(), out_tx.clone()));
            (Stdin::Terminal(master), vec![pump])
        }
        None => {
            let mut pumps = Vec::new();
            if let Some(out) = child.stdout.take() {
                pumps.push(tokio::spawn(pump(out, out_tx.clone(), ExecOutput::stdout)));
            }
            if let Some(err) = child.stderr.take() {
                pumps.push(tokio::spawn(pump(err, out_tx.clone(), ExecOutput::stderr)));
            }
            (Stdin::Pipe(child.stdin.take()), pumps)
        }
    };
    let feeder = tokio::spawn(feed(in_rx, stdin));
    let control = ExecControl::default();
    let session = Session {
        child,
        pgid,
        pumps,
        feeder,
        out: out_tx,
    };
    tokio::spawn(supervise(session, control.clone()));
    Ok(ExecSession {
        input: in_tx,
        output: out_rx,
        control,
    })
}

/// What the supervisor of a started command holds.
struct Session {
    child: Child,
    pgid: i32,
    pumps: Vec<JoinHandle<()>>,
    feeder: JoinHandle<()>,
    out: mpsc::Sender<ExecOutput>,
}

/// Waits for the command to exit and reports it, kills it when the caller goes away, and kills
/// it (reporting its exit) when `control` ends the session. The session is over on return.
async fn supervise(session: Session, control: ExecControl) {
    let Session {
        mut child,
        pgid,
        pumps,
        feeder,
        out,
    } = session;
    // Dropped first on return: the session is over before its output ends.
    let _over = control.over_on_drop();
    let status = tokio::select! {
        status = child.wait() => Some(status),
        () = out.closed() => None,
        () = control.ended() => {
            // The task stopped: the command goes with it (the group is killed below too).
            if let Err(e) = signal_group(pgid, Signal::SIGKILL) {
                tracing::warn!(pgid, error = %e, "could not end an exec session's process group");
            }
            Some(child.wait().await)
        }
    };
    // Whatever the command left behind in its group goes with it.
    if let Err(e) = signal_group(pgid, Signal::SIGKILL) {
        tracing::warn!(pgid, error = %e, "could not clean up an exec session's process group");
    }
    feeder.abort();
    let Some(status) = status else {
        for p in &pumps {
            p.abort();
        }
        let _ = child.wait().await;
        return;
    };
    let mut pumps = pumps;
    let drained = tokio::time::timeout(DRAIN_GRACE, async {
        for p in pumps.iter_mut() {
            let _ = p.await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::debug!(
            pgid,
            "exec output still open after exit; its tail is dropped"
        );
    }
    for p in &pumps {
        p.abort();
    }
    let code = match status {
        Ok(status) => exit_code(&ExitResult::from_status(status)),
        Err(e) => {
            tracing::warn!(pgid, error = %e, "waiting for an exec session's command failed");
            -1
        }
    };
    let _ = out.send(ExecOutput::exited(code)).await;
}

/// The exit code reported to the caller: the command's, or 128 + the signal that ended it, as
/// shells report it.
fn exit_code(result: &ExitResult) -> i32 {
    if result.signal != 0 {
        128 + result.signal
    } else {
        result.exit_code
    }
}

/// Sends a pipe's bytes to the caller until its end.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    out: mpsc::Sender<ExecOutput>,
    frame: fn(Vec<u8>) -> ExecOutput,
) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match from.read(&mut buf).await {
            Ok(0) => return,
            Ok(n) => {
                if out.send(frame(buf[..n].to_vec())).await.is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::debug!(error = %e, "reading an exec session's output failed");
                return;
            }
        }
    }
}

/// Sends the terminal's output to the caller (as stdout) until its end.
async fn pump_terminal(master: Arc<pty::PtyMaster>, out: mpsc::Sender<ExecOutput>) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match master.read(&mut buf).await {
            Ok(0) => return,
            Ok(n) => {
                if out
                    .send(ExecOutput::stdout(buf[..n].to_vec()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::debug!(error = %e, "reading an exec session's terminal failed");
                return;
            }
        }
    }
}

/// Passes the caller's frames to the command: stdin bytes, stdin's end (which a terminal,
/// shared with the output, cannot take and ignores), terminal sizes. Heartbeats do nothing.
async fn feed(mut input: mpsc::Receiver<ExecInput>, mut stdin: Stdin) {
    while let Some(frame) = input.recv().await {
        if let Some(size) = frame.tty_size
            && let Stdin::Terminal(master) = &stdin
            && let Err(e) = master.resize(size.height, size.width)
        {
            tracing::debug!(error = %e, "resizing an exec session's terminal failed");
        }
        let Some(op) = frame.stdin else { continue };
        if !op.data.is_empty() {
            let written = match &mut stdin {
                Stdin::Pipe(Some(pipe)) => pipe.write_all(&op.data).await,
                Stdin::Pipe(None) => Ok(()),
                Stdin::Terminal(master) => master.write_all(&op.data).await,
            };
            if let Err(e) = written {
                // The command closed its stdin: later input has nowhere to go.
                tracing::debug!(error = %e, "writing to an exec session's stdin failed");
                stdin = Stdin::Pipe(None);
            }
        }
        if op.close
            && let Stdin::Pipe(pipe) = &mut stdin
        {
            pipe.take();
        }
    }
}

#[cfg(test)]
mod tests;
