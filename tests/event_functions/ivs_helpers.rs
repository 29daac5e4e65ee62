//! The IVS helpers against a mocked IVS (aws-smithy-mocks): what is called, how often, with
//! what, and what each answer turns into.

use std::sync::{Arc, Mutex};

use aws_sdk_ivs::operation::delete_stream_key::DeleteStreamKeyOutput;
use aws_sdk_ivs::operation::list_stream_keys::ListStreamKeysOutput;
use aws_sdk_ivs::operation::put_metadata::PutMetadataOutput;
use aws_sdk_ivs::operation::stop_stream::StopStreamOutput;
use aws_sdk_ivs::Client;
use chrono::{DateTime, Utc};
use domain::arn::{IvsArn, ResourceType};
use domain::metadata::MetadataError;
use domain::rotation::{RotationMarker, TAG_ROTATED_AFTER_STREAM, TAG_ROTATED_AFTER_TIME};
use ivs_adapter::error::{Error, IvsErrorKind};
use ivs_adapter::ivs::{Ivs, MetadataOutcome, ResumeOutcome, RotateOutcome, StopOutcome};
use test_support::*;

fn channel() -> IvsArn {
    IvsArn::parse_as(CHANNEL_ARN, ResourceType::Channel).unwrap()
}

fn put_ok() -> PutMetadataOutput {
    PutMetadataOutput::builder().build()
}

/// `ivs` rotates the test channel's key after the test stream, ended at 11:00.
async fn rotate_after_the_test_stream(ivs: &Ivs) -> RotateOutcome {
    ivs.rotate_stream_key(&channel(), Some(&marker(STREAM_ID, "2026-01-05T11:00:00Z")))
        .await
        .unwrap()
}

/// ListStreamKeys answering the new key, rotated after `stream_id` at `ended_at`.
fn listed_rotated_key(stream_id: &'static str, ended_at: &'static str) -> Rule {
    mock!(Client::list_stream_keys).then_output(move || {
        key_list(vec![key_summary(
            NEW_KEY_ARN,
            &[
                (TAG_ROTATED_AFTER_STREAM, stream_id),
                (TAG_ROTATED_AFTER_TIME, ended_at),
            ],
        )])
    })
}

/// Asserts that `outcome` is "already rotated", to [`NEW_KEY_ARN`].
fn assert_already_rotated(outcome: &RotateOutcome) {
    assert!(
        matches!(outcome, RotateOutcome::AlreadyRotated { key_arn } if key_arn == NEW_KEY_ARN),
        "{outcome:?}"
    );
}

/// DeleteStreamKey and CreateStreamKey (answering [`created_key`]) succeeding.
fn delete_and_create_ok() -> (Rule, Rule) {
    (
        mock!(Client::delete_stream_key).then_output(|| DeleteStreamKeyOutput::builder().build()),
        mock!(Client::create_stream_key).then_output(created_key),
    )
}

fn marker(stream_id: &str, ended_at: &str) -> RotationMarker {
    RotationMarker {
        stream_id: stream_id.to_owned(),
        ended_at: Some(ended_at.parse::<DateTime<Utc>>().unwrap()),
    }
}

// ---------------------------------------------------------------- put_metadata

#[tokio::test]
async fn put_metadata_retries_throttling_then_succeeds() {
    let rule = mock!(Client::put_metadata)
        .match_requests(|r| r.channel_arn() == Some(CHANNEL_ARN) && r.metadata() == Some("hello"))
        .sequence()
        .http_response(throttled)
        .times(2)
        .output(put_ok)
        .build();
    let ivs = fast_ivs(mocked_client!(&[&rule]), 5);
    let outcome = ivs.put_metadata(&channel(), "hello").await.unwrap();
    assert_eq!(outcome, MetadataOutcome::Delivered);
    assert_eq!(
        rule.num_calls(),
        3,
        "two throttled attempts, then the success"
    );
}

#[tokio::test]
async fn put_metadata_gives_up_after_the_bound_with_a_retryable_error() {
    let rule = mock!(Client::put_metadata)
        .sequence()
        .http_response(throttled)
        .times(10)
        .build();
    let ivs = fast_ivs(mocked_client!(&[&rule]), 4);
    let err = ivs.put_metadata(&channel(), "hello").await.unwrap_err();
    assert_eq!(rule.num_calls(), 4, "exactly max_attempts calls");
    match &err {
        Error::Ivs {
            operation,
            kind,
            code,
            attempts,
            ..
        } => {
            assert_eq!(*operation, "PutMetadata");
            assert_eq!(*kind, IvsErrorKind::Throttled);
            assert_eq!(code.as_deref(), Some("ThrottlingException"));
            assert_eq!(*attempts, 4);
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(err.error_type(), "Retryable.Throttled");
}

#[tokio::test]
async fn put_metadata_on_an_offline_channel_is_a_distinct_outcome_without_retry() {
    let rule = mock!(Client::put_metadata)
        .sequence()
        .http_response(not_broadcasting)
        .build();
    let ivs = fast_ivs(mocked_client!(&[&rule]), 5);
    let outcome = ivs.put_metadata(&channel(), "hello").await.unwrap();
    assert_eq!(outcome, MetadataOutcome::ChannelOffline);
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn put_metadata_retries_server_errors_but_not_client_errors() {
    let flaky = mock!(Client::put_metadata)
        .match_requests(|r| r.metadata() == Some("flaky"))
        .sequence()
        .http_response(|| ivs_error(500, "InternalServerException"))
        .http_response(|| ivs_error(503, "StreamUnavailable"))
        .output(put_ok)
        .build();
    let denied = mock!(Client::put_metadata)
        .match_requests(|r| r.metadata() == Some("denied"))
        .sequence()
        .http_response(|| ivs_error(403, "AccessDeniedException"))
        .times(5)
        .build();
    let ivs = fast_ivs(mocked_client!(&[&flaky, &denied]), 5);
    assert_eq!(
        ivs.put_metadata(&channel(), "flaky").await.unwrap(),
        MetadataOutcome::Delivered
    );
    assert_eq!(flaky.num_calls(), 3);
    let err = ivs.put_metadata(&channel(), "denied").await.unwrap_err();
    assert_eq!(err.ivs_kind(), Some(IvsErrorKind::AccessDenied));
    assert!(!err.is_retryable());
    assert_eq!(denied.num_calls(), 1, "a refusal is not retried");
}

#[tokio::test]
async fn put_metadata_size_limit_is_1024_utf8_bytes_checked_before_any_call() {
    let max_ascii = "a".repeat(1024);
    let max_multibyte = "é".repeat(511) + "ab"; // 1022 + 2 = 1024 bytes, 513 chars
    let rule = mock!(Client::put_metadata)
        .match_requests(|r| r.metadata().is_some_and(|m| m.len() == 1024))
        .then_output(put_ok);
    let ivs = fast_ivs(mocked_client!(&[&rule]), 1);

    assert_eq!(
        ivs.put_metadata(&channel(), &max_ascii).await.unwrap(),
        MetadataOutcome::Delivered
    );
    assert_eq!(
        ivs.put_metadata(&channel(), &max_multibyte).await.unwrap(),
        MetadataOutcome::Delivered
    );
    assert_eq!(rule.num_calls(), 2);

    for (payload, bytes) in [
        ("a".repeat(1025), 1025),
        ("é".repeat(512) + "a", 1025),  // 513 chars, 1025 bytes
        ("🎥".repeat(256) + "a", 1025), // 257 chars, 1025 bytes
    ] {
        let err = ivs.put_metadata(&channel(), &payload).await.unwrap_err();
        assert!(
            matches!(err, Error::Metadata(MetadataError::TooLarge { bytes: b }) if b == bytes),
            "{err:?}"
        );
        assert!(!err.is_retryable());
    }
    let err = ivs.put_metadata(&channel(), "").await.unwrap_err();
    assert!(matches!(err, Error::Metadata(MetadataError::Empty)));
    assert_eq!(rule.num_calls(), 2, "refused payloads never reach IVS");
}

// ---------------------------------------------------------------- stop_stream

#[tokio::test]
async fn stop_stream_treats_an_offline_channel_as_already_stopped() {
    let live = mock!(Client::stop_stream)
        .match_requests(|r| r.channel_arn() == Some(CHANNEL_ARN))
        .sequence()
        .http_response(throttled)
        .output(|| StopStreamOutput::builder().build())
        .http_response(not_broadcasting)
        .build();
    let ivs = fast_ivs(mocked_client!(&[&live]), 5);
    assert_eq!(
        ivs.stop_stream(&channel()).await.unwrap(),
        StopOutcome::Stopped
    );
    assert_eq!(
        ivs.stop_stream(&channel()).await.unwrap(),
        StopOutcome::AlreadyStopped
    );
    assert_eq!(live.num_calls(), 3);
}

#[tokio::test]
async fn stop_stream_reports_a_missing_channel_as_permanent() {
    let rule = mock!(Client::stop_stream)
        .sequence()
        .http_response(|| ivs_error(404, "ResourceNotFoundException"))
        .build();
    let ivs = fast_ivs(mocked_client!(&[&rule]), 5);
    let err = ivs.stop_stream(&channel()).await.unwrap_err();
    assert_eq!(err.ivs_kind(), Some(IvsErrorKind::NotFound));
    assert!(!err.is_retryable());
    assert_eq!(rule.num_calls(), 1);
}

// ---------------------------------------------------------------- rotate_stream_key

#[tokio::test]
async fn rotation_lists_deletes_then_creates_a_key_tagged_with_the_stream() {
    let calls = Arc::new(Mutex::new(Vec::<&str>::new()));
    let (c1, c2, c3) = (calls.clone(), calls.clone(), calls.clone());
    let list = mock!(Client::list_stream_keys)
        .match_requests(|r| r.channel_arn() == Some(CHANNEL_ARN))
        .then_compute_output(move |_| {
            c1.lock().unwrap().push("list");
            key_list(vec![key_summary(KEY_ARN, &[])])
        });
    let delete = mock!(Client::delete_stream_key)
        .match_requests(|r| r.arn() == Some(KEY_ARN))
        .then_compute_output(move |_| {
            c2.lock().unwrap().push("delete");
            DeleteStreamKeyOutput::builder().build()
        });
    let create = mock!(Client::create_stream_key)
        .match_requests(|r| {
            let tags = r.tags().cloned().unwrap_or_default();
            r.channel_arn() == Some(CHANNEL_ARN)
                && tags.get(TAG_ROTATED_AFTER_STREAM).map(String::as_str) == Some(STREAM_ID)
                && tags.get(TAG_ROTATED_AFTER_TIME).map(String::as_str)
                    == Some("2026-01-05T11:00:00.000Z")
        })
        .then_compute_output(move |_| {
            c3.lock().unwrap().push("create");
            created_key()
        });
    let ivs = fast_ivs(mocked_client!(&[&list, &delete, &create]), 3);
    let outcome = rotate_after_the_test_stream(&ivs).await;
    assert_eq!(*calls.lock().unwrap(), vec!["list", "delete", "create"]);
    let RotateOutcome::Rotated { new_key, revoked } = &outcome else {
        panic!("not rotated: {outcome:?}")
    };
    assert_eq!(new_key.arn, NEW_KEY_ARN);
    assert_eq!(new_key.value.expose(), NEW_KEY_VALUE);
    assert_eq!(revoked, &vec![KEY_ARN.to_owned()]);
    for shown in [
        format!("{outcome:?}"),
        format!("{new_key}"),
        format!("{new_key:#?}"),
    ] {
        assert!(!shown.contains(NEW_KEY_VALUE), "key value shown: {shown}");
        assert!(shown.contains(NEW_KEY_ARN));
    }
}

#[tokio::test]
async fn rotation_is_skipped_when_the_key_already_carries_this_stream_id() {
    let list = listed_rotated_key(STREAM_ID, "2026-01-05T11:00:00.000Z");
    let (delete, create) = delete_and_create_ok();
    let ivs = fast_ivs(mocked_client!(&[&list, &delete, &create]), 3);
    let outcome = rotate_after_the_test_stream(&ivs).await;
    assert_already_rotated(&outcome);
    assert_eq!(list.num_calls(), 1);
    assert_eq!(delete.num_calls(), 0);
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn a_late_event_for_an_older_stream_does_not_rotate_again() {
    let list = listed_rotated_key("st-2LaTeRsTrEaMaBcDeFgHiJk", "2026-01-05T12:00:00.000Z");
    let (delete, create) = delete_and_create_ok();
    let ivs = fast_ivs(mocked_client!(&[&list, &delete, &create]), 3);
    let outcome = rotate_after_the_test_stream(&ivs).await;
    assert!(
        matches!(outcome, RotateOutcome::Stale { ref rotated_after_stream, .. } if rotated_after_stream == "st-2LaTeRsTrEaMaBcDeFgHiJk")
    );
    assert_eq!(delete.num_calls() + create.num_calls(), 0);

    // A newer stream than the one the key was rotated after does rotate.
    let outcome = ivs
        .rotate_stream_key(
            &channel(),
            Some(&marker(
                "st-3NeWeRsTrEaMaBcDeFgHiJk",
                "2026-01-05T13:00:00Z",
            )),
        )
        .await
        .unwrap();
    assert_eq!(outcome.as_str(), "rotated");
    assert_eq!((delete.num_calls(), create.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_rotation_that_loses_a_race_finds_the_winner_and_does_nothing_more() {
    // First list: the old key. Our delete succeeds, but another invocation for the same stream
    // has already created its key: our create hits the one-key quota. The second list shows
    // the winner's key, tagged with this stream.
    let list = mock!(Client::list_stream_keys)
        .sequence()
        .output(|| key_list(vec![key_summary(KEY_ARN, &[])]))
        .output(|| {
            key_list(vec![key_summary(
                NEW_KEY_ARN,
                &[(TAG_ROTATED_AFTER_STREAM, STREAM_ID)],
            )])
        })
        .build();
    let delete = mock!(Client::delete_stream_key)
        .sequence()
        .http_response(|| ivs_error(404, "ResourceNotFoundException"))
        .build();
    let create = mock!(Client::create_stream_key)
        .sequence()
        .http_response(|| ivs_error(402, "ServiceQuotaExceededException"))
        .build();
    let ivs = fast_ivs(mocked_client!(&[&list, &delete, &create]), 3);
    let outcome = rotate_after_the_test_stream(&ivs).await;
    assert_already_rotated(&outcome);
    assert_eq!(
        (list.num_calls(), delete.num_calls(), create.num_calls()),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn a_manual_rotation_retries_create_only_when_throttled() {
    let list = mock!(Client::list_stream_keys).then_output(|| key_list(vec![]));
    let create = mock!(Client::create_stream_key)
        // A manual rotation dates the new key but carries no rotation marker.
        .match_requests(|r| {
            r.tags().is_some_and(|t| {
                t.contains_key(domain::rotation::TAG_CREATED_AT)
                    && !t.contains_key(TAG_ROTATED_AFTER_STREAM)
            })
        })
        .sequence()
        .http_response(throttled)
        .http_response(|| ivs_error(500, "InternalServerException"))
        .output(created_key)
        .build();
    let ivs = fast_ivs(mocked_client!(&[&list, &create]), 5);
    let err = ivs.rotate_stream_key(&channel(), None).await.unwrap_err();
    assert_eq!(err.ivs_kind(), Some(IvsErrorKind::ServerError));
    assert_eq!(
        create.num_calls(),
        2,
        "throttled create retried; a 500 may hide a created key, so it is not"
    );
}

#[tokio::test]
async fn list_stream_keys_reads_every_page() {
    let first_page = mock!(Client::list_stream_keys)
        .match_requests(|r| r.next_token().is_none() && r.channel_arn() == Some(CHANNEL_ARN))
        .then_output(|| {
            ListStreamKeysOutput::builder()
                .set_stream_keys(Some(vec![key_summary(KEY_ARN, &[])]))
                .next_token("page-2")
                .build()
                .unwrap()
        });
    let second_page = mock!(Client::list_stream_keys)
        .match_requests(|r| {
            r.next_token() == Some("page-2") && r.channel_arn() == Some(CHANNEL_ARN)
        })
        .then_output(|| key_list(vec![key_summary(NEW_KEY_ARN, &[])]));
    let ivs = fast_ivs(mocked_client!(&[&first_page, &second_page]), 1);
    let keys = ivs.list_stream_keys(&channel()).await.unwrap();
    let arns: Vec<_> = keys.iter().filter_map(|k| k.arn()).collect();
    assert_eq!(arns, vec![KEY_ARN, NEW_KEY_ARN]);
    assert_eq!((first_page.num_calls(), second_page.num_calls()), (1, 1));
}

// ---------------------------------------------------------------- suspend / resume

#[tokio::test]
async fn suspend_revokes_the_key_before_stopping_the_stream() {
    let calls = Arc::new(Mutex::new(Vec::<&str>::new()));
    let (c1, c2) = (calls.clone(), calls.clone());
    let list =
        mock!(Client::list_stream_keys).then_output(|| key_list(vec![key_summary(KEY_ARN, &[])]));
    let delete = mock!(Client::delete_stream_key)
        .match_requests(|r| r.arn() == Some(KEY_ARN))
        .then_compute_output(move |_| {
            c1.lock().unwrap().push("delete");
            DeleteStreamKeyOutput::builder().build()
        });
    let stop = mock!(Client::stop_stream)
        .match_requests(|r| r.channel_arn() == Some(CHANNEL_ARN))
        .then_compute_output(move |_| {
            c2.lock().unwrap().push("stop");
            StopStreamOutput::builder().build()
        });
    let ivs = fast_ivs(mocked_client!(&[&list, &delete, &stop]), 3);
    let outcome = ivs.suspend_channel(&channel()).await.unwrap();
    assert_eq!(*calls.lock().unwrap(), vec!["delete", "stop"]);
    assert_eq!(outcome.revoked, vec![KEY_ARN.to_owned()]);
    assert_eq!(outcome.stream, StopOutcome::Stopped);
}

#[tokio::test]
async fn suspend_is_idempotent() {
    let list = mock!(Client::list_stream_keys).then_output(|| key_list(vec![]));
    let stop = mock!(Client::stop_stream).then_http_response(not_broadcasting);
    let ivs = fast_ivs(mocked_client!(&[&list, &stop]), 3);
    let outcome = ivs.suspend_channel(&channel()).await.unwrap();
    assert!(outcome.revoked.is_empty());
    assert_eq!(outcome.stream, StopOutcome::AlreadyStopped);
}

#[tokio::test]
async fn suspend_does_not_stop_when_revoking_fails() {
    let list =
        mock!(Client::list_stream_keys).then_output(|| key_list(vec![key_summary(KEY_ARN, &[])]));
    let delete = mock!(Client::delete_stream_key)
        .then_http_response(|| ivs_error(403, "AccessDeniedException"));
    let stop = mock!(Client::stop_stream).then_output(|| StopStreamOutput::builder().build());
    let ivs = fast_ivs(mocked_client!(&[&list, &delete, &stop]), 3);
    let err = ivs.suspend_channel(&channel()).await.unwrap_err();
    assert_eq!(err.ivs_kind(), Some(IvsErrorKind::AccessDenied));
    assert_eq!(
        stop.num_calls(),
        0,
        "stopping without revoking lets the encoder back in"
    );
}

#[tokio::test]
async fn resume_creates_a_key_only_when_there_is_none() {
    let empty = mock!(Client::list_stream_keys)
        .sequence()
        .output(|| key_list(vec![]))
        .output(|| key_list(vec![key_summary(NEW_KEY_ARN, &[])]))
        .build();
    let create = mock!(Client::create_stream_key).then_output(created_key);
    let ivs = fast_ivs(mocked_client!(&[&empty, &create]), 3);
    let ResumeOutcome::Created(key) = ivs.resume_channel(&channel()).await.unwrap() else {
        panic!("no key created")
    };
    assert_eq!(key.value.expose(), NEW_KEY_VALUE);
    let outcome = ivs.resume_channel(&channel()).await.unwrap();
    assert!(
        matches!(&outcome, ResumeOutcome::KeyExists { key_arn } if key_arn == NEW_KEY_ARN),
        "{outcome:?}"
    );
    assert_eq!(create.num_calls(), 1);
}

// ---------------------------------------------------------------- transport failures

#[tokio::test]
async fn an_unreachable_endpoint_is_retried_then_reported_as_unreachable() {
    // A loopback port that nothing listens on: the OS refuses the connection at once.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = aws_sdk_ivs::Config::builder()
        .behavior_version(aws_sdk_ivs::config::BehaviorVersion::latest())
        .region(aws_sdk_ivs::config::Region::new("us-west-2"))
        .credentials_provider(aws_sdk_ivs::config::Credentials::for_tests())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_sdk_ivs::config::retry::RetryConfig::disabled())
        .build();
    let ivs = fast_ivs(Client::from_conf(config), 3);
    let err = ivs.stop_stream(&channel()).await.unwrap_err();
    match &err {
        Error::Ivs { kind, attempts, .. } => {
            assert_eq!(*kind, IvsErrorKind::Unreachable);
            assert_eq!(*attempts, 3);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(err.error_type(), "Retryable.Unreachable");
}
