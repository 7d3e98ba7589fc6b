//! `drover alloc exec`: runs a command inside a task of an allocation over the agent's exec
//! websocket, relaying stdin, stdout and stderr (or, with `-t`, the local terminal in raw
//! mode, its size and the `~.` escape), and exits with the command's exit code.

mod escape;
mod terminal;

use std::io::{Read, Write};
use std::time::Duration;

use clap::Args;
use clap::builder::BoolishValueParser;
use drover_api::client::exec::{ExecReceiver, ExecRequest, ExecSender};
use drover_api::exec::ExecInput;
use tokio::sync::mpsc;

use super::{choose_task, lookup};
use crate::commands::ApiArgs;
use crate::error::{CliError, CmdResult, Outcome};
use crate::format::id_length;
use escape::{EscapeReader, Keys};

/// How often the session is kept alive while nothing else is sent (as Nomad's CLI does).
const HEARTBEAT: Duration = Duration::from_secs(10);
/// Largest chunk of stdin sent in one frame.
const STDIN_CHUNK: usize = 2048;

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The task to run the command in; required when the allocation has more than one task.
    #[arg(long, value_name = "TASK")]
    pub task: Option<String>,
    /// Pass stdin to the command (the default); -i=false sends none.
    #[arg(
        short = 'i',
        num_args = 0..=1,
        require_equals = true,
        default_value = "true",
        default_missing_value = "true",
        value_parser = BoolishValueParser::new(),
        value_name = "BOOL"
    )]
    pub stdin: bool,
    /// Run the command on a terminal; the default when stdin and stdout are terminals.
    /// -t=false disables it.
    #[arg(
        short = 't',
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new(),
        value_name = "BOOL"
    )]
    pub tty: Option<bool>,
    /// Escape character of terminal sessions: at the start of a line, followed by '.', it
    /// closes the connection. "none" disables escapes.
    #[arg(short = 'e', default_value = "~", value_name = "CHAR")]
    pub escape: String,
    /// Allocation ID or prefix.
    #[arg(value_name = "ALLOC")]
    pub alloc: String,
    /// The command and its arguments; words after the allocation are never read as flags.
    #[arg(
        value_name = "COMMAND",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

/// What the session's input side reports to the main loop.
enum Local {
    /// The user typed the escape sequence.
    Disconnect,
}

pub async fn run(args: ExecArgs) -> CmdResult {
    let tty = args.tty.unwrap_or_else(terminal::is_interactive);
    if tty && !args.stdin {
        return Err(CliError::Message(
            "-i must be enabled if running with tty".into(),
        ));
    }
    let escape = match args.escape.as_str() {
        "none" => None,
        c if c.len() == 1 => c.bytes().next(),
        _ => {
            return Err(CliError::Message(
                "-e requires 'none' or a single character".into(),
            ));
        }
    };
    if args.alloc.len() < 2 {
        return Err(CliError::Message(
            "Alloc ID must contain at least two characters".into(),
        ));
    }
    let client = args.api.client()?;
    let Some(alloc) = lookup(&client, &args.alloc, false).await? else {
        // The candidates are listed; the user picks one.
        return Ok(Outcome::Exit(1));
    };
    let task = choose_task(&alloc, args.task.as_deref(), id_length(false))?;
    let request = ExecRequest {
        task,
        command: args.command,
        tty,
    };
    let (sender, receiver) = client.exec(&alloc.id, &request).await.map_err(failed)?;
    let raw = if tty {
        Some(terminal::RawMode::enter().map_err(|e| failed(format!("entering raw mode: {e}")))?)
    } else {
        None
    };
    let keys = Keyboard {
        stdin: args.stdin,
        tty,
        escape: escape.filter(|_| tty),
    };
    let code = session(sender, receiver, keys).await;
    drop(raw);
    match code {
        Ok(Some(code)) => Ok(Outcome::Exit((code & 0xff) as u8)),
        Ok(None) => {
            let _ = writeln!(std::io::stderr(), "\nConnection closed");
            Ok(Outcome::Exit(1))
        }
        Err(e) => Err(e),
    }
}

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Message(format!("failed to exec into task: {e}"))
}

/// What the local side sends.
struct Keyboard {
    stdin: bool,
    tty: bool,
    escape: Option<u8>,
}

/// Runs the session to its end: the command's exit code, or `None` when the user disconnected.
async fn session(
    mut sender: ExecSender,
    mut receiver: ExecReceiver,
    keys: Keyboard,
) -> Result<Option<i32>, CliError> {
    let (input_tx, mut input_rx) = mpsc::channel::<ExecInput>(16);
    let (local_tx, mut local_rx) = mpsc::channel::<Local>(1);
    if keys.tty {
        tokio::spawn(watch_size(input_tx.clone()));
    }
    if keys.stdin {
        read_stdin(input_tx.clone(), local_tx, keys.escape);
    } else {
        let _ = input_tx.send(ExecInput::close_stdin()).await;
    }
    // The sender lives in one task fed by stdin, resizes and heartbeats.
    let sending = tokio::spawn(async move {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.tick().await;
        loop {
            let frame = tokio::select! {
                frame = input_rx.recv() => match frame {
                    Some(frame) => frame,
                    None => std::future::pending().await,
                },
                _ = heartbeat.tick() => ExecInput::default(),
            };
            if sender.send(&frame).await.is_err() {
                return;
            }
        }
    });
    drop(input_tx);
    let result = loop {
        let frame = tokio::select! {
            frame = receiver.recv() => frame.map_err(failed)?,
            Some(Local::Disconnect) = local_rx.recv() => break None,
        };
        if let Some(out) = frame.stdout {
            write_all(&mut std::io::stdout(), &out.data)?;
        }
        if let Some(err) = frame.stderr {
            write_all(&mut std::io::stderr(), &err.data)?;
        }
        if frame.exited {
            break Some(frame.result.map(|r| r.exit_code).unwrap_or_default());
        }
    };
    sending.abort();
    Ok(result)
}

fn write_all(out: &mut impl Write, data: &[u8]) -> Result<(), CliError> {
    out.write_all(data)
        .and_then(|()| out.flush())
        .map_err(|source| CliError::Io {
            doing: "writing the command's output".into(),
            source,
        })
}

/// Reads stdin on a thread of its own (a blocking read of a terminal cannot be cancelled, and
/// must not hold up the end of the command), filtering the escape sequence when there is one.
fn read_stdin(input: mpsc::Sender<ExecInput>, local: mpsc::Sender<Local>, escape: Option<u8>) {
    std::thread::spawn(move || {
        let mut keys = escape.map(EscapeReader::new);
        let mut buf = [0u8; STDIN_CHUNK];
        let mut stdin = std::io::stdin().lock();
        loop {
            let n = match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let (data, disconnect) = match keys.as_mut().map(|k| k.feed(&buf[..n])) {
                None => (buf[..n].to_vec(), false),
                Some(Keys::Send(data)) => (data, false),
                Some(Keys::Disconnect(data)) => (data, true),
            };
            if !data.is_empty() && input.blocking_send(ExecInput::stdin(data)).is_err() {
                return;
            }
            if disconnect {
                let _ = local.blocking_send(Local::Disconnect);
                return;
            }
        }
        let _ = input.blocking_send(ExecInput::close_stdin());
    });
}

/// Sends the terminal's size now and whenever the window changes.
async fn watch_size(input: mpsc::Sender<ExecInput>) {
    let Ok(mut changes) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
    else {
        return;
    };
    loop {
        if let Some((rows, cols)) = terminal::size()
            && input.send(ExecInput::resize(rows, cols)).await.is_err()
        {
            return;
        }
        if changes.recv().await.is_none() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::alloc::AllocCommand;
    use crate::commands::{Command, parse_for_test};

    fn parse(argv: &[&str]) -> ExecArgs {
        match parse_for_test(argv) {
            Command::Alloc {
                command: AllocCommand::Exec(args),
            } => args,
            other => panic!("{argv:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn flags_take_nomads_forms_and_the_command_keeps_its_own() {
        let args = parse(&["alloc", "exec", "5c1d", "ls", "-la"]);
        assert_eq!(
            (args.alloc.as_str(), args.command.as_slice()),
            ("5c1d", ["ls", "-la"].map(String::from).as_slice())
        );
        assert!(args.stdin);
        assert_eq!(args.tty, None);
        assert_eq!(args.escape, "~");
        assert_eq!(args.task, None);
        let args = parse(&[
            "alloc", "exec", "-task", "web", "-i=false", "-t=true", "-e", "none", "5c1d", "sh",
            "-c", "-task",
        ]);
        assert_eq!(args.task.as_deref(), Some("web"));
        assert!(!args.stdin);
        assert_eq!(args.tty, Some(true));
        assert_eq!(args.escape, "none");
        assert_eq!(args.command, ["sh", "-c", "-task"]);
        let args = parse(&["alloc", "exec", "-i", "-t", "5c1d", "top"]);
        assert!(args.stdin);
        assert_eq!(args.tty, Some(true));
    }
}
