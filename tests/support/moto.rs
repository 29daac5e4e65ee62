//! moto's server (every service it has: SQS, DynamoDB, EventBridge…) on a free loopback port,
//! for the AWS services other than IVS the tests need. Needs python with
//! `moto[events,dynamodb,server]` (`./scripts/tools.sh` installs it into `.venv`): `PYTHON`,
//! else the workspace's `.venv`, else `python3`. Its account is [`crate::ACCOUNT`]
//! (`MOTO_ACCOUNT_ID`), so queue URLs and ARNs name the fake account. Nothing is created in
//! it: each test makes what it needs with the SDK.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running moto server; stopped when dropped.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    url: String,
}

const MOTO_SCRIPT: &str = r#"
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print("http://%s:%d" % (host, port), flush=True)
sys.stdin.read()
server.stop()
"#;

impl Moto {
    /// Starts a server and waits until it listens.
    pub fn start() -> Moto {
        let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
        let python = std::env::var("PYTHON").unwrap_or_else(|_| {
            if venv.exists() {
                venv.display().to_string()
            } else {
                "python3".to_owned()
            }
        });
        let mut child = Command::new(&python)
            .args(["-c", MOTO_SCRIPT])
            .env("MOTO_ACCOUNT_ID", crate::ACCOUNT)
            .env("AWS_ACCESS_KEY_ID", "AKIDTESTMOTO")
            .env("AWS_SECRET_ACCESS_KEY", "test-secret")
            .env("AWS_DEFAULT_REGION", "us-west-2")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
        let mut line = String::new();
        let stdout = child.stdout.take().expect("moto's stdout");
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("moto's first line");
        let url = line.trim().to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "this test needs {python} with moto[events,dynamodb,server] (./scripts/tools.sh installs it): got {url:?}"
        );
        Moto { child, url }
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// An SQS client of it (fake credentials, us-west-2).
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::Config::builder()
                .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
                .region(aws_sdk_sqs::config::Region::new("us-west-2"))
                .credentials_provider(aws_sdk_sqs::config::Credentials::for_tests())
                .endpoint_url(&self.url)
                .build(),
        )
    }

    /// An EventBridge client of it (fake credentials, us-west-2).
    pub fn eventbridge(&self) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::Config::builder()
                .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
                .region(aws_sdk_eventbridge::config::Region::new("us-west-2"))
                .credentials_provider(aws_sdk_eventbridge::config::Credentials::for_tests())
                .endpoint_url(&self.url)
                .build(),
        )
    }

    /// Subscribes a new SQS queue named `queue` to the events of the bus `bus` (`default`,
    /// or a bus created here) that match `pattern`, as a consumer deploys it: a rule with
    /// that event pattern and the queue as its target. Returns the queue's URL.
    pub async fn subscribe_queue(&self, bus: &str, pattern: &str, queue: &str) -> String {
        let url = self
            .sqs()
            .create_queue()
            .queue_name(queue)
            .send()
            .await
            .expect("moto creates the queue")
            .queue_url()
            .expect("a queue URL")
            .to_owned();
        let events = self.eventbridge();
        if bus != "default" {
            events
                .create_event_bus()
                .name(bus)
                .send()
                .await
                .expect("moto creates the bus");
        }
        let rule = format!("{queue}-rule");
        events
            .put_rule()
            .name(&rule)
            .event_bus_name(bus)
            .event_pattern(pattern)
            .send()
            .await
            .expect("moto creates the rule");
        events
            .put_targets()
            .rule(&rule)
            .event_bus_name(bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id(queue)
                    .arn(format!("arn:aws:sqs:us-west-2:{}:{queue}", crate::ACCOUNT))
                    .build()
                    .expect("a target"),
            )
            .send()
            .await
            .expect("moto adds the target");
        url
    }

    /// Receives and deletes what the queue at `url` holds now (long polls of 1 s until one
    /// comes back empty): the bodies, in the order received.
    pub async fn drain(&self, url: &str) -> Vec<String> {
        let sqs = self.sqs();
        let mut bodies = Vec::new();
        loop {
            let received = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("moto answers ReceiveMessage");
            let messages = received.messages();
            if messages.is_empty() {
                return bodies;
            }
            for message in messages {
                bodies.push(message.body().unwrap_or_default().to_owned());
                if let Some(handle) = message.receipt_handle() {
                    sqs.delete_message()
                        .queue_url(url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("moto answers DeleteMessage");
                }
            }
        }
    }
}

/// An event as an EventBridge rule's SQS target delivers it, from the body moto's target
/// sent: moto 5.2.5 renders the envelope with its default input template, which leaves out
/// `account` (EventBridge always sets it: the bus's account); it is put back here as
/// `account`. Everything else is moto's (the envelope's `id`, `time` in whole seconds, the
/// `region`) or the publisher's (`source`, `detail-type`, `resources`, `detail`), untouched.
/// `None` when `body` is not a JSON object.
pub fn delivered_event(body: &str, account: &str) -> Option<serde_json::Value> {
    let mut event: serde_json::Value = serde_json::from_str(body).ok()?;
    let map = event.as_object_mut()?;
    map.entry("account")
        .or_insert_with(|| serde_json::Value::String(account.to_owned()));
    Some(event)
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing its stdin stops the server; kill it if it does not go.
        drop(self.child.stdin.take());
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
