//! Which process owns a running run, and whether that process is still alive.
//!
//! A parent run records the host name, pid and a start stamp of the process that runs it
//! (`<boot id>/<start time in clock ticks>` from `/proc`), so a later open of the workspace can
//! tell a run whose process died (SIGKILL, power loss) from one still in progress, even when the
//! pid has been reused by another process since.

use std::fs;

/// The identity of a process: host, pid and a stamp unique to this incarnation of the pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessOwner {
    /// Host name of the machine the process runs on.
    pub host: String,
    /// Operating-system process id.
    pub pid: u32,
    /// `<boot id>/<start ticks>`, `None` where `/proc` is not available.
    pub start: Option<String>,
}

/// Whether the process recorded as a run's owner is alive, dead, or cannot be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The same process (same pid and start stamp) is still running.
    Alive,
    /// No such process on this host any more (or a different process now has the pid).
    Dead,
    /// Another host, or no `/proc`: nothing can be said, the run is left alone.
    Unknown,
}

impl ProcessOwner {
    /// The calling process.
    pub fn current() -> ProcessOwner {
        let pid = std::process::id();
        ProcessOwner {
            host: host_name(),
            pid,
            start: start_stamp(pid),
        }
    }

    /// Whether the recorded process still runs, judged from this host.
    pub fn liveness(&self) -> Liveness {
        if self.host != host_name() {
            return Liveness::Unknown;
        }
        let Some(recorded) = &self.start else {
            return Liveness::Unknown;
        };
        if fs::metadata("/proc/self/stat").is_err() {
            return Liveness::Unknown;
        }
        match start_stamp(self.pid) {
            Some(now) if &now == recorded => Liveness::Alive,
            _ => Liveness::Dead,
        }
    }
}

/// The machine's host name (`/proc/sys/kernel/hostname`, then `$HOSTNAME`, then `unknown`).
fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// `<boot id>/<start ticks>` of a live, non-zombie process; `None` if it does not exist.
fn start_stamp(pid: u32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: skip past it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // fields[0] is field 3 (state); field 22 (start time) is fields[19].
    let state = *fields.first()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let ticks = fields.get(19)?;
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    Some(format!("{}/{}", boot.trim(), ticks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_process_is_alive() {
        let me = ProcessOwner::current();
        assert!(me.start.is_some(), "tests run on Linux with /proc");
        assert_eq!(me.liveness(), Liveness::Alive);
    }

    #[test]
    fn reused_pid_and_missing_pid_are_dead() {
        let mut me = ProcessOwner::current();
        me.start = Some("other-boot/1".to_string());
        assert_eq!(me.liveness(), Liveness::Dead);
        let mut gone = ProcessOwner::current();
        gone.pid = u32::MAX - 1;
        assert_eq!(gone.liveness(), Liveness::Dead);
    }

    #[test]
    fn other_host_is_unknown() {
        let mut me = ProcessOwner::current();
        me.host = format!("{}-elsewhere", me.host);
        assert_eq!(me.liveness(), Liveness::Unknown);
    }
}
