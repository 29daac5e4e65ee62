//! One handler per route, in the file of its resource; the route table (`router`) binds each
//! route to its handler. Every handler calls IVS through [`AdminApi::call`], which runs one
//! call under the adapter's retry policy. Reads, and writes that are idempotent, are retried
//! on every transient failure (`RetryOn::Transient`); writes that IVS would duplicate
//! (creates, imports) only when IVS throttled them, so that nothing happened
//! (`RetryOn::Throttling`).

pub(crate) mod channels;
pub(crate) mod metadata;
pub(crate) mod playback_keys;
pub(crate) mod recording;
pub(crate) mod stream_keys;
pub(crate) mod streams;
pub(crate) mod tags;
pub(crate) mod viewers;

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_ivs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ivs::Client;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::input::Page;
use crate::{AdminApi, Call, Failure, Reply};
use domain::arn::{IvsArn, ResourceType};
use ivs_adapter::error::Error;
use ivs_adapter::ivs::{RetryOn, StopOutcome};

type Result<T> = std::result::Result<T, Failure>;

impl AdminApi {
    /// Runs one IVS call under the adapter's retry policy: `send` builds the request with
    /// the client and sends it, once per attempt.
    pub(crate) async fn call<'a, T, E, Fut>(
        &'a self,
        operation: &'static str,
        retry_on: RetryOn,
        mut send: impl FnMut(&'a Client) -> Fut,
    ) -> std::result::Result<T, Error>
    where
        Fut: Future<Output = std::result::Result<T, SdkError<E>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let client = self.ivs().client();
        self.ivs().call(operation, retry_on, || send(client)).await
    }
}

// ------------------------------------------------------------------ list routes

/// The query parameters of every list route.
const PAGING: [&str; 2] = ["nextToken", "maxResults"];

/// A list route's query: no parameters but `filters` and [`PAGING`], then the page asked for
/// (1 to `max` items).
fn list_query(call: &Call<'_>, filters: &[&str], max: i32) -> Result<Page> {
    let known: Vec<&str> = filters.iter().chain(&PAGING).copied().collect();
    call.query.only(&known)?;
    Ok(call.query.page(max)?)
}

/// The query of a list route below a channel (`/channels/{channelId}/…`): no parameters but
/// [`PAGING`], then the channel, then the page asked for (1 to `max` items).
fn channel_list_query(call: &Call<'_>, max: i32) -> Result<(IvsArn, Page)> {
    call.query.only(&PAGING)?;
    let channel = call.arn("channelId", ResourceType::Channel)?;
    Ok((channel, call.query.page(max)?))
}

/// A list route's answer: the page's `items` as JSON under `key`, and IVS's `nextToken` when
/// there are more.
fn page_reply<T>(
    key: &str,
    items: &[T],
    view: impl Fn(&T) -> Value,
    next_token: Option<&str>,
) -> Reply {
    let mut body = json!({ key: items.iter().map(view).collect::<Vec<_>>() });
    if let Some(token) = next_token.filter(|t| !t.is_empty()) {
        body["nextToken"] = json!(token);
    }
    Reply::ok(body)
}

// ------------------------------------------------------------------ bodies and validation

/// The body of the batch-get routes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ids {
    ids: Vec<String>,
}

/// A body of optional tags: creating a stream key's; rotate, suspend, resume and stop read
/// theirs as one too (and ignore it), refusing any other field.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TagsOnly {
    tags: Option<HashMap<String, String>>,
}

/// A value of one of IVS's enums; `allowed` comes from the SDK's list of values.
fn one_of(field: &str, value: &str, allowed: &[&str]) -> std::result::Result<(), ApiError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(ApiError::bad_field(
            field,
            format!("must be one of {}", allowed.join(", ")),
        ))
    }
}

/// A resource name as IVS allows it: 0-128 of `[a-zA-Z0-9-_]`.
fn name(field: &str, value: &str) -> std::result::Result<(), ApiError> {
    if value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err(ApiError::bad_field(
            field,
            "must be at most 128 letters, digits, '-' or '_'",
        ))
    }
}

/// Tags as IVS allows them: at most 50; keys 1-128 characters, not starting with `aws:`;
/// values at most 256.
fn tags(field: &str, tags: &HashMap<String, String>) -> std::result::Result<(), ApiError> {
    if tags.len() > 50 {
        return Err(ApiError::bad_field(field, "at most 50 tags"));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || k.starts_with("aws:") {
            return Err(ApiError::bad_field(
                &format!("{field}.{k}"),
                "tag keys are 1-128 characters and do not start with aws:",
            ));
        }
        if v.chars().count() > 256 {
            return Err(ApiError::bad_field(
                &format!("{field}.{k}"),
                "tag values are at most 256 characters",
            ));
        }
    }
    Ok(())
}

/// 1-50 ids or ARNs of `kind` in a body field.
fn arns(call: &Call<'_>, field: &str, ids: &[String], kind: ResourceType) -> Result<Vec<String>> {
    if ids.is_empty() || ids.len() > 50 {
        return Err(ApiError::bad_field(field, "give 1 to 50 ids or ARNs").into());
    }
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            call.arn_of(&format!("{field}[{i}]"), id, kind)
                .map(|a| a.to_string())
                .map_err(Failure::from)
        })
        .collect()
}

/// How a stream stop ended, as answered.
fn stop_word(outcome: StopOutcome) -> &'static str {
    match outcome {
        StopOutcome::Stopped => "stopped",
        StopOutcome::AlreadyStopped => "alreadyStopped",
    }
}
