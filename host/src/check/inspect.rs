//! The static half of `wasgi check`: what can be known of an application without
//! running it. Which world it implements and at which version, what it imports and the
//! grants those imports need to do anything, its sizes (as shipped, compiled), and the
//! toolchain that built it, from the `producers` custom sections of the component and
//! its core modules. A `.cwasm` keeps its imports and exports (in the compiled
//! component's type) but not its custom sections, so not its producers.

use std::path::Path;

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::artifact::{Kind, cwasm};
use crate::error::{Error, read_file};

/// The package of the contract, and its version this wasgi implements.
const PACKAGE: &str = "wasgi:gateway";

/// What an import gives the guest under wasgi, and the grant it needs to reach
/// anything, by interface prefix.
const IMPORTS: &[(&str, &str)] = &[
    ("wasgi:gateway/", "the wasgi contract"),
    (
        "wasi:filesystem/",
        "files: none unless granted with --dir or --ro-dir (the files a component carries are mounted read-only)",
    ),
    (
        "wasi:cli/environment",
        "environment variables: empty unless granted with --env",
    ),
    (
        "wasi:sockets/",
        "network: no socket can even be created unless granted with --allow-connect",
    ),
    ("wasi:clocks/", "clocks: available, no grant needed"),
    ("wasi:random/", "random numbers: available, no grant needed"),
    ("wasi:cli/stdout", "stdout: to the log, never the response"),
    ("wasi:cli/stderr", "stderr (wsgi.errors): to the log"),
    (
        "wasi:cli/stdin",
        "stdin: empty (the request body is wsgi.input, read-input)",
    ),
    ("wasi:cli/exit", "exit: ends the request as a trap"),
    ("wasi:cli/terminal-", "terminals: there are none"),
    ("wasi:io/", "streams and polling: available"),
];

/// One import and what it means under wasgi.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    /// The interface, e.g. `wasi:filesystem/preopens@0.2.6`.
    pub name: String,
    /// What it gives and the grant it needs; `None` when wasgi does not provide it.
    pub meaning: Option<&'static str>,
}

/// One toolchain entry of a `producers` section.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Producer {
    /// `language`, `processed-by` or `sdk`.
    pub field: String,
    /// The tool or language.
    pub name: String,
    /// Its version (may be empty).
    pub version: String,
}

/// What is known of an application without running it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    /// `component` or `cwasm`.
    pub kind: &'static str,
    /// Bytes of the file.
    pub size: u64,
    /// Bytes of its compiled code, as loaded.
    pub compiled_size: usize,
    /// The versions of the wasgi contract it imports or exports (`0.1.0`).
    pub world_versions: Vec<String>,
    /// Its imports, each with its meaning.
    pub imports: Vec<Import>,
    /// Its exports.
    pub exports: Vec<String>,
    /// The toolchain, from the producers sections (none for a `.cwasm`).
    pub producers: Vec<Producer>,
    /// Bytes of files it carries (its `wasgi:files` section).
    pub carried_files: u64,
    /// The wasgi that wrote a `.cwasm`.
    pub maker: Option<String>,
}

/// Inspects the application at `path`, loaded as `component` by `engine`.
pub(super) fn inspect(
    engine: &Engine,
    path: &Path,
    kind: Kind,
    component: &Component,
) -> Result<Inspection, Error> {
    let ty = component.component_type();
    let imports: Vec<Import> = ty
        .imports(engine)
        .map(|(name, _)| Import {
            name: name.to_owned(),
            meaning: IMPORTS
                .iter()
                .find(|(prefix, _)| name.starts_with(prefix))
                .map(|(_, meaning)| *meaning),
        })
        .collect();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let mut world_versions: Vec<String> = imports
        .iter()
        .map(|i| i.name.as_str())
        .chain(exports.iter().map(String::as_str))
        .filter_map(|name| name.strip_prefix(PACKAGE)?.split_once('@'))
        .map(|(_, version)| version.to_owned())
        .collect();
    world_versions.sort();
    world_versions.dedup();
    let range = component.image_range();
    let compiled_size = range.end as usize - range.start as usize;
    let size = std::fs::metadata(path)
        .map_err(|cause| Error::read(path, cause))?
        .len();
    let (producers, carried_files, maker) = match kind {
        Kind::Component => {
            let (producers, carried) = sections(path, &read_file(path)?)?;
            (producers, carried, None)
        }
        Kind::Precompiled => {
            let bytes = read_file(path)?;
            let carried = std::fs::File::open(path)
                .and_then(|mut file| cwasm::files_range(&mut file))
                .map_err(|cause| Error::read(path, cause))?
                .map_or(0, |(_, length, _)| length);
            (Vec::new(), carried, cwasm::maker_of(&bytes))
        }
    };
    Ok(Inspection {
        kind: match kind {
            Kind::Component => "component",
            Kind::Precompiled => "cwasm",
        },
        size,
        compiled_size,
        world_versions,
        imports,
        exports,
        producers,
        carried_files,
        maker,
    })
}

/// The producers of a component and its core modules (each entry once), and the size
/// of its `wasgi:files` section.
fn sections(path: &Path, wasm: &[u8]) -> Result<(Vec<Producer>, u64), Error> {
    let invalid = |e: wasmparser::BinaryReaderError| Error::Invalid {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let mut producers = Vec::new();
    let mut carried = 0;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let wasmparser::Payload::CustomSection(section) = payload.map_err(invalid)? else {
            continue;
        };
        if section.name() == crate::bundle::SECTION {
            carried = section.data().len() as u64;
        }
        let wasmparser::KnownCustom::Producers(reader) = section.as_known() else {
            continue;
        };
        for field in reader {
            let field = field.map_err(invalid)?;
            for value in field.values {
                let value = value.map_err(invalid)?;
                producers.push(Producer {
                    field: field.name.to_owned(),
                    name: value.name.to_owned(),
                    version: value.version.to_owned(),
                });
            }
        }
    }
    producers.sort();
    producers.dedup();
    Ok((producers, carried))
}
