//! The compiled-component cache: compile a component once, load it in milliseconds
//! after that.
//!
//! A Python component is ~18 MB and takes seconds to compile; its compiled form loads
//! in milliseconds. Entries are keyed by the component's content, the wasmtime version
//! and the engine's settings (wasmtime's own compatibility hash), so a changed
//! component, a new wasgi or a different engine configuration never picks up a stale
//! entry. An entry is two files: the compiled artifact (`KEY.cwasm`) and the BLAKE3
//! digest of its bytes (`KEY.sum`), checked before the artifact is loaded: a
//! truncated, corrupted or half-written entry is rebuilt, never run. Both files are
//! written to temporary names and renamed into place, the digest last. A sound
//! artifact is then mapped from its file, not copied: wasmtime uses the file itself
//! for its copy-on-write memory images, and processes share its pages. The directory
//! is created private to the user (0700); anyone who can write to it can make wasgi
//! run their code, exactly as with wasmtime's own cache.
//!
//! Hashing is the cost of a hit (BLAKE3 over a 19 MB Python component and its 32 MB
//! artifact is half of a cached run), so both hashes are remembered, as git's index
//! remembers file contents: a component's key in a `.key` memo named by the file's
//! identity (device, inode, size, mtime and ctime), and an artifact's good digest in a
//! `.ok` stamp holding the artifact's identity. Any write to either file changes its
//! identity, and the hash is taken again. A memo is only written for a file whose last
//! change is [`SETTLE`] old, so that a rewrite within one timestamp tick cannot hide.

use std::fs;

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::artifact::{self, write_atomically};
use crate::error::{Error, read_file};

mod fallback;

/// Where compiled components are kept.
#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
    notice: bool,
    settle: Duration,
}

/// How long ago a file must have last changed for its hash to be remembered: past
/// the coarsest timestamp granularity of a file system in use (one second, or two on
/// FAT), so that any later write shows in its mtime or ctime.
pub const SETTLE: Duration = Duration::from_secs(3);

impl Cache {
    /// A cache in `dir` (created on first use).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            notice: false,
            settle: SETTLE,
        }
    }

    /// The same cache, saying on stderr when it compiles (a miss) and how long that
    /// took, when `notice` is true: the binary turns this on when stderr is a
    /// terminal, where a silent first compile of seconds would look like a hang.
    pub fn with_notice(mut self, notice: bool) -> Self {
        self.notice = notice;
        self
    }

    /// The default location: `$WASGI_CACHE_DIR`, else `$XDG_CACHE_HOME/wasgi`, else
    /// `$HOME/.cache/wasgi`; `None` when none of them is set.
    pub fn default_dir(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
        let nonempty = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        nonempty("WASGI_CACHE_DIR")
            .or_else(|| nonempty("XDG_CACHE_HOME").map(|d| d.join("wasgi")))
            .or_else(|| nonempty("HOME").map(|d| d.join(".cache/wasgi")))
    }

    /// The component in the file at `path`: loaded from the cache when a sound entry
    /// exists, else read, compiled and stored. On a hit the component's bytes are only
    /// hashed, never kept. Problems with the cache itself are
    /// logged and never stop the component from running.
    pub fn component(&self, engine: &Engine, path: &Path) -> Result<Component, Error> {
        if let Some(problem) = self.unusable() {
            tracing::warn!("{problem}; compiling without the cache");
            crate::metrics::count(|m| m.cache(false));
            return Ok(artifact::compile_file(engine, path, None)?.1);
        }
        let entry = self
            .entry_path(engine, path)
            .map_err(|cause| Error::read(path, cause))?;
        if let Some(component) = self.load(engine, &entry) {
            tracing::debug!("loaded the compiled component from {}", entry.display());
            crate::metrics::count(|m| m.cache(true));
            return Ok(component);
        }
        crate::metrics::count(|m| m.cache(false));
        let wasm = read_file(path)?;
        let notice = self.notice.then_some(" (first run; cached for next time)");
        let compiled = artifact::precompile(engine, path, &wasm, notice)?;
        tracing::debug!("caching the compiled component as {}", entry.display());
        match self.store(&entry, &compiled) {
            // Map the stored file, as the next run will.
            Ok(()) => deserialize_file(engine, &entry),
            Err(e) => {
                tracing::warn!(
                    "failed to write the compile cache entry {}: {e}; the next run compiles again",
                    entry.display()
                );
                artifact::deserialize_fresh(engine, &compiled)
            }
        }
        .map_err(|e| Error::invalid(path, &e))
    }

    /// The entry for the component in `path`: its content, the wasgi version and the
    /// engine's settings, hashed.
    /// Remembered per file identity (see the module docs).
    fn entry_path(&self, engine: &Engine, path: &Path) -> std::io::Result<PathBuf> {
        let fingerprint = artifact::fingerprint(engine);
        let file = fs::File::open(path)?;
        let before = file.metadata()?;
        let memo = {
            let mut id = blake3::Hasher::new();
            id.update(b"wasgi key memo v1\0");
            id.update(fingerprint.as_bytes());
            id.update(identity(&before).as_bytes());
            self.dir
                .join(format!("{}.key", &id.finalize().to_hex()[..32]))
        };
        if let Ok(name) = fs::read_to_string(&memo)
            && name.len() == 32
            && name.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Ok(self.dir.join(format!("{name}.cwasm")));
        }
        let mut key = blake3::Hasher::new();
        key.update(b"wasgi compile cache v2\0");
        key.update(fingerprint.as_bytes());
        // Streamed, not mapped: the component is the user's file, which something may
        // rewrite in place while we read it, and a mapping would then crash the host.
        key.update_reader(&file)?;
        let name = key.finalize().to_hex();
        let name = &name[..32];
        // Remembered only if the file did not change while it was read.
        if self.settled(&before) && identity(&file.metadata()?) == identity(&before) {
            self.remember(&memo, name.as_bytes());
        }
        Ok(self.dir.join(format!("{name}.cwasm")))
    }

    /// Why the cache directory cannot hold a cache, if something other than a
    /// directory is in its place (every entry would fail with a cryptic "File exists" or
    /// "Not a directory" otherwise). A directory that does not exist yet is fine: it is
    /// created on first store.
    fn unusable(&self) -> Option<String> {
        let meta = fs::metadata(&self.dir).ok()?;
        (!meta.is_dir()).then(|| {
            format!(
                "the cache directory {} is not a directory: it is a {}; point --cache-dir or WASGI_CACHE_DIR at a directory",
                self.dir.display(),
                if meta.is_file() { "file" } else { "special file" },
            )
        })
    }

    /// Whether `meta`'s file last changed at least `settle` ago.
    fn settled(&self, meta: &fs::Metadata) -> bool {
        settled(meta, self.settle)
    }

    /// The directory the cache keeps its entries in (the carried files of
    /// [`crate::bundle`] go under it too).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a memo into an existing cache directory; a failure only costs a hash.
    fn remember(&self, memo: &Path, content: &[u8]) {
        if self.dir.is_dir()
            && let Err(e) = write_atomically(memo, &[content])
        {
            tracing::debug!("cannot write the memo {}: {e}", memo.display());
        }
    }

    /// A sound entry's component; `None` (after logging why) for a missing, corrupt
    /// or incompatible one. Its digest is checked unless its `.ok` stamp says this
    /// very file was checked before.
    fn load(&self, engine: &Engine, entry: &Path) -> Option<Component> {
        let meta = match fs::metadata(entry) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!("cannot read compile cache entry {}: {e}", entry.display());
                return None;
            }
        };
        // The stamp names this very artifact and the digest it matched.
        let stamp = entry.with_extension("ok");
        let expected = fs::read(sum_path(entry))
            .map(|sum| [identity(&meta).as_bytes(), b" ", &sum].concat())
            .unwrap_or_default();
        if expected.is_empty() || fs::read(&stamp).ok() != Some(expected.clone()) {
            verify(entry)?;
            if self.settled(&meta) {
                self.remember(&stamp, &expected);
            }
        }
        match deserialize_file(engine, entry) {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(
                    "compile cache entry {} does not load ({e}); compiling again",
                    entry.display()
                );
                None
            }
        }
    }

    fn store(&self, entry: &Path, compiled: &[u8]) -> std::io::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        write_atomically(entry, &[compiled])?;
        write_atomically(
            &sum_path(entry),
            &[blake3::hash(compiled).to_hex().as_bytes()],
        )
    }
}

/// The digest file beside an artifact.
fn sum_path(entry: &Path) -> PathBuf {
    entry.with_extension("sum")
}

/// Whether `meta`'s file last changed at least `settle` ago.
pub(crate) fn settled(meta: &fs::Metadata, settle: Duration) -> bool {
    let changed = |secs: i64, nanos: i64| {
        SystemTime::UNIX_EPOCH
            + Duration::new(
                u64::try_from(secs).unwrap_or(0),
                u32::try_from(nanos).unwrap_or(0),
            )
    };
    let last =
        changed(meta.mtime(), meta.mtime_nsec()).max(changed(meta.ctime(), meta.ctime_nsec()));
    SystemTime::now()
        .duration_since(last)
        .is_ok_and(|age| age >= settle)
}

/// A file's identity for the memos: which file (device, inode) and every trace a write
/// leaves (size, mtime, ctime; a process cannot set ctime back).
pub(crate) fn identity(meta: &fs::Metadata) -> String {
    format!(
        "{}:{}:{}:{}.{}:{}.{}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    )
}

/// Checks an entry's artifact against its `.sum`; `None` (after logging why) for a
/// missing or corrupt one.
fn verify(entry: &Path) -> Option<()> {
    // Mapped rather than read: entries are only ever replaced by rename, never
    // rewritten in place, so the mapping cannot shrink under us.
    let digest = |path: &Path| -> std::io::Result<blake3::Hash> {
        Ok(blake3::Hasher::new().update_mmap(path)?.finalize())
    };
    let read = fs::read(sum_path(entry)).and_then(|sum| Ok((sum, digest(entry)?)));
    let (sum, actual) = match read {
        Ok(found) => found,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!("cannot read compile cache entry {}: {e}", entry.display());
            return None;
        }
    };
    if actual.to_hex().as_bytes() != sum.as_slice() {
        tracing::warn!(
            "compile cache entry {} is corrupt; compiling again",
            entry.display()
        );
        return None;
    }
    Some(())
}

/// Maps a cache entry whose digest matched, or that this process just wrote.
#[allow(unsafe_code)]
fn deserialize_file(engine: &Engine, entry: &Path) -> wasmtime::Result<Component> {
    // SAFETY: the file's BLAKE3 digest matched the one stored beside it in a directory
    // private to this user (now, or when the `.ok` stamp naming this very file and
    // that digest was written), or this process wrote it a moment ago; wasmtime itself
    // checks that it was compiled by this wasmtime version with compatible settings.
    // Entries are replaced by rename, never rewritten in place, so the mapping cannot
    // change under us.
    unsafe { Component::deserialize_file(engine, entry) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wasgi-cache-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    /// `(component (core module (func (export "f"))))`, as `wat` writes it.
    const WAT: &[u8] = b"\0asm\x0d\0\x01\0\x01\x1f\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x07\x05\x01\x01f\0\0\x0a\x04\x01\x02\0\x0b";

    /// `(component (core module (func (export "g"))))`: another component.
    const WAT_G: &[u8] = b"\0asm\x0d\0\x01\0\x01\x1f\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x07\x05\x01\x01g\0\0\x0a\x04\x01\x02\0\x0b";

    /// Writes the component `wasm` into `dir` and returns its path.
    fn component_file(dir: &Path, name: &str, wasm: &[u8]) -> PathBuf {
        fs::create_dir_all(dir).expect("dir");
        let path = dir.join(name);
        fs::write(&path, wasm).expect("write");
        path
    }

    fn entries(dir: &Path) -> Vec<PathBuf> {
        fs::read_dir(dir)
            .expect("cache dir")
            .map(|e| e.expect("entry").path())
            .collect()
    }

    #[test]
    fn the_second_load_comes_from_the_cache() {
        let dir = scratch("hit");
        let engine = Engine::default();
        let wasm = component_file(&dir.join("src"), "app.wasm", WAT);
        let cache = Cache::new(dir.join("cache"));
        cache.component(&engine, &wasm).expect("compile");
        let files = entries(&dir.join("cache"));
        assert_eq!(files.len(), 2, "the artifact and its sum: {files:?}");
        let entry = cache.entry_path(&engine, &wasm).expect("key");
        let stamp = fs::metadata(&entry)
            .expect("meta")
            .modified()
            .expect("mtime");
        cache.component(&engine, &wasm).expect("load");
        assert_eq!(entries(&dir.join("cache")), files, "no second entry");
        let again = fs::metadata(&entry)
            .expect("meta")
            .modified()
            .expect("mtime");
        assert_eq!(stamp, again, "the entry was not rewritten");
        fs::remove_dir_all(&dir).expect("clean");
    }

    #[test]
    fn a_corrupt_entry_is_rebuilt_not_trusted() {
        let dir = scratch("corrupt");
        let engine = Engine::default();
        let wasm = component_file(&dir.join("src"), "app.wasm", WAT);
        let cache = Cache::new(dir.join("cache"));
        cache.component(&engine, &wasm).expect("compile");
        let entry = cache.entry_path(&engine, &wasm).expect("key");
        let mut bytes = fs::read(&entry).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&entry, &bytes).expect("corrupt it");
        assert!(
            cache.load(&engine, &entry).is_none(),
            "a corrupt entry is never loaded"
        );
        cache.component(&engine, &wasm).expect("rebuilt");
        let repaired = fs::read(&entry).expect("read");
        assert_ne!(repaired, bytes, "the corrupt entry was replaced");
        let sum = fs::read(sum_path(&entry)).expect("sum");
        assert_eq!(blake3::hash(&repaired).to_hex().as_bytes(), sum.as_slice());
        fs::remove_file(sum_path(&entry)).expect("drop the sum");
        assert!(
            cache.load(&engine, &entry).is_none(),
            "an entry without its sum is never loaded"
        );
        fs::remove_dir_all(&dir).expect("clean");
    }

    /// A cache that remembers hashes at once (the real one waits for [`SETTLE`]).
    fn eager(dir: PathBuf) -> Cache {
        Cache {
            settle: Duration::ZERO,
            ..Cache::new(dir)
        }
    }

    #[test]
    fn a_remembered_key_is_used_until_the_file_changes() {
        let dir = scratch("key-memo");
        let engine = Engine::default();
        let wasm = component_file(&dir.join("src"), "app.wasm", WAT);
        let cache = eager(dir.join("cache"));
        cache.component(&engine, &wasm).expect("compile");
        let real = cache.entry_path(&engine, &wasm).expect("key");
        let memo = entries(&dir.join("cache"))
            .into_iter()
            .find(|p| p.extension().is_some_and(|e| e == "key"))
            .expect("a key memo");
        // The memo is what answers: point it elsewhere and the key follows.
        fs::write(&memo, "0123456789abcdef0123456789abcdef").expect("rewrite the memo");
        assert_eq!(
            cache.entry_path(&engine, &wasm).expect("key"),
            dir.join("cache/0123456789abcdef0123456789abcdef.cwasm")
        );
        // A write to the component changes its identity: hashed again, a new key.
        fs::write(&wasm, WAT_G).expect("rewrite the component");
        let changed = cache.entry_path(&engine, &wasm).expect("key");
        assert_ne!(changed, real);
        assert_ne!(
            changed,
            dir.join("cache/0123456789abcdef0123456789abcdef.cwasm")
        );
        // Not remembered while the file may still change within a timestamp tick.
        let patient = Cache::new(dir.join("patient"));
        fs::create_dir_all(dir.join("patient")).expect("dir");
        patient.entry_path(&engine, &wasm).expect("key");
        assert!(
            entries(&dir.join("patient")).is_empty(),
            "a fresh file got a memo"
        );
        fs::remove_dir_all(&dir).expect("clean");
    }

    #[test]
    fn a_checked_artifact_is_trusted_only_while_it_is_the_same_file() {
        let dir = scratch("ok-stamp");
        let engine = Engine::default();
        let wasm = component_file(&dir.join("src"), "app.wasm", WAT);
        let cache = eager(dir.join("cache"));
        cache.component(&engine, &wasm).expect("compile");
        let entry = cache.entry_path(&engine, &wasm).expect("key");
        assert!(
            cache.load(&engine, &entry).is_some(),
            "checked, and stamped"
        );
        assert!(entry.with_extension("ok").exists());
        // A write in place changes the artifact's identity: checked again, refused.
        let mut bytes = fs::read(&entry).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&entry, &bytes).expect("corrupt it");
        assert!(
            cache.load(&engine, &entry).is_none(),
            "a corrupt entry is never loaded"
        );
        fs::remove_dir_all(&dir).expect("clean");
    }

    #[test]
    fn different_content_or_settings_get_different_entries() {
        let dir = scratch("keys");
        let wasm = component_file(&dir.join("src"), "app.wasm", WAT);
        let other = component_file(&dir.join("src"), "other.wasm", WAT_G);
        let cache = Cache::new(dir.join("cache"));
        let plain = Engine::default();
        let mut config = wasmtime::Config::new();
        config.cranelift_opt_level(wasmtime::OptLevel::None);
        let unoptimized = Engine::new(&config).expect("engine");
        let a = cache.entry_path(&plain, &wasm).expect("key");
        assert_ne!(a, cache.entry_path(&plain, &other).expect("key"));
        assert_ne!(a, cache.entry_path(&unoptimized, &wasm).expect("key"));
        assert_eq!(a, cache.entry_path(&Engine::default(), &wasm).expect("key"));
    }

    #[test]
    fn the_default_dir_follows_the_environment() {
        let env = |pairs: &'static [(&str, &str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        assert_eq!(
            Cache::default_dir(env(&[("WASGI_CACHE_DIR", "/c"), ("HOME", "/h")])),
            Some(PathBuf::from("/c"))
        );
        assert_eq!(
            Cache::default_dir(env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])),
            Some(PathBuf::from("/x/wasgi"))
        );
        assert_eq!(
            Cache::default_dir(env(&[("HOME", "/h")])),
            Some(PathBuf::from("/h/.cache/wasgi"))
        );
        assert_eq!(Cache::default_dir(env(&[("WASGI_CACHE_DIR", "")])), None);
    }
}
