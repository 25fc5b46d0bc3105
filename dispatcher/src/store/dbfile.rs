//! The checkpoint thread's hold on the database file: SQLite's own handle of it, not one of ours.
//!
//! The checkpoint thread syncs the database file before a WAL rewind, and
//! starts the kernel writing out what each of its passes copied there. Both
//! go through the handle SQLite opened for the checkpoint connection
//! (`SQLITE_FCNTL_FILE_POINTER`), not through a descriptor of our own:
//! closing any descriptor of a file drops every POSIX lock the process holds
//! on it, SQLite's included, and another process (say `dispatcher token
//! create` while the server runs) could then take itself for the last
//! connection and delete the WAL.
//!
//! Like `super::walbuf`, this is C interface code and allowed `unsafe`.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void, CStr};
use std::marker::PhantomData;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::ptr;

use rusqlite::ffi;

/// The pointer that file control `op` (`SQLITE_FCNTL_FILE_POINTER`,
/// `SQLITE_FCNTL_VFS_POINTER`) gives for `conn`'s main database.
fn main_pointer<T>(conn: &rusqlite::Connection, op: c_int) -> anyhow::Result<*mut T> {
    let mut pointer: *mut T = ptr::null_mut();
    // SAFETY: the handle is this live connection's; for these two operations
    // SQLite writes one pointer into `pointer` during the call.
    let rc =
        unsafe { ffi::sqlite3_file_control(conn.handle(), c"main".as_ptr(), op, ptr::addr_of_mut!(pointer).cast()) };
    anyhow::ensure!(
        rc == ffi::SQLITE_OK && !pointer.is_null(),
        "no such pointer for the database file ({rc})"
    );
    Ok(pointer)
}

/// `conn`'s handle of its main database file.
fn main_file(conn: &rusqlite::Connection) -> anyhow::Result<*mut ffi::sqlite3_file> {
    main_pointer(conn, ffi::SQLITE_FCNTL_FILE_POINTER)
}

/// Syncs `conn`'s main database file through SQLite's own handle for it
/// (the file's `xSync`, as SQLite's own checkpoints do).
pub fn sync_main_file(conn: &rusqlite::Connection) -> anyhow::Result<()> {
    let file = main_file(conn)?;
    // SAFETY: `file` is the connection's open database file, valid while the
    // connection is; a `Connection` is used by one thread at a time, so no
    // other call on this handle runs meanwhile.
    let rc = unsafe {
        let methods = (*file).pMethods;
        match methods.as_ref().and_then(|m| m.xSync) {
            Some(sync) => sync(file, ffi::SQLITE_SYNC_NORMAL),
            None => ffi::SQLITE_MISUSE,
        }
    };
    anyhow::ensure!(rc == ffi::SQLITE_OK, "syncing the database file failed ({rc})");
    Ok(())
}

/// The first fields of the unix VFS's `unixFile` (`os_unix.c`), unchanged
/// since SQLite 3.6: the handle's methods, its VFS, its inode's lock
/// record, then the file descriptor.
#[repr(C)]
struct UnixFileHead {
    methods: *const ffi::sqlite3_io_methods,
    vfs: *mut ffi::sqlite3_vfs,
    inode: *mut c_void,
    fd: c_int,
}

/// Starts the kernel writing a connection's main database file out to
/// disk, without waiting for it (`sync_file_range(SYNC_FILE_RANGE_WRITE)`:
/// no flush of the device's cache, no durability promised; the sync before a
/// rewind still gives that).
///
/// Why: checkpoint passes leave the pages they copy dirty in the page cache,
/// and the sync before a rewind then wrote out tens of megabytes at once;
/// every WAL commit behind that burst waited for it (10-17 ms, two or three
/// in a row). Started after each pass, the same writes go out in small runs.
///
/// The descriptor is read once, from SQLite's handle, which must therefore
/// be the unix VFS's; [`Writeback::of`] checks that, and that the descriptor
/// is the named file's (device and inode). It borrows the connection: the
/// descriptor is SQLite's and is open exactly as long as the connection is.
pub struct Writeback<'conn> {
    fd: c_int,
    connection: PhantomData<&'conn rusqlite::Connection>,
}

impl<'conn> Writeback<'conn> {
    /// `conn`'s database file (`database`) for writeback, or why not.
    pub fn of(conn: &'conn rusqlite::Connection, database: &Path) -> anyhow::Result<Writeback<'conn>> {
        let file = main_file(conn)?;
        let vfs: *mut ffi::sqlite3_vfs = main_pointer(conn, ffi::SQLITE_FCNTL_VFS_POINTER)?;
        // SAFETY: a registered VFS's name is a NUL-terminated string it owns.
        let name = unsafe { CStr::from_ptr((*vfs).zName) };
        anyhow::ensure!(
            matches!(name.to_bytes(), b"unix" | b"unix-excl"),
            "the database file is not the unix VFS's ({name:?})"
        );
        // SAFETY: the unix VFS's handles are `unixFile`s, which begin with
        // `UnixFileHead`; the handle lives as long as the connection.
        let fd = unsafe { (*file.cast::<UnixFileHead>()).fd };
        let expected = std::fs::metadata(database)?;
        // SAFETY: `fstat` writes into `stat` and touches nothing else; a
        // descriptor that is not open is an error, not undefined behaviour.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::fstat(fd, &mut stat) };
        anyhow::ensure!(
            rc == 0 && stat.st_dev == expected.dev() && stat.st_ino == expected.ino(),
            "the handle's descriptor is not {}'s",
            database.display()
        );
        Ok(Writeback {
            fd,
            connection: PhantomData,
        })
    }

    /// Starts writing out whatever of the file is dirty.
    pub fn start(&self) -> anyhow::Result<()> {
        // SAFETY: a plain system call on a descriptor SQLite keeps open while
        // the borrowed connection lives.
        let rc = unsafe { libc::sync_file_range(self.fd, 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
        anyhow::ensure!(rc == 0, "sync_file_range failed: {}", std::io::Error::last_os_error());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_file_syncs_through_sqlites_own_handle_and_a_database_without_one_is_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("db.sqlite");
        let writer = super::super::walbuf::open(&file).expect("open");
        writer.execute_batch("CREATE TABLE t (x)").expect("schema");
        let checkpointer = rusqlite::Connection::open(&file).expect("second connection");
        sync_main_file(&checkpointer).expect("synced");
        sync_main_file(&writer).expect("synced through the VFS too");
        // A temporary database has no file until it spills: an error, not a crash.
        let nothing = rusqlite::Connection::open("").expect("temporary database");
        assert!(sync_main_file(&nothing).is_err());
    }

    #[test]
    fn writeback_starts_only_on_the_named_file_through_the_unix_vfs() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("db.sqlite");
        let other = dir.path().join("other.sqlite");
        let writer = super::super::walbuf::open(&file).expect("open");
        writer
            .execute_batch(
                "CREATE TABLE t (x TEXT); \
                 WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 500) \
                 INSERT INTO t SELECT hex(randomblob(500)) FROM c;",
            )
            .expect("fill");
        let checkpointer = rusqlite::Connection::open(&file).expect("second connection");
        checkpointer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .expect("checkpoint");
        let writeback = Writeback::of(&checkpointer, &file).expect("the unix VFS's handle of that file");
        writeback.start().expect("started");
        writeback.start().expect("started again, on the same descriptor");
        // The descriptor read from the handle is checked against the file named.
        rusqlite::Connection::open(&other)
            .and_then(|c| c.execute_batch("CREATE TABLE u (y)"))
            .expect("other file");
        let err = Writeback::of(&checkpointer, &other)
            .err()
            .expect("not that file's handle");
        assert!(err.to_string().contains("descriptor is not"), "{err}");
        // The WAL-buffering VFS's handles are not `unixFile`s: refused unread.
        let err = Writeback::of(&writer, &file).err().expect("not the unix VFS");
        assert!(err.to_string().contains("unix VFS"), "{err}");
        let nothing = rusqlite::Connection::open("").expect("temporary database");
        assert!(Writeback::of(&nothing, &file).is_err());
        let count: i64 = writer
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(count, 500);
    }
}
