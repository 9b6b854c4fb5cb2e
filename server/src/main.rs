//! The `lockstep` binary: the global allocator, then [`lockstep::run`]
//! (the command line and its subcommands live in the library's `cli`).

use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: the send path allocates and frees
/// many small buffers on two threads (frames, payloads, room lists), and
/// glibc's malloc and free were a tenth of the server's CPU under load. It
/// costs about 1 KB more per idle socket (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    lockstep::run()
}
