//! The SFTP subsystem of one session: a file system view of the account's jail. Reads anywhere
//! in the jail; writes only in `Request/*`, up to the size limit; a file is handed to the
//! processor when it is complete (closed under its final name, or renamed from `*.part`).

use std::collections::HashMap;
use std::io::SeekFrom;
use std::path::Path;
use std::sync::Arc;

use outlay_core::AccountId;
use outlay_engine::Engine;
use outlay_store::SftpFileRow;
use russh_sftp::protocol::{Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Status, StatusCode, Version};
use russh_sftp::server::StatusReply;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::jail::{Jail, JailError, Kind, Resolved};

enum Open {
    Read(tokio::fs::File),
    Write { file: tokio::fs::File, target: Resolved, kind: Kind, name: String, too_large: bool },
    Dir { entries: Vec<File>, sent: bool },
}

pub struct SftpSession {
    account: AccountId,
    jail: Jail,
    engine: Arc<Engine>,
    max_file_size: u64,
    pickups: mpsc::UnboundedSender<SftpFileRow>,
    handles: HashMap<String, Open>,
    next: u64,
}

fn refuse(e: JailError) -> StatusReply {
    StatusCode::PermissionDenied.with_message(e.to_string())
}

fn failure(message: impl Into<String>) -> StatusReply {
    StatusCode::Failure.with_message(message)
}

fn io(e: &std::io::Error) -> StatusReply {
    match e.kind() {
        std::io::ErrorKind::NotFound => StatusCode::NoSuchFile.with_message("no such file"),
        std::io::ErrorKind::PermissionDenied => StatusCode::PermissionDenied.with_message("permission denied"),
        _ => failure("I/O error"),
    }
}

fn ok(id: u32) -> Status {
    Status { id, status_code: StatusCode::Ok, error_message: "Ok".into(), language_tag: "en-US".into() }
}

fn is_part(name: &str) -> bool {
    name.ends_with(".part")
}

/// Attributes as shown to the client: owner read (and write in Request/*) only.
fn attrs(meta: &std::fs::Metadata) -> FileAttributes {
    let mut a = FileAttributes::from(meta);
    a.uid = Some(0);
    a.gid = Some(0);
    a.user = None;
    a.group = None;
    a
}

impl SftpSession {
    pub fn new(
        account: AccountId,
        jail: Jail,
        engine: Arc<Engine>,
        max_file_size: u64,
        pickups: mpsc::UnboundedSender<SftpFileRow>,
    ) -> Self {
        SftpSession { account, jail, engine, max_file_size, pickups, handles: HashMap::new(), next: 0 }
    }

    fn handle(&mut self, open: Open) -> String {
        self.next += 1;
        let h = format!("h{}", self.next);
        self.handles.insert(h.clone(), open);
        h
    }

    fn resolve(&self, path: &str) -> Result<Resolved, StatusReply> {
        self.jail.resolve(path).map_err(refuse)
    }

    /// A complete file: recorded in the database before the client is told it is stored, then
    /// handed to the processor. If it cannot be recorded it is removed, so the client can send
    /// it again under the same name.
    async fn complete(&self, kind: Kind, name: &str, path: &Path) -> Result<(), StatusReply> {
        match crate::process::record(&self.engine, self.account, kind, name, path).await {
            Ok(row) => {
                // The processor outlives every session; if it is gone the server is stopping and
                // the file is finished from its record on the next start.
                let _ = self.pickups.send(row);
                Ok(())
            }
            Err(e) => {
                tracing::error!(account = %self.account, name, error = %e, "sftp: cannot record a received file");
                let _ = tokio::fs::remove_file(path).await;
                Err(failure("the file could not be stored; send it again"))
            }
        }
    }
}

/// A session that ends with a file still open for writing (the client was cut off) leaves
/// nothing half-written under a final name: the file was never complete, so it is removed and
/// the name can be used again.
impl Drop for SftpSession {
    fn drop(&mut self) {
        for open in self.handles.values() {
            if let Open::Write { target, name, .. } = open {
                tracing::info!(account = %self.account, name, "sftp: incomplete upload removed");
                let _ = std::fs::remove_file(&target.real);
            }
        }
    }
}

impl russh_sftp::server::Handler for SftpSession {
    type Error = StatusReply;

    fn unimplemented(&self) -> Self::Error {
        StatusCode::OpUnsupported.into()
    }

    async fn init(&mut self, _version: u32, _extensions: HashMap<String, String>) -> Result<Version, Self::Error> {
        Ok(Version::new())
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let r = self.resolve(&path)?;
        Ok(Name { id, files: vec![File::dummy(r.virtual_path)] })
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let r = self.resolve(&path)?;
        let meta = tokio::fs::symlink_metadata(&r.real).await.map_err(|e| io(&e))?;
        Ok(Attrs { id, attrs: attrs(&meta) })
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        self.stat(id, path).await
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        let meta = match self.handles.get(&handle) {
            Some(Open::Read(f) | Open::Write { file: f, .. }) => f.metadata().await.map_err(|e| io(&e))?,
            _ => return Err(StatusCode::Failure.with_message("invalid handle")),
        };
        Ok(Attrs { id, attrs: attrs(&meta) })
    }

    async fn setstat(&mut self, id: u32, _path: String, _attrs: FileAttributes) -> Result<Status, Self::Error> {
        // Times and modes are the server's; accepted and ignored so `put -p` does not fail.
        Ok(ok(id))
    }

    async fn fsetstat(&mut self, id: u32, _handle: String, _attrs: FileAttributes) -> Result<Status, Self::Error> {
        Ok(ok(id))
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        let r = self.resolve(&path)?;
        let mut dir = tokio::fs::read_dir(&r.real).await.map_err(|e| io(&e))?;
        let mut entries = Vec::new();
        while let Some(entry) = dir.next_entry().await.map_err(|e| io(&e))? {
            let Ok(meta) = entry.metadata().await else { continue };
            if meta.file_type().is_symlink() {
                continue;
            }
            entries.push(File::new(entry.file_name().to_string_lossy().into_owned(), attrs(&meta)));
        }
        entries.sort_by(|a, b| a.filename.cmp(&b.filename));
        Ok(Handle { id, handle: self.handle(Open::Dir { entries, sent: false }) })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        match self.handles.get_mut(&handle) {
            Some(Open::Dir { entries, sent }) if !*sent => {
                *sent = true;
                Ok(Name { id, files: std::mem::take(entries) })
            }
            Some(Open::Dir { .. }) => Err(StatusCode::Eof.into()),
            _ => Err(failure("invalid handle")),
        }
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        _attrs: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        let r = self.resolve(&filename)?;
        let writing = pflags.intersects(OpenFlags::WRITE | OpenFlags::APPEND | OpenFlags::CREATE | OpenFlags::TRUNCATE);
        if !writing {
            let meta = tokio::fs::metadata(&r.real).await.map_err(|e| io(&e))?;
            if !meta.is_file() {
                return Err(failure("not a regular file"));
            }
            let file = tokio::fs::File::open(&r.real).await.map_err(|e| io(&e))?;
            return Ok(Handle { id, handle: self.handle(Open::Read(file)) });
        }
        let (kind, name) = r.writable().map_err(refuse)?;
        let name = name.to_owned();
        // Files are kept: a complete file is never replaced. A `.part` may be written again.
        if !is_part(&name) && tokio::fs::try_exists(&r.real).await.unwrap_or(true) {
            return Err(failure(format!("{name} already exists; files are kept, upload under a new name")));
        }
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&r.real)
            .await
            .map_err(|e| io(&e))?;
        let open = Open::Write { file, target: r, kind, name, too_large: false };
        Ok(Handle { id, handle: self.handle(open) })
    }

    async fn read(&mut self, id: u32, handle: String, offset: u64, len: u32) -> Result<Data, Self::Error> {
        let Some(Open::Read(file)) = self.handles.get_mut(&handle) else {
            return Err(failure("invalid handle"));
        };
        file.seek(SeekFrom::Start(offset)).await.map_err(|e| io(&e))?;
        let mut buf = vec![0; len.min(256 * 1024) as usize];
        let n = file.read(&mut buf).await.map_err(|e| io(&e))?;
        if n == 0 {
            return Err(StatusCode::Eof.into());
        }
        buf.truncate(n);
        Ok(Data { id, data: buf })
    }

    async fn write(&mut self, id: u32, handle: String, offset: u64, data: Vec<u8>) -> Result<Status, Self::Error> {
        let limit = self.max_file_size;
        let Some(Open::Write { file, too_large, .. }) = self.handles.get_mut(&handle) else {
            return Err(failure("invalid handle"));
        };
        let end = offset.saturating_add(data.len() as u64);
        if *too_large || end > limit {
            *too_large = true;
            return Err(failure(format!("file too large: the limit is {limit} bytes")));
        }
        file.seek(SeekFrom::Start(offset)).await.map_err(|e| io(&e))?;
        file.write_all(&data).await.map_err(|e| io(&e))?;
        Ok(ok(id))
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        match self.handles.remove(&handle) {
            Some(Open::Write { mut file, target, kind, name, too_large }) => {
                file.flush().await.map_err(|e| io(&e))?;
                file.sync_all().await.map_err(|e| io(&e))?;
                drop(file);
                if too_large {
                    // Nothing of an oversized file is kept or processed.
                    let _ = tokio::fs::remove_file(&target.real).await;
                    return Err(failure(format!("file too large: the limit is {} bytes", self.max_file_size)));
                }
                if !is_part(&name) {
                    self.complete(kind, &name, &target.real).await?;
                }
                Ok(ok(id))
            }
            Some(_) => Ok(ok(id)),
            None => Err(failure("invalid handle")),
        }
    }

    async fn rename(&mut self, id: u32, oldpath: String, newpath: String) -> Result<Status, Self::Error> {
        let from = self.resolve(&oldpath)?;
        let to = self.resolve(&newpath)?;
        let (from_kind, from_name) = from.writable().map_err(refuse)?;
        let (to_kind, to_name) = to.writable().map_err(refuse)?;
        if !is_part(from_name) || is_part(to_name) || from_kind != to_kind {
            return Err(StatusCode::PermissionDenied
                .with_message("only an upload named *.part can be renamed, to its final name in the same folder"));
        }
        if tokio::fs::try_exists(&to.real).await.unwrap_or(true) {
            return Err(failure(format!("{to_name} already exists; files are kept, upload under a new name")));
        }
        tokio::fs::rename(&from.real, &to.real).await.map_err(|e| io(&e))?;
        let to_name = to_name.to_owned();
        self.complete(to_kind, &to_name, &to.real).await?;
        Ok(ok(id))
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, Self::Error> {
        let r = self.resolve(&filename)?;
        let (_, name) = r.writable().map_err(refuse)?;
        if !is_part(name) {
            return Err(
                StatusCode::PermissionDenied.with_message("files are kept; only a *.part upload can be removed")
            );
        }
        tokio::fs::remove_file(&r.real).await.map_err(|e| io(&e))?;
        Ok(ok(id))
    }

    async fn mkdir(&mut self, _id: u32, _path: String, _attrs: FileAttributes) -> Result<Status, Self::Error> {
        Err(StatusCode::PermissionDenied.with_message("the folder layout is fixed"))
    }

    async fn rmdir(&mut self, _id: u32, _path: String) -> Result<Status, Self::Error> {
        Err(StatusCode::PermissionDenied.with_message("the folder layout is fixed"))
    }

    async fn symlink(&mut self, _id: u32, _linkpath: String, _targetpath: String) -> Result<Status, Self::Error> {
        Err(refuse(JailError::Symlink))
    }

    async fn readlink(&mut self, _id: u32, _path: String) -> Result<Name, Self::Error> {
        Err(refuse(JailError::Symlink))
    }
}
