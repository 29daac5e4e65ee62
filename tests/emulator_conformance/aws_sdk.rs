//! The real `aws-sdk-ivs` client against the IVS emulator: every operation succeeds with the
//! fields the SDK parses, and fails with each error the service model lists for it, as the typed
//! error variant. Errors that cannot happen locally (AccessDenied, PendingVerification, 500s,
//! 503s) are scripted with `Emulator::fail_next`; the others come from real conditions.
//! Also: unsigned requests, pagination, event sequences and seeded fault injection.

use std::io::{Read, Write};
use std::time::Duration;

use aws_sdk_ivs::config::retry::RetryConfig;
use aws_sdk_ivs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ivs::error::ProvideErrorMetadata;
use aws_sdk_ivs::operation::batch_get_channel::BatchGetChannelError;
use aws_sdk_ivs::operation::batch_get_stream_key::BatchGetStreamKeyError;
use aws_sdk_ivs::operation::batch_start_viewer_session_revocation::BatchStartViewerSessionRevocationError;
use aws_sdk_ivs::operation::create_ad_configuration::CreateAdConfigurationError;
use aws_sdk_ivs::operation::create_channel::CreateChannelError;
use aws_sdk_ivs::operation::create_playback_restriction_policy::CreatePlaybackRestrictionPolicyError;
use aws_sdk_ivs::operation::create_recording_configuration::CreateRecordingConfigurationError;
use aws_sdk_ivs::operation::create_stream_key::CreateStreamKeyError;
use aws_sdk_ivs::operation::delete_ad_configuration::DeleteAdConfigurationError;
use aws_sdk_ivs::operation::delete_channel::DeleteChannelError;
use aws_sdk_ivs::operation::delete_playback_key_pair::DeletePlaybackKeyPairError;
use aws_sdk_ivs::operation::delete_playback_restriction_policy::DeletePlaybackRestrictionPolicyError;
use aws_sdk_ivs::operation::delete_recording_configuration::DeleteRecordingConfigurationError;
use aws_sdk_ivs::operation::delete_stream_key::DeleteStreamKeyError;
use aws_sdk_ivs::operation::get_ad_configuration::GetAdConfigurationError;
use aws_sdk_ivs::operation::get_channel::GetChannelError;
use aws_sdk_ivs::operation::get_playback_key_pair::GetPlaybackKeyPairError;
use aws_sdk_ivs::operation::get_playback_restriction_policy::GetPlaybackRestrictionPolicyError;
use aws_sdk_ivs::operation::get_recording_configuration::GetRecordingConfigurationError;
use aws_sdk_ivs::operation::get_stream::GetStreamError;
use aws_sdk_ivs::operation::get_stream_key::GetStreamKeyError;
use aws_sdk_ivs::operation::get_stream_session::GetStreamSessionError;
use aws_sdk_ivs::operation::import_playback_key_pair::ImportPlaybackKeyPairError;
use aws_sdk_ivs::operation::list_ad_configurations::ListAdConfigurationsError;
use aws_sdk_ivs::operation::list_channels::ListChannelsError;
use aws_sdk_ivs::operation::list_playback_key_pairs::ListPlaybackKeyPairsError;
use aws_sdk_ivs::operation::list_playback_restriction_policies::ListPlaybackRestrictionPoliciesError;
use aws_sdk_ivs::operation::list_recording_configurations::ListRecordingConfigurationsError;
use aws_sdk_ivs::operation::list_stream_keys::ListStreamKeysError;
use aws_sdk_ivs::operation::list_stream_sessions::ListStreamSessionsError;
use aws_sdk_ivs::operation::list_streams::ListStreamsError;
use aws_sdk_ivs::operation::list_tags_for_resource::ListTagsForResourceError;
use aws_sdk_ivs::operation::put_metadata::PutMetadataError;
use aws_sdk_ivs::operation::start_viewer_session_revocation::StartViewerSessionRevocationError;
use aws_sdk_ivs::operation::stop_stream::StopStreamError;
use aws_sdk_ivs::operation::tag_resource::TagResourceError;
use aws_sdk_ivs::operation::untag_resource::UntagResourceError;
use aws_sdk_ivs::operation::update_ad_configuration::UpdateAdConfigurationError;
use aws_sdk_ivs::operation::update_channel::UpdateChannelError;
use aws_sdk_ivs::operation::update_playback_restriction_policy::UpdatePlaybackRestrictionPolicyError;
use aws_sdk_ivs::types::{
    BatchStartViewerSessionRevocationViewerSession, ChannelLatencyMode, ChannelType,
    DestinationConfiguration, MediaTailorPlaybackConfiguration, PostRollConfiguration,
    RecordingConfigurationState, S3DestinationConfiguration, StreamFilters, StreamHealth,
    StreamState,
};
use aws_sdk_ivs::Client;
use ivs_emulator::{Config, Emulator, FaultConfig, Quotas, RateQuotas, RecordingFailure, Server};
use serde_json::{json, Value};
use test_support::{ivs_client, start_emulator_with};

const REGION: &str = "us-west-2";
const ACCOUNT: &str = "111122223333";
const MISSING_CHANNEL: &str = "arn:aws:ivs:us-west-2:111122223333:channel/missing00000";
const P384_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEbVb8YGgdgI3bhXAgEoM8GPTQGaB4/MM+
EwosSAA2LVzZBf/2L+sKUMCHCD4rCjS2uVOoLbgjx90YZpsS0jsXMKth/lmlLUL5
8bCDVmSBEJv50eAxKJgZhQq1rEJDqyei
-----END PUBLIC KEY-----";
const OTHER_P384_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEeYn761tdhyfPyDgUJKzhmp8QhbMfbpq+
JqW4Q4aGH9dnOV4ZRwlF6m3epwTgfJBOnSwBANt35N87SCnIMCGw4+iV6l7OAo8l
mh74tqJVZZvHwJVfn54dLrIln+gFW4mF
-----END PUBLIC KEY-----";

struct Harness {
    emulator: Emulator,
    server: Server,
    client: Client,
}

/// An emulator with `seed` and IVS's quotas as `limit` leaves them, and a client for it. The API
/// rate quotas are off: these tests check each operation's answers, calling them back to back
/// (rate_quotas.rs checks the quotas).
async fn harness_with(seed: u64, limit: impl FnOnce(&mut Quotas)) -> Harness {
    let mut quotas = Quotas::default();
    limit(&mut quotas);
    harness_from(Config {
        seed,
        quotas,
        rate_quotas: RateQuotas::off(),
        ..Config::default()
    })
    .await
}

async fn harness_from(config: Config) -> Harness {
    let (emulator, server) = start_emulator_with(config).await;
    let client = ivs_client(&server.url());
    Harness {
        emulator,
        server,
        client,
    }
}

async fn harness() -> Harness {
    harness_with(17, |_| {}).await
}

/// Asserts that each call fails with its typed service error: one `call => Error::Variant` a
/// row.
macro_rules! expect_err {
    ($($call:expr => $variant:path),+ $(,)?) => {{$(
        match $call.await {
            Ok(output) => panic!(
                "expected {}, but the call succeeded: {output:?}",
                stringify!($variant)
            ),
            Err(err) => {
                let service = err.into_service_error();
                assert!(
                    matches!(service, $variant(_)),
                    "expected {}, got {service:?}",
                    stringify!($variant)
                );
            }
        }
    )+}};
}

/// For each row, scripts each listed error for the next call of the operation (named as its
/// error type, without `Error`), then asserts that the call fails with it as the typed variant.
macro_rules! scripted {
    ($h:expr, [$($call:expr => $error:ident[$($variant:ident),+ $(,)?]),+ $(,)?]) => {{$(
        let operation = stringify!($error).strip_suffix("Error").unwrap();
        $(
            $h.emulator.fail_next(operation, stringify!($variant), 1).unwrap();
            expect_err!($call => $error::$variant);
        )+
    )+}};
}

fn destination(bucket: &str) -> DestinationConfiguration {
    DestinationConfiguration::builder()
        .s3(S3DestinationConfiguration::builder()
            .bucket_name(bucket)
            .build()
            .unwrap())
        .build()
}

#[tokio::test]
async fn channel_operations() {
    let h = harness_with(11, |q| q.channels = 3).await;
    let c = &h.client;

    // CreateChannel
    let created = c
        .create_channel()
        .name("demo")
        .latency_mode(ChannelLatencyMode::NormalLatency)
        .r#type(ChannelType::BasicChannelType)
        .authorized(true)
        .tags("team", "video")
        .send()
        .await
        .unwrap();
    let channel = created.channel().unwrap();
    let arn = channel.arn().unwrap().to_owned();
    assert!(arn.starts_with(&format!("arn:aws:ivs:{REGION}:{ACCOUNT}:channel/")));
    assert_eq!(channel.name(), Some("demo"));
    assert_eq!(
        channel.latency_mode(),
        Some(&ChannelLatencyMode::NormalLatency)
    );
    assert_eq!(channel.r#type(), Some(&ChannelType::BasicChannelType));
    assert!(channel.authorized());
    assert!(!channel.insecure_ingest());
    assert_eq!(channel.recording_configuration_arn(), Some(""));
    assert_eq!(channel.ad_configuration_arn(), Some(""));
    assert_eq!(channel.failover_slate_configuration_arn(), Some(""));
    assert!(channel
        .ingest_endpoint()
        .unwrap()
        .ends_with(".global-contribute.live-video.net"));
    assert!(channel.playback_url().unwrap().ends_with(".m3u8"));
    assert_eq!(channel.tags().unwrap()["team"], "video");
    assert!(channel
        .srt()
        .unwrap()
        .endpoint()
        .unwrap()
        .ends_with(".srt.live-video.net"));
    let key = created.stream_key().unwrap();
    assert_eq!(key.channel_arn(), Some(arn.as_str()));
    assert!(key.value().unwrap().starts_with("sk_us-west-2_"));
    let defaults = c.create_channel().send().await.unwrap();
    let default_channel = defaults.channel().unwrap();
    assert_eq!(
        default_channel.latency_mode(),
        Some(&ChannelLatencyMode::LowLatency)
    );
    assert_eq!(
        default_channel.r#type(),
        Some(&ChannelType::StandardChannelType)
    );
    assert_eq!(default_channel.name(), Some(""));
    let other_arn = default_channel.arn().unwrap().to_owned();

    expect_err!(
        c.create_channel().name("bad name!").send() => CreateChannelError::ValidationException,
        c.create_channel()
            .recording_configuration_arn(
                "arn:aws:ivs:us-west-2:111122223333:recording-configuration/missing"
            )
            .send()
            => CreateChannelError::ResourceNotFoundException,
    );
    c.create_channel().send().await.unwrap();
    expect_err!(c.create_channel().send() => CreateChannelError::ServiceQuotaExceededException);

    // GetChannel
    let got = c.get_channel().arn(&arn).send().await.unwrap();
    assert_eq!(got.channel().unwrap().name(), Some("demo"));
    expect_err!(
        c.get_channel().arn(MISSING_CHANNEL).send() => GetChannelError::ResourceNotFoundException,
        c.get_channel().arn("not-an-arn").send() => GetChannelError::ValidationException,
    );

    // BatchGetChannel
    let batch = c
        .batch_get_channel()
        .arns(&arn)
        .arns(MISSING_CHANNEL)
        .send()
        .await
        .unwrap();
    assert_eq!(batch.channels().len(), 1);
    assert_eq!(batch.channels()[0].arn(), Some(arn.as_str()));
    assert_eq!(batch.errors().len(), 1);
    assert_eq!(batch.errors()[0].arn(), Some(MISSING_CHANNEL));
    assert_eq!(batch.errors()[0].code(), Some("ResourceNotFoundException"));
    assert!(batch.errors()[0].message().is_some());
    expect_err!(
        c.batch_get_channel().arns("not-an-arn").send()
            => BatchGetChannelError::ValidationException,
    );

    // ListChannels
    let listed = c.list_channels().send().await.unwrap();
    assert_eq!(listed.channels().len(), 3);
    assert!(listed.next_token().is_none());
    let by_name = c
        .list_channels()
        .filter_by_name("demo")
        .send()
        .await
        .unwrap();
    assert_eq!(by_name.channels().len(), 1);
    assert!(by_name.channels()[0].authorized());
    expect_err!(
        c.list_channels()
            .filter_by_name("demo")
            .filter_by_recording_configuration_arn(
                "arn:aws:ivs:us-west-2:111122223333:recording-configuration/abc"
            )
            .send()
            => ListChannelsError::ConflictException,
        c.list_channels().max_results(101).send() => ListChannelsError::ValidationException,
        c.list_channels().next_token("bm90LWEtdG9rZW4").send()
            => ListChannelsError::ValidationException,
    );

    // UpdateChannel
    let updated = c
        .update_channel()
        .arn(&arn)
        .name("renamed")
        .insecure_ingest(true)
        .send()
        .await
        .unwrap();
    let updated = updated.channel().unwrap();
    assert_eq!(updated.name(), Some("renamed"));
    assert!(updated.insecure_ingest());
    assert!(updated.authorized(), "members not given stay as they were");
    expect_err!(
        c.update_channel().arn(MISSING_CHANNEL).send()
            => UpdateChannelError::ResourceNotFoundException,
        c.update_channel().arn(&arn).name("bad name!").send()
            => UpdateChannelError::ValidationException,
    );
    let live = h.emulator.connect(key.value().unwrap()).unwrap();
    assert_eq!(live.channel_arn, arn);
    expect_err!(
        c.update_channel().arn(&arn).name("x").send() => UpdateChannelError::ConflictException,
    );

    // DeleteChannel
    expect_err!(c.delete_channel().arn(&arn).send() => DeleteChannelError::ConflictException);
    h.emulator.disconnect(&arn).unwrap();
    expect_err!(
        c.delete_channel().arn(MISSING_CHANNEL).send()
            => DeleteChannelError::ResourceNotFoundException,
        c.delete_channel()
            .arn("arn:aws:ivs:us-west-2:1:stream-key/x")
            .send()
            => DeleteChannelError::ValidationException,
    );
    c.delete_channel().arn(&arn).send().await.unwrap();
    expect_err!(
        c.get_channel().arn(&arn).send() => GetChannelError::ResourceNotFoundException,
        c.get_stream_key().arn(key.arn().unwrap()).send()
            => GetStreamKeyError::ResourceNotFoundException,
    );
    c.get_channel().arn(&other_arn).send().await.unwrap();
}

#[tokio::test]
async fn stream_key_operations() {
    let h = harness().await;
    let c = &h.client;
    let created = c.create_channel().send().await.unwrap();
    let channel_arn = created.channel().unwrap().arn().unwrap().to_owned();
    let first_key = created.stream_key().unwrap().clone();
    let missing_key = "arn:aws:ivs:us-west-2:111122223333:stream-key/missing00000";

    // CreateStreamKey: one key per channel.
    expect_err!(
        c.create_stream_key().channel_arn(&channel_arn).send()
            => CreateStreamKeyError::ServiceQuotaExceededException,
        c.create_stream_key().channel_arn(MISSING_CHANNEL).send()
            => CreateStreamKeyError::ResourceNotFoundException,
        c.create_stream_key().channel_arn("not-an-arn").send()
            => CreateStreamKeyError::ValidationException,
    );

    // GetStreamKey
    let got = c
        .get_stream_key()
        .arn(first_key.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(got.stream_key().unwrap().value(), first_key.value());
    assert_eq!(
        got.stream_key().unwrap().channel_arn(),
        Some(channel_arn.as_str())
    );
    expect_err!(
        c.get_stream_key().arn(missing_key).send() => GetStreamKeyError::ResourceNotFoundException,
        c.get_stream_key().arn(&channel_arn).send() => GetStreamKeyError::ValidationException,
    );

    // BatchGetStreamKey
    let batch = c
        .batch_get_stream_key()
        .arns(first_key.arn().unwrap())
        .arns(missing_key)
        .send()
        .await
        .unwrap();
    assert_eq!(batch.stream_keys().len(), 1);
    assert_eq!(batch.stream_keys()[0].value(), first_key.value());
    assert_eq!(batch.errors()[0].arn(), Some(missing_key));
    expect_err!(c.batch_get_stream_key().send() => BatchGetStreamKeyError::ValidationException);

    // ListStreamKeys: summaries without values.
    let listed = c
        .list_stream_keys()
        .channel_arn(&channel_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.stream_keys().len(), 1);
    assert_eq!(listed.stream_keys()[0].arn(), first_key.arn());
    expect_err!(
        c.list_stream_keys().channel_arn(MISSING_CHANNEL).send()
            => ListStreamKeysError::ResourceNotFoundException,
        c.list_stream_keys()
            .channel_arn(&channel_arn)
            .max_results(51)
            .send()
            => ListStreamKeysError::ValidationException,
    );

    // Rotation: a deleted key admits no new connection; the running stream goes on.
    let live = h.emulator.connect(first_key.value().unwrap()).unwrap();
    c.delete_stream_key()
        .arn(first_key.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        c.get_stream()
            .channel_arn(&channel_arn)
            .send()
            .await
            .unwrap()
            .stream()
            .unwrap()
            .stream_id(),
        Some(live.stream_id.as_str())
    );
    h.emulator.disconnect(&channel_arn).unwrap();
    assert!(h.emulator.connect(first_key.value().unwrap()).is_err());
    let new_key = c
        .create_stream_key()
        .channel_arn(&channel_arn)
        .tags("rotated", "yes")
        .send()
        .await
        .unwrap();
    let new_key = new_key.stream_key().unwrap();
    assert_ne!(new_key.value(), first_key.value());
    assert_eq!(new_key.tags().unwrap()["rotated"], "yes");
    h.emulator.connect(new_key.value().unwrap()).unwrap();

    // DeleteStreamKey
    expect_err!(
        c.delete_stream_key().arn(missing_key).send()
            => DeleteStreamKeyError::ResourceNotFoundException,
        c.delete_stream_key().arn("not-an-arn").send() => DeleteStreamKeyError::ValidationException,
    );
}

#[tokio::test]
async fn stream_operations_and_metadata() {
    let h = harness().await;
    let c = &h.client;
    let created = c.create_channel().name("live").send().await.unwrap();
    let arn = created.channel().unwrap().arn().unwrap().to_owned();
    let playback_url = created
        .channel()
        .unwrap()
        .playback_url()
        .unwrap()
        .to_owned();
    let key = created.stream_key().unwrap().value().unwrap().to_owned();

    // Offline.
    expect_err!(
        c.get_stream().channel_arn(&arn).send() => GetStreamError::ChannelNotBroadcasting,
        c.stop_stream().channel_arn(&arn).send() => StopStreamError::ChannelNotBroadcasting,
        c.put_metadata().channel_arn(&arn).metadata("x").send()
            => PutMetadataError::ChannelNotBroadcasting,
        c.get_stream_session().channel_arn(&arn).send()
            => GetStreamSessionError::ResourceNotFoundException,
    );
    assert!(c.list_streams().send().await.unwrap().streams().is_empty());
    assert!(c
        .list_stream_sessions()
        .channel_arn(&arn)
        .send()
        .await
        .unwrap()
        .stream_sessions()
        .is_empty());

    // Live.
    let live = h.emulator.connect(&key).unwrap();
    h.emulator.set_viewer_count(&arn, 42).unwrap();
    let stream = c.get_stream().channel_arn(&arn).send().await.unwrap();
    let stream = stream.stream().unwrap();
    assert_eq!(stream.channel_arn(), Some(arn.as_str()));
    assert_eq!(stream.stream_id(), Some(live.stream_id.as_str()));
    assert_eq!(stream.playback_url(), Some(playback_url.as_str()));
    assert_eq!(stream.state(), Some(&StreamState::StreamLive));
    assert_eq!(stream.health(), Some(&StreamHealth::StreamHealthy));
    assert_eq!(stream.viewer_count(), 42);
    assert!(stream.start_time().is_some());
    expect_err!(
        c.get_stream().channel_arn(MISSING_CHANNEL).send()
            => GetStreamError::ResourceNotFoundException,
        c.get_stream().channel_arn("x").send() => GetStreamError::ValidationException,
    );

    // ListStreams
    h.emulator.starve(&arn).unwrap();
    let with_health = |health| {
        c.list_streams()
            .filter_by(StreamFilters::builder().health(health).build())
            .send()
    };
    let starving = with_health(StreamHealth::Starving).await.unwrap();
    assert_eq!(starving.streams().len(), 1);
    assert_eq!(
        starving.streams()[0].health(),
        Some(&StreamHealth::Starving)
    );
    assert_eq!(starving.streams()[0].viewer_count(), 42);
    let healthy = with_health(StreamHealth::StreamHealthy).await.unwrap();
    assert!(healthy.streams().is_empty());
    expect_err!(c.list_streams().max_results(0).send() => ListStreamsError::ValidationException);
    h.emulator.recover(&arn).unwrap();

    // PutMetadata: 1 KB, 5 per second, recorded.
    c.put_metadata()
        .channel_arn(&arn)
        .metadata("é".repeat(512))
        .send()
        .await
        .unwrap();
    expect_err!(
        c.put_metadata()
            .channel_arn(&arn)
            .metadata(format!("{}x", "é".repeat(512)))
            .send()
            => PutMetadataError::ValidationException,
    );
    for i in 0..4 {
        c.put_metadata()
            .channel_arn(&arn)
            .metadata(format!("{{\"question\":{i}}}"))
            .send()
            .await
            .unwrap();
    }
    expect_err!(
        c.put_metadata().channel_arn(&arn).metadata("sixth").send()
            => PutMetadataError::ThrottlingException,
        c.put_metadata()
            .channel_arn(MISSING_CHANNEL)
            .metadata("x")
            .send()
            => PutMetadataError::ResourceNotFoundException,
    );
    let recorded = h.emulator.metadata(&arn);
    assert_eq!(recorded.len(), 5);
    assert_eq!(recorded[1].payload, "{\"question\":0}");
    assert!(recorded.iter().all(|m| m.stream_id == live.stream_id));
    assert_eq!(
        h.emulator.stats().operations["PutMetadata"].metadata_throttled,
        1
    );

    // StopStream
    expect_err!(
        c.stop_stream().channel_arn(MISSING_CHANNEL).send()
            => StopStreamError::ResourceNotFoundException,
        c.stop_stream().channel_arn("x").send() => StopStreamError::ValidationException,
    );
    c.stop_stream().channel_arn(&arn).send().await.unwrap();
    expect_err!(c.get_stream().channel_arn(&arn).send() => GetStreamError::ChannelNotBroadcasting);

    // GetStreamSession / ListStreamSessions
    let second = h.emulator.connect(&key).unwrap();
    let latest = c
        .get_stream_session()
        .channel_arn(&arn)
        .send()
        .await
        .unwrap();
    let latest = latest.stream_session().unwrap();
    assert_eq!(latest.stream_id(), Some(second.stream_id.as_str()));
    assert!(latest.end_time().is_none());
    assert_eq!(latest.channel().unwrap().name(), Some("live"));
    assert!(
        latest
            .ingest_configuration()
            .unwrap()
            .video()
            .unwrap()
            .video_height()
            > 0
    );
    assert_eq!(
        latest
            .ingest_configurations()
            .unwrap()
            .video_configurations()
            .len(),
        1
    );
    let first = c
        .get_stream_session()
        .channel_arn(&arn)
        .stream_id(&live.stream_id)
        .send()
        .await
        .unwrap();
    let first = first.stream_session().unwrap();
    assert!(first.end_time().is_some());
    let names: Vec<&str> = first
        .truncated_events()
        .iter()
        .filter_map(|e| e.name())
        .collect();
    assert_eq!(
        names,
        [
            "Session Ended",
            "Stream End",
            "Starvation End",
            "Starvation Start",
            "Stream Start",
            "Session Created"
        ]
    );
    assert_eq!(
        first.truncated_events()[0].r#type(),
        Some("IVS Stream State Change")
    );
    assert!(first.truncated_events()[0].event_time().is_some());
    expect_err!(
        c.get_stream_session()
            .channel_arn(&arn)
            .stream_id("st-0000000000000000000000A")
            .send()
            => GetStreamSessionError::ResourceNotFoundException,
        c.get_stream_session()
            .channel_arn(&arn)
            .stream_id("bad")
            .send()
            => GetStreamSessionError::ValidationException,
    );
    let sessions = c
        .list_stream_sessions()
        .channel_arn(&arn)
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = sessions
        .stream_sessions()
        .iter()
        .filter_map(|s| s.stream_id())
        .collect();
    assert_eq!(ids, [second.stream_id.as_str(), live.stream_id.as_str()]);
    assert!(sessions.stream_sessions()[0].end_time().is_none());
    assert!(sessions.stream_sessions()[1].end_time().is_some());
    assert!(!sessions.stream_sessions()[1].has_error_event());
    expect_err!(
        c.list_stream_sessions().channel_arn(MISSING_CHANNEL).send()
            => ListStreamSessionsError::ResourceNotFoundException,
        c.list_stream_sessions()
            .channel_arn(&arn)
            .max_results(101)
            .send()
            => ListStreamSessionsError::ValidationException,
    );
}

#[tokio::test]
async fn playback_key_pair_operations() {
    let h = harness_with(5, |q| q.playback_key_pairs = 1).await;
    let c = &h.client;
    let imported = c
        .import_playback_key_pair()
        .public_key_material(P384_PUBLIC_KEY)
        .name("signer")
        .tags("use", "tokens")
        .send()
        .await
        .unwrap();
    let pair = imported.key_pair().unwrap();
    let arn = pair.arn().unwrap().to_owned();
    assert!(arn.starts_with("arn:aws:ivs:us-west-2:111122223333:playback-key/"));
    assert_eq!(pair.name(), Some("signer"));
    assert_eq!(pair.fingerprint().unwrap().split(':').count(), 16);
    assert_eq!(pair.tags().unwrap()["use"], "tokens");
    expect_err!(
        c.import_playback_key_pair()
            .public_key_material(P384_PUBLIC_KEY)
            .send()
            => ImportPlaybackKeyPairError::ConflictException,
        c.import_playback_key_pair()
            .public_key_material(OTHER_P384_PUBLIC_KEY)
            .send()
            => ImportPlaybackKeyPairError::ServiceQuotaExceededException,
        c.import_playback_key_pair()
            .public_key_material("not a key")
            .send()
            => ImportPlaybackKeyPairError::ValidationException,
    );

    let missing = "arn:aws:ivs:us-west-2:111122223333:playback-key/missing00000";
    let got = c.get_playback_key_pair().arn(&arn).send().await.unwrap();
    assert_eq!(got.key_pair().unwrap().fingerprint(), pair.fingerprint());
    expect_err!(
        c.get_playback_key_pair().arn(missing).send()
            => GetPlaybackKeyPairError::ResourceNotFoundException,
        c.get_playback_key_pair().arn("x").send() => GetPlaybackKeyPairError::ValidationException,
    );

    let listed = c.list_playback_key_pairs().send().await.unwrap();
    assert_eq!(listed.key_pairs().len(), 1);
    assert_eq!(listed.key_pairs()[0].name(), Some("signer"));
    expect_err!(
        c.list_playback_key_pairs().max_results(0).send()
            => ListPlaybackKeyPairsError::ValidationException,
    );

    expect_err!(
        c.delete_playback_key_pair().arn(missing).send()
            => DeletePlaybackKeyPairError::ResourceNotFoundException,
        c.delete_playback_key_pair().arn("x").send()
            => DeletePlaybackKeyPairError::ValidationException,
    );
    c.delete_playback_key_pair().arn(&arn).send().await.unwrap();
    // The quota has room again.
    let imported = c
        .import_playback_key_pair()
        .public_key_material(OTHER_P384_PUBLIC_KEY)
        .send()
        .await
        .unwrap();
    assert!(imported.key_pair().is_some());
}

#[tokio::test]
async fn recording_configuration_operations() {
    // CREATING for the whole test (IVS answers CreateRecordingConfiguration with CREATING);
    // `recording_configurations_become_active` follows the change to ACTIVE.
    let h = harness_from(Config {
        seed: 6,
        quotas: Quotas {
            recording_configurations: 1,
            ..Quotas::default()
        },
        rate_quotas: RateQuotas::off(),
        recording_configuration_delay: Duration::from_secs(3600),
        ..Config::default()
    })
    .await;
    let c = &h.client;
    let created = c
        .create_recording_configuration()
        .name("archive")
        .destination_configuration(destination("archive-bucket"))
        .recording_reconnect_window_seconds(0)
        .send()
        .await
        .unwrap();
    let config = created.recording_configuration().unwrap();
    let arn = config.arn().to_owned();
    assert_eq!(config.state(), &RecordingConfigurationState::Creating);
    assert_eq!(config.name(), Some("archive"));
    assert_eq!(
        config
            .destination_configuration()
            .unwrap()
            .s3()
            .unwrap()
            .bucket_name(),
        "archive-bucket"
    );
    assert_eq!(
        config
            .thumbnail_configuration()
            .unwrap()
            .target_interval_seconds(),
        Some(60)
    );
    expect_err!(
        c.create_recording_configuration()
            .destination_configuration(destination("Bad_Bucket"))
            .send()
            => CreateRecordingConfigurationError::ValidationException,
        c.create_recording_configuration()
            .destination_configuration(destination("second-bucket"))
            .send()
            => CreateRecordingConfigurationError::ServiceQuotaExceededException,
    );

    let missing = "arn:aws:ivs:us-west-2:111122223333:recording-configuration/missing00000";
    let got = c
        .get_recording_configuration()
        .arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.recording_configuration().unwrap().arn(), arn);
    assert_eq!(
        got.recording_configuration().unwrap().state(),
        &RecordingConfigurationState::Creating
    );
    expect_err!(
        c.get_recording_configuration().arn(missing).send()
            => GetRecordingConfigurationError::ResourceNotFoundException,
        c.get_recording_configuration().arn("x").send()
            => GetRecordingConfigurationError::ValidationException,
    );

    let listed = c.list_recording_configurations().send().await.unwrap();
    assert_eq!(listed.recording_configurations().len(), 1);
    assert_eq!(
        listed.recording_configurations()[0].state(),
        &RecordingConfigurationState::Creating
    );
    expect_err!(
        c.list_recording_configurations().max_results(101).send()
            => ListRecordingConfigurationsError::ValidationException,
    );

    // A channel may take a configuration that is still CREATING (what IVS does then is not
    // documented; the emulator accepts it).
    let channel = c
        .create_channel()
        .recording_configuration_arn(&arn)
        .send()
        .await
        .unwrap();
    let channel_arn = channel.channel().unwrap().arn().unwrap().to_owned();
    let filtered = c
        .list_channels()
        .filter_by_recording_configuration_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(filtered.channels().len(), 1);
    expect_err!(
        c.delete_recording_configuration().arn(&arn).send()
            => DeleteRecordingConfigurationError::ConflictException,
        c.delete_recording_configuration().arn(missing).send()
            => DeleteRecordingConfigurationError::ResourceNotFoundException,
        c.delete_recording_configuration().arn("x").send()
            => DeleteRecordingConfigurationError::ValidationException,
    );
    c.update_channel()
        .arn(&channel_arn)
        .recording_configuration_arn("")
        .send()
        .await
        .unwrap();
    c.delete_recording_configuration()
        .arn(&arn)
        .send()
        .await
        .unwrap();
    expect_err!(
        c.get_recording_configuration().arn(&arn).send()
            => GetRecordingConfigurationError::ResourceNotFoundException,
    );
}

/// A recording configuration is CREATING, then ACTIVE once the configured delay has passed, as
/// a client polling GetRecordingConfiguration sees it; with no delay, ACTIVE at once.
#[tokio::test]
async fn recording_configurations_become_active() {
    let delay = Duration::from_millis(300);
    let h = harness_from(Config {
        seed: 16,
        rate_quotas: RateQuotas::off(),
        recording_configuration_delay: delay,
        ..Config::default()
    })
    .await;
    let c = &h.client;
    let started = std::time::Instant::now();
    let created = c
        .create_recording_configuration()
        .destination_configuration(destination("archive-bucket"))
        .send()
        .await
        .unwrap();
    let arn = created.recording_configuration().unwrap().arn().to_owned();
    assert_eq!(
        created.recording_configuration().unwrap().state(),
        &RecordingConfigurationState::Creating
    );
    let mut states = Vec::new();
    loop {
        let got = c
            .get_recording_configuration()
            .arn(&arn)
            .send()
            .await
            .unwrap();
        let state = got.recording_configuration().unwrap().state().clone();
        if states.last() != Some(&state) {
            states.push(state.clone());
        }
        if state == RecordingConfigurationState::Active {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still {state:?} after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started.elapsed() >= delay, "ACTIVE before the delay");
    assert_eq!(
        states.last(),
        Some(&RecordingConfigurationState::Active),
        "{states:?}"
    );
    assert!(
        states.iter().all(|s| [
            RecordingConfigurationState::Creating,
            RecordingConfigurationState::Active
        ]
        .contains(s)),
        "{states:?}"
    );
    let listed = c.list_recording_configurations().send().await.unwrap();
    assert_eq!(
        listed.recording_configurations()[0].state(),
        &RecordingConfigurationState::Active
    );

    let immediate = harness_from(Config {
        seed: 16,
        rate_quotas: RateQuotas::off(),
        recording_configuration_delay: Duration::ZERO,
        ..Config::default()
    })
    .await;
    let created = immediate
        .client
        .create_recording_configuration()
        .destination_configuration(destination("archive-bucket"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.recording_configuration().unwrap().state(),
        &RecordingConfigurationState::Active
    );
}

fn media_tailor(name: &str) -> MediaTailorPlaybackConfiguration {
    MediaTailorPlaybackConfiguration::builder()
        .playback_configuration_arn(format!(
            "arn:aws:mediatailor:us-west-2:111122223333:playbackConfiguration/{name}"
        ))
        .build()
}

/// Ad configurations (a minimal record: the MediaTailor playback configurations are not looked
/// up) and the channel's `adConfigurationArn`, carried by every operation that returns a channel.
/// InsertAdBreak is not emulated: UnknownOperationException, saying so.
#[tokio::test]
async fn ad_configuration_operations() {
    let h = harness().await;
    let c = &h.client;
    let missing = "arn:aws:ivs:us-west-2:111122223333:ad-configuration/missing00000";

    // CreateAdConfiguration
    let created = c
        .create_ad_configuration()
        .name("ads")
        .media_tailor_playback_configurations(media_tailor("primary"))
        .tags("team", "ads")
        .send()
        .await
        .unwrap();
    let config = created.ad_configuration().unwrap();
    let arn = config.arn().to_owned();
    assert!(arn.starts_with(&format!("arn:aws:ivs:{REGION}:{ACCOUNT}:ad-configuration/")));
    assert_eq!(config.name(), Some("ads"));
    assert_eq!(config.media_tailor_playback_configurations().len(), 1);
    assert!(config.post_roll_configuration().is_none());
    assert_eq!(config.tags().unwrap()["team"], "ads");
    expect_err!(
        c.create_ad_configuration().send() => CreateAdConfigurationError::ValidationException,
        c.create_ad_configuration()
            .media_tailor_playback_configurations(
                MediaTailorPlaybackConfiguration::builder()
                    .playback_configuration_arn("arn:aws:mediatailor:us-west-2:1:channel/x")
                    .build(),
            )
            .send()
            => CreateAdConfigurationError::ValidationException,
    );

    // GetAdConfiguration, ListAdConfigurations
    let got = c.get_ad_configuration().arn(&arn).send().await.unwrap();
    assert_eq!(got.ad_configuration().unwrap().name(), Some("ads"));
    expect_err!(
        c.get_ad_configuration().arn(missing).send()
            => GetAdConfigurationError::ResourceNotFoundException,
        c.get_ad_configuration().arn(MISSING_CHANNEL).send()
            => GetAdConfigurationError::ValidationException,
    );
    let listed = c.list_ad_configurations().send().await.unwrap();
    assert_eq!(listed.ad_configurations().len(), 1);
    assert_eq!(listed.ad_configurations()[0].arn(), arn);
    expect_err!(
        c.list_ad_configurations().max_results(101).send()
            => ListAdConfigurationsError::ValidationException,
    );

    // UpdateAdConfiguration
    let updated = c
        .update_ad_configuration()
        .arn(&arn)
        .media_tailor_playback_configurations(media_tailor("primary"))
        .media_tailor_playback_configurations(media_tailor("backup"))
        .post_roll_configuration(
            PostRollConfiguration::builder()
                .duration_seconds(30)
                .enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let updated = updated.ad_configuration().unwrap();
    assert_eq!(updated.name(), Some("ads"), "members not given stay");
    assert_eq!(updated.media_tailor_playback_configurations().len(), 2);
    let post_roll = updated.post_roll_configuration().unwrap();
    assert_eq!(
        (post_roll.duration_seconds(), post_roll.enabled()),
        (30, true)
    );
    expect_err!(
        c.update_ad_configuration().arn(missing).send()
            => UpdateAdConfigurationError::ResourceNotFoundException,
        c.update_ad_configuration().arn(&arn).name("bad name!").send()
            => UpdateAdConfigurationError::ValidationException,
    );

    // The channel's adConfigurationArn: created, returned, filtered, updated.
    let channel = c
        .create_channel()
        .ad_configuration_arn(&arn)
        .send()
        .await
        .unwrap();
    let channel = channel.channel().unwrap();
    assert_eq!(channel.ad_configuration_arn(), Some(arn.as_str()));
    let channel_arn = channel.arn().unwrap().to_owned();
    let got = c.get_channel().arn(&channel_arn).send().await.unwrap();
    assert_eq!(
        got.channel().unwrap().ad_configuration_arn(),
        Some(arn.as_str())
    );
    let batch = c
        .batch_get_channel()
        .arns(&channel_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        batch.channels()[0].ad_configuration_arn(),
        Some(arn.as_str())
    );
    let filtered = c
        .list_channels()
        .filter_by_ad_configuration_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(filtered.channels().len(), 1);
    assert_eq!(
        filtered.channels()[0].ad_configuration_arn(),
        Some(arn.as_str())
    );
    assert_eq!(
        filtered.channels()[0].failover_slate_configuration_arn(),
        Some("")
    );
    expect_err!(
        c.create_channel().ad_configuration_arn(missing).send()
            => CreateChannelError::ResourceNotFoundException,
        c.create_channel().ad_configuration_arn(MISSING_CHANNEL).send()
            => CreateChannelError::ValidationException,
        c.update_channel().arn(&channel_arn).ad_configuration_arn(missing).send()
            => UpdateChannelError::ResourceNotFoundException,
        c.create_channel()
            .failover_slate_configuration_arn(
                "arn:aws:ivs:us-west-2:111122223333:failover-slate-configuration/missing00000",
            )
            .send()
            => CreateChannelError::ResourceNotFoundException,
        c.list_channels()
            .filter_by_name("x")
            .filter_by_ad_configuration_arn(&arn)
            .send()
            => ListChannelsError::ConflictException,
    );
    let unchanged = c
        .update_channel()
        .arn(&channel_arn)
        .name("renamed")
        .send()
        .await
        .unwrap();
    assert_eq!(
        unchanged.channel().unwrap().ad_configuration_arn(),
        Some(arn.as_str()),
        "an update without adConfigurationArn keeps it"
    );

    // DeleteAdConfiguration: refused while a channel uses it.
    expect_err!(
        c.delete_ad_configuration().arn(&arn).send()
            => DeleteAdConfigurationError::ConflictException,
        c.delete_ad_configuration().arn(missing).send()
            => DeleteAdConfigurationError::ResourceNotFoundException,
    );
    let detached = c
        .update_channel()
        .arn(&channel_arn)
        .ad_configuration_arn("")
        .send()
        .await
        .unwrap();
    assert_eq!(detached.channel().unwrap().ad_configuration_arn(), Some(""));
    c.delete_ad_configuration().arn(&arn).send().await.unwrap();
    expect_err!(
        c.get_ad_configuration().arn(&arn).send()
            => GetAdConfigurationError::ResourceNotFoundException,
    );

    // InsertAdBreak is not emulated.
    let err = c
        .insert_ad_break()
        .channel_arn(&channel_arn)
        .duration_seconds(30)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("UnknownOperationException"));
    assert_eq!(
        err.message(),
        Some("InsertAdBreak is an IVS operation that ivs-emulator does not implement")
    );
    assert!(ivs_emulator::NOT_EMULATED.contains(&"InsertAdBreak"));
}

#[tokio::test]
async fn playback_restriction_policy_operations() {
    let h = harness_with(8, |q| q.playback_restriction_policies = 1).await;
    let c = &h.client;
    let created = c
        .create_playback_restriction_policy()
        .allowed_countries("US")
        .allowed_origins("https://example.com")
        .name("geo")
        .send()
        .await
        .unwrap();
    let policy = created.playback_restriction_policy().unwrap();
    let arn = policy.arn().to_owned();
    assert_eq!(policy.allowed_countries(), ["US"]);
    assert_eq!(policy.enable_strict_origin_enforcement(), Some(false));
    expect_err!(
        c.create_playback_restriction_policy()
            .allowed_countries("USA")
            .send()
            => CreatePlaybackRestrictionPolicyError::ValidationException,
        c.create_playback_restriction_policy().send()
            => CreatePlaybackRestrictionPolicyError::ServiceQuotaExceededException,
    );

    let missing = "arn:aws:ivs:us-west-2:111122223333:playback-restriction-policy/missing00000";
    let got = c
        .get_playback_restriction_policy()
        .arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.playback_restriction_policy().unwrap().name(),
        Some("geo")
    );
    expect_err!(
        c.get_playback_restriction_policy().arn(missing).send()
            => GetPlaybackRestrictionPolicyError::ResourceNotFoundException,
        c.get_playback_restriction_policy().arn("x").send()
            => GetPlaybackRestrictionPolicyError::ValidationException,
    );

    let listed = c.list_playback_restriction_policies().send().await.unwrap();
    assert_eq!(listed.playback_restriction_policies().len(), 1);
    expect_err!(
        c.list_playback_restriction_policies().max_results(0).send()
            => ListPlaybackRestrictionPoliciesError::ValidationException,
    );

    let updated = c
        .update_playback_restriction_policy()
        .arn(&arn)
        .enable_strict_origin_enforcement(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        updated
            .playback_restriction_policy()
            .unwrap()
            .enable_strict_origin_enforcement(),
        Some(true)
    );
    assert_eq!(
        updated
            .playback_restriction_policy()
            .unwrap()
            .allowed_countries(),
        ["US"]
    );
    expect_err!(
        c.update_playback_restriction_policy().arn(missing).send()
            => UpdatePlaybackRestrictionPolicyError::ResourceNotFoundException,
        c.update_playback_restriction_policy()
            .arn(&arn)
            .name("bad name!")
            .send()
            => UpdatePlaybackRestrictionPolicyError::ValidationException,
    );

    let channel = c
        .create_channel()
        .playback_restriction_policy_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        channel.channel().unwrap().playback_restriction_policy_arn(),
        Some(arn.as_str())
    );
    expect_err!(
        c.delete_playback_restriction_policy().arn(&arn).send()
            => DeletePlaybackRestrictionPolicyError::ConflictException,
        c.delete_playback_restriction_policy().arn(missing).send()
            => DeletePlaybackRestrictionPolicyError::ResourceNotFoundException,
        c.delete_playback_restriction_policy().arn("x").send()
            => DeletePlaybackRestrictionPolicyError::ValidationException,
    );
    let channel_arn = channel.channel().unwrap().arn().unwrap();
    c.update_channel()
        .arn(channel_arn)
        .playback_restriction_policy_arn("")
        .send()
        .await
        .unwrap();
    c.delete_playback_restriction_policy()
        .arn(&arn)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn tagging_operations() {
    let h = harness().await;
    let c = &h.client;
    let created = c.create_channel().tags("a", "1").send().await.unwrap();
    let arn = created.channel().unwrap().arn().unwrap().to_owned();
    let key_arn = created.stream_key().unwrap().arn().unwrap().to_owned();

    c.tag_resource()
        .resource_arn(&arn)
        .tags("b", "2")
        .tags("c", "")
        .send()
        .await
        .unwrap();
    let tags_of = |arn: &str| c.list_tags_for_resource().resource_arn(arn).send();
    let listed = tags_of(&arn).await.unwrap();
    assert_eq!(listed.tags().len(), 3);
    assert_eq!(listed.tags()["b"], "2");
    c.untag_resource()
        .resource_arn(&arn)
        .tag_keys("a")
        .tag_keys("c")
        .send()
        .await
        .unwrap();
    let listed = tags_of(&arn).await.unwrap();
    assert_eq!(listed.tags().keys().collect::<Vec<_>>(), ["b"]);
    c.tag_resource()
        .resource_arn(&key_arn)
        .tags("key", "tag")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&key_arn).await.unwrap().tags()["key"], "tag");

    expect_err!(
        c.list_tags_for_resource()
            .resource_arn(MISSING_CHANNEL)
            .send()
            => ListTagsForResourceError::ResourceNotFoundException,
        c.list_tags_for_resource().resource_arn("not-an-arn").send()
            => ListTagsForResourceError::ValidationException,
    );

    let mut too_many = c.tag_resource().resource_arn(&arn);
    for i in 0..50 {
        too_many = too_many.tags(format!("k{i}"), "v");
    }
    expect_err!(
        too_many.send() => TagResourceError::ValidationException,
        c.tag_resource()
            .resource_arn(&arn)
            .tags("aws:reserved", "x")
            .send()
            => TagResourceError::ValidationException,
        c.tag_resource()
            .resource_arn(&arn)
            .tags("k".repeat(129), "x")
            .send()
            => TagResourceError::ValidationException,
        c.tag_resource()
            .resource_arn(MISSING_CHANNEL)
            .tags("a", "b")
            .send()
            => TagResourceError::ResourceNotFoundException,
    );

    expect_err!(
        c.untag_resource()
            .resource_arn(MISSING_CHANNEL)
            .tag_keys("a")
            .send()
            => UntagResourceError::ResourceNotFoundException,
        c.untag_resource()
            .resource_arn(&arn)
            .tag_keys("aws:x")
            .send()
            => UntagResourceError::ValidationException,
    );
}

#[tokio::test]
async fn viewer_session_revocation_operations() {
    let h = harness().await;
    let c = &h.client;
    let arn = c
        .create_channel()
        .authorized(true)
        .send()
        .await
        .unwrap()
        .channel()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    c.start_viewer_session_revocation()
        .channel_arn(&arn)
        .viewer_id("viewer-1")
        .viewer_session_versions_less_than_or_equal_to(3)
        .send()
        .await
        .unwrap();
    let revocations = h.emulator.revocations();
    assert_eq!(revocations[0].viewer_id, "viewer-1");
    assert_eq!(
        revocations[0].viewer_session_versions_less_than_or_equal_to,
        3
    );
    expect_err!(
        c.start_viewer_session_revocation()
            .channel_arn(MISSING_CHANNEL)
            .viewer_id("v")
            .send()
            => StartViewerSessionRevocationError::ResourceNotFoundException,
        c.start_viewer_session_revocation()
            .channel_arn(&arn)
            .viewer_id("v".repeat(41))
            .send()
            => StartViewerSessionRevocationError::ValidationException,
    );

    let session = |channel: &str, viewer: &str| {
        BatchStartViewerSessionRevocationViewerSession::builder()
            .channel_arn(channel)
            .viewer_id(viewer)
            .build()
            .unwrap()
    };
    let batch = c
        .batch_start_viewer_session_revocation()
        .viewer_sessions(session(&arn, "viewer-2"))
        .viewer_sessions(session(MISSING_CHANNEL, "viewer-3"))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.errors().len(), 1);
    assert_eq!(batch.errors()[0].channel_arn(), MISSING_CHANNEL);
    assert_eq!(batch.errors()[0].viewer_id(), "viewer-3");
    assert_eq!(batch.errors()[0].code(), Some("ResourceNotFoundException"));
    expect_err!(
        c.batch_start_viewer_session_revocation().send()
            => BatchStartViewerSessionRevocationError::ValidationException,
    );
    assert_eq!(h.emulator.revocations().len(), 2);
}

/// Errors that cannot happen locally (AccessDenied, PendingVerification, 500s, 503s…), scripted
/// with `Emulator::fail_next` for the next call of each operation: the emulator answers them
/// before it reads the request, so the resources named need not exist. Each arrives as the
/// operation's typed error variant.
#[tokio::test]
async fn scripted_errors_arrive_as_typed_variants() {
    let h = harness().await;
    let c = &h.client;
    let arn = |kind: &str| format!("arn:aws:ivs:us-west-2:111122223333:{kind}/missing00000");
    let (key, recording, policy, key_pair, ads) = (
        arn("stream-key"),
        arn("recording-configuration"),
        arn("playback-restriction-policy"),
        arn("playback-key"),
        arn("ad-configuration"),
    );
    let session = BatchStartViewerSessionRevocationViewerSession::builder()
        .channel_arn(MISSING_CHANNEL)
        .viewer_id("v")
        .build()
        .unwrap();
    scripted!(h, [
        c.create_channel().send() => CreateChannelError[AccessDeniedException, PendingVerification],
        c.get_channel().arn(MISSING_CHANNEL).send() => GetChannelError[AccessDeniedException],
        c.batch_get_channel().arns(MISSING_CHANNEL).send()
            => BatchGetChannelError[AccessDeniedException, ServiceUnavailable],
        c.list_channels().send() => ListChannelsError[AccessDeniedException],
        c.update_channel().arn(MISSING_CHANNEL).send()
            => UpdateChannelError[AccessDeniedException, PendingVerification],
        c.delete_channel().arn(MISSING_CHANNEL).send()
            => DeleteChannelError[AccessDeniedException, PendingVerification],
        c.create_stream_key().channel_arn(MISSING_CHANNEL).send()
            => CreateStreamKeyError[AccessDeniedException, PendingVerification],
        c.get_stream_key().arn(&key).send() => GetStreamKeyError[AccessDeniedException],
        c.batch_get_stream_key().arns(&key).send()
            => BatchGetStreamKeyError[AccessDeniedException, ServiceUnavailable],
        c.list_stream_keys().channel_arn(MISSING_CHANNEL).send()
            => ListStreamKeysError[AccessDeniedException],
        c.delete_stream_key().arn(&key).send()
            => DeleteStreamKeyError[AccessDeniedException, PendingVerification],
        c.get_stream().channel_arn(MISSING_CHANNEL).send()
            => GetStreamError[AccessDeniedException],
        c.list_streams().send() => ListStreamsError[AccessDeniedException],
        c.put_metadata().channel_arn(MISSING_CHANNEL).metadata("x").send()
            => PutMetadataError[AccessDeniedException],
        c.stop_stream().channel_arn(MISSING_CHANNEL).send()
            => StopStreamError[AccessDeniedException, StreamUnavailable],
        c.get_stream_session().channel_arn(MISSING_CHANNEL).send()
            => GetStreamSessionError[AccessDeniedException],
        c.list_stream_sessions().channel_arn(MISSING_CHANNEL).send()
            => ListStreamSessionsError[AccessDeniedException],
        c.import_playback_key_pair().public_key_material(OTHER_P384_PUBLIC_KEY).send()
            => ImportPlaybackKeyPairError[AccessDeniedException, PendingVerification],
        c.get_playback_key_pair().arn(&key_pair).send()
            => GetPlaybackKeyPairError[AccessDeniedException],
        c.list_playback_key_pairs().send() => ListPlaybackKeyPairsError[AccessDeniedException],
        c.delete_playback_key_pair().arn(&key_pair).send()
            => DeletePlaybackKeyPairError[AccessDeniedException, PendingVerification],
        c.create_recording_configuration()
            .destination_configuration(destination("x-bucket"))
            .send()
            => CreateRecordingConfigurationError[
                AccessDeniedException, ConflictException,
                InternalServerException, PendingVerification,
            ],
        c.get_recording_configuration().arn(&recording).send()
            => GetRecordingConfigurationError[AccessDeniedException, InternalServerException],
        c.list_recording_configurations().send()
            => ListRecordingConfigurationsError[AccessDeniedException, InternalServerException],
        c.delete_recording_configuration().arn(&recording).send()
            => DeleteRecordingConfigurationError[AccessDeniedException, InternalServerException],
        c.create_playback_restriction_policy().send()
            => CreatePlaybackRestrictionPolicyError[
                AccessDeniedException, PendingVerification,
                ThrottlingException,
            ],
        c.get_playback_restriction_policy().arn(&policy).send()
            => GetPlaybackRestrictionPolicyError[AccessDeniedException, PendingVerification],
        c.list_playback_restriction_policies().send()
            => ListPlaybackRestrictionPoliciesError[
                AccessDeniedException, ConflictException,
                PendingVerification,
            ],
        c.update_playback_restriction_policy().arn(&policy).send()
            => UpdatePlaybackRestrictionPolicyError[
                AccessDeniedException, ConflictException,
                PendingVerification,
            ],
        c.delete_playback_restriction_policy().arn(&policy).send()
            => DeletePlaybackRestrictionPolicyError[AccessDeniedException, PendingVerification],
        c.create_ad_configuration().media_tailor_playback_configurations(media_tailor("x")).send()
            => CreateAdConfigurationError[
                AccessDeniedException, ConflictException, InternalServerException,
                PendingVerification, ServiceQuotaExceededException, ThrottlingException,
            ],
        c.get_ad_configuration().arn(&ads).send()
            => GetAdConfigurationError[AccessDeniedException, InternalServerException],
        c.list_ad_configurations().send()
            => ListAdConfigurationsError[AccessDeniedException, InternalServerException],
        c.update_ad_configuration().arn(&ads).send()
            => UpdateAdConfigurationError[
                AccessDeniedException, ConflictException, InternalServerException,
                PendingVerification, ServiceQuotaExceededException, ThrottlingException,
            ],
        c.delete_ad_configuration().arn(&ads).send()
            => DeleteAdConfigurationError[AccessDeniedException, InternalServerException],
        c.list_tags_for_resource().resource_arn(MISSING_CHANNEL).send()
            => ListTagsForResourceError[InternalServerException],
        c.tag_resource().resource_arn(MISSING_CHANNEL).tags("a", "b").send()
            => TagResourceError[InternalServerException],
        c.untag_resource().resource_arn(MISSING_CHANNEL).tag_keys("b").send()
            => UntagResourceError[InternalServerException],
        c.start_viewer_session_revocation().channel_arn(MISSING_CHANNEL).viewer_id("v").send()
            => StartViewerSessionRevocationError[
                AccessDeniedException, InternalServerException,
                PendingVerification, ThrottlingException,
            ],
        c.batch_start_viewer_session_revocation().viewer_sessions(session.clone()).send()
            => BatchStartViewerSessionRevocationError[
                AccessDeniedException, PendingVerification,
                ThrottlingException,
            ],
    ]);
}

/// One raw HTTP/1.1 request; returns the status line and the rest of the answer.
fn raw_request(addr: std::net::SocketAddr, request: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (status, rest) = answer.split_once("\r\n").unwrap_or((&answer, ""));
    (status.to_owned(), rest.to_owned())
}

#[tokio::test]
async fn unsigned_requests_are_refused() {
    let h = harness().await;
    let addr = h.server.addr();
    let (status, rest) = tokio::task::spawn_blocking(move || {
        raw_request(
            addr,
            "POST /ListChannels HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        )
    })
    .await
    .unwrap();
    assert_eq!(status, "HTTP/1.1 403 Forbidden");
    assert!(
        rest.to_ascii_lowercase()
            .contains("x-amzn-errortype: missingauthenticationtokenexception"),
        "{rest}"
    );
    // A client signing for another region is refused too.
    let elsewhere = aws_sdk_ivs::Client::from_conf(
        aws_sdk_ivs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new(
                "AKIDTEST",
                "test-secret",
                None,
                None,
                "tests",
            ))
            .endpoint_url(h.server.url())
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let err = elsewhere
        .list_channels()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidSignatureException"));
}

#[tokio::test]
async fn pagination_walks_every_page() {
    let h = harness().await;
    let c = &h.client;
    let mut created = Vec::new();
    for i in 0..7 {
        let channel = c
            .create_channel()
            .name(format!("ch-{i}"))
            .send()
            .await
            .unwrap();
        created.push(channel.channel().unwrap().arn().unwrap().to_owned());
    }
    let pages: Vec<_> = c
        .list_channels()
        .max_results(2)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(pages.len(), 4);
    let mut seen: Vec<String> = pages
        .into_iter()
        .flat_map(|page| {
            page.unwrap()
                .channels()
                .iter()
                .filter_map(|ch| ch.arn().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect();
    seen.sort();
    created.sort();
    assert_eq!(seen, created);

    // ListStreamKeys pages one key at a time by default.
    let first = c
        .list_stream_keys()
        .channel_arn(&created[0])
        .send()
        .await
        .unwrap();
    assert_eq!(first.stream_keys().len(), 1);
    assert!(first.next_token().is_none());

    // Stream sessions, newest first, across pages.
    let key = c
        .batch_get_stream_key()
        .arns(first.stream_keys()[0].arn().unwrap())
        .send()
        .await
        .unwrap();
    let key = key.stream_keys()[0].value().unwrap().to_owned();
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(h.emulator.connect(&key).unwrap().stream_id);
        h.emulator.disconnect(&created[0]).unwrap();
    }
    streams.reverse();
    let mut token = None;
    let mut listed = Vec::new();
    loop {
        let page = c
            .list_stream_sessions()
            .channel_arn(&created[0])
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        listed.extend(
            page.stream_sessions()
                .iter()
                .filter_map(|s| s.stream_id().map(str::to_owned)),
        );
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(listed, streams);
}

fn event_names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let detail = &e["detail"];
            detail["event_name"]
                .as_str()
                .or(detail["recording_status"].as_str())
                .or(detail["limit_name"].as_str())
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn events_follow_ivs_sequences_with_full_envelopes() {
    let h = harness().await;
    let c = &h.client;
    let config = c
        .create_recording_configuration()
        .destination_configuration(destination("recordings"))
        .send()
        .await
        .unwrap();
    let config_arn = config.recording_configuration().unwrap().arn().to_owned();
    let created = c
        .create_channel()
        .name("demo")
        .recording_configuration_arn(&config_arn)
        .send()
        .await
        .unwrap();
    let arn = created.channel().unwrap().arn().unwrap().to_owned();
    let channel_id = arn.rsplit('/').next().unwrap().to_owned();
    let key = created.stream_key().unwrap().value().unwrap().to_owned();
    let mut events = h.emulator.subscribe();

    let first = h.emulator.connect(&key).unwrap();
    h.emulator.starve(&arn).unwrap();
    h.emulator.recover(&arn).unwrap();
    h.emulator.breach(Some(&arn), "Ingest Bitrate").unwrap();
    h.emulator.breach(None, "Concurrent Broadcasts").unwrap();
    h.emulator.disconnect(&arn).unwrap();
    h.emulator
        .fail_next_recording(&arn, RecordingFailure::End)
        .unwrap();
    let second = h.emulator.connect(&key).unwrap();
    c.stop_stream().channel_arn(&arn).send().await.unwrap();

    let received = events.drain();
    assert_eq!(
        event_names(&received),
        [
            "Session Created",
            "Stream Start",
            "Recording Start",
            "Starvation Start",
            "Starvation End",
            "Ingest Bitrate",
            "Concurrent Broadcasts",
            "Stream End",
            "Session Ended",
            "Recording End",
            "Session Created",
            "Stream Start",
            "Recording Start",
            "Stream End",
            "Session Ended",
            "Recording End Failure",
        ]
    );
    for event in &received {
        assert_eq!(event["version"], "0");
        assert_eq!(event["source"], "aws.ivs");
        assert_eq!(event["account"], ACCOUNT);
        assert_eq!(event["region"], REGION);
        assert_eq!(event["id"].as_str().unwrap().len(), 36);
        let time = event["time"].as_str().unwrap();
        assert!(
            time.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(time).is_ok(),
            "{time}"
        );
    }
    let by_name = |name: &str| {
        received
            .iter()
            .find(|e| event_names(std::slice::from_ref(e))[0] == name)
            .unwrap()
    };
    assert_eq!(
        by_name("Stream Start"),
        &json!({
            "version": "0", "id": by_name("Stream Start")["id"], "detail-type": "IVS Stream State Change",
            "source": "aws.ivs", "account": ACCOUNT, "time": by_name("Stream Start")["time"], "region": REGION,
            "resources": [arn], "detail": {"event_name": "Stream Start", "channel_name": "demo", "stream_id": first.stream_id}
        })
    );
    assert_eq!(
        by_name("Starvation Start")["detail-type"],
        "IVS Stream Health Change"
    );
    let bitrate = by_name("Ingest Bitrate");
    assert_eq!(bitrate["detail-type"], "IVS Limit Breach");
    assert_eq!(bitrate["resources"], json!([arn]));
    assert_eq!(bitrate["detail"]["limit_unit"], "bits per second");
    assert_eq!(bitrate["detail"]["stream_id"], first.stream_id.as_str());
    let broadcasts = by_name("Concurrent Broadcasts");
    assert_eq!(broadcasts["resources"], json!([]));
    assert!(
        broadcasts["detail"].get("channel_name").is_none()
            && broadcasts["detail"].get("stream_id").is_none()
    );
    let start = by_name("Recording Start");
    assert_eq!(start["detail-type"], "IVS Recording State Change");
    let prefix = start["detail"]["recording_s3_key_prefix"].as_str().unwrap();
    assert!(
        prefix.starts_with(&format!("ivs/v1/{ACCOUNT}/{channel_id}/")),
        "{prefix}"
    );
    let end = by_name("Recording End");
    assert_eq!(
        end["detail"]["recording_session_id"],
        start["detail"]["recording_session_id"]
    );
    assert_eq!(
        end["detail"]["recording_session_stream_ids"],
        json!([first.stream_id])
    );
    assert_eq!(end["detail"]["recording_s3_bucket_name"], "recordings");
    let failure = by_name("Recording End Failure");
    assert_eq!(failure["detail"]["stream_id"], second.stream_id.as_str());
    assert_eq!(
        failure["detail"]["recording_status_reason"],
        "InternalServerException"
    );

    // The serialized log keeps IVS's field order.
    let log = h.emulator.events_json();
    let first_event = &log[..log.find("},{").unwrap()];
    let order = "version id detail-type source account time region resources detail";
    let positions: Vec<usize> = order
        .split(' ')
        .map(|k| first_event.find(&format!("\"{k}\"")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{first_event}");
    assert_eq!(h.emulator.events().len(), received.len());
}

async fn fault_outcomes(seed: u64) -> (Vec<String>, ivs_emulator::Stats) {
    let faults = FaultConfig {
        rules: vec!["*:throttle=0.3,error500=0.2,unavailable=0.1"
            .parse()
            .unwrap()],
    };
    let h = harness_from(Config {
        seed,
        faults,
        // 40 calls back to back: the rate quota would refuse most before the faults are drawn.
        rate_quotas: RateQuotas::off(),
        ..Config::default()
    })
    .await;
    let mut outcomes = Vec::new();
    for _ in 0..40 {
        let outcome = match h.client.list_channels().send().await {
            Ok(_) => "ok".to_owned(),
            Err(err) => err.into_service_error().code().unwrap_or("?").to_owned(),
        };
        outcomes.push(outcome);
    }
    (outcomes, h.emulator.stats())
}

#[tokio::test]
async fn fault_injection_is_reproducible_with_a_seed() {
    let (first, stats) = fault_outcomes(1234).await;
    let (again, _) = fault_outcomes(1234).await;
    assert_eq!(first, again);
    let (other, _) = fault_outcomes(4321).await;
    assert_ne!(first, other, "another seed draws another sequence");
    for outcome in &first {
        assert!(
            [
                "ok",
                "ThrottlingException",
                "InternalServerException",
                "ServiceUnavailable"
            ]
            .contains(&outcome.as_str()),
            "{outcome}"
        );
    }
    let count = |name: &str| first.iter().filter(|o| *o == name).count() as u64;
    let faults = &stats.operations["ListChannels"].faults;
    assert_eq!(faults.throttle, count("ThrottlingException"));
    assert_eq!(faults.error500, count("InternalServerException"));
    assert_eq!(faults.unavailable, count("ServiceUnavailable"));
    assert!(count("ok") > 0 && count("ok") < 40, "{first:?}");
}
