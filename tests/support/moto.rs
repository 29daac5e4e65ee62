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
