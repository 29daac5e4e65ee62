//! The one emulator fixture: a local IVS (`ivs_emulator`) serving on 127.0.0.1, on a port the
//! OS picks, for as long as its [`Server`] lives; and channels created on it.
//!
//! The fixture enforces IVS's account-wide API rate quotas at IVS's own values (factor 1: 5
//! GetChannel calls per second, 10 ListTagsForResource…), as the emulator does by default: code
//! under test meets IVS's limits unless a test says otherwise. A test of what the code does
//! (not of how it copes with IVS's rates) that calls IVS back to back faster than that, itself
//! or through the code, starts its emulator with [`start_emulator_unthrottled`] (or a scaled
//! [`RateQuotas`] in its [`Config`]) and says why in a comment.

use std::net::{Ipv4Addr, SocketAddr};

use aws_sdk_ivs::operation::create_channel::builders::CreateChannelFluentBuilder;

pub use ivs_emulator::{Config, Emulator, RateQuotas, Server};

/// An emulator with IVS's defaults (account [`crate::ACCOUNT`], region us-west-2, the API rate
/// quotas and the PutMetadata rate limit on) and `seed` for every random choice (ids, fault
/// draws), serving on loopback. Its endpoint is `server.url()`; it stops when `server` is shut
/// down or dropped.
pub async fn start_emulator(seed: u64) -> (Emulator, Server) {
    start_emulator_with(Config {
        seed,
        ..Config::default()
    })
    .await
}

/// [`start_emulator`] with the API rate quotas off (PutMetadata's limit per channel stays on):
/// for tests of what the code does that call IVS faster than IVS's quotas allow.
pub async fn start_emulator_unthrottled(seed: u64) -> (Emulator, Server) {
    start_emulator_with(Config {
        seed,
        rate_quotas: RateQuotas::off(),
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

/// A CreateChannel request for a channel named `name` with `tags`, ready to send (or to be
/// given more members).
pub fn channel_request(
    client: &aws_sdk_ivs::Client,
    name: &str,
    tags: &[(&str, &str)],
) -> CreateChannelFluentBuilder {
    tags.iter()
        .fold(client.create_channel().name(name), |request, (k, v)| {
            request.tags(*k, *v)
        })
}

/// Creates a channel named `name` with `tags`: its ARN and its stream key's value.
pub async fn create_channel(
    client: &aws_sdk_ivs::Client,
    name: &str,
    tags: &[(&str, &str)],
) -> (String, String) {
    let created = channel_request(client, name, tags).send().await.unwrap();
    (
        created.channel().unwrap().arn().unwrap().to_owned(),
        created.stream_key().unwrap().value().unwrap().to_owned(),
    )
}
