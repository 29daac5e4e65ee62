//! The one emulator fixture: a local IVS (`ivs_emulator`) serving on 127.0.0.1, on a port the
//! OS picks, for as long as its [`Server`] lives.

use std::net::{Ipv4Addr, SocketAddr};

pub use ivs_emulator::{Config, Emulator, Server};

/// An emulator with IVS's defaults (account [`crate::ACCOUNT`], region us-west-2, the
/// PutMetadata rate limit on) and `seed` for every random choice (ids, fault draws), serving
/// on loopback. Its endpoint is `server.url()`; it stops when `server` is shut down or dropped.
pub async fn start_emulator(seed: u64) -> (Emulator, Server) {
    start_emulator_with(Config {
        seed,
        ..Config::default()
    })
    .await
}

/// [`start_emulator`] with a whole configuration (quotas, faults, event targets…).
pub async fn start_emulator_with(config: Config) -> (Emulator, Server) {
    let emulator = Emulator::new(config);
    let server = emulator
        .serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("the emulator listens on a free loopback port");
    (emulator, server)
}
