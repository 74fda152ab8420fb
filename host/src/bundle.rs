//! Files a component carries: its `wasgi:files` custom section, extracted once and
//! mounted read-only where the build saw them.
//!
//! wasgi-py (guest-sdk/python, `wasgi_py/files.py`) packs a Python app's files (its
//! modules, its dependencies and their data files, the standard library, with byte
//! code compiled for the component's own Python) into a custom section, which every
//! other runtime ignores. A componentize-py component has no file system of its own:
//! it was pre-initialised with its Python path mounted at `/python`, `/0`, `/1`, ...,
//! and an import or `open()` at request time finds nothing there unless the host puts
//! the same files back. Each top-level directory of the section becomes a read-only
//! preopen at `/NAME`: lazy imports, `open()` of the app's own files and
//! `importlib.resources` then work, and the guest still writes nothing outside its
//! `--dir` grants.
//!
//! The section is extracted into `CACHE/files/DIGEST/` (the BLAKE3 digest of its
//! payload) the first time it is seen, written under a temporary name and renamed
//! into place, so a directory by that name is always whole. Which digest a file
//! holds is remembered per file identity (as the compile cache remembers its key), so
//! a cached run neither reads nor hashes the section. Without a cache the files go to
//! a temporary directory that lives as long as the application.
//!
//! The payload: `wasgifs1`, then entries to the end, each a kind byte (1 directory,
//! 2 file), a `u16` little-endian path length and the path (UTF-8, `/`-separated,
//! relative; its first part names the mount), and for a file a `u64` little-endian
//! size and the bytes. Directories come before what they hold.

use std::fs;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::artifact::{cwasm, write_atomically};
use crate::cache;
use crate::grants::DirGrant;

/// The custom section's name.
pub const SECTION: &str = "wasgi:files";
/// The first bytes of the section's payload: a name and the format version.
pub const MAGIC: &[u8; 8] = b"wasgifs1";

const DIRECTORY: u8 = 1;
const FILE: u8 = 2;

/// The files of one application, extracted, and where the guest sees them.
#[derive(Debug)]
pub struct Carried {
    root: PathBuf,
    mounts: Vec<String>,
    /// Holds the files of an application run without a cache, until it is dropped.
    _temporary: Option<tempfile::TempDir>,
}

impl Carried {
    /// The files carried by the component in `path`, extracted into `cache_dir` (or a
    /// temporary directory without one); `None` when it carries none. `Err` says
    /// what is wrong with the section, in one line.
    pub fn load(path: &Path, cache_dir: Option<&Path>) -> Result<Option<Self>, String> {
        let mut file = fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
        let meta = file
            .metadata()
            .map_err(|e| format!("cannot read it: {e}"))?;
        let files_dir = cache_dir.map(|dir| dir.join("files"));
        let memo = files_dir.as_ref().map(|dir| {
            let id =
                blake3::hash(format!("wasgi files memo v1\0{}", cache::identity(&meta)).as_bytes());
            dir.join(format!("{}.key", &id.to_hex()[..32]))
        });
        if let (Some(dir), Some(memo)) = (&files_dir, &memo)
            && let Ok(known) = fs::read_to_string(memo)
        {
            if known == "none" {
                return Ok(None);
            }
            let root = dir.join(&known);
            if is_digest(&known) && root.is_dir() {
                return Self::at(root, None).map(Some);
            }
        }
        let Some(Located {
            offset,
            len,
            digest: claimed,
        }) = locate(&mut file).map_err(|e| format!("cannot read it: {e}"))?
        else {
            remember(memo.as_deref(), b"none", &meta);
            return Ok(None);
        };
        let mut payload = vec![
            0;
            usize::try_from(len)
                .map_err(|_| "its wasgi:files section is too large".to_owned())?
        ];
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(&mut payload))
            .map_err(|e| format!("cannot read its wasgi:files section: {e}"))?;
        let hash = blake3::hash(&payload);
        if claimed.is_some_and(|claimed| claimed != *hash.as_bytes()) {
            return Err(
                "it is corrupt: its carried files do not match their BLAKE3 digest".to_owned(),
            );
        }
        let digest = hash.to_hex();
        let digest = &digest[..32];
        if let Some(dir) = &files_dir {
            match extract_once(&payload, &dir.join(digest)) {
                Ok(root) => {
                    remember(memo.as_deref(), digest.as_bytes(), &meta);
                    return Self::at(root, None).map(Some);
                }
                Err(Extract::Malformed(e)) => return Err(e),
                Err(Extract::Io(e)) => tracing::warn!(
                    "cannot keep the carried files in {}: {e}; using a temporary directory",
                    dir.display()
                ),
            }
        }
        let temporary = tempfile::Builder::new()
            .prefix("wasgi-files-")
            .tempdir()
            .map_err(|e| format!("cannot make a directory for its carried files: {e}"))?;
        extract(&payload, temporary.path()).map_err(|e| match e {
            Extract::Malformed(e) => e,
            Extract::Io(e) => format!("cannot extract its carried files: {e}"),
        })?;
        Self::at(temporary.path().to_owned(), Some(temporary)).map(Some)
    }

    /// The extracted tree at `root`.
    fn at(root: PathBuf, temporary: Option<tempfile::TempDir>) -> Result<Self, String> {
        let mut mounts = fs::read_dir(&root)
            .and_then(|dir| {
                dir.map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
                    .collect::<io::Result<Vec<_>>>()
            })
            .map_err(|e| format!("cannot read its carried files in {}: {e}", root.display()))?;
        mounts.sort();
        Ok(Self {
            root,
            mounts,
            _temporary: temporary,
        })
    }

    /// One read-only directory grant per mount: `/NAME` in the guest.
    pub fn grants(&self) -> impl Iterator<Item = DirGrant> + '_ {
        self.mounts.iter().map(|name| DirGrant {
            host: self.root.join(name),
            guest: format!("/{name}"),
            read_only: true,
        })
    }
}

/// Whether `s` names an extracted tree (32 hex digits).
fn is_digest(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Writes a memo for a file that has settled (see [`cache::SETTLE`]); a failure only
/// costs a hash next time.
fn remember(memo: Option<&Path>, content: &[u8], meta: &fs::Metadata) {
    if let Some(memo) = memo
        && cache::settled(meta, cache::SETTLE)
        && memo.parent().is_some_and(Path::is_dir)
        && let Err(e) = write_atomically(memo, &[content])
    {
        tracing::debug!("cannot write the memo {}: {e}", memo.display());
    }
}

/// Where the carried files are in `file`, a component or a `.cwasm`: offset, length,
/// and for a `.cwasm` the digest its header records.
fn locate(file: &mut fs::File) -> io::Result<Option<Located>> {
    if let Some((offset, len, digest)) = cwasm::files_range(file)? {
        return Ok(Some(Located {
            offset,
            len,
            digest: Some(digest),
        }));
    }
    Ok(find_section(file)?.map(|(offset, len)| Located {
        offset,
        len,
        digest: None,
    }))
}

/// Where the carried files are in a file.
struct Located {
    offset: u64,
    len: u64,
    /// The digest a `.cwasm` header records for them.
    digest: Option<[u8; 32]>,
}

/// Finds the `wasgi:files` custom section among the top-level sections of the
/// component in `file`: its payload's offset and length. Reads only section headers.
pub fn find_section(file: &mut fs::File) -> io::Result<Option<(u64, u64)>> {
    let mut reader = BufReader::new(file);
    let mut header = [0; 8];
    reader.seek(SeekFrom::Start(0))?;
    if reader.read_exact(&mut header).is_err() || &header[..4] != b"\0asm" {
        return Ok(None);
    }
    let mut at = 8u64;
    loop {
        let mut id = [0];
        if reader.read(&mut id)? == 0 {
            return Ok(None);
        }
        let (size, n) = leb128(&mut reader)?;
        at += 1 + n;
        if id[0] == 0 {
            let (name_len, m) = leb128(&mut reader)?;
            if name_len == SECTION.len() as u64 && m + name_len <= size {
                let mut name = [0; SECTION.len()];
                reader.read_exact(&mut name)?;
                if name == SECTION.as_bytes() {
                    return Ok(Some((at + m + name_len, size - m - name_len)));
                }
                reader
                    .seek_relative(i64::try_from(size - m - name_len).map_err(io::Error::other)?)?;
            } else {
                reader.seek_relative(
                    i64::try_from(size.saturating_sub(m)).map_err(io::Error::other)?,
                )?;
            }
        } else {
            reader.seek_relative(i64::try_from(size).map_err(io::Error::other)?)?;
        }
        at += size;
    }
}

/// An unsigned LEB128 (at most 5 bytes, a section size): its value and its length.
fn leb128(reader: &mut impl Read) -> io::Result<(u64, u64)> {
    let mut value = 0u64;
    for i in 0..5u64 {
        let mut byte = [0];
        reader.read_exact(&mut byte)?;
        value |= u64::from(byte[0] & 0x7f) << (7 * i);
        if byte[0] & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "a section size longer than 5 bytes",
    ))
}

/// Why a payload could not be extracted.
#[derive(Debug)]
enum Extract {
    /// The payload is not what wasgi-py writes: the component is at fault.
    Malformed(String),
    /// Writing the files failed: the host is.
    Io(io::Error),
}

impl From<io::Error> for Extract {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Extracts `payload` into `root` unless a tree is there already (then it is the same
/// one: `root` is named by the payload's digest). Written beside it and renamed.
fn extract_once(payload: &[u8], root: &Path) -> Result<PathBuf, Extract> {
    if root.is_dir() {
        return Ok(root.to_owned());
    }
    let parent = root.parent().unwrap_or(Path::new("."));
    // Private to the user, as the compile cache is (it may be created here first).
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)?;
    let partial = tempfile::Builder::new()
        .prefix(".partial-")
        .tempdir_in(parent)?;
    extract(payload, partial.path())?;
    match fs::rename(partial.path(), root) {
        Ok(()) => {
            // Renamed away: nothing left for the TempDir to remove.
            let _ = partial.keep();
            Ok(root.to_owned())
        }
        // Another process got there first with the same files.
        Err(_) if root.is_dir() => Ok(root.to_owned()),
        Err(e) => Err(e.into()),
    }
}

/// Writes the files of `payload` under `root` (an empty directory).
fn extract(payload: &[u8], root: &Path) -> Result<(), Extract> {
    let malformed = |what: &str| {
        Extract::Malformed(format!(
            "its wasgi:files section is malformed: {what}; rebuild it with wasgi-py"
        ))
    };
    let mut rest = payload.strip_prefix(MAGIC.as_slice()).ok_or_else(|| {
        malformed("it does not start with wasgifs1 (written by another wasgi-py?)")
    })?;
    let mut take = |n: usize| -> Result<&[u8], Extract> {
        let (taken, left) = rest
            .split_at_checked(n)
            .ok_or_else(|| malformed("it is truncated"))?;
        rest = left;
        Ok(taken)
    };
    let mut left = payload.len() - MAGIC.len();
    while left > 0 {
        let kind = take(1)?[0];
        let len = u16::from_le_bytes([take(1)?[0], take(1)?[0]]);
        let name = std::str::from_utf8(take(usize::from(len))?)
            .map_err(|_| malformed("a path is not UTF-8"))?;
        let path = safe_path(root, name)
            .ok_or_else(|| malformed(&format!("the path {name:?} is not a plain relative path")))?;
        left -= 3 + usize::from(len);
        match kind {
            DIRECTORY => fs::create_dir(&path)?,
            FILE => {
                let size = take(8)?;
                let size = u64::from_le_bytes(size.try_into().unwrap_or_default());
                let size = usize::try_from(size).map_err(|_| malformed("a file is too large"))?;
                write_new(&path, take(size)?)?;
                left -= 8 + size;
            }
            other => return Err(malformed(&format!("unknown entry kind {other}"))),
        }
    }
    Ok(())
}

/// `root` joined with `name` when every part of `name` is a plain name (not empty,
/// `.`, `..`, nor holding a NUL or backslash): nothing can land outside `root`.
fn safe_path(root: &Path, name: &str) -> Option<PathBuf> {
    let mut path = root.to_owned();
    for part in name.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains(['\0', '\\']) {
            return None;
        }
        path.push(part);
    }
    Some(path)
}

/// Creates the file `path`, which must not exist, holding `data`.
fn write_new(path: &Path, data: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(data)
}

/// The `wasgi:files` payload of the component at `app` (empty without one).
pub(crate) fn carried_files(app: &Path) -> Result<Vec<u8>, crate::Error> {
    use std::io::{Read as _, Seek as _};
    let read = || -> io::Result<Vec<u8>> {
        let mut file = fs::File::open(app)?;
        let Some((offset, len)) = find_section(&mut file)? else {
            return Ok(Vec::new());
        };
        file.seek(SeekFrom::Start(offset))?;
        let mut files = Vec::new();
        file.take(len).read_to_end(&mut files)?;
        Ok(files)
    };
    read().map_err(|cause| crate::Error::read(app, cause))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload as wasgi-py writes it: `entries` of (path, Some(bytes)) for files and
    /// (path, None) for directories.
    fn payload(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for (path, data) in entries {
            out.push(if data.is_some() { FILE } else { DIRECTORY });
            out.extend_from_slice(&u16::try_from(path.len()).expect("short").to_le_bytes());
            out.extend_from_slice(path.as_bytes());
            if let Some(data) = data {
                out.extend_from_slice(&(data.len() as u64).to_le_bytes());
                out.extend_from_slice(data);
            }
        }
        out
    }

    /// `wasm` with a custom section `name` holding `data` appended.
    fn with_section(mut wasm: Vec<u8>, name: &str, data: &[u8]) -> Vec<u8> {
        let leb = |mut n: usize| {
            let mut out = Vec::new();
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                out.push(if n == 0 { byte } else { byte | 0x80 });
                if n == 0 {
                    return out;
                }
            }
        };
        let mut body = leb(name.len());
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(data);
        wasm.push(0);
        wasm.extend(leb(body.len()));
        wasm.extend(body);
        wasm
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wasgi-bundle-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch");
        dir
    }

    #[test]
    fn carried_files_are_extracted_and_mounted_read_only_by_name() {
        let dir = scratch("roundtrip");
        let files = payload(&[
            ("python", None),
            ("python/os.py", Some(b"import posix\n")),
            ("1", None),
            ("1/templates", None),
            ("1/templates/base.html", Some(b"<html>")),
            ("1/empty", None),
        ]);
        let wasm = crate::artifact::TRIVIAL_COMPONENT.to_vec();
        let wasm = with_section(with_section(wasm, "other", b"x"), SECTION, &files);
        let app = dir.join("app.wasm");
        fs::write(&app, wasm).expect("write");
        let carried = Carried::load(&app, Some(&dir.join("cache")))
            .expect("loads")
            .expect("carries files");
        let grants: Vec<_> = carried.grants().collect();
        assert_eq!(
            grants.iter().map(|g| g.guest.as_str()).collect::<Vec<_>>(),
            ["/1", "/python"]
        );
        assert!(grants.iter().all(|g| g.read_only));
        assert_eq!(
            fs::read(grants[0].host.join("templates/base.html")).expect("file"),
            b"<html>"
        );
        assert!(grants[0].host.join("empty").is_dir());
        // Loaded again: the same tree, not a second one.
        let again = Carried::load(&app, Some(&dir.join("cache")))
            .expect("loads")
            .expect("files");
        assert_eq!(again.root, carried.root);
        fs::remove_dir_all(&dir).expect("clean");
    }

    #[test]
    fn a_component_without_the_section_carries_nothing() {
        let dir = scratch("none");
        let app = dir.join("app.wasm");
        let wasm = crate::artifact::TRIVIAL_COMPONENT.to_vec();
        fs::write(&app, with_section(wasm, "wasgi:filez", b"no")).expect("write");
        assert!(
            Carried::load(&app, Some(&dir.join("cache")))
                .expect("loads")
                .is_none()
        );
        assert!(Carried::load(&app, None).expect("loads").is_none());
        fs::remove_dir_all(&dir).expect("clean");
    }

    #[test]
    fn no_path_escapes_the_extracted_tree() {
        let dir = scratch("escape");
        for bad in ["../x", "a/../../x", "/etc/x", "a//b", "a/./b", "a\\b", ""] {
            let out = dir.join("out");
            let _ = fs::remove_dir_all(&out);
            fs::create_dir(&out).expect("out");
            let err = extract(&payload(&[(bad, Some(b"x"))]), &out).expect_err(bad);
            assert!(
                matches!(&err, Extract::Malformed(m) if m.contains("not a plain relative path")),
                "{bad}: {err:?}"
            );
        }
        let out = dir.join("truncated");
        fs::create_dir(&out).expect("out");
        let mut cut = payload(&[("a", Some(b"hello"))]);
        cut.truncate(cut.len() - 2);
        assert!(
            matches!(extract(&cut, &out), Err(Extract::Malformed(m)) if m.contains("truncated"))
        );
        fs::remove_dir_all(&dir).expect("clean");
    }
}
