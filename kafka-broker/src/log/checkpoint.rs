//! The small per-partition state files beside the segments: the persisted log start offset
//! and the clean-shutdown marker.
//!
//! Kafka keeps both per log directory (`log-start-offset-checkpoint`, `.kafka_cleanshutdown`);
//! a [`FileLog`](super::FileLog) owns one partition directory and nothing above it, so it
//! keeps its own copies inside that directory. Kafka ignores unknown files in a partition
//! directory, so the directory stays readable by Kafka's tools.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Holds the log start offset as decimal text when DeleteRecords moved it past the first
/// segment's base offset (otherwise the first segment's base offset is the start).
pub(super) const LOG_START_OFFSET_FILE: &str = "log-start-offset";

/// Present only while the directory is known consistent: written by `close`, removed at
/// open and before the first write after `close`.
pub(super) const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";

/// Suffix of files being written before an atomic rename.
pub(super) const TEMP_SUFFIX: &str = ".tmp";

/// The persisted log start offset, or `None` when there is none. A file that does not parse
/// is ignored (with a warning): it can only make the log start earlier than it was, which
/// serves records DeleteRecords had hidden rather than refusing to open the partition.
pub(super) fn read_log_start_offset(dir: &Path) -> io::Result<Option<i64>> {
    let path = dir.join(LOG_START_OFFSET_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => String::new(),
        Err(e) => return Err(e),
    };
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(Some(n)),
        _ => {
            tracing::warn!(path = %path.display(), "ignoring an unreadable log start offset file");
            Ok(None)
        }
    }
}

/// Persists the log start offset: written to a temporary file, synced, then renamed over the
/// old one, so a crash leaves either the old or the new value, never a torn one.
pub(super) fn write_log_start_offset(dir: &Path, offset: i64) -> io::Result<()> {
    let path = dir.join(LOG_START_OFFSET_FILE);
    let tmp = dir.join(format!("{LOG_START_OFFSET_FILE}{TEMP_SUFFIX}"));
    let mut f = File::create(&tmp)?;
    writeln!(f, "{offset}")?;
    f.sync_all()?;
    fs::rename(&tmp, &path)?;
    sync_dir(dir)
}

/// Removes the clean-shutdown marker, saying whether it was there.
pub(super) fn take_clean_marker(dir: &Path) -> io::Result<bool> {
    match fs::remove_file(dir.join(CLEAN_SHUTDOWN_FILE)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes the clean-shutdown marker (after everything else was synced).
pub(super) fn write_clean_marker(dir: &Path) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join(CLEAN_SHUTDOWN_FILE))?
        .sync_all()?;
    sync_dir(dir)
}

/// Makes file creations, renames and removals in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_start_offset_round_trips_and_ignores_garbage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_log_start_offset(dir.path()).unwrap(), None);
        write_log_start_offset(dir.path(), 1234).unwrap();
        assert_eq!(read_log_start_offset(dir.path()).unwrap(), Some(1234));
        fs::write(dir.path().join(LOG_START_OFFSET_FILE), b"\xff\xfejunk").unwrap();
        assert_eq!(read_log_start_offset(dir.path()).unwrap(), None);
        fs::write(dir.path().join(LOG_START_OFFSET_FILE), b"-5\n").unwrap();
        assert_eq!(read_log_start_offset(dir.path()).unwrap(), None);
    }

    #[test]
    fn clean_marker_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!take_clean_marker(dir.path()).unwrap());
        write_clean_marker(dir.path()).unwrap();
        assert!(take_clean_marker(dir.path()).unwrap());
        assert!(!take_clean_marker(dir.path()).unwrap());
    }
}
