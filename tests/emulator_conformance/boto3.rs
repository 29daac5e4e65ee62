//! boto3 against the IVS emulator: runs `boto3_smoke.py` (beside this file: every IVS operation
//! boto3 knows that the emulator implements, a few typed errors, pagination, and a burst beyond
//! a rate quota) and checks its exit status and its closing `N passed, 0 failed` line. Needs
//! `python3` with `boto3` on the PATH.

use std::path::PathBuf;
use std::process::{Command, Output};

use test_support::start_emulator_unthrottled;

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn run_script(endpoint: String) -> Output {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("emulator_conformance/boto3_smoke.py");
    Command::new(python())
        .arg(&script)
        .arg(endpoint)
        // Dummy credentials and the emulator's region; nothing from the developer's AWS setup.
        .env("AWS_ACCESS_KEY_ID", "AKIDTESTBOTO3")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .env("AWS_DEFAULT_REGION", "us-west-2")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_IVS")
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", python()))
}

#[tokio::test]
async fn boto3_smoke_script_passes() {
    let probe = Command::new(python()).args(["-c", "import boto3"]).output();
    assert!(
        probe.as_ref().is_ok_and(|output| output.status.success()),
        "this test needs {} with boto3 (pip install boto3): {probe:?}",
        python()
    );

    // The script calls every operation back to back with the rate quotas off, then turns them
    // on (POST /_emulator/rate-quotas) for its throttling check.
    let (emulator, server) = start_emulator_unthrottled(21).await;
    let output = tokio::task::spawn_blocking({
        let url = server.url();
        move || run_script(url)
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "boto3_smoke.py failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let summary = stdout.lines().last().unwrap_or_default();
    let (passed, failed) = summary
        .split_once(" passed, ")
        .and_then(|(passed, rest)| {
            Some((
                passed.parse::<u32>().ok()?,
                rest.strip_suffix(" failed")?.parse::<u32>().ok()?,
            ))
        })
        .unwrap_or_else(|| panic!("no 'N passed, M failed' line in:\n{stdout}"));
    assert_eq!(failed, 0, "{stdout}");
    assert!(passed >= 50, "only {passed} checks ran:\n{stdout}");

    // The script really talked to this emulator.
    let stats = emulator.stats();
    for operation in [
        "CreateChannel",
        "PutMetadata",
        "ListChannels",
        "UntagResource",
        "BatchStartViewerSessionRevocation",
    ] {
        assert!(
            stats
                .operations
                .get(operation)
                .is_some_and(|s| s.requests > 0),
            "{operation} was not called"
        );
    }
    assert!(stats
        .operations
        .values()
        .all(|s| !s.errors.contains_key("MissingAuthenticationTokenException")));
    // Its burst of GetChannel calls met the quota.
    assert!(stats.operations["GetChannel"].rate_throttled > 0);
    assert!(emulator.rate_quotas().is_on());
    server.shutdown().await.unwrap();
}
