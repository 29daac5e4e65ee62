//! The sweeper against the IVS emulator with event delivery off (every end event is missed):
//! missed rotations happen exactly once per stream, overdue streams are stopped (keys revoked
//! when asked), idle keys are dated then rotated by age with the rotation marker carried
//! forward, suspended channels are left alone; and the pure plan for the edge cases.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{TimeDelta, Utc};
use domain::arn::{IvsArn, ResourceType};
use domain::policy::tags;
use domain::rotation::{RotationMarker, TAG_CREATED_AT, TAG_ROTATED_AFTER_STREAM};
use domain::sweep::{
    plan, tags as sweep_tags, ChannelSnapshot, EndedStream, KeySnapshot, LiveStream, SweepAction,
    SweepSettings,
};
use ivs_adapter::{Automation, STREAM_EVENTS};
use ivs_emulator::{Config, Emulator, RateQuotas, SeedSpec, Server};
use lambda_runtime::{Context, LambdaEvent};
use sweeper::Sweeper;
use test_support::moto::Moto;
use test_support::*;

fn sweep_settings(revoke: bool) -> SweepSettings {
    SweepSettings {
        max_stream: None,
        revoke_on_max_duration: revoke,
        key_rotation: None,
        calls_per_second: 50,
    }
}

async fn keys(
    client: &aws_sdk_ivs::Client,
    channel: &str,
) -> Vec<(String, HashMap<String, String>)> {
    client
        .list_stream_keys()
        .channel_arn(channel)
        .send()
        .await
        .unwrap()
        .stream_keys()
        .iter()
        .map(|k| {
            (
                k.arn().unwrap().to_owned(),
                k.tags().cloned().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_reconciles_what_events_missed() {
    // The sweeper here paces at 50 calls per second, ten times IVS's 5: the rate quotas are
    // scaled by the same factor, as its budget would be.
    let (emulator, server) = start_emulator_with(Config {
        seed: 17,
        rate_quotas: RateQuotas::scaled(10.0),
        ..Config::default()
    })
    .await;
    let client = ivs_client(&server.url());
    let sweeper = |revoke| {
        Sweeper::new(
            fast_ivs(ivs_client(&server.url()), 3),
            settings(&[]),
            sweep_settings(revoke),
        )
    };

    // A channel that rotates after each stream, whose Stream End was never delivered.
    let (rotating, key) = create_channel(
        &client,
        "sweep-rotating",
        &[(tags::ROTATE_KEY_ON, "stream-end")],
    )
    .await;
    let live = emulator.connect(&key).unwrap();
    emulator.disconnect(&rotating).unwrap();
    // A channel whose stream must end after 30 minutes, and one of 10 minutes with keys revoked.
    let (overdue, overdue_key) = create_channel(
        &client,
        "sweep-overdue",
        &[(sweep_tags::MAX_STREAM_MINUTES, "30")],
    )
    .await;
    emulator.connect(&overdue_key).unwrap();
    let (revoked, revoked_key) = create_channel(
        &client,
        "sweep-revoked",
        &[(sweep_tags::MAX_STREAM_MINUTES, "10")],
    )
    .await;
    emulator.connect(&revoked_key).unwrap();
    // An idle channel whose key is rotated every day, and a suspended one.
    let (idle, _) = create_channel(
        &client,
        "sweep-idle",
        &[(sweep_tags::KEY_ROTATION_DAYS, "1")],
    )
    .await;
    let (suspended, _) = create_channel(
        &client,
        "sweep-suspended",
        &[
            (tags::SUSPENDED, "true"),
            (tags::ROTATE_KEY_ON, "stream-end"),
            (sweep_tags::KEY_ROTATION_DAYS, "1"),
        ],
    )
    .await;

    // Now: the missed rotation happens, the idle keys are dated, nothing is overdue yet.
    let now = Utc::now();
    let first = sweeper(false).run(now).await.unwrap();
    assert_eq!(first.channels_seen, 5);
    assert_eq!(first.live_streams_seen, 2);
    assert_eq!(first.missed_rotations, 1);
    assert_eq!(first.streams_stopped, 0);
    assert_eq!(
        first.keys_dated, 1,
        "the idle channel's key; the suspended one is left alone"
    );
    assert_eq!(first.failures, 0);
    assert!(first.complete);
    assert_eq!(first.stopped_after, None);
    let rotated = keys(&client, &rotating).await;
    assert_eq!(rotated.len(), 1);
    assert_eq!(
        rotated[0].1.get(TAG_ROTATED_AFTER_STREAM),
        Some(&live.stream_id)
    );
    assert!(!keys(&client, &suspended).await[0]
        .1
        .contains_key(TAG_CREATED_AT));

    // Exactly once: a second sweep does not rotate again, and the late end event does nothing.
    let second = sweeper(false).run(now).await.unwrap();
    assert_eq!((second.missed_rotations, second.keys_dated), (0, 0));
    assert_eq!(keys(&client, &rotating).await, rotated);
    let stream_end = emulator
        .events()
        .into_iter()
        .find(|e| {
            e["resources"][0] == rotating.as_str() && e["detail"]["event_name"] == "Stream End"
        })
        .unwrap();
    let automation = Automation::new(
        fast_ivs(ivs_client(&server.url()), 3),
        settings(&[]),
        STREAM_EVENTS,
    );
    let late = automation.handle_value(stream_end).await.unwrap();
    assert_eq!(late.actions[0].outcome, "already_rotated");
    assert_eq!(keys(&client, &rotating).await, rotated);

    // 20 minutes on: only the 10-minute stream is overdue; with revocation its key goes too.
    let later = sweeper(true)
        .run(now + TimeDelta::minutes(20))
        .await
        .unwrap();
    assert_eq!(later.streams_stopped, 1);
    assert!(
        keys(&client, &revoked).await.is_empty(),
        "key revoked before the stop"
    );
    assert!(emulator.connect(&revoked_key).is_err());
    // 31 minutes on: the 30-minute stream is stopped too (its key kept: no revocation asked).
    let later = sweeper(false)
        .run(now + TimeDelta::minutes(31))
        .await
        .unwrap();
    assert_eq!(later.streams_stopped, 1);
    assert_eq!(keys(&client, &overdue).await.len(), 1);
    assert!(client
        .get_stream()
        .channel_arn(&overdue)
        .send()
        .await
        .is_err());

    // Two days on: the idle channel's key is older than a day: rotated once, dated anew.
    let idle_before = keys(&client, &idle).await;
    let days = now + TimeDelta::days(2);
    let aged = sweeper(false).run(days).await.unwrap();
    assert_eq!(aged.idle_keys_rotated, 1);
    let idle_after = keys(&client, &idle).await;
    assert_ne!(idle_after[0].0, idle_before[0].0);
    assert_eq!(
        idle_after[0].1.get(TAG_CREATED_AT).map(String::as_str),
        Some(
            days.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                .as_str()
        )
    );
    let again = sweeper(false).run(days).await.unwrap();
    assert_eq!(
        again.idle_keys_rotated, 0,
        "a fresh key is not rotated again"
    );
    assert_eq!(again.failures, 0);
}

/// Every channel ARN, in IVS's listing order.
async fn listing(client: &aws_sdk_ivs::Client) -> Vec<String> {
    let mut arns = Vec::new();
    let mut next = None;
    loop {
        let page = client
            .list_channels()
            .max_results(100)
            .set_next_token(next)
            .send()
            .await
            .unwrap();
        arns.extend(page.channels().iter().map(|c| c.arn().unwrap().to_owned()));
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_owned()),
            _ => return arns,
        }
    }
}

/// An emulator with IVS's quotas scaled by 10 (the sweeper's budget then takes
/// `IVS_RATE_FACTOR=10`) and `count` seeded channels named `prefix…` that rotate their key
/// after each stream.
async fn rotating_channels(seed: u64, count: usize, prefix: &str) -> (Emulator, Server) {
    let (emulator, server) = start_emulator_with(Config {
        seed,
        rate_quotas: RateQuotas::scaled(10.0),
        ..Config::default()
    })
    .await;
    emulator
        .seed_channels(&SeedSpec {
            channels: count,
            name_prefix: prefix.to_owned(),
            tags: [(tags::ROTATE_KEY_ON.to_owned(), "stream-end".to_owned())]
                .into_iter()
                .collect(),
            ..SeedSpec::default()
        })
        .unwrap();
    (emulator, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_stops_before_its_deadline_and_says_where() {
    // 250 channels that rotate after each stream (two reads each: the latest session and the
    // keys), at 10 calls per second: a full pass takes about 50 s. The invocation has 8 s
    // (the pacer lets 10 calls go in any rolling second, so a call may wait up to a second for
    // its slot: the margin, 3 s in a short invocation, must be more than that).
    let (emulator, server) = rotating_channels(23, 250, "deadline-").await;
    // And one more, live for two hours with a limit of 30 minutes: whichever page it is on,
    // its stream is stopped first (ListStreams, then BatchGetChannel for its tags).
    let overdue = emulator
        .seed_channels(&SeedSpec {
            channels: 1,
            name_prefix: "deadline-overdue-".to_owned(),
            tags: [(sweep_tags::MAX_STREAM_MINUTES.to_owned(), "30".to_owned())]
                .into_iter()
                .collect(),
            live: ivs_emulator::Live::Count(1),
            live_started_seconds_ago: 7_200,
            ..SeedSpec::default()
        })
        .unwrap()
        .remove(0);
    let client = ivs_client(&server.url());
    let order = listing(&client).await;
    assert_eq!(order.len(), 251);
    let mut paced = sweep_settings(false);
    paced.calls_per_second = 10;
    let sweeper = Sweeper::new(fast_ivs(ivs_client(&server.url()), 3), settings(&[]), paced);

    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut context = Context::default();
    context.deadline = now_ms + 8_000;
    let started = Instant::now();
    let summary = sweeper
        .handle(LambdaEvent::new(serde_json::json!({}), context))
        .await
        .unwrap();
    let took = started.elapsed();
    // It stopped once less than 3 s were left (the margin of a short invocation: a quarter
    // of it, but never less than the 2 s in which IVS calls are refused and one more), before
    // the deadline, having swept the first channels of the listing, and said which was the last.
    assert!(took < Duration::from_millis(8_000), "{took:?}");
    assert!(took >= Duration::from_millis(4_900), "{took:?}");
    assert!(!summary.complete);
    assert_eq!(summary.failures, 0);
    assert_eq!(summary.live_streams_seen, 1);
    assert_eq!(summary.streams_stopped, 1, "the overdue stream, first");
    let place = order.iter().position(|a| *a == overdue.arn).unwrap();
    assert!(
        place >= summary.channels_seen,
        "the pass did not reach it ({place}, {})",
        summary.channels_seen
    );
    assert!(client
        .get_stream()
        .channel_arn(&overdue.arn)
        .send()
        .await
        .is_err());
    assert!(
        (10..60).contains(&summary.channels_seen),
        "{}",
        summary.channels_seen
    );
    assert_eq!(
        summary.stopped_after.as_deref(),
        Some(order[summary.channels_seen - 1].as_str())
    );
    let response = serde_json::to_value(&summary).unwrap();
    assert_eq!(response["complete"], false);
    assert_eq!(response["stoppedAfter"], order[summary.channels_seen - 1]);
}

#[test]
fn the_deadline_margin_is_30_seconds_or_a_quarter_of_a_short_invocation() {
    assert_eq!(
        sweeper::deadline_margin(Duration::from_secs(540)),
        Duration::from_secs(30)
    );
    assert_eq!(
        sweeper::deadline_margin(Duration::from_secs(60)),
        Duration::from_secs(15)
    );
    // Never within the last `RETRY_MARGIN` (2 s), where IVS calls are refused, + 1 s: a run
    // with 5.4 s (the scale benchmark's deadline at its quotas x100) sweeps 2.4 s, not 4.05 s
    // of which the last 0.65 s would fail every call it started.
    assert_eq!(
        sweeper::deadline_margin(Duration::from_millis(5400)),
        Duration::from_secs(3)
    );
    assert_eq!(
        sweeper::deadline_margin(Duration::from_secs(2)),
        Duration::from_secs(3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_keeps_to_its_share_of_each_quota() {
    // IVS's quotas scaled by 10 (ListStreamSessions, ListStreamKeys: 50 per second); the
    // sweeper's budget at the same factor with its default share, 0.2: 10 per second each, a
    // burst of 10. 40 channels that rotate after each stream need 40 of each: at least 3 s,
    // however fast its overall pacer (50 calls per second here) would let it go.
    let (emulator, server) = rotating_channels(31, 40, "share-").await;
    let rate = domain::rate::RateSettings::from_lookup(
        |k| (k == domain::rate::IVS_RATE_FACTOR).then(|| "10".to_owned()),
        sweeper::SWEEPER_RATE_SHARE,
    )
    .unwrap();
    assert_eq!(rate.per_container("ListStreamKeys"), Some(10.0));
    let ivs = fast_ivs(ivs_client(&server.url()), 3)
        .with_budget(std::sync::Arc::new(ivs_adapter::ivs::RateBudget::new(rate)));
    let sweeper = Sweeper::new(ivs, settings(&[]), sweep_settings(false));
    let started = Instant::now();
    let summary = sweeper.run(Utc::now()).await.unwrap();
    let took = started.elapsed();
    assert!(summary.complete && summary.failures == 0, "{summary:?}");
    assert_eq!(summary.channels_seen, 40);
    assert!(took >= Duration::from_millis(2_900), "{took:?}");
    assert!(took < Duration::from_secs(6), "{took:?}");
    // Never throttled: it left the other 80 % of every quota to the rest of the account.
    let stats = emulator.stats();
    for op in ["ListStreamSessions", "ListStreamKeys", "ListChannels"] {
        assert_eq!(stats.operations[op].rate_throttled, 0, "{op}");
    }
    assert_eq!(stats.operations["ListStreamKeys"].requests, 40);
}

const STATE_TABLE: &str = "sweeper-state";

/// moto's server (`test_support::moto`) with the sweeper's state table.
async fn moto_with_state_table() -> Moto {
    let moto = Moto::start();
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    dynamodb(&moto)
        .create_table()
        .table_name(STATE_TABLE)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    moto
}

/// A DynamoDB client of moto's server.
fn dynamodb(moto: &Moto) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-west-2"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::for_tests())
            .endpoint_url(moto.url())
            .build(),
    )
}

/// The sweeper's state item (its position and lease), as stored.
async fn state_item(
    moto: &Moto,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    dynamodb(moto)
        .get_item()
        .table_name(STATE_TABLE)
        .key(
            "id",
            aws_sdk_dynamodb::types::AttributeValue::S("sweeper".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap()
}

fn context(deadline_in: Duration) -> Context {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut context = Context::default();
    context.deadline = now_ms + deadline_in.as_millis() as u64;
    context
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_resumes_where_the_last_run_stopped_one_run_at_a_time() {
    // 150 channels that rotate after each stream (two reads each), at 30 calls per second with
    // IVS's quotas scaled by 10: a pass is two ListChannels pages and about 10 s of calls. Each
    // invocation has 5 s (a margin of 1.25 s).
    let moto = moto_with_state_table().await;
    let (_emulator, server) = rotating_channels(29, 150, "resume-").await;
    let order = listing(&ivs_client(&server.url())).await;
    assert_eq!(order.len(), 150);
    let sweeper = || {
        let mut paced = sweep_settings(false);
        paced.calls_per_second = 30;
        Sweeper::new(fast_ivs(ivs_client(&server.url()), 3), settings(&[]), paced).with_state(
            sweeper::state::StateStore::new(dynamodb(&moto), STATE_TABLE),
        )
    };
    let invoke = |s: Sweeper, deadline_in: Duration| async move {
        s.handle(LambdaEvent::new(
            serde_json::json!({}),
            context(deadline_in),
        ))
        .await
        .unwrap()
    };
    let five = Duration::from_secs(5);

    // The first run (4 s of sweeping: 3 s of margin) stops inside the first page and saves
    // where.
    let first = invoke(sweeper(), Duration::from_secs(7)).await;
    assert!(!first.complete && !first.resumed, "{first:?}");
    let n1 = first.channels_seen;
    assert!((20..100).contains(&n1), "{n1}");
    assert_eq!(first.pass_channels_seen, n1 as u64);
    assert_eq!(first.stopped_after.as_deref(), Some(order[n1 - 1].as_str()));
    let item = state_item(&moto).await;
    assert_eq!(
        item["after"].as_s().unwrap(),
        &order[n1 - 1],
        "the position is saved"
    );
    assert!(
        !item.contains_key("lease_owner"),
        "the lease is released when the run stops"
    );

    // The second resumes after that channel, crosses into the second page and completes the
    // pass: every channel visited once over the two runs.
    let second = invoke(sweeper(), Duration::from_secs(14)).await;
    assert!(second.resumed && second.complete, "{second:?}");
    assert_eq!(second.channels_seen, 150 - n1);
    assert_eq!(second.pass_channels_seen, 150);
    assert_eq!(second.pass_started_at, first.pass_started_at);
    assert_eq!(second.failures, 0);

    // Two overlapping runs: one takes the lease and starts a new pass, the other exits at once
    // saying another run holds it.
    let started = Instant::now();
    let (a, b) = tokio::join!(invoke(sweeper(), five), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let summary = invoke(sweeper(), five).await;
        (summary, started.elapsed())
    });
    let (b, b_took) = b;
    assert!(!a.resumed && a.channels_seen > 0, "{a:?}");
    assert_eq!(a.pass_channels_seen, a.channels_seen as u64, "a new pass");
    assert!(b.lease_held_by.is_some(), "{b:?}");
    assert_eq!((b.channels_seen, b.calls), (0, 0));
    assert!(b_took < Duration::from_secs(1), "{b_took:?}");

    // A page token IVS no longer accepts: the pass restarts from the first channel, and says so.
    let mut item = state_item(&moto).await;
    item.insert(
        "page_token".into(),
        aws_sdk_dynamodb::types::AttributeValue::S("expired-token".into()),
    );
    dynamodb(&moto)
        .put_item()
        .table_name(STATE_TABLE)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    let restarted = invoke(sweeper(), five).await;
    assert!(restarted.pass_restarted, "{restarted:?}");
    assert_eq!(
        restarted.pass_channels_seen, restarted.channels_seen as u64,
        "counted from the restart"
    );
    assert_eq!(restarted.failures, 0);
    drop(moto);
}

/// The sweeper binary as Lambda runs it (the real runtime loop), its state table in moto's
/// server reached through `AWS_ENDPOINT_URL_DYNAMODB`, its rate budget at the emulator's factor
/// (`IVS_RATE_FACTOR`): a pass completes and is saved, the lease released, and the next run
/// starts a new pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_binary_keeps_its_state_in_dynamodb() {
    use test_support::lambda::{function_binaries, LocalLambda};

    let moto = moto_with_state_table().await;
    let (emulator, server) = rotating_channels(37, 30, "binary-").await;
    let lambda = LocalLambda::start().await;
    let env = vec![
        ("AWS_REGION", "us-west-2".to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIDTESTSWEEPER".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test-secret".to_owned()),
        ("AWS_ENDPOINT_URL_IVS", server.url()),
        ("AWS_ENDPOINT_URL_DYNAMODB", moto.url().to_owned()),
        ("SWEEP_STATE_TABLE", STATE_TABLE.to_owned()),
        ("IVS_RATE_FACTOR", "10".to_owned()),
        ("SWEEP_CALLS_PER_SECOND", "50".to_owned()),
    ];
    lambda.spawn("sweeper", &function_binaries().join("sweeper"), &env);

    let first = lambda
        .invoke("sweeper", &serde_json::json!({"source": "aws.scheduler"}))
        .await
        .ok();
    assert_eq!(first["complete"], true, "{first}");
    assert_eq!(first["channelsSeen"], 30);
    assert_eq!(first["passChannelsSeen"], 30);
    assert_eq!(first["resumed"], false);
    assert_eq!(first["failures"], 0);
    let item = state_item(&moto).await;
    assert_eq!(
        item["pass_complete"],
        aws_sdk_dynamodb::types::AttributeValue::Bool(true)
    );
    assert!(!item.contains_key("lease_owner"), "{item:?}");

    let second = lambda
        .invoke("sweeper", &serde_json::json!({"source": "aws.scheduler"}))
        .await
        .ok();
    assert_eq!(second["resumed"], false, "a new pass: {second}");
    assert_eq!(second["complete"], true);
    assert_eq!(second["passChannelsSeen"], 30);
    let stats = emulator.stats();
    assert_eq!(stats.operations["ListStreamKeys"].rate_throttled, 0);
    drop(moto);
}

fn snapshot(tags_: &[(&str, &str)]) -> ChannelSnapshot {
    ChannelSnapshot {
        arn: IvsArn::parse_as(CHANNEL_ARN, ResourceType::Channel).unwrap(),
        tags: tags_
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        live: None,
        latest: None,
        keys: Vec::new(),
    }
}

#[test]
fn plan_edge_cases() {
    let now = Utc::now();
    let rotate = settings(&[("ROTATE_KEY_ON", "stream-end")]).defaults;
    // A key rotated after a later stream than the latest session: nothing (a stale case).
    let mut s = snapshot(&[]);
    s.latest = Some(EndedStream {
        stream_id: "st-old".into(),
        ended_at: now - TimeDelta::hours(2),
    });
    s.keys = vec![KeySnapshot {
        arn: KEY_ARN.into(),
        tags: [(
            domain::rotation::TAG_ROTATED_AFTER_TIME.to_owned(),
            (now - TimeDelta::hours(1)).to_rfc3339(),
        )]
        .into_iter()
        .collect(),
    }];
    assert!(plan(&s, &rotate, &sweep_settings(false), now).is_empty());
    // Without any marker: the missed rotation, marked with the session's stream and end.
    s.keys[0].tags.clear();
    assert_eq!(
        plan(&s, &rotate, &sweep_settings(false), now),
        vec![SweepAction::MissedRotation {
            marker: RotationMarker {
                stream_id: "st-old".into(),
                ended_at: Some(now - TimeDelta::hours(2)),
            }
        }]
    );
    // A live stream is never rotated, only checked for its duration (tag beats default).
    let mut live = snapshot(&[(sweep_tags::MAX_STREAM_MINUTES, "0")]);
    live.live = Some(LiveStream {
        stream_id: "st-live".into(),
        started_at: now - TimeDelta::hours(5),
    });
    let mut defaults = sweep_settings(false);
    defaults.max_stream = Some(Duration::from_secs(60));
    assert!(
        plan(&live, &rotate, &defaults, now).is_empty(),
        "tag 0 turns the limit off"
    );
    live.tags.clear();
    assert!(matches!(
        plan(&live, &rotate, &defaults, now).as_slice(),
        [SweepAction::StopOverdue { .. }]
    ));
    // A malformed tag falls back to the default.
    live.tags
        .insert(sweep_tags::MAX_STREAM_MINUTES.into(), "soon".into());
    assert_eq!(plan(&live, &rotate, &defaults, now).len(), 1);
}

#[test]
fn sweep_settings_from_the_environment() {
    let vars: HashMap<&str, &str> = [
        ("MAX_STREAM_MINUTES", "240"),
        ("REVOKE_KEY_ON_MAX_DURATION", "true"),
        ("KEY_ROTATION_DAYS", "30"),
    ]
    .into_iter()
    .collect();
    let s = SweepSettings::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
    assert_eq!(s.max_stream, Some(Duration::from_secs(240 * 60)));
    assert!(s.revoke_on_max_duration);
    assert_eq!(s.key_rotation, Some(Duration::from_secs(30 * 86_400)));
    assert_eq!(s.calls_per_second, 4);
    let off = SweepSettings::from_lookup(|_| None).unwrap();
    assert_eq!((off.max_stream, off.key_rotation), (None, None));
    for (k, v) in [
        ("MAX_STREAM_MINUTES", "-1"),
        ("KEY_ROTATION_DAYS", "x"),
        ("REVOKE_KEY_ON_MAX_DURATION", "maybe"),
    ] {
        let err =
            SweepSettings::from_lookup(|name| (name == k).then(|| v.to_string())).unwrap_err();
        assert!(err.to_string().contains(k), "{err}");
    }
}

#[test]
fn sweep_calls_per_second_is_at_most_50_times_the_rate_factor() {
    let read = |vars: &[(&str, &str)]| {
        SweepSettings::from_lookup(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        })
    };
    let calls = "SWEEP_CALLS_PER_SECOND";
    assert_eq!(read(&[(calls, "50")]).unwrap().calls_per_second, 50);
    let err = read(&[(calls, "51")]).unwrap_err();
    assert!(err.to_string().contains("expected 0 to 50"), "{err}");
    // Against an emulator whose quotas are scaled (IVS_RATE_FACTOR), the cap scales with them.
    let scaled = read(&[(calls, "300"), ("IVS_RATE_FACTOR", "100")]).unwrap();
    assert_eq!(scaled.calls_per_second, 300);
    let err = read(&[(calls, "5001"), ("IVS_RATE_FACTOR", "100")]).unwrap_err();
    assert!(err.to_string().contains("expected 0 to 5000"), "{err}");
    // A factor below 1 (or 0, budgets off) does not lower it.
    assert_eq!(
        read(&[(calls, "50"), ("IVS_RATE_FACTOR", "0")])
            .unwrap()
            .calls_per_second,
        50
    );
}

/// A mocked EventBridge taking every entry or refusing every one, and a publisher over it.
fn eventbridge(
    refuse: bool,
    seen: &test_support::lifecycle::PutEntries,
) -> (aws_smithy_mocks::Rule, ivs_adapter::publish::Publisher) {
    let rule = test_support::lifecycle::put_events_rule(seen, refuse);
    let publisher = test_support::lifecycle::mocked_publisher(&[&rule], "platform-bus");
    (rule, publisher)
}

/// The sweeper's lifecycle events (a missed rotation: the key rotated, the repair): published
/// at the run's save; when EventBridge does not take them, kept in the state item and
/// published first by the next run, with the same ids; and the run's metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweepers_lifecycle_events_wait_in_its_state_until_eventbridge_takes_them() {
    let moto = moto_with_state_table().await;
    let (emulator, server) = start_emulator_with(Config {
        seed: 41,
        rate_quotas: RateQuotas::scaled(10.0),
        ..Config::default()
    })
    .await;
    let client = ivs_client(&server.url());
    let (channel, key) = create_channel(
        &client,
        "sweep-publish",
        &[(tags::ROTATE_KEY_ON, "stream-end")],
    )
    .await;
    let stream = emulator.connect(&key).unwrap();
    emulator.disconnect(&channel).unwrap();
    let sweeper = |publisher| {
        Sweeper::new(
            fast_ivs(ivs_client(&server.url()), 3),
            settings(&[]),
            sweep_settings(false),
        )
        .with_state(sweeper::state::StateStore::new(
            dynamodb(&moto),
            STATE_TABLE,
        ))
        .with_publisher(publisher)
    };

    // EventBridge refuses: the repair is done, its two events wait in the state item.
    let refused = test_support::lifecycle::PutEntries::default();
    let (refusing, publisher) = eventbridge(true, &refused);
    let first = sweeper(publisher).run(Utc::now()).await.unwrap();
    assert_eq!(first.missed_rotations, 1, "{first:?}");
    assert!(refusing.num_calls() >= 1);
    let item = state_item(&moto).await;
    let pending = item["pending_events"].as_l().unwrap();
    let kinds: Vec<String> = pending
        .iter()
        .map(|e| {
            let kept: serde_json::Value = serde_json::from_str(e.as_s().unwrap()).unwrap();
            kept["detailType"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(kinds, ["Stream Key Rotated", "Sweeper Repair"]);
    let new_key = keys(&client, &channel).await;
    assert_eq!(new_key.len(), 1);
    let new_key_arn = &new_key[0].0;

    // The next run: EventBridge takes them; nothing more to repair, nothing more pending.
    let taken = test_support::lifecycle::PutEntries::default();
    let (_taking, publisher) = eventbridge(false, &taken);
    let next = sweeper(publisher);
    let second = next.run(Utc::now()).await.unwrap();
    assert_eq!(second.missed_rotations, 0);
    let taken: Vec<(String, serde_json::Value)> = taken
        .lock()
        .unwrap()
        .iter()
        .map(|e| (e.2.clone(), e.3.clone()))
        .collect();
    let by_kind = |kind: &str| {
        taken
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("no {kind} in {taken:?}"))
    };
    assert_eq!(taken.len(), 2, "{taken:?}");
    let rotated = by_kind("Stream Key Rotated");
    assert_eq!(rotated["keyArn"], new_key_arn.as_str());
    assert_eq!(rotated["trigger"], "sweeper_missed_rotation");
    assert_eq!(rotated["id"], format!("stream-key-rotated:{new_key_arn}"));
    let repair = by_kind("Sweeper Repair");
    assert_eq!(repair["streamId"], stream.stream_id.as_str());
    assert_eq!(repair["repair"], "missed_rotation");
    assert!(!state_item(&moto).await.contains_key("pending_events"));

    // The second run's metrics: a complete pass over the one channel, its IVS calls, the
    // two events published.
    let figures =
        ivs_adapter::metrics::read_emf(&String::from_utf8(next.metrics().take_emf()).unwrap());
    let sum = |name: &str, dims: &[(&str, &str)]| -> f64 {
        figures
            .iter()
            .filter(|f| f.name == name && f.has_dimensions(dims))
            .flat_map(|f| f.values.clone())
            .sum()
    };
    assert_eq!(sum("SweepChannelsVisited", &[]), 1.0, "{figures:?}");
    assert_eq!(sum("SweepPassCompleted", &[]), 1.0);
    assert_eq!(
        figures
            .iter()
            .filter(|f| f.name == "SweepPassDuration" && f.has_dimensions(&[]))
            .map(|f| f.values.len())
            .sum::<usize>(),
        1,
        "one pass duration"
    );
    assert_eq!(
        sum("SweepRepairs", &[("Action", "missed_rotation")]),
        0.0,
        "nothing left to repair in the second run"
    );
    assert!(
        sum(
            "IvsCalls",
            &[("Function", "sweeper"), ("Operation", "ListChannels")]
        ) >= 1.0
    );
    assert_eq!(
        sum(
            "LifecycleEventsPublished",
            &[("Function", "sweeper"), ("Kind", "Sweeper Repair")]
        ),
        1.0
    );
    drop(moto);
}

/// A stream that ends between two runs with its end event lost: the next run checks its
/// channel first (it was live at the last run and is offline now) and gives it its rotation,
/// in a run too short to sweep the pass, instead of when a pass over every channel reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_ended_since_the_last_run_is_repaired_first() {
    let moto = moto_with_state_table().await;
    let (emulator, server) = rotating_channels(43, 60, "ended-").await;
    let client = ivs_client(&server.url());
    let mut live = Vec::new();
    for name in ["ended-a", "ended-b"] {
        let (channel, key) =
            create_channel(&client, name, &[(tags::ROTATE_KEY_ON, "stream-end")]).await;
        let stream = emulator.connect(&key).unwrap();
        live.push((channel, stream.stream_id));
    }
    let sweeper = || {
        Sweeper::new(
            fast_ivs(ivs_client(&server.url()), 3),
            settings(&[]),
            sweep_settings(false),
        )
        .with_state(sweeper::state::StateStore::new(
            dynamodb(&moto),
            STATE_TABLE,
        ))
    };
    let invoke = |s: Sweeper, deadline_in: Duration| async move {
        s.handle(LambdaEvent::new(
            serde_json::json!({}),
            context(deadline_in),
        ))
        .await
        .unwrap()
    };

    // The first run sees both live, and remembers it.
    let first = invoke(sweeper(), Duration::from_secs(60)).await;
    assert!(first.complete, "{first:?}");
    assert_eq!((first.live_streams_seen, first.missed_rotations), (2, 0));
    let item = state_item(&moto).await;
    assert_eq!(item["live_ids"].as_l().unwrap().len(), 2, "{item:?}");

    // Both streams end; their end events are lost.
    for (channel, _) in &live {
        emulator.disconnect(channel).unwrap();
    }
    // A run of 4.5 s (1.5 s of sweeping before its 3 s margin): too short for a pass over 62
    // channels, long enough for the two.
    let second = invoke(sweeper(), Duration::from_millis(4_500)).await;
    assert_eq!(second.ended_checked, 2, "{second:?}");
    assert_eq!(second.missed_rotations, 2, "{second:?}");
    assert!(!second.complete && second.channels_seen < 62, "{second:?}");
    for (channel, stream_id) in &live {
        let keys = keys(&client, channel).await;
        assert_eq!(keys.len(), 1, "{channel}");
        assert_eq!(
            keys[0].1.get(TAG_ROTATED_AFTER_STREAM),
            Some(stream_id),
            "{channel}: rotated after its stream"
        );
    }
    let item = state_item(&moto).await;
    assert!(!item.contains_key("live_ids"), "nothing live now: {item:?}");
    drop(moto);
}
