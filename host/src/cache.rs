//! The compiled-component cache: compile a component once, load it in milliseconds
//! after that.
//!
//! A Python component is ~18 MB and takes seconds to compile; its compiled form loads
//! in milliseconds. Entries are keyed by the component's content, the wasmtime version
//! and the engine's settings (wasmtime's own compatibility hash), so a changed
//! component, a new wasgi or a different engine configuration never picks up a stale
//! entry. Each entry carries a BLAKE3 digest of its compiled bytes, checked before
//! they are loaded: a truncated or corrupted entry is rebuilt, never run. Entries are
//! written to a temporary file and renamed into place, so readers never see half an
//! entry. The directory is created private to the user (0700); anyone who can write
//! to it can make wasgi run their code, exactly as with wasmtime's own cache.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// The length of the digest that heads every entry.
const DIGEST_LEN: usize = blake3::OUT_LEN;

/// Where compiled components are kept.
#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// A cache in `dir` (created on first use).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The default location: `$WASGI_CACHE_DIR`, else `$XDG_CACHE_HOME/wasgi`, else
    /// `$HOME/.cache/wasgi`; `None` when none of them is set.
    pub fn default_dir(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
        let nonempty = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        nonempty("WASGI_CACHE_DIR")
            .or_else(|| nonempty("XDG_CACHE_HOME").map(|d| d.join("wasgi")))
            .or_else(|| nonempty("HOME").map(|d| d.join(".cache/wasgi")))
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The component for `wasm`: loaded from the cache when a sound entry exists,
    /// else compiled and stored. Problems with the cache itself are logged and never
    /// stop the component from running.
    pub fn component(&self, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<Component> {
        let entry = self.entry_path(engine, wasm);
        if let Some(component) = self.load(engine, &entry) {
            tracing::debug!("loaded the compiled component from {}", entry.display());
            return Ok(component);
        }
        let started = std::time::Instant::now();
        let compiled = engine.precompile_component(wasm)?;
        tracing::debug!(
            "compiled the component in {:.3}s; caching it as {}",
            started.elapsed().as_secs_f64(),
            entry.display()
        );
        if let Err(e) = self.store(&entry, &compiled) {
            tracing::warn!(
                "failed to write the compile cache entry {}: {e}; the next run compiles again",
                entry.display()
            );
        }
        deserialize(engine, &compiled)
    }

    fn entry_path(&self, engine: &Engine, wasm: &[u8]) -> PathBuf {
        let mut settings = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut settings);
        let mut key = blake3::Hasher::new();
        key.update(b"wasgi compile cache v1\0");
        key.update(env!("CARGO_PKG_VERSION").as_bytes());
        key.update(&settings.finish().to_le_bytes());
        key.update(wasm);
        let name = key.finalize().to_hex();
        self.dir.join(format!("{}.cwasm", &name[..32]))
    }

    /// A sound entry's component; `None` (after logging why) for a missing, corrupt
    /// or incompatible one.
    fn load(&self, engine: &Engine, entry: &Path) -> Option<Component> {
        let bytes = match fs::read(entry) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!("cannot read compile cache entry {}: {e}", entry.display());
                return None;
            }
        };
        let sound = bytes.len() > DIGEST_LEN
            && blake3::hash(&bytes[DIGEST_LEN..]).as_bytes() == &bytes[..DIGEST_LEN];
        if !sound {
            tracing::warn!(
                "compile cache entry {} is corrupt; compiling again",
                entry.display()
            );
            return None;
        }
        match deserialize(engine, &bytes[DIGEST_LEN..]) {
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
        let tmp = entry.with_extension(format!("tmp{}", std::process::id()));
        let mut file = fs::File::create(&tmp)?;
        let written = file
            .write_all(blake3::hash(compiled).as_bytes())
            .and_then(|()| file.write_all(compiled))
            .and_then(|()| file.sync_all())
            .and_then(|()| fs::rename(&tmp, entry));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }
}

/// Loads compiled bytes that this process produced or verified against their digest.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, compiled: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `compiled` is either the output of `precompile_component` in this very
    // process, or a cache entry whose BLAKE3 digest matched, written by us into a
    // directory private to this user. wasmtime itself checks that it was compiled by
    // the same wasmtime version with compatible settings.
    unsafe { Component::deserialize(engine, compiled) }
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

    const WAT: &str = r#"(component (core module (func (export "f"))))"#;

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
        let wasm = wat::parse_str(WAT).expect("wat");
        let cache = Cache::new(&dir);
        cache.component(&engine, &wasm).expect("compile");
        let files = entries(&dir);
        assert_eq!(files.len(), 1);
        let stamp = fs::metadata(&files[0])
            .expect("meta")
            .modified()
            .expect("mtime");
        cache.component(&engine, &wasm).expect("load");
        assert_eq!(entries(&dir), files, "no second entry");
        let again = fs::metadata(&files[0])
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
        let wasm = wat::parse_str(WAT).expect("wat");
        let cache = Cache::new(&dir);
        cache.component(&engine, &wasm).expect("compile");
        let entry = entries(&dir).remove(0);
        let mut bytes = fs::read(&entry).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&entry, &bytes).expect("corrupt it");
        cache.component(&engine, &wasm).expect("rebuilt");
        let repaired = fs::read(&entry).expect("read");
        assert_ne!(repaired, bytes, "the corrupt entry was replaced");
        assert_eq!(
            blake3::hash(&repaired[DIGEST_LEN..]).as_bytes(),
            &repaired[..DIGEST_LEN]
        );
        fs::remove_dir_all(&dir).expect("clean");
    }

    #[test]
    fn different_content_or_settings_get_different_entries() {
        let dir = scratch("keys");
        let wasm = wat::parse_str(WAT).expect("wat");
        let other =
            wat::parse_str(r#"(component (core module (func (export "g"))))"#).expect("wat");
        let cache = Cache::new(&dir);
        let plain = Engine::default();
        let mut config = wasmtime::Config::new();
        config.cranelift_opt_level(wasmtime::OptLevel::None);
        let unoptimized = Engine::new(&config).expect("engine");
        let a = cache.entry_path(&plain, &wasm);
        assert_ne!(a, cache.entry_path(&plain, &other));
        assert_ne!(a, cache.entry_path(&unoptimized, &wasm));
        assert_eq!(a, cache.entry_path(&Engine::default(), &wasm));
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
