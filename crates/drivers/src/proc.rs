//! Facts about host processes read from `/proc`, and signals to process groups. A process is
//! identified by its pid *and* its start time (field 22 of `/proc/<pid>/stat`, in clock ticks
//! since boot), so that a recycled pid is never mistaken for a task.

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::DriverError;

/// The parts of `/proc/<pid>/stat` drivers care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// One-letter state: R, S, D, Z (zombie), X (dead), …
    pub state: char,
    pub pgid: i32,
    /// Clock ticks after boot at which the process started.
    pub start_ticks: u64,
}

impl ProcStat {
    /// Parses the contents of a stat file. The command name (field 2) may hold spaces and
    /// parentheses, so fields are counted from the last `)`.
    pub fn parse(stat: &str) -> Option<ProcStat> {
        let (_, rest) = stat.rsplit_once(')')?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3 (state); field N is fields[N - 3].
        let state = fields.first()?.chars().next()?;
        let pgid = fields.get(5 - 3)?.parse().ok()?;
        let start_ticks = fields.get(22 - 3)?.parse().ok()?;
        Some(ProcStat {
            state,
            pgid,
            start_ticks,
        })
    }

    /// Reads `/proc/<pid>/stat`; `None` when there is no such process.
    pub fn read(pid: i32) -> Option<ProcStat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        ProcStat::parse(&text)
    }

    /// True for a zombie or dead process: it has exited and only awaits reaping.
    pub fn exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// True when `pid` is still the very process that started at `start_ticks` and has not exited.
pub fn is_alive(pid: i32, start_ticks: u64) -> bool {
    ProcStat::read(pid).is_some_and(|s| s.start_ticks == start_ticks && !s.exited())
}

/// Sends `signal` to every process in group `pgid`. A group that no longer exists is not an
/// error: the goal (nothing left to signal) is reached.
pub fn signal_group(pgid: i32, signal: Signal) -> Result<(), DriverError> {
    if pgid <= 1 {
        return Err(DriverError::InvalidState(format!(
            "refusing to signal process group {pgid}"
        )));
    }
    match killpg(Pid::from_raw(pgid), signal) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(source) => Err(DriverError::Signal {
            signal: signal.to_string(),
            pgid,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_awkward_command_names() {
        let line = "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        let stat = ProcStat::parse(line).unwrap();
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.pgid, 4242);
        assert_eq!(stat.start_ticks, 987654);
        assert!(!stat.exited());
        assert!(ProcStat::parse("garbage").is_none());
    }

    #[test]
    fn reads_own_process() {
        let me = std::process::id() as i32;
        let stat = ProcStat::read(me).unwrap();
        assert!(is_alive(me, stat.start_ticks));
        assert!(!is_alive(me, stat.start_ticks + 1));
    }
}
