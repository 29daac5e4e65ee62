//! End to end on one machine: the IVS emulator emits IVS's EventBridge events and delivers
//! them through the Lambda Invoke API to the real function binaries, which run in the real
//! `lambda_runtime` loop and call the emulator with the real `aws-sdk-ivs` client.
//!
//! Everything listens on 127.0.0.1 on ports the OS picks, and stops when the test ends.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use aws_sdk_ivs::types::{DestinationConfiguration, S3DestinationConfiguration};
use aws_sdk_ivs::Client;
use domain::policy::tags;
use domain::rotation::TAG_ROTATED_AFTER_STREAM;
use ivs_emulator::{
    Config, Emulator, LambdaTarget, RateQuotas, RecordingFailure, Route, Server, Target,
};
use serde_json::Value;
use test_support::lambda::{function_binaries, LocalLambda};
use test_support::{channel_request, start_emulator_with};

struct Stack {
    emulator: Emulator,
    server: Server,
    lambda: LocalLambda,
    ivs: Client,
}

impl Stack {
    async fn start() -> Stack {
        let lambda = LocalLambda::start().await;
        let (emulator, server) = start_emulator_with(Config {
            seed: 42,
            targets: vec![Target::Lambda(LambdaTarget::new(
                lambda.url(),
                Route::default_routes(),
            ))],
            // A scenario of what the functions do, checked by reading IVS after each step,
            // faster than IVS's rate quotas allow (reliability.rs runs the functions under them).
            rate_quotas: RateQuotas::off(),
            ..Config::default()
        })
        .await;
        let env = vec![
            ("AWS_REGION", "us-west-2".to_owned()),
            ("AWS_ACCESS_KEY_ID", "AKIDLOCALONLY".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "local-only".to_owned()),
            ("AWS_ENDPOINT_URL_IVS", server.url()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
            // The most verbose level, the SDK's own records included: the secret scan below
            // reads all of it.
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE".to_owned()),
            // Tags change during the scenario; read them for every event.
            ("POLICY_CACHE_SECONDS", "0".to_owned()),
            // The emulator's quotas are off: so are the functions' budgets (the same factor).
            ("IVS_RATE_FACTOR", "0".to_owned()),
        ];
        let bins = function_binaries();
        lambda.spawn("stream-events", &bins.join("stream-events"), &env);
        lambda.spawn("recording-events", &bins.join("recording-events"), &env);
        let ivs = test_support::ivs_client(&server.url());
        Stack {
            emulator,
            server,
            lambda,
            ivs,
        }
    }

    /// Creates a channel with tags; returns its ARN and its stream key's (ARN, value). The
    /// key value and the channel's SRT passphrase join `secrets`.
    async fn channel(
        &self,
        name: &str,
        channel_tags: &[(&str, &str)],
        recording: Option<&str>,
        secrets: &mut HashSet<String>,
    ) -> (String, String, String) {
        let created = channel_request(&self.ivs, name, channel_tags)
            .set_recording_configuration_arn(recording.map(str::to_owned))
            .send()
            .await
            .unwrap();
        let channel = created.channel().unwrap().arn().unwrap().to_owned();
        if let Some(passphrase) = created
            .channel()
            .and_then(|c| c.srt())
            .and_then(|s| s.passphrase())
        {
            secrets.insert(passphrase.to_owned());
        }
        let key = created.stream_key().unwrap();
        secrets.insert(key.value().unwrap().to_owned());
        (
            channel,
            key.arn().unwrap().to_owned(),
            key.value().unwrap().to_owned(),
        )
    }

    async fn key_arns(&self, channel: &str) -> Vec<String> {
        let listed = self
            .ivs
            .list_stream_keys()
            .channel_arn(channel)
            .send()
            .await
            .unwrap();
        listed
            .stream_keys()
            .iter()
            .filter_map(|k| k.arn().map(str::to_owned))
            .collect()
    }

    async fn is_live(&self, channel: &str) -> bool {
        match self.ivs.get_stream().channel_arn(channel).send().await {
            Ok(_) => true,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_channel_not_broadcasting()) =>
            {
                false
            }
            Err(e) => panic!("GetStream failed: {e:?}"),
        }
    }

    fn requests(&self, operation: &str) -> u64 {
        self.emulator
            .stats()
            .operations
            .get(operation)
            .map(|o| o.requests)
            .unwrap_or(0)
    }

    /// Waits until every event emitted so far has been delivered (or dead-lettered).
    async fn drained(&self) {
        eventually("all events delivered", || async {
            let stats = self.emulator.stats();
            let routed: u64 = self
                .emulator
                .events()
                .iter()
                .filter(|e| e["detail-type"].as_str().is_some())
                .count() as u64;
            let settled: u64 = stats
                .deliveries
                .values()
                .map(|d| d.delivered + d.dead_lettered)
                .sum();
            settled >= routed
        })
        .await;
    }

    /// Every line both functions wrote.
    fn all_function_logs(&self) -> Vec<String> {
        let mut logs = self.lambda.logs("stream-events");
        logs.extend(self.lambda.logs("recording-events"));
        logs
    }
}

/// Polls `check` until it holds (20 s at most).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn event_named<'a>(events: &'a [Value], channel: &str, name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["resources"][0] == channel && e["detail"]["event_name"] == name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_automation_runs_end_to_end_on_the_emulator() {
    let stack = Stack::start().await;
    let mut secrets: HashSet<String> = HashSet::new();

    // 1. A channel whose key rotates after each stream goes live: viewers get the start
    //    metadata.
    let (channel, first_key_arn, first_key) = stack
        .channel(
            "e2e-rotate",
            &[(tags::ROTATE_KEY_ON, "stream-end")],
            None,
            &mut secrets,
        )
        .await;
    secrets.insert(first_key.clone());
    let live = stack.emulator.connect(&first_key).unwrap();
    eventually("the start metadata", || async {
        !stack.emulator.metadata(&channel).is_empty()
    })
    .await;
    let metadata = stack.emulator.metadata(&channel);
    assert_eq!(metadata.len(), 1);
    let payload: Value = serde_json::from_str(&metadata[0].payload).unwrap();
    assert_eq!(payload["type"], "stream-start");
    assert_eq!(payload["channel"], "e2e-rotate");
    assert_eq!(payload["streamId"], live.stream_id.as_str());

    // 2. The broadcaster leaves: the key is rotated, exactly once, tagged with the stream.
    stack.emulator.disconnect(&channel).unwrap();
    eventually("the key rotation", || async {
        stack.key_arns(&channel).await != vec![first_key_arn.clone()]
    })
    .await;
    stack.drained().await;
    let keys = stack.key_arns(&channel).await;
    assert_eq!(keys.len(), 1);
    let second_key_arn = keys[0].clone();
    let rotated = stack
        .ivs
        .get_stream_key()
        .arn(&second_key_arn)
        .send()
        .await
        .unwrap();
    let rotated = rotated.stream_key().unwrap();
    assert_eq!(
        rotated
            .tags()
            .and_then(|t| t.get(TAG_ROTATED_AFTER_STREAM))
            .map(String::as_str),
        Some(live.stream_id.as_str())
    );
    let second_key = rotated.value().unwrap().to_owned();
    secrets.insert(second_key.clone());
    assert_eq!(stack.requests("CreateStreamKey"), 1, "one rotation");
    assert_eq!(stack.requests("DeleteStreamKey"), 1);

    // A duplicated Stream End (EventBridge delivers at least once) does not rotate again.
    let events = stack.emulator.events();
    let stream_end = event_named(&events, &channel, "Stream End");
    assert_eq!(stream_end.len(), 1);
    let again = stack
        .lambda
        .invoke("stream-events", stream_end[0])
        .await
        .ok();
    assert_eq!(again["actions"][0]["outcome"], "already_rotated");
    assert_eq!(stack.requests("CreateStreamKey"), 1, "still one rotation");

    // The old key is refused; the new one goes live.
    assert!(
        stack.emulator.connect(&first_key).is_err(),
        "the old key still works"
    );
    let second_stream = stack.emulator.connect(&second_key).unwrap();
    assert_ne!(second_stream.stream_id, live.stream_id);
    stack.emulator.disconnect(&channel).unwrap();
    eventually("the second rotation", || async {
        stack.requests("CreateStreamKey") == 2
    })
    .await;

    // 3. A suspended channel's broadcaster is stopped and its key revoked.
    let (suspended, _, suspended_key) = stack
        .channel(
            "e2e-suspended",
            &[
                (tags::SUSPENDED, "true"),
                (tags::ROTATE_KEY_ON, "stream-end"),
            ],
            None,
            &mut secrets,
        )
        .await;
    secrets.insert(suspended_key.clone());
    stack.emulator.connect(&suspended_key).unwrap();
    eventually("the suspension", || async {
        !stack.is_live(&suspended).await && stack.key_arns(&suspended).await.is_empty()
    })
    .await;
    assert!(
        stack.emulator.connect(&suspended_key).is_err(),
        "the revoked key still works"
    );
    // The stopped stream's Stream End must not give the suspended channel a new key.
    stack.drained().await;
    assert!(
        stack.key_arns(&suspended).await.is_empty(),
        "a suspended channel got a new key"
    );
    assert!(
        stack.emulator.metadata(&suspended).is_empty(),
        "a suspended channel gets no start metadata"
    );

    // 4. A must-record channel whose recording fails to start is stopped.
    let recording = stack
        .ivs
        .create_recording_configuration()
        .name("e2e-recording")
        .destination_configuration(
            DestinationConfiguration::builder()
                .s3(S3DestinationConfiguration::builder()
                    .bucket_name("example-recordings-111122223333")
                    .build()
                    .unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let recording_arn = recording
        .recording_configuration()
        .unwrap()
        .arn()
        .to_owned();
    let (recorded, _, recorded_key) = stack
        .channel(
            "e2e-must-record",
            &[(tags::MUST_RECORD, "true")],
            Some(&recording_arn),
            &mut secrets,
        )
        .await;
    secrets.insert(recorded_key.clone());
    stack
        .emulator
        .fail_next_recording(&recorded, RecordingFailure::Start)
        .unwrap();
    stack.emulator.connect(&recorded_key).unwrap();
    eventually("the must-record stop", || async {
        !stack.is_live(&recorded).await
    })
    .await;
    let events = stack.emulator.events();
    assert!(events.iter().any(|e| e["resources"][0] == recorded.as_str()
        && e["detail"]["recording_status"] == "Recording Start Failure"));
    assert_eq!(
        stack.lambda.invocations("recording-events"),
        events
            .iter()
            .filter(|e| e["detail-type"] == "IVS Recording State Change")
            .count(),
        "every recording event reached the recording function"
    );

    // Nothing was lost on the way.
    stack.drained().await;
    assert!(
        stack.emulator.dead_letters().is_empty(),
        "{:#?}",
        stack.emulator.dead_letters()
    );

    // No stream key value reached any log line, at TRACE level, across the whole scenario.
    let logs = stack.all_function_logs();
    let invocations =
        stack.lambda.invocations("stream-events") + stack.lambda.invocations("recording-events");
    assert!(
        logs.len() >= invocations && invocations > 10,
        "the functions logged ({} lines for {invocations} invocations)",
        logs.len()
    );
    // At TRACE, only the project's own records go below INFO (dependencies log credentials
    // there: the runtime the raw event, the SDK its signed requests).
    for line in &logs {
        let record: Value = serde_json::from_str(line).unwrap_or(Value::Null);
        let target = record["target"].as_str().unwrap_or("");
        if ["TRACE", "DEBUG"].contains(&record["level"].as_str().unwrap_or("")) {
            assert!(
                ivs_adapter::logging::OWN_TARGETS
                    .iter()
                    .any(|t| target == *t || target.starts_with(&format!("{t}::"))),
                "a dependency's record below INFO: {line}"
            );
        }
    }
    // Four stream key values (first, rotated, suspended channel, must-record channel) and the
    // three channels' SRT passphrases.
    assert_eq!(secrets.len(), 7, "keys and SRT passphrases collected");
    println!(
        "{}",
        serde_json::json!({"figures": "secrets", "logLinesScanned": logs.len(), "secretsLookedFor": secrets.len(), "found": 0})
    );
    for line in &logs {
        for secret in &secrets {
            assert!(
                !line.contains(secret.as_str()),
                "a stream key value was logged: {line}"
            );
        }
    }
    let actions: Vec<Value> = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["action"].is_string())
        .collect();
    assert!(actions
        .iter()
        .any(|a| a["action"] == "rotate_stream_key" && a["outcome"] == "rotated"));
    assert!(actions.iter().any(|a| a["action"] == "suspend_channel"));
    assert!(actions
        .iter()
        .any(|a| a["action"] == "stop_stream" && a["reason"] == "recording_start_failure"));

    stack.server.shutdown().await.unwrap();
}
