//! `.cwasm` files: a component compiled ahead of time by `wasgi compile`, loaded by
//! `wasgi run` and `wasgi serve` without compiling. This module is their format:
//! writing one, and checking one before it is loaded.
//!
//! Loading compiled code means trusting its bytes: wasmtime maps them as machine
//! code. So wasgi never hands wasmtime a `.cwasm` blindly. The file carries a header
//! that says which wasgi build, for which engine settings, wrote it, how long the
//! compiled artifact is and its BLAKE3 digest; all of it is checked before the
//! artifact is deserialized, and a file that fails a check is refused with what is
//! wrong and what to do (recompile it). Those checks catch a stale, foreign,
//! truncated or corrupted file; they cannot make a file forged on purpose safe, no
//! more than a check could make a native executable safe: run a `.cwasm` you
//! compiled or trust, as you would a program.
//!
//! The layout, integers little-endian:
//!
//! | bytes | what |
//! |-------|------|
//! | 8     | [`MAGIC`]: `wasgicw` and the format version, 1 |
//! | 2     | length of the maker text |
//! | n     | the maker: `wasgi VERSION ARCH-OS`, shown when it is not this wasgi |
//! | 32    | the engine fingerprint (wasgi version, wasmtime version and settings) |
//! | 8     | length of the artifact |
//! | 32    | BLAKE3 digest of the artifact |
//! | 8     | length of the carried files (0 for none) |
//! | 32    | BLAKE3 digest of the carried files |
//! | n     | the artifact: what wasmtime's `precompile_component` produced |
//! | rest  | the carried files: the component's `wasgi:files` payload (see [`crate::bundle`]) |
//!
//! The carried files are not hashed when the file loads: the host extracts them once
//! (see [`crate::bundle`]) and checks their digest then.

use std::path::Path;

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::{Error, one_line, read_file};

/// The first bytes of every `.cwasm`: a name and the format version.
pub const MAGIC: &[u8; 8] = b"wasgicw\x02";

/// What wrote a file: shown when a `.cwasm` comes from another wasgi.
fn maker() -> String {
    format!(
        "wasgi {} {}-{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

/// Writes `artifact` (compiled with `engine`) and the component's carried `files`
/// (its `wasgi:files` payload, empty without one) to `out` as a `.cwasm`.
pub(crate) fn write(
    engine: &Engine,
    artifact: &[u8],
    files: &[u8],
    out: &Path,
) -> Result<(), Error> {
    let header = header(engine, artifact, files);
    super::write_atomically(out, &[&header, artifact, files]).map_err(|cause| Error::Write {
        path: out.to_owned(),
        cause,
    })
}

/// Where the carried files of the `.cwasm` in `file` are: offset, length and BLAKE3
/// digest; `None` when it carries none or is not a `.cwasm` of this format.
pub(crate) fn files_range(
    file: &mut std::fs::File,
) -> std::io::Result<Option<(u64, u64, [u8; 32])>> {
    use std::io::{Read as _, Seek as _};
    let mut head = [0; MAGIC.len() + 2];
    file.seek(std::io::SeekFrom::Start(0))?;
    if file.read_exact(&mut head).is_err() || &head[..MAGIC.len()] != MAGIC {
        return Ok(None);
    }
    let maker_len = u64::from(u16::from_le_bytes([head[8], head[9]]));
    let mut rest = [0; 32 + 8 + 32 + 8 + 32];
    file.seek(std::io::SeekFrom::Start(10 + maker_len))?;
    file.read_exact(&mut rest)?;
    let artifact_len = u64::from_le_bytes(rest[32..40].try_into().unwrap_or_default());
    let files_len = u64::from_le_bytes(rest[72..80].try_into().unwrap_or_default());
    let digest: [u8; 32] = rest[80..].try_into().unwrap_or_default();
    let offset = 10 + maker_len + rest.len() as u64 + artifact_len;
    Ok((files_len > 0).then_some((offset, files_len, digest)))
}

/// Which wasgi wrote the `.cwasm` in `bytes` (its maker text), if it starts like one.
pub(crate) fn maker_of(bytes: &[u8]) -> Option<String> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let length = usize::from(u16::from_le_bytes(rest.get(..2)?.try_into().ok()?));
    Some(String::from_utf8_lossy(rest.get(2..2 + length)?).into_owned())
}

/// The header of a `.cwasm` holding `artifact` and the carried `files`.
fn header(engine: &Engine, artifact: &[u8], files: &[u8]) -> Vec<u8> {
    let maker = maker();
    let mut header = Vec::with_capacity(MAGIC.len() + 2 + maker.len() + 72);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&(maker.len() as u16).to_le_bytes());
    header.extend_from_slice(maker.as_bytes());
    header.extend_from_slice(super::fingerprint(engine).as_bytes());
    header.extend_from_slice(&(artifact.len() as u64).to_le_bytes());
    header.extend_from_slice(blake3::hash(artifact).as_bytes());
    header.extend_from_slice(&(files.len() as u64).to_le_bytes());
    header.extend_from_slice(blake3::hash(files).as_bytes());
    header
}

/// Loads the `.cwasm` at `path` once every check of its header passed.
pub(crate) fn load(engine: &Engine, path: &Path) -> Result<Component, Error> {
    let bytes = read_file(path)?;
    let refuse = |reason: String| Error::Precompiled {
        path: path.to_owned(),
        reason,
    };
    let artifact = check(engine, &bytes).map_err(refuse)?;
    deserialize_checked(engine, artifact).map_err(|e| refuse(one_line(&e)))
}

/// The artifact in `bytes`, a whole `.cwasm`, if its header is this wasgi's and the
/// artifact is whole and intact; else why not.
fn check<'a>(engine: &Engine, bytes: &'a [u8]) -> Result<&'a [u8], String> {
    let incomplete = || "it is truncated: its header is incomplete".to_owned();
    let mut rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or_else(|| {
        "it does not start like a .cwasm of this format (written by another wasgi?)".to_owned()
    })?;
    let mut take = |n: usize| -> Result<&'a [u8], String> {
        let (taken, left) = rest.split_at_checked(n).ok_or_else(incomplete)?;
        rest = left;
        Ok(taken)
    };
    let maker_len = u16::from_le_bytes(take(2)?.try_into().map_err(|_| incomplete())?);
    let their_maker = String::from_utf8_lossy(take(usize::from(maker_len))?).into_owned();
    let their_fingerprint = take(32)?;
    let length = u64::from_le_bytes(take(8)?.try_into().map_err(|_| incomplete())?);
    let digest = take(32)?;
    let files_length = u64::from_le_bytes(take(8)?.try_into().map_err(|_| incomplete())?);
    let _files_digest = take(32)?;
    // The carried files follow the artifact; their digest is checked when they are
    // extracted (see `bundle`).
    let files_at = rest.len() as u64 - files_length.min(rest.len() as u64);
    let artifact = &rest[..usize::try_from(files_at).map_err(|_| incomplete())?];
    let ours = maker();
    if their_maker != ours {
        return Err(format!("it was written by {their_maker}; this is {ours}"));
    }
    if their_fingerprint != super::fingerprint(engine).as_bytes() {
        return Err(
            "it was compiled for other engine settings (a run with --fuel needs a .cwasm from `wasgi compile --fuel`, a run without it one compiled without)"
                .to_owned(),
        );
    }
    if (artifact.len() as u64) < length {
        return Err(format!(
            "it is truncated: it holds {} of its {length} bytes of compiled code",
            artifact.len()
        ));
    }
    if artifact.len() as u64 > length {
        return Err(format!(
            "it is corrupt: it has {} bytes past the end of its compiled code",
            artifact.len() as u64 - length
        ));
    }
    if blake3::hash(artifact).as_bytes() != digest {
        return Err("it is corrupt: its compiled code does not match its BLAKE3 digest".to_owned());
    }
    Ok(artifact)
}

/// Deserializes the artifact of a `.cwasm` that passed [`check`].
#[allow(unsafe_code)]
fn deserialize_checked(engine: &Engine, artifact: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `check` found the header this wasgi writes, the fingerprint of this
    // wasgi version with this engine's wasmtime version and settings, and an artifact
    // of the recorded length whose BLAKE3 digest matches: these are the bytes
    // `wasgi compile` wrote, intact (and wasmtime checks its version and settings once
    // more). The file is the application the user asked wasgi to run, trusted as a
    // program is (see the module docs).
    unsafe { Component::deserialize(engine, artifact) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.cwasm` image of a trivial component, for `engine`.
    fn image(engine: &Engine) -> Vec<u8> {
        let artifact = engine
            .precompile_component(super::super::TRIVIAL_COMPONENT)
            .expect("compile");
        let mut bytes = header(engine, &artifact, &[]);
        bytes.extend_from_slice(&artifact);
        bytes
    }

    #[test]
    fn an_intact_file_passes_and_yields_its_artifact() {
        let engine = Engine::default();
        let bytes = image(&engine);
        let artifact = check(&engine, &bytes).expect("intact");
        assert!(bytes.ends_with(artifact));
        deserialize_checked(&engine, artifact).expect("loads");
    }

    #[test]
    fn every_damage_is_refused_with_its_reason() {
        let engine = Engine::default();
        let bytes = image(&engine);
        let refused = |bytes: &[u8]| check(&engine, bytes).expect_err("refused");
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(refused(&flipped).contains("does not match its BLAKE3 digest"));
        assert!(refused(&bytes[..bytes.len() - 10]).contains("holds"));
        assert!(refused(&bytes[..20]).contains("header is incomplete"));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(refused(&longer).contains("1 bytes past the end"));
        let mut other_maker = bytes.clone();
        other_maker[MAGIC.len() + 2 + 6] ^= 1;
        assert!(refused(&other_maker).contains("it was written by wasgi"));
        let mut config = wasmtime::Config::new();
        config.cranelift_opt_level(wasmtime::OptLevel::None);
        let other_settings = Engine::new(&config).expect("engine");
        assert!(
            check(&other_settings, &bytes)
                .expect_err("refused")
                .contains("other engine settings")
        );
    }
}
