//! SIGINT and SIGTERM, for the commands that run until stopped (`broker`, `consume`
//! without `-c`/`-e`, `perf`): they finish cleanly (flush logs, leave the group, commit)
//! instead of dying mid-write. [`stdout_closed`] is the other way `consume` is told to stop:
//! the reader of its output went away (`| head`) while no record was arriving.

/// SIGINT and SIGTERM (Ctrl-C elsewhere), caught from the moment they are installed.
#[derive(Debug)]
pub struct ShutdownSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    /// Catches both signals from now on.
    pub fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Resolves at the first signal.
    pub async fn wait(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => {}
                _ = self.int.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Resolves when stdout is a pipe whose reader has gone away (`kafka-cli consume | head -1`
/// once `head` exited). A write would notice too, but an idle topic may bring no write for
/// hours. Never resolves when stdout is not a pipe (a terminal, a file, `/dev/null`), or
/// cannot be watched.
pub async fn stdout_closed() {
    #[cfg(unix)]
    if let Some(pipe) = stdout_pipe() {
        // The write end of a pipe reports an error once every read end is closed.
        if pipe.ready(tokio::io::Interest::ERROR).await.is_ok() {
            return;
        }
    }
    std::future::pending::<()>().await;
}

/// A duplicate of stdout to watch, if stdout is a pipe. Its flags are left alone: stdout
/// stays blocking for the writes of `print!`, and the duplicate is only polled, never
/// written to.
#[cfg(unix)]
fn stdout_pipe() -> Option<tokio::net::unix::pipe::Sender> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::FileTypeExt;
    let fd = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
    let file = std::fs::File::from(fd);
    if !file.metadata().ok()?.file_type().is_fifo() {
        return None;
    }
    tokio::net::unix::pipe::Sender::from_owned_fd_unchecked(file.into()).ok()
}
