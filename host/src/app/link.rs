//! The host side of the WASI 0.2 interfaces a component imports, and only those.
//!
//! wasmtime-wasi's `add_to_linker_sync` defines all 27 interfaces of `wasi:cli/imports`
//! (a few hundred functions) in a fresh linker, and naming every one of them cost a
//! sixth of a cached `wasgi run` of the Rust hello, which imports eight. Linking only
//! the interfaces the component names gives it exactly the functions it had: an
//! import this table does not know, or one at a version the linker cannot match, is
//! left undefined for `instantiate_pre` to report as before ("component imports
//! instance `…`, but a matching implementation was not found in the linker").
//! Each interface is added as `add_to_linker_sync` adds it, except `wasi:io/poll`,
//! whose waits end at the request's deadline (see [`DeadlinePoll`]).

use std::collections::BTreeSet;

use wasmtime::Engine;
use wasmtime::component::{Component, HasData, Linker, ResourceTable};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sockets, sync};
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};

use super::RequestState;
use crate::limits::{DeadlinePoll, WithDeadline};

/// Defines in `linker` each WASI interface `component` imports (whatever version it
/// names: the linker matches versions itself).
pub(super) fn add_wasi(
    linker: &mut Linker<RequestState>,
    engine: &Engine,
    component: &Component,
) -> wasmtime::Result<()> {
    let ty = component.component_type();
    // A composed component may import one interface at two versions: define it once.
    let interfaces: BTreeSet<&str> = ty
        .imports(engine)
        .map(|(name, _)| {
            name.split_once('@')
                .map_or(name, |(interface, _)| interface)
        })
        .collect();
    for interface in interfaces {
        add_interface(linker, interface)?;
    }
    Ok(())
}

/// Names the resource table as the host data of the `wasi:io` bindings (as
/// wasmtime-wasi's own, private, `HasIo`).
struct HasIo;

impl HasData for HasIo {
    type Data<'a> = &'a mut ResourceTable;
}

/// The guest's resources, for the `wasi:io` bindings.
fn table(state: &mut RequestState) -> &mut ResourceTable {
    &mut state.table
}

/// Adds one interface, named without its version; a name outside WASI 0.2 adds nothing.
fn add_interface(l: &mut Linker<RequestState>, interface: &str) -> wasmtime::Result<()> {
    type T = RequestState;
    match interface {
        "wasi:io/error" => {
            wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<T, HasIo>(l, table)
        }
        "wasi:io/poll" => {
            sync::io::poll::add_to_linker::<T, WithDeadline>(l, |state| DeadlinePoll {
                table: &mut state.table,
                deadline: state.deadline,
                turn: state.turn.as_deref(),
            })
        }
        "wasi:io/streams" => sync::io::streams::add_to_linker::<T, HasIo>(l, table),
        "wasi:clocks/wall-clock" => {
            clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)
        }
        "wasi:clocks/monotonic-clock" => {
            clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)
        }
        "wasi:filesystem/types" => {
            sync::filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)
        }
        "wasi:filesystem/preopens" => {
            filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)
        }
        "wasi:random/random" => random::random::add_to_linker::<T, WasiRandom>(l, T::random),
        "wasi:random/insecure" => random::insecure::add_to_linker::<T, WasiRandom>(l, T::random),
        "wasi:random/insecure-seed" => {
            random::insecure_seed::add_to_linker::<T, WasiRandom>(l, T::random)
        }
        "wasi:cli/exit" => cli::exit::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/environment" => cli::environment::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/stdin" => cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/stdout" => cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/stderr" => cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/terminal-input" => cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/terminal-output" => cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/terminal-stdin" => cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/terminal-stdout" => cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/terminal-stderr" => cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:sockets/network" => sockets::network::add_to_linker::<T, WasiSockets>(
            l,
            &sockets::network::LinkOptions::default(),
            T::sockets,
        ),
        "wasi:sockets/instance-network" => {
            sockets::instance_network::add_to_linker::<T, WasiSockets>(l, T::sockets)
        }
        "wasi:sockets/tcp" => sync::sockets::tcp::add_to_linker::<T, WasiSockets>(l, T::sockets),
        "wasi:sockets/tcp-create-socket" => {
            sockets::tcp_create_socket::add_to_linker::<T, WasiSockets>(l, T::sockets)
        }
        "wasi:sockets/udp" => sync::sockets::udp::add_to_linker::<T, WasiSockets>(l, T::sockets),
        "wasi:sockets/udp-create-socket" => {
            sync::sockets::udp_create_socket::add_to_linker::<T, WasiSockets>(l, T::sockets)
        }
        "wasi:sockets/ip-name-lookup" => {
            sockets::ip_name_lookup::add_to_linker::<T, WasiSockets>(l, T::sockets)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The interfaces of `wasi:cli/imports@0.2.0`: all that `add_to_linker_sync` defines.
    const WASI_P2: [&str; 27] = [
        "wasi:io/error",
        "wasi:io/poll",
        "wasi:io/streams",
        "wasi:clocks/wall-clock",
        "wasi:clocks/monotonic-clock",
        "wasi:filesystem/types",
        "wasi:filesystem/preopens",
        "wasi:random/random",
        "wasi:random/insecure",
        "wasi:random/insecure-seed",
        "wasi:cli/exit",
        "wasi:cli/environment",
        "wasi:cli/stdin",
        "wasi:cli/stdout",
        "wasi:cli/stderr",
        "wasi:cli/terminal-input",
        "wasi:cli/terminal-output",
        "wasi:cli/terminal-stdin",
        "wasi:cli/terminal-stdout",
        "wasi:cli/terminal-stderr",
        "wasi:sockets/network",
        "wasi:sockets/instance-network",
        "wasi:sockets/tcp",
        "wasi:sockets/tcp-create-socket",
        "wasi:sockets/udp",
        "wasi:sockets/udp-create-socket",
        "wasi:sockets/ip-name-lookup",
    ];

    /// Type section: type 0, an instance exporting nothing.
    const NOTHING: &[u8] = &[0x07, 0x03, 0x01, 0x42, 0x00];
    /// Type section: type 0, an instance exporting `run: func()`.
    const RUN: &[u8] = b"\x07\x10\x01\x42\x02\x01\x40\0\x01\0\x04\0\x03run\x01\0";

    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                return out.push(byte);
            }
            out.push(byte | 0x80);
        }
    }

    /// A component (binary format) importing each name as an instance of type 0.
    fn importing(types: &[u8], names: &[&str]) -> Component {
        let mut imports = Vec::new();
        leb(names.len(), &mut imports);
        for name in names {
            imports.push(0x00);
            leb(name.len(), &mut imports);
            imports.extend_from_slice(name.as_bytes());
            imports.extend_from_slice(&[0x05, 0x00]); // an instance of type 0
        }
        let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
        bytes.extend_from_slice(types);
        bytes.push(0x0a);
        leb(imports.len(), &mut bytes);
        bytes.extend_from_slice(&imports);
        Component::new(&Engine::default(), bytes).expect("a valid component")
    }

    /// The version of WASI p2 wasmtime-wasi defines (its WIT's): defining a name
    /// again collides only at the exact version. A wasmtime upgrade changes it.
    const DEFINED: &str = "0.2.12";

    /// Whether `name` is defined in `linker` (defining it again fails).
    fn defined(linker: &mut Linker<RequestState>, name: &str) -> bool {
        linker.root().func_wrap(name, |_, (): ()| Ok(())).is_err()
    }

    #[test]
    fn each_wasi_p2_interface_is_defined_as_all_of_wasi_p2_defines_it() {
        let engine = Engine::default();
        let mut all = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut all).expect("all of WASI p2");
        for interface in WASI_P2 {
            let name = format!("{interface}@{DEFINED}");
            let mut one = Linker::new(&engine);
            assert!(!defined(&mut one, &name), "{name} in an empty linker");
            let mut one = Linker::new(&engine);
            add_interface(&mut one, interface).expect(interface);
            assert!(defined(&mut one, &name), "{name} not defined");
            assert!(defined(&mut all, &name), "{name} not in WASI p2");
        }
        // All together, as a component importing all of them gets them.
        let component = importing(
            NOTHING,
            &WASI_P2
                .map(|i| format!("{i}@0.2.3"))
                .each_ref()
                .map(String::as_str),
        );
        add_wasi(&mut Linker::new(&engine), &engine, &component).expect("all 27");
    }

    #[test]
    fn an_import_wasi_p2_lacks_fails_as_with_all_of_it() {
        for name in [
            "acme:db/query@1.0.0",
            "wasi:cli/stdin@0.3.0",
            "wasi:cli/nonexistent@0.2.0",
            "wasi:http/types@0.2.0",
        ] {
            let component = importing(RUN, &[name]);
            let engine = component.engine();
            let check = |linker: Linker<RequestState>| {
                linker
                    .instantiate_pre(&component)
                    .map(drop)
                    .map_err(|e| format!("{e:#}"))
            };
            let mut all = Linker::new(engine);
            wasmtime_wasi::p2::add_to_linker_sync(&mut all).expect("all of WASI p2");
            let mut imported = Linker::new(engine);
            add_wasi(&mut imported, engine, &component).expect("the imported interfaces");
            let error = check(all).expect_err(name);
            assert!(error.contains(name), "{error}");
            assert_eq!(check(imported), Err(error));
        }
    }

    #[test]
    fn one_interface_at_two_versions_is_linked_once() {
        let component = importing(NOTHING, &["wasi:io/streams@0.2.0", "wasi:io/streams@0.2.3"]);
        let engine = component.engine();
        let mut linker = Linker::new(engine);
        add_wasi(&mut linker, engine, &component).expect("defined once");
        assert!(defined(&mut linker, &format!("wasi:io/streams@{DEFINED}")));
    }
}
