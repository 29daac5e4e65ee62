//! Publishing lifecycle events (`domain::lifecycle`) on EventBridge with `PutEvents`.
//!
//! Every event goes to the bus `LIFECYCLE_EVENT_BUS` names (a bus name or ARN; the template
//! sets the platform's bus or `default`), source `ivs-automation`, its `detail-type` per kind,
//! `resources` = the channel's ARN, `time` = when the fact happened. Unset or empty: nothing
//! is published (and nothing fails).
//!
//! `PutEvents` takes at most 10 entries per call and may take some of them only
//! (`FailedEntryCount`): the entries it refused are sent again with a short growing delay,
//! while the invocation has time; the SDK retries a failed call itself (3 attempts). What is
//! still not taken is returned as [`PublishError`], with the events: the caller keeps them
//! (the event functions put them in their queue as an *outbox* record, [`Outbox`]; the
//! sweeper in its state table; the admin API answers 503 so that the operator retries), so
//! that no fact is lost.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{info, warn};

use crate::ivs::has_time_left;
use crate::metrics::Metrics;
use domain::arn::{IvsArn, ResourceType};
use domain::lifecycle::{Lifecycle, LifecycleKind, LIFECYCLE_SOURCE};
use domain::metrics::{DIM_KIND, LIFECYCLE_PUBLISHED, LIFECYCLE_PUBLISH_FAILED};

impl From<PublishError> for crate::error::Error {
    fn from(e: PublishError) -> Self {
        crate::error::Error::Publish {
            events: e.unpublished.len(),
            reason: e.reason,
        }
    }
}

/// The bus variable.
pub const LIFECYCLE_EVENT_BUS: &str = "LIFECYCLE_EVENT_BUS";
/// `PutEvents`' largest batch.
pub const PUT_EVENTS_MAX: usize = 10;
/// How many times refused entries are sent again (after the first call).
const RESENDS: u32 = 3;
const FIRST_RESEND_DELAY: Duration = Duration::from_millis(100);

/// Some lifecycle events were not published: they are here, for the caller to keep.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} lifecycle event(s) not published: {reason}", .unpublished.len())]
pub struct PublishError {
    pub unpublished: Vec<Lifecycle>,
    /// Why (EventBridge's error code or the call's failure; never a secret).
    pub reason: String,
}

/// The EventBridge side of every function.
#[derive(Clone, Debug)]
pub struct Publisher {
    client: Option<aws_sdk_eventbridge::Client>,
    bus: String,
}

impl Publisher {
    /// A publisher to `bus` (`None` or empty: off), with a client from the function's
    /// configuration (`AWS_ENDPOINT_URL_EVENTBRIDGE` locally) and the SDK's standard retries.
    /// Builds the client only: no I/O.
    pub fn new(config: &SdkConfig, bus: Option<String>) -> Self {
        match bus.filter(|b| !b.trim().is_empty()) {
            None => Self::off(),
            Some(bus) => {
                let conf = aws_sdk_eventbridge::config::Builder::from(config)
                    .retry_config(RetryConfig::standard().with_max_attempts(3))
                    .build();
                Self::from_client(aws_sdk_eventbridge::Client::from_conf(conf), bus)
            }
        }
    }

    /// A publisher over a given client (tests).
    pub fn from_client(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Publisher {
            client: Some(client),
            bus: bus.into(),
        }
    }

    /// Publishes nothing.
    pub fn off() -> Self {
        Publisher {
            client: None,
            bus: String::new(),
        }
    }

    pub fn is_on(&self) -> bool {
        self.client.is_some()
    }

    /// Puts `events` on the bus (see the module's documentation) and counts them in
    /// `metrics`. `Err` holds the ones EventBridge did not take.
    pub async fn publish(
        &self,
        events: &[Lifecycle],
        metrics: Option<&Metrics>,
    ) -> Result<(), PublishError> {
        let Some(client) = &self.client else {
            return Ok(());
        };
        let mut failed: Vec<Lifecycle> = Vec::new();
        let mut reason = String::new();
        for chunk in events.chunks(PUT_EVENTS_MAX) {
            let mut pending: Vec<Lifecycle> = chunk.to_vec();
            let mut resend = 0;
            loop {
                match self.put(client, &pending).await {
                    Ok(refused) => {
                        let not_taken: Vec<&Lifecycle> = refused.iter().map(|(e, _)| e).collect();
                        taken(&pending, &not_taken, metrics);
                        if refused.is_empty() {
                            break;
                        }
                        reason = refused
                            .iter()
                            .map(|(_, code)| code.as_str())
                            .collect::<Vec<_>>()
                            .join(",");
                        pending = refused.into_iter().map(|(e, _)| e).collect();
                    }
                    Err(why) => reason = why,
                }
                let delay = FIRST_RESEND_DELAY * 2u32.pow(resend);
                if resend >= RESENDS || !has_time_left() {
                    failed.extend(pending);
                    break;
                }
                warn!(events = pending.len(), reason = %reason, delay_ms = delay.as_millis() as u64, "EventBridge did not take every lifecycle event: sending again");
                tokio::time::sleep(delay).await;
                resend += 1;
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        if let Some(m) = metrics {
            m.count(LIFECYCLE_PUBLISH_FAILED, &[], failed.len() as u64);
        }
        Err(PublishError {
            unpublished: failed,
            reason,
        })
    }

    /// One try, no resend (beside other work: [`Publisher::publish`] does the resends and
    /// keeps count of what is not taken): the events EventBridge did not take, all of them
    /// when the call failed.
    pub async fn try_once(
        &self,
        events: &[Lifecycle],
        metrics: Option<&Metrics>,
    ) -> Vec<Lifecycle> {
        let Some(client) = &self.client else {
            return Vec::new();
        };
        let mut refused = Vec::new();
        for chunk in events.chunks(PUT_EVENTS_MAX) {
            let not_taken: Vec<Lifecycle> = match self.put(client, chunk).await {
                Ok(refused) => refused.into_iter().map(|(e, _)| e).collect(),
                Err(_) => chunk.to_vec(),
            };
            taken(chunk, &not_taken.iter().collect::<Vec<_>>(), metrics);
            refused.extend(not_taken);
        }
        refused
    }

    /// One `PutEvents` call: `Ok` with the entries refused (and their error codes), `Err`
    /// when the call failed as a whole.
    async fn put(
        &self,
        client: &aws_sdk_eventbridge::Client,
        events: &[Lifecycle],
    ) -> Result<Vec<(Lifecycle, String)>, String> {
        let entries = events
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(LIFECYCLE_SOURCE)
                    .detail_type(e.kind.detail_type())
                    .detail(e.detail.to_string())
                    .resources(e.channel.as_str())
                    .time(aws_smithy_types::DateTime::from_millis(
                        e.time.timestamp_millis(),
                    ))
                    .build()
            })
            .collect::<Vec<_>>();
        let output = client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| aws_sdk_eventbridge::error::DisplayErrorContext(e).to_string())?;
        if output.failed_entry_count() == 0 {
            return Ok(Vec::new());
        }
        // The result entries are in the request's order; a refused one has an error code.
        // Results that do not line up with the request say nothing of which were taken:
        // every entry counts as refused (a resend repeats taken ones, with the same ids).
        if output.entries().len() != events.len() {
            let code = output
                .entries()
                .iter()
                .find_map(|e| e.error_code())
                .unwrap_or("FailedEntryCount")
                .to_owned();
            return Ok(events.iter().map(|e| (e.clone(), code.clone())).collect());
        }
        Ok(events
            .iter()
            .zip(output.entries())
            .filter_map(|(event, result)| {
                result
                    .error_code()
                    .map(|code| (event.clone(), code.to_owned()))
            })
            .collect())
    }
}

/// Logs and counts the events of `sent` that are not in `not_taken`.
fn taken(sent: &[Lifecycle], not_taken: &[&Lifecycle], metrics: Option<&Metrics>) {
    let refused = |e: &Lifecycle| not_taken.iter().any(|r| r.id == e.id && r.kind == e.kind);
    for event in sent.iter().filter(|e| !refused(e)) {
        info!(lifecycle_event = event.kind.detail_type(), lifecycle_id = %event.id, channel_arn = %event.channel, "lifecycle event published");
        if let Some(m) = metrics {
            m.count(
                LIFECYCLE_PUBLISHED,
                &[(DIM_KIND, event.kind.detail_type())],
                1,
            );
        }
    }
}

/// Lifecycle events kept for a later try, as an SQS record's body (the event functions'
/// outbox: the record goes to their own queue, and handling it publishes them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outbox {
    /// Always [`Outbox::MARK`]: tells an outbox record from an IVS event.
    pub ivs_automation_outbox: u32,
    pub events: Vec<KeptEvent>,
}

/// One kept lifecycle event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptEvent {
    pub detail_type: String,
    pub channel_arn: String,
    pub time: String,
    pub detail: Value,
}

impl Outbox {
    pub const MARK: u32 = 1;

    pub fn new(events: &[Lifecycle]) -> Self {
        Outbox {
            ivs_automation_outbox: Self::MARK,
            events: events.iter().map(KeptEvent::from).collect(),
        }
    }

    /// An outbox record's body, if `body` is one.
    pub fn read(body: &Value) -> Option<Result<Vec<Lifecycle>, String>> {
        body.get("ivsAutomationOutbox")?;
        Some(
            serde_json::from_value::<Outbox>(body.clone())
                .map_err(|e| format!("an outbox record that does not read: {e}"))
                .and_then(|o| o.events.iter().map(KeptEvent::to_lifecycle).collect()),
        )
    }
}

impl From<&Lifecycle> for KeptEvent {
    fn from(e: &Lifecycle) -> Self {
        KeptEvent {
            detail_type: e.kind.detail_type().to_owned(),
            channel_arn: e.channel.as_str().to_owned(),
            time: e.time.to_rfc3339_opts(SecondsFormat::Millis, true),
            detail: e.detail.clone(),
        }
    }
}

impl KeptEvent {
    pub fn to_lifecycle(&self) -> Result<Lifecycle, String> {
        let kind = LifecycleKind::from_detail_type(&self.detail_type)
            .ok_or_else(|| format!("unknown lifecycle detail-type {:?}", self.detail_type))?;
        let channel = IvsArn::parse_as(&self.channel_arn, ResourceType::Channel)
            .map_err(|e| e.to_string())?;
        let time = DateTime::parse_from_rfc3339(&self.time)
            .map_err(|e| format!("time {:?}: {e}", self.time))?
            .with_timezone(&Utc);
        let id = self
            .detail
            .get("id")
            .and_then(Value::as_str)
            .ok_or("a kept lifecycle event without an id")?
            .to_owned();
        Ok(Lifecycle {
            kind,
            id,
            channel,
            time,
            detail: self.detail.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::lifecycle::{channel_live, stream_key_rotated, RotationTrigger};

    #[test]
    fn an_outbox_reads_back_what_it_kept() {
        let channel =
            IvsArn::parse("arn:aws:ivs:us-west-2:111122223333:channel/AbCdEf123456").unwrap();
        let at = DateTime::parse_from_rfc3339("2026-01-05T10:00:00.250Z")
            .unwrap()
            .with_timezone(&Utc);
        let events = vec![
            channel_live(&channel, Some("demo"), "st-1", at, None),
            stream_key_rotated(
                &channel,
                "arn:aws:ivs:us-west-2:111122223333:stream-key/k2",
                &[],
                Some("st-1"),
                RotationTrigger::StreamEnd,
                at,
            ),
        ];
        let body = serde_json::to_value(Outbox::new(&events)).unwrap();
        assert_eq!(Outbox::read(&body), Some(Ok(events)));
        let event =
            serde_json::json!({"source": "aws.ivs", "detail-type": "IVS Stream State Change"});
        assert_eq!(Outbox::read(&event), None);
        let broken =
            serde_json::json!({"ivsAutomationOutbox": 1, "events": [{"detailType": "Nope"}]});
        assert!(matches!(Outbox::read(&broken), Some(Err(_))));
    }
}
