//! A SQLite VFS that hands each commit's WAL frames to the kernel in one write instead of two per page.
//!
//! SQLite appends a commit to the WAL one frame at a time, and each frame is
//! two `pwrite`s: its 24-byte header, then the page. A frame is 4,120 bytes,
//! so the two writes touch three kernel page-cache pages between them, and the
//! single writer of a busy centre commits hundreds of frames per batch: those
//! calls were 16-18 % of the writer thread's time (`perf`, ingest benchmark).
//!
//! This VFS is the platform's default (unix) VFS with one difference: writes
//! to a WAL file that continue exactly where the previous one ended are
//! collected in memory and written with one call when SQLite syncs the WAL,
//! which it does at every commit under `synchronous=FULL`. Anything else on
//! that file (a read, a write elsewhere, a truncate, a size query, a file
//! control, closing it) first writes out what was collected, so SQLite never
//! sees the file differ from what it wrote. The database file, journals and
//! the shared-memory index go straight to the unix VFS untouched.
//!
//! Why durability is unchanged: SQLite counts a commit as done only after its
//! WAL sync returns, and no other connection can see the new frames before
//! then (the WAL index is updated after the sync). A crash before the sync
//! loses only a commit nobody was told about, as a crash between two of
//! SQLite's own writes would. This holds only while every commit syncs the
//! WAL, so [`open`] refuses anything but `synchronous=FULL`.
//!
//! This module and `super::dbfile` (the checkpoint thread's use of SQLite's
//! handle of the database file) hold the workspace's only `unsafe` code: the
//! VFS interface is C function pointers over memory SQLite allocates.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CStr};
use std::path::Path;
use std::ptr;
use std::sync::OnceLock;

use anyhow::Context;
use rusqlite::ffi;

/// The name it is registered under.
pub const VFS_NAME: &CStr = c"unix-walbuf";

/// More collected than this is written out early (a huge transaction).
const MAX_BUFFERED: usize = 16 << 20;
/// The most the unix VFS writes in one call: it masks a write's length to 17
/// bits (`seekAndWriteFd`) and reports a longer one as a full disk. 31 pages.
const MAX_WRITE: usize = 31 * 4096;

/// Opens `file` through this VFS with `synchronous=FULL` set and checked.
pub fn open(file: &Path) -> anyhow::Result<rusqlite::Connection> {
    register()?;
    let name = VFS_NAME.to_str().context("VFS name")?;
    let conn = rusqlite::Connection::open_with_flags_and_vfs(file, rusqlite::OpenFlags::default(), name)
        .with_context(|| format!("opening {}", file.display()))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    let synchronous: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0))?;
    anyhow::ensure!(
        synchronous >= 2,
        "the WAL-buffering VFS needs every commit to sync (synchronous=FULL), got {synchronous}"
    );
    Ok(conn)
}

/// Registers the VFS once per process (not as the default).
fn register() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            // SAFETY: `sqlite3_vfs_find(NULL)` returns the default VFS, which
            // lives as long as the process; the VFS built here is leaked, so
            // it does too, as SQLite requires of a registered VFS.
            unsafe {
                if ffi::sqlite3_initialize() != ffi::SQLITE_OK {
                    return Err("sqlite3_initialize failed".into());
                }
                let base = ffi::sqlite3_vfs_find(ptr::null());
                if base.is_null() {
                    return Err("SQLite has no default VFS".into());
                }
                let vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
                    iVersion: (*base).iVersion.min(3),
                    szOsFile: c_int::try_from(inner_offset()).map_err(|e| e.to_string())? + (*base).szOsFile,
                    mxPathname: (*base).mxPathname,
                    pNext: ptr::null_mut(),
                    zName: VFS_NAME.as_ptr(),
                    pAppData: base.cast(),
                    xOpen: Some(x_open),
                    xDelete: Some(x_delete),
                    xAccess: Some(x_access),
                    xFullPathname: Some(x_full_pathname),
                    xDlOpen: Some(x_dl_open),
                    xDlError: Some(x_dl_error),
                    xDlSym: Some(x_dl_sym),
                    xDlClose: Some(x_dl_close),
                    xRandomness: Some(x_randomness),
                    xSleep: Some(x_sleep),
                    xCurrentTime: Some(x_current_time),
                    xGetLastError: Some(x_get_last_error),
                    xCurrentTimeInt64: Some(x_current_time_int64),
                    xSetSystemCall: None,
                    xGetSystemCall: None,
                    xNextSystemCall: None,
                }));
                match ffi::sqlite3_vfs_register(vfs, 0) {
                    ffi::SQLITE_OK => Ok(()),
                    rc => Err(format!("sqlite3_vfs_register failed ({rc})")),
                }
            }
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

/// A WAL file as SQLite sees it: our methods, what is collected, and the unix
/// VFS's own file right after (at [`inner_offset`]), all in the memory SQLite
/// allocated (`szOsFile`).
#[repr(C)]
struct WalFile {
    base: ffi::sqlite3_file,
    /// Offset in the file of `pending[0]`.
    start: i64,
    pending: Vec<u8>,
}

fn inner_offset() -> usize {
    std::mem::size_of::<WalFile>().next_multiple_of(16)
}

/// The real VFS (the default one this wraps).
unsafe fn base(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    (*vfs).pAppData.cast()
}

/// The unix VFS's file inside a [`WalFile`].
unsafe fn inner(file: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    file.cast::<u8>().add(inner_offset()).cast()
}

unsafe fn inner_methods(file: *mut ffi::sqlite3_file) -> &'static ffi::sqlite3_io_methods {
    &*(*inner(file)).pMethods
}

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let base = base(vfs);
    let Some(open) = (*base).xOpen else {
        return ffi::SQLITE_ERROR;
    };
    if flags & ffi::SQLITE_OPEN_WAL == 0 {
        // Not a WAL: the unix VFS's file in place, with its own methods (the
        // memory is larger than it needs), so nothing of ours is in its path.
        return open(base, name, file, flags, out_flags);
    }
    (*file).pMethods = ptr::null();
    let rc = open(base, name, inner(file), flags, out_flags);
    if rc != ffi::SQLITE_OK {
        // SQLite calls no method on a file whose open failed.
        return rc;
    }
    let wal = file.cast::<WalFile>();
    ptr::addr_of_mut!((*wal).start).write(0);
    ptr::addr_of_mut!((*wal).pending).write(Vec::new());
    (*file).pMethods = &WAL_METHODS;
    ffi::SQLITE_OK
}

/// What is collected for a WAL file, and where it goes.
///
/// SQLite calls a file's methods from one thread at a time, and none of them
/// holds this borrow while calling another.
unsafe fn pending<'a>(file: *mut ffi::sqlite3_file) -> (&'a mut i64, &'a mut Vec<u8>) {
    let wal = file.cast::<WalFile>();
    (
        &mut *ptr::addr_of_mut!((*wal).start),
        &mut *ptr::addr_of_mut!((*wal).pending),
    )
}

/// Writes out what is collected, in as few writes as the unix VFS takes.
unsafe fn flush(file: *mut ffi::sqlite3_file) -> c_int {
    let (start, pending) = pending(file);
    let Some(write) = inner_methods(file).xWrite else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    let mut rc = ffi::SQLITE_OK;
    let mut offset = *start;
    for chunk in pending.chunks(MAX_WRITE) {
        // Both fit: a chunk is at most MAX_WRITE bytes.
        let len = chunk.len() as c_int;
        rc = write(inner(file), chunk.as_ptr().cast(), len, offset);
        if rc != ffi::SQLITE_OK {
            break;
        }
        offset += chunk.len() as i64;
    }
    // Written or failed, it is no longer ours: on failure SQLite fails the
    // commit and rolls back, and will not count on these bytes.
    pending.clear();
    rc
}

/// Runs `then` on the inner file after writing out what is collected.
unsafe fn flushed(file: *mut ffi::sqlite3_file, then: impl FnOnce(*mut ffi::sqlite3_file) -> c_int) -> c_int {
    match flush(file) {
        ffi::SQLITE_OK => then(inner(file)),
        rc => rc,
    }
}

static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(wal_close),
    xRead: Some(wal_read),
    xWrite: Some(wal_write),
    xTruncate: Some(wal_truncate),
    xSync: Some(wal_sync),
    xFileSize: Some(wal_file_size),
    xLock: Some(wal_lock),
    xUnlock: Some(wal_unlock),
    xCheckReservedLock: Some(wal_check_reserved_lock),
    xFileControl: Some(wal_file_control),
    xSectorSize: Some(wal_sector_size),
    xDeviceCharacteristics: Some(wal_device_characteristics),
    xShmMap: Some(wal_shm_map),
    xShmLock: Some(wal_shm_lock),
    xShmBarrier: Some(wal_shm_barrier),
    xShmUnmap: Some(wal_shm_unmap),
    xFetch: Some(wal_fetch),
    xUnfetch: Some(wal_unfetch),
};

/// Calls the inner file's method `$m`, or answers `$missing` when it has none.
macro_rules! forward {
    ($file:expr, $m:ident, $missing:expr $(, $arg:expr)*) => {
        match inner_methods($file).$m {
            Some(f) => f(inner($file) $(, $arg)*),
            None => $missing,
        }
    };
}

unsafe extern "C" fn wal_close(file: *mut ffi::sqlite3_file) -> c_int {
    let flushed = flush(file);
    let closed = forward!(file, xClose, ffi::SQLITE_OK);
    ptr::drop_in_place(ptr::addr_of_mut!((*file.cast::<WalFile>()).pending));
    (*file).pMethods = ptr::null();
    if flushed != ffi::SQLITE_OK {
        flushed
    } else {
        closed
    }
}

unsafe extern "C" fn wal_read(file: *mut ffi::sqlite3_file, buf: *mut c_void, amt: c_int, offset: i64) -> c_int {
    flushed(file, |f| match (*(*f).pMethods).xRead {
        Some(read) => read(f, buf, amt, offset),
        None => ffi::SQLITE_IOERR_READ,
    })
}

unsafe extern "C" fn wal_write(file: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, offset: i64) -> c_int {
    let Ok(len) = usize::try_from(amt) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    let follows = {
        let (start, pending) = pending(file);
        i64::try_from(pending.len()).is_ok_and(|n| *start + n == offset)
    };
    if !follows {
        let rc = flush(file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        *pending(file).0 = offset;
    }
    let (_, pending) = pending(file);
    pending.extend_from_slice(std::slice::from_raw_parts(buf.cast::<u8>(), len));
    if pending.len() > MAX_BUFFERED {
        return flush(file);
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn wal_truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    flushed(file, |f| match (*(*f).pMethods).xTruncate {
        Some(truncate) => truncate(f, size),
        None => ffi::SQLITE_IOERR_TRUNCATE,
    })
}

unsafe extern "C" fn wal_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    flushed(file, |f| match (*(*f).pMethods).xSync {
        Some(sync) => sync(f, flags),
        None => ffi::SQLITE_IOERR_FSYNC,
    })
}

unsafe extern "C" fn wal_file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    flushed(file, |f| match (*(*f).pMethods).xFileSize {
        Some(file_size) => file_size(f, size),
        None => ffi::SQLITE_IOERR_FSTAT,
    })
}

unsafe extern "C" fn wal_file_control(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    flushed(file, |f| match (*(*f).pMethods).xFileControl {
        Some(control) => control(f, op, arg),
        None => ffi::SQLITE_NOTFOUND,
    })
}

unsafe extern "C" fn wal_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(file, xLock, ffi::SQLITE_OK, level)
}

unsafe extern "C" fn wal_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(file, xUnlock, ffi::SQLITE_OK, level)
}

unsafe extern "C" fn wal_check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    forward!(file, xCheckReservedLock, ffi::SQLITE_OK, out)
}

unsafe extern "C" fn wal_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    forward!(file, xSectorSize, 4096)
}

unsafe extern "C" fn wal_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    forward!(file, xDeviceCharacteristics, 0)
}

unsafe extern "C" fn wal_shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    forward!(file, xShmMap, ffi::SQLITE_IOERR_SHMMAP, page, size, extend, out)
}

unsafe extern "C" fn wal_shm_lock(file: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    forward!(file, xShmLock, ffi::SQLITE_IOERR_SHMLOCK, offset, n, flags)
}

unsafe extern "C" fn wal_shm_barrier(file: *mut ffi::sqlite3_file) {
    forward!(file, xShmBarrier, ())
}

unsafe extern "C" fn wal_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    forward!(file, xShmUnmap, ffi::SQLITE_OK, delete)
}

unsafe extern "C" fn wal_fetch(file: *mut ffi::sqlite3_file, offset: i64, amt: c_int, out: *mut *mut c_void) -> c_int {
    // No memory map of a WAL with unwritten bytes: SQLite then reads instead.
    *out = ptr::null_mut();
    flushed(file, |f| {
        if (*(*f).pMethods).iVersion < 3 {
            return ffi::SQLITE_OK;
        }
        match (*(*f).pMethods).xFetch {
            Some(fetch) => fetch(f, offset, amt, out),
            None => ffi::SQLITE_OK,
        }
    })
}

unsafe extern "C" fn wal_unfetch(file: *mut ffi::sqlite3_file, offset: i64, page: *mut c_void) -> c_int {
    if inner_methods(file).iVersion < 3 {
        return ffi::SQLITE_OK;
    }
    forward!(file, xUnfetch, ffi::SQLITE_OK, offset, page)
}

// The rest of the VFS is the unix VFS's, called with its own `sqlite3_vfs`.

unsafe extern "C" fn x_delete(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, sync_dir: c_int) -> c_int {
    let base = base(vfs);
    (*base)
        .xDelete
        .map_or(ffi::SQLITE_IOERR_DELETE, |f| f(base, name, sync_dir))
}

unsafe extern "C" fn x_access(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, flags: c_int, out: *mut c_int) -> c_int {
    let base = base(vfs);
    (*base)
        .xAccess
        .map_or(ffi::SQLITE_IOERR_ACCESS, |f| f(base, name, flags, out))
}

unsafe extern "C" fn x_full_pathname(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    let base = base(vfs);
    (*base)
        .xFullPathname
        .map_or(ffi::SQLITE_ERROR, |f| f(base, name, n, out))
}

unsafe extern "C" fn x_dl_open(vfs: *mut ffi::sqlite3_vfs, name: *const c_char) -> *mut c_void {
    let base = base(vfs);
    (*base).xDlOpen.map_or(ptr::null_mut(), |f| f(base, name))
}

unsafe extern "C" fn x_dl_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) {
    let base = base(vfs);
    if let Some(f) = (*base).xDlError {
        f(base, n, out);
    }
}

type DlSym = unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char);

unsafe extern "C" fn x_dl_sym(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void, name: *const c_char) -> Option<DlSym> {
    let base = base(vfs);
    (*base).xDlSym.and_then(|f| f(base, handle, name))
}

unsafe extern "C" fn x_dl_close(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void) {
    let base = base(vfs);
    if let Some(f) = (*base).xDlClose {
        f(base, handle);
    }
}

unsafe extern "C" fn x_randomness(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    let base = base(vfs);
    (*base).xRandomness.map_or(0, |f| f(base, n, out))
}

unsafe extern "C" fn x_sleep(vfs: *mut ffi::sqlite3_vfs, micros: c_int) -> c_int {
    let base = base(vfs);
    (*base).xSleep.map_or(0, |f| f(base, micros))
}

unsafe extern "C" fn x_current_time(vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    let base = base(vfs);
    (*base).xCurrentTime.map_or(ffi::SQLITE_ERROR, |f| f(base, out))
}

unsafe extern "C" fn x_get_last_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    let base = base(vfs);
    (*base).xGetLastError.map_or(0, |f| f(base, n, out))
}

unsafe extern "C" fn x_current_time_int64(vfs: *mut ffi::sqlite3_vfs, out: *mut i64) -> c_int {
    let base = base(vfs);
    (*base).xCurrentTimeInt64.map_or(ffi::SQLITE_ERROR, |f| f(base, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database opened again through the default VFS, checked whole.
    fn reopened_intact(file: &Path) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(file).expect("reopen");
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("check");
        assert_eq!(check, "ok");
        conn
    }

    #[test]
    fn commits_through_it_are_seen_by_other_connections_and_survive_reopening() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("db.sqlite");
        let writer = open(&file).expect("open");
        writer
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            .expect("create");
        let reader = rusqlite::Connection::open(&file).expect("reader");
        for batch in 0..50_i64 {
            let tx = writer.unchecked_transaction().expect("begin");
            for i in 0..40_i64 {
                tx.execute(
                    "INSERT INTO t (id, body) VALUES (?1, ?2)",
                    rusqlite::params![batch * 40 + i, "x".repeat(300 + (i as usize) * 7)],
                )
                .expect("insert");
            }
            tx.commit().expect("commit");
            let seen: i64 = reader
                .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
                .expect("count");
            assert_eq!(seen, (batch + 1) * 40, "a commit is visible as soon as it returns");
        }
        drop((writer, reader));
        let again = reopened_intact(&file);
        let n: i64 = again
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 2000);
    }

    #[test]
    fn large_transactions_spills_and_wal_restarts_come_back_intact() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("db.sqlite");
        let writer = open(&file).expect("open");
        // A small cache makes SQLite spill pages to the WAL mid-transaction
        // and overwrite frames it wrote earlier in the same transaction.
        writer
            .execute_batch(
                "PRAGMA cache_size = 20; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, body TEXT NOT NULL); \
                 CREATE INDEX t_k ON t (k);",
            )
            .expect("create");
        let mut expected = 0_i64;
        for round in 0..3_i64 {
            // Far more than one write of the unix VFS (128 KiB) per commit.
            let tx = writer.unchecked_transaction().expect("begin");
            for i in 0..4000_i64 {
                let id = round * 10_000 + i;
                tx.execute(
                    "INSERT INTO t (id, k, body) VALUES (?1, ?2, ?3)",
                    rusqlite::params![id, format!("{:08}", (id * 7919) % 10_007), "y".repeat(400)],
                )
                .expect("insert");
            }
            tx.execute("UPDATE t SET body = 'z' WHERE id % 3 = 0", [])
                .expect("update");
            tx.commit().expect("commit");
            expected += 4000;
            // Copy everything back and make the next commit start the WAL over.
            let (busy, _, _): (i64, i64, i64) = writer
                .query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .expect("checkpoint");
            assert_eq!(busy, 0);
        }
        drop(writer);
        let again = reopened_intact(&file);
        let (n, short): (i64, i64) = again
            .query_row("SELECT COUNT(*), SUM(body = 'z') FROM t", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("count");
        assert_eq!(n, expected);
        assert_eq!(
            short,
            (0..3)
                .map(|r| (0..4000).filter(|i| (r * 10_000 + i) % 3 == 0).count() as i64)
                .sum::<i64>()
        );
    }
}
