//! Holding `perfmon run`'s command until the wrapper has registered it.
//!
//! The server must know the command's pid before the command runs: one that
//! ends at once would otherwise be gone before it was registered (422
//! `no_such_process`), and what it did before registration would not be
//! counted. So the wrapper starts this binary again as `perfmon __hold --
//! COMMAND`, registers that process (`from_start`), and lets it go; the held
//! process then becomes COMMAND with `exec`, which keeps the pid.
//!
//! The go signal is one byte on a Unix socket in a fresh directory of mode 0700
//! (only this user can reach it), whose path the held process finds in
//! [`GO_ENV`]. End of file instead of the byte means the wrapper died: nobody
//! would wait for the command or record it, so it is not run. The command sees
//! neither: the variable is removed from its environment, and std opens every
//! descriptor close-on-exec, the socket's included.
//!
//! A command that cannot be run ends as a shell reports it: 127 when it is not
//! found, 126 when it is found but cannot be executed.
//!
//! While the process is held, the wrapper opens the run's `perf` counters on
//! its pid, disabled until its next exec ([`crate::collect::run_perf`]): they
//! count from the command's first instruction, not the hold's. They are on the
//! task whose id is the pid, so the exec must stay on the main thread (it does:
//! `become_command` runs on the thread `main` blocks on); an exec from another
//! thread would take over the pid with a task the counters are not on.

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tokio::net::UnixListener;
use tokio::process::Child;

/// The hidden subcommand the held process runs as.
pub const SUBCOMMAND: &str = "__hold";

/// The environment variable holding the go socket's path.
pub const GO_ENV: &str = "PERFMON_HOLD_SOCKET";

/// The byte that lets the held process run its command.
const GO: u8 = b'!';

/// The held side: waits for the wrapper's go, then replaces this process with
/// `command`; returns only when it did not (126, 127), or when no go came.
pub fn become_command(command: &[String]) -> ExitCode {
    let Some(socket) = std::env::var_os(GO_ENV) else {
        eprintln!("perfmon: `{SUBCOMMAND}` is internal to `perfmon run`; use `perfmon run -- COMMAND`");
        return ExitCode::from(2);
    };
    if let Err(err) = wait_for_go(Path::new(&socket)) {
        eprintln!("perfmon: perfmon run went away before the command started, so it was not run ({err})");
        return ExitCode::FAILURE;
    }
    let Some((program, args)) = command.split_first() else { return ExitCode::from(2) };
    let err = std::process::Command::new(program).args(args).env_remove(GO_ENV).exec();
    ExitCode::from(cannot_run(program, &err))
}

/// Connects to the wrapper's socket and reads its one byte. Blocking: nothing
/// else runs in the held process.
fn wait_for_go(socket: &Path) -> io::Result<()> {
    let mut stream = std::os::unix::net::UnixStream::connect(socket)?;
    let mut byte = [0u8];
    stream.read_exact(&mut byte)?;
    if byte[0] == GO { Ok(()) } else { Err(io::Error::other("an unexpected byte")) }
}

/// Says why `program` could not be run; the exit code a shell gives for it:
/// 127 for a command not found, 126 for one found but not executable.
pub fn cannot_run(program: &str, err: &io::Error) -> u8 {
    let not_found = err.kind() == io::ErrorKind::NotFound;
    if not_found && !program.contains('/') {
        eprintln!("perfmon: cannot run {program}: command not found");
    } else {
        eprintln!("perfmon: cannot run {program}: {err}");
    }
    if not_found { 127 } else { 126 }
}

/// The command's process: held until [`Held::release`], or already running
/// when it could not be held.
pub struct Held {
    /// The process: this binary waiting at the gate, then the command.
    child: Child,
    /// Where it waits; `None` for a command started without a hold.
    gate: Option<Gate>,
}

/// The socket the held process waits at, in its own directory.
struct Gate {
    /// The fresh 0700 directory; removed with the socket.
    dir: PathBuf,
    /// Accepts the held process's connection.
    listener: UnixListener,
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.dir.join("go"));
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl Gate {
    /// A listening socket in a new directory only this user can enter.
    fn open() -> io::Result<Gate> {
        use std::os::unix::fs::DirBuilderExt;
        let random = crate::control::generate().map_err(io::Error::other)?;
        let dir = std::env::temp_dir().join(format!("perfmon-run-{}", &random[..16]));
        // Not recursive: a directory that is already there (someone else's) is refused.
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        match UnixListener::bind(dir.join("go")) {
            Ok(listener) => Ok(Gate { dir, listener }),
            Err(err) => {
                let _ = std::fs::remove_dir(&dir);
                Err(err)
            }
        }
    }

    /// Waits for the held process `pid` to connect and lets it go.
    async fn let_go(&self, pid: Option<u32>) -> io::Result<()> {
        loop {
            let (stream, _) = self.listener.accept().await?;
            // Only this user can reach the socket; even so, only the process
            // that was registered is let go.
            let peer = stream.peer_cred()?.pid().and_then(|p| u32::try_from(p).ok());
            if peer.is_none() || peer != pid {
                continue;
            }
            loop {
                stream.writable().await?;
                match stream.try_write(&[GO]) {
                    Ok(_) => return Ok(()),
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(err) => return Err(err),
                }
            }
        }
    }
}

/// Starts `command` held: this binary as `__hold -- COMMAND`, waiting for go.
pub fn spawn(command: &[String]) -> io::Result<Held> {
    let gate = Gate::open()?;
    // /proc/self/exe, not the path this binary was started by: it is this very
    // program even when its file has been replaced since (an upgrade).
    let child = tokio::process::Command::new("/proc/self/exe")
        .arg(SUBCOMMAND)
        .arg("--")
        .args(command)
        .env(GO_ENV, gate.dir.join("go"))
        .spawn()?;
    Ok(Held { child, gate: Some(gate) })
}

impl Held {
    /// A command already running (it could not be held): registered late.
    pub fn running(child: Child) -> Held {
        Held { child, gate: None }
    }

    /// Whether the command has not started yet: all its CPU time is the run's.
    pub fn is_held(&self) -> bool {
        self.gate.is_some()
    }

    /// The pid the command runs (or will run) as; `None` once it was waited for.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Lets the command run; its process, to wait for. One that died while held
    /// (a terminal's Ctrl-C reaches it too) is waited for like the command.
    pub async fn release(self) -> Child {
        let Held { mut child, gate } = self;
        let Some(gate) = gate else { return child };
        let pid = child.id();
        tokio::select! {
            _ = child.wait() => {}
            sent = gate.let_go(pid) => {
                if let Err(err) = sent {
                    // Held for ever otherwise: end it, so the wrapper can end too.
                    eprintln!("perfmon: cannot start the command: {err}");
                    let _ = child.start_kill();
                }
            }
        }
        child
    }
}
