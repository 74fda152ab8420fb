//! Compiled artifacts: what a file is, compiling it, and loading compiled code.
//!
//! The one place wasgi runs Cranelift: every compile goes through `precompile`,
//! whether for the cache, for `--no-cache` or for `wasgi compile`; a load from the
//! cache or from a `.cwasm` never comes here. This module also tells what a file is
//! before anything reads all of it (a component, a core module, a `.cwasm`, a foreign
//! precompiled file), what engine settings a compiled form belongs to, and ([`cwasm`])
//! the `.cwasm` format. It knows nothing of applications or caches: the loader
//! ([`crate::app`]) and the cache ([`crate::cache`]) use it, never the reverse.

use std::hash::{Hash, Hasher};
use std::io::Read as _;
use std::path::Path;
use std::time::Instant;

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::{Error, read_file};

pub mod cwasm;

/// What an application file holds, judged by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A WebAssembly component (or something that claims to be: the validator
    /// decides).
    Component,
    /// A `.cwasm` that `wasgi compile` wrote.
    Precompiled,
}

/// Tells a component from a `.cwasm`, and both from a core module, a precompiled file
/// of another tool or a file that is not wasm, before the validator gives a less
/// helpful message.
pub(crate) fn kind(path: &Path) -> Result<Kind, Error> {
    const MAGIC: &[u8] = b"\0asm";
    const CORE_VERSION: &[u8] = &[1, 0, 0, 0];
    const ELF_MAGIC: &[u8] = b"\x7fELF";
    let mut bytes = Vec::with_capacity(8);
    std::fs::File::open(path)
        .and_then(|file| file.take(8).read_to_end(&mut bytes))
        .map_err(|cause| Error::read(path, cause))?;
    if bytes == cwasm::MAGIC {
        return Ok(Kind::Precompiled);
    }
    // wasmtime's own detection parses the file as ELF: only ask it about one.
    if bytes.starts_with(ELF_MAGIC)
        && Engine::detect_precompiled_file(path).is_ok_and(|found| found.is_some())
    {
        return Err(Error::Precompiled {
            path: path.to_owned(),
            reason: "it is a precompiled file of wasmtime itself, not a .cwasm written by `wasgi compile`"
                .to_owned(),
        });
    }
    if !bytes.starts_with(MAGIC) {
        return Err(Error::NotWasm {
            path: path.to_owned(),
        });
    }
    if bytes.get(4..8) == Some(CORE_VERSION) {
        return Err(Error::CoreModule {
            path: path.to_owned(),
        });
    }
    Ok(Kind::Component)
}

/// Compiles the component `wasm` (read from `path`) to wasmtime's serialized form.
/// When `notice` is given, a line on stderr says that a compile is under way (with
/// `notice` after the file name) and another how long it took: a Python component
/// takes seconds, which must not look like a hang.
pub(crate) fn precompile(
    engine: &Engine,
    path: &Path,
    wasm: &[u8],
    notice: Option<&str>,
) -> Result<Vec<u8>, Error> {
    let name = path
        .file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy();
    if let Some(why) = notice {
        eprintln!("wasgi: compiling {name}{why}…");
    }
    let started = Instant::now();
    let compiled = engine
        .precompile_component(wasm)
        .map_err(|e| Error::invalid(path, &e))?;
    let took = started.elapsed().as_secs_f64();
    tracing::debug!("compiled the component in {took:.3}s");
    if notice.is_some() {
        eprintln!("wasgi: compiled {name} in {took:.1}s");
    }
    Ok(compiled)
}

/// Reads and compiles the component in the file at `path`, without a cache: its
/// compiled form, and the component loaded from that. `notice` as for [`precompile`].
pub(crate) fn compile_file(
    engine: &Engine,
    path: &Path,
    notice: Option<&str>,
) -> Result<(Vec<u8>, Component), Error> {
    let wasm = read_file(path)?;
    let compiled = precompile(engine, path, &wasm, notice)?;
    let component = deserialize_fresh(engine, &compiled).map_err(|e| Error::invalid(path, &e))?;
    Ok((compiled, component))
}

/// Writes `parts`, one after the other, to a temporary file beside `path`, then
/// renames it into place: a reader sees the old file or the whole new one.
pub(crate) fn write_atomically(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = std::fs::File::create(&tmp)
        .and_then(|mut file| {
            use std::io::Write as _;
            parts
                .iter()
                .try_for_each(|part| file.write_all(part))
                .and_then(|()| file.sync_all())
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Loads compiled bytes that this process just produced.
#[allow(unsafe_code)]
pub(crate) fn deserialize_fresh(engine: &Engine, compiled: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `compiled` is the output of `precompile_component` in this very process,
    // with this engine.
    unsafe { Component::deserialize(engine, compiled) }
}

/// What a compiled form depends on besides the component: the wasgi version, the
/// wasmtime version and the engine's settings (wasmtime's own compatibility hash,
/// which covers both of its parts, and the one setting every wasgi engine has that
/// it leaves out, [`DENSE_IMAGE_SPAN`](crate::app::DENSE_IMAGE_SPAN): whether a
/// memory's data was compiled into a copy-on-write image), as one BLAKE3 digest.
pub(crate) fn fingerprint(engine: &Engine) -> blake3::Hash {
    /// Feeds what `Hash` writes into a BLAKE3 hasher.
    struct Blake3(blake3::Hasher);
    impl Hasher for Blake3 {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            let digest = self.0.finalize();
            u64::from_le_bytes(digest.as_bytes()[..8].try_into().unwrap_or_default())
        }
    }
    let mut hasher = Blake3(blake3::Hasher::new());
    hasher.write(b"wasgi engine fingerprint v1\0");
    hasher.write(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.write(b"\0");
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.write(&crate::app::DENSE_IMAGE_SPAN.to_le_bytes());
    hasher.0.finalize()
}

#[cfg(test)]
/// `(component (core module (func (export "f"))))`, as `wat` writes it.
pub(crate) const TRIVIAL_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0\x01\x1f\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x07\x05\x01\x01f\0\0\x0a\x04\x01\x02\0\x0b";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_follows_the_engine_settings() {
        let plain = Engine::default();
        let mut config = wasmtime::Config::new();
        config.cranelift_opt_level(wasmtime::OptLevel::None);
        let unoptimized = Engine::new(&config).expect("engine");
        assert_eq!(fingerprint(&plain), fingerprint(&Engine::default()));
        assert_ne!(fingerprint(&plain), fingerprint(&unoptimized));
    }
}
