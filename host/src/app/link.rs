//! The host side of the WASI 0.2 interfaces a component imports, and only those.
//!
//! wasmtime-wasi's `add_to_linker_sync` defines all 25 interfaces of `wasi:cli/imports`
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
