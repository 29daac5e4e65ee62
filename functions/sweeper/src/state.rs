//! Where the sweep stopped, and which run may sweep: one item of a small DynamoDB table
//! (`SWEEP_STATE_TABLE`, deployed by the template; the function may only GetItem and PutItem
//! on it).
//!
//! The item holds the pass (when it started, the ListChannels page it is on, the last channel
//! swept in that page, the channels swept so far, whether it completed) and a lease (which run
//! holds it, until when). Every write is conditional on the version the writer last read and
//! bumps it, so two runs can never both advance the position: the one that finds the version
//! changed stops.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, SecondsFormat, Utc};

/// The state table's name variable.
pub const SWEEP_STATE_TABLE: &str = "SWEEP_STATE_TABLE";
/// The table's partition key (a string) and the one item's key.
pub const KEY_ATTRIBUTE: &str = "id";
pub const ITEM_KEY: &str = "sweeper";

/// A failure reading or writing the state item.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The item changed since this run read it: another run wrote it.
    #[error("the sweep state changed since it was read: another run wrote it")]
    Conflict,
    /// DynamoDB refused or failed the call.
    #[error("DynamoDB {operation} failed: {message}")]
    Dynamo {
        operation: &'static str,
        retryable: bool,
        message: String,
    },
    /// The item is not what this code writes.
    #[error("the sweep state item cannot be read: {0}")]
    Corrupt(String),
}

impl StateError {
    pub fn is_retryable(&self) -> bool {
        match self {
            StateError::Conflict => false,
            StateError::Dynamo { retryable, .. } => *retryable,
            StateError::Corrupt(_) => false,
        }
    }
}

/// Where a pass over the channels is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub pass_started: DateTime<Utc>,
    /// The ListChannels token of the page the pass is on (`None`: the first page).
    pub page_token: Option<String>,
    /// The last channel swept in that page (`None`: none yet).
    pub after: Option<String>,
    /// Channels swept in this pass, over every run.
    pub pass_channels: u64,
    /// Every channel was visited: the next run starts a new pass.
    pub complete: bool,
    /// Lifecycle events EventBridge did not take yet (`ivs_adapter::publish::KeptEvent`, as
    /// JSON): the next run publishes them first. Kept across passes.
    pub pending_events: Vec<String>,
    /// The channels (ARNs) that were live when the last run started: one of them offline now
    /// has ended a stream since, and is checked first (its rotation). Kept across passes.
    pub live_seen: Vec<String>,
}

/// The channel ARNs of `live_seen` are stored with their common prefix (`arn:…:channel/`)
/// once, so that thousands of live channels fit in the item (400 KB): about 14 bytes each.
const LIVE_PREFIX: &str = "live_prefix";
const LIVE_IDS: &str = "live_ids";

fn channel_prefix(arn: &str) -> Option<&str> {
    arn.find(":channel/").map(|i| &arn[..i + ":channel/".len()])
}

impl Position {
    /// A new pass, from the first page.
    pub fn new_pass(now: DateTime<Utc>) -> Self {
        Position {
            pass_started: now,
            page_token: None,
            after: None,
            pass_channels: 0,
            complete: false,
            pending_events: Vec::new(),
            live_seen: Vec::new(),
        }
    }
}

/// The run holding the lease, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub expires: DateTime<Utc>,
}

/// The item as read: its version (0: no item yet), the position and the lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    pub version: u64,
    pub position: Option<Position>,
    pub lease: Option<Lease>,
}

/// The state item in its table.
#[derive(Clone, Debug)]
pub struct StateStore {
    client: Client,
    table: String,
}

impl StateStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        StateStore {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The item (a strongly consistent read).
    pub async fn load(&self) -> Result<Saved, StateError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, AttributeValue::S(ITEM_KEY.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", &e))?;
        let Some(item) = output.item() else {
            return Ok(Saved {
                version: 0,
                position: None,
                lease: None,
            });
        };
        read_item(item)
    }

    /// Writes `position` and `lease` if the item is still at `version`; returns the new
    /// version. [`StateError::Conflict`] when another run wrote it in between.
    pub async fn save(
        &self,
        version: u64,
        position: &Position,
        lease: Option<&Lease>,
    ) -> Result<u64, StateError> {
        let next = version + 1;
        let mut item = HashMap::from([
            (
                KEY_ATTRIBUTE.to_owned(),
                AttributeValue::S(ITEM_KEY.to_owned()),
            ),
            ("version".to_owned(), AttributeValue::N(next.to_string())),
            (
                "pass_started".to_owned(),
                AttributeValue::S(stamp(position.pass_started)),
            ),
            (
                "pass_channels".to_owned(),
                AttributeValue::N(position.pass_channels.to_string()),
            ),
            (
                "pass_complete".to_owned(),
                AttributeValue::Bool(position.complete),
            ),
            (
                "updated_at".to_owned(),
                AttributeValue::S(stamp(Utc::now())),
            ),
        ]);
        if let Some(token) = &position.page_token {
            item.insert("page_token".to_owned(), AttributeValue::S(token.clone()));
        }
        if let Some(after) = &position.after {
            item.insert("after".to_owned(), AttributeValue::S(after.clone()));
        }
        if let Some(prefix) = position.live_seen.first().and_then(|a| channel_prefix(a)) {
            let ids = position
                .live_seen
                .iter()
                .map(|arn| match arn.strip_prefix(prefix) {
                    Some(id) => AttributeValue::S(id.to_owned()),
                    // Another account or region (not listed by this sweeper): kept whole.
                    None => AttributeValue::S(arn.clone()),
                })
                .collect();
            item.insert(LIVE_PREFIX.to_owned(), AttributeValue::S(prefix.to_owned()));
            item.insert(LIVE_IDS.to_owned(), AttributeValue::L(ids));
        }
        if !position.pending_events.is_empty() {
            item.insert(
                "pending_events".to_owned(),
                AttributeValue::L(
                    position
                        .pending_events
                        .iter()
                        .map(|e| AttributeValue::S(e.clone()))
                        .collect(),
                ),
            );
        }
        if let Some(lease) = lease {
            item.insert(
                "lease_owner".to_owned(),
                AttributeValue::S(lease.owner.clone()),
            );
            item.insert(
                "lease_expires".to_owned(),
                AttributeValue::N(lease.expires.timestamp().to_string()),
            );
        }
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let request = if version == 0 {
            request
                .condition_expression("attribute_not_exists(#id)")
                .expression_attribute_names("#id", KEY_ATTRIBUTE)
        } else {
            request
                .condition_expression("#version = :version")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":version", AttributeValue::N(version.to_string()))
        };
        match request.send().await {
            Ok(_) => Ok(next),
            Err(e)
                if e.as_service_error().and_then(|s| s.code())
                    == Some("ConditionalCheckFailedException") =>
            {
                Err(StateError::Conflict)
            }
            Err(e) => Err(dynamo_error("PutItem", &e)),
        }
    }
}

/// How long a lease taken at `now` lasts: a little past the invocation's end (`time_left`),
/// so that it never expires under the run holding it, and a crashed run frees it soon after.
pub fn lease_until(now: DateTime<Utc>, time_left: Duration) -> DateTime<Utc> {
    let past_the_end = time_left + Duration::from_secs(30);
    now + chrono::TimeDelta::from_std(past_the_end).unwrap_or(chrono::TimeDelta::minutes(16))
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn read_item(item: &HashMap<String, AttributeValue>) -> Result<Saved, StateError> {
    let s = |name: &str| match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
        Some(_) => Err(StateError::Corrupt(format!("{name} is not a string"))),
    };
    let n = |name: &str| match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(v)) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| StateError::Corrupt(format!("{name} is not a whole number"))),
        Some(_) => Err(StateError::Corrupt(format!("{name} is not a number"))),
    };
    let version = n("version")?
        .and_then(|v| u64::try_from(v).ok())
        .ok_or_else(|| StateError::Corrupt("no version".to_owned()))?;
    let position = match s("pass_started")? {
        None => None,
        Some(started) => Some(Position {
            pass_started: DateTime::parse_from_rfc3339(&started)
                .map_err(|_| StateError::Corrupt("pass_started is not a time".to_owned()))?
                .with_timezone(&Utc),
            page_token: s("page_token")?,
            after: s("after")?,
            pass_channels: n("pass_channels")?
                .and_then(|v| u64::try_from(v).ok())
                .unwrap_or(0),
            complete: matches!(item.get("pass_complete"), Some(AttributeValue::Bool(true))),
            live_seen: match (s(LIVE_PREFIX)?, item.get(LIVE_IDS)) {
                (Some(prefix), Some(AttributeValue::L(ids))) => ids
                    .iter()
                    .map(|v| match v {
                        AttributeValue::S(id) if id.starts_with("arn:") => Ok(id.clone()),
                        AttributeValue::S(id) => Ok(format!("{prefix}{id}")),
                        _ => Err(StateError::Corrupt(format!(
                            "{LIVE_IDS} holds a non-string"
                        ))),
                    })
                    .collect::<Result<_, _>>()?,
                _ => Vec::new(),
            },
            pending_events: match item.get("pending_events") {
                None => Vec::new(),
                Some(AttributeValue::L(list)) => list
                    .iter()
                    .map(|v| match v {
                        AttributeValue::S(e) => Ok(e.clone()),
                        _ => Err(StateError::Corrupt(
                            "pending_events holds a non-string".to_owned(),
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => {
                    return Err(StateError::Corrupt(
                        "pending_events is not a list".to_owned(),
                    ))
                }
            },
        }),
    };
    let lease = match (s("lease_owner")?, n("lease_expires")?) {
        (Some(owner), Some(expires)) => {
            DateTime::from_timestamp(expires, 0).map(|expires| Lease { owner, expires })
        }
        _ => None,
    };
    Ok(Saved {
        version,
        position,
        lease,
    })
}

fn dynamo_error<E>(operation: &'static str, e: &SdkError<E>) -> StateError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (retryable, message) = match e {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or("");
            let retryable = status >= 500
                || status == 429
                || matches!(
                    code,
                    "ProvisionedThroughputExceededException"
                        | "ThrottlingException"
                        | "RequestLimitExceeded"
                        | "InternalServerError"
                );
            (
                retryable,
                format!(
                    "HTTP {status} {code}: {}",
                    service.err().message().unwrap_or("")
                ),
            )
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => (
            true,
            aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
        ),
        _ => (
            false,
            aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
        ),
    };
    StateError::Dynamo {
        operation,
        retryable,
        message,
    }
}
