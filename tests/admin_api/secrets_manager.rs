//! The emulator's minimal Secrets Manager, driven by the real `aws-sdk-secretsmanager`: what
//! the local stack uses to hold the playback key, read by the same code path as in AWS.

use std::process::Command;

use admin_api::token::load_signer;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::Client;
use ivs_emulator::Config;
use test_support::{start_emulator, start_emulator_with};

fn client(endpoint: &str) -> Client {
    Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(aws_sdk_secretsmanager::config::Region::new("us-west-2"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::for_tests())
            .endpoint_url(endpoint)
            .build(),
    )
}

#[tokio::test]
async fn secrets_round_trip_through_the_sdk_and_the_playback_key_loads_from_them() {
    let (_emulator, server) = start_emulator(3).await;
    let sm = client(&server.url());

    let created = sm
        .create_secret()
        .name("ivs-automation/test")
        .secret_string("first")
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap().to_owned();
    assert!(arn
        .starts_with("arn:aws:secretsmanager:us-west-2:111122223333:secret:ivs-automation/test-"));
    let again = sm
        .create_secret()
        .name("ivs-automation/test")
        .secret_string("x")
        .send()
        .await
        .unwrap_err();
    assert!(again.into_service_error().is_resource_exists_exception());

    let got = sm.get_secret_value().secret_id(&arn).send().await.unwrap();
    assert_eq!(got.secret_string(), Some("first"));
    assert!(got.created_date().is_some());
    sm.put_secret_value()
        .secret_id("ivs-automation/test")
        .secret_string("second")
        .send()
        .await
        .unwrap();
    let got = sm
        .get_secret_value()
        .secret_id("ivs-automation/test")
        .send()
        .await
        .unwrap();
    assert_eq!(got.secret_string(), Some("second"));

    sm.delete_secret()
        .secret_id("ivs-automation/test")
        .send()
        .await
        .unwrap();
    let gone = sm
        .get_secret_value()
        .secret_id("ivs-automation/test")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(gone.is_resource_not_found_exception(), "{gone:?}");
    assert!(!gone.message().unwrap_or_default().contains("second"));

    // The admin API's own loader reads a playback key stored here.
    let key = Command::new("openssl")
        .args(["ecparam", "-name", "secp384r1", "-genkey", "-noout"])
        .output()
        .unwrap();
    assert!(key.status.success());
    sm.create_secret()
        .name("ivs-automation/playback-key")
        .secret_string(String::from_utf8(key.stdout).unwrap())
        .send()
        .await
        .unwrap();
    let signer = load_signer(&sm, "ivs-automation/playback-key")
        .await
        .unwrap();
    let minted = signer
        .mint(
            "arn:aws:ivs:us-west-2:111122223333:channel/AbCdEf123456",
            "https://example.us-west-2.playback.live-video.net/api/video/v1/x.m3u8",
            &Default::default(),
            chrono::Utc::now(),
        )
        .unwrap();
    assert!(minted.playback_url.expose().contains("?token=ey"));
    let missing = load_signer(&sm, "nope").await.unwrap_err();
    assert!(!missing.is_retryable());
}

#[tokio::test]
async fn unsigned_and_unknown_requests_are_refused() {
    let (_emulator, server) = start_emulator_with(Config::default()).await;
    let url = format!("{}/", server.url());
    // curl blocks: off the runtime that serves the emulator.
    let status = |args: &'static [&'static str]| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let out = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
                .args(args)
                .arg(url)
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        })
    };
    assert_eq!(
        status(&[
            "-H",
            "x-amz-target: secretsmanager.GetSecretValue",
            "-d",
            "{\"SecretId\":\"a\"}"
        ])
        .await
        .unwrap(),
        "403",
        "unsigned"
    );
    assert_eq!(
        status(&[
            "--aws-sigv4",
            "aws:amz:us-west-2:secretsmanager",
            "--user",
            "AKID:secret",
            "-H",
            "x-amz-target: secretsmanager.RotateSecret",
            "-d",
            "{}",
        ])
        .await
        .unwrap(),
        "400",
        "not emulated"
    );
}
