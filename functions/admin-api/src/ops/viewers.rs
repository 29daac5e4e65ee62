//! Viewers of private channels: playback tokens, and revoking viewer sessions.

use aws_sdk_ivs::types::BatchStartViewerSessionRevocationViewerSession;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::Result;
use crate::error::ApiError;
use crate::input::{check_size, json_body};
use crate::token::{Fault, TokenError, TokenRequest};
use crate::{AdminApi, Call, Failure, Reply};
use domain::arn::ResourceType;
use ivs_adapter::ivs::RetryOn;

/// A playback token for one viewer of a private channel, and the ready playback URL.
pub(crate) async fn mint_playback_token(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    check_size(call.body)?;
    let request = TokenRequest::from_json(if call.body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        call.body
    })
    .map_err(token_failure)?;
    request.validate().map_err(token_failure)?;
    let out = api
        .call("GetChannel", RetryOn::Transient, |c| {
            c.get_channel().arn(channel.as_str()).send()
        })
        .await?;
    let found = out.channel();
    let playback_url = found.and_then(|c| c.playback_url()).unwrap_or_default();
    let authorized = found.is_some_and(|c| c.authorized());
    let Some(cell) = api.signer() else {
        return Err(ApiError::new(
            501,
            "NotConfigured",
            "playback tokens are not set up in this deployment (no playback key secret)",
        )
        .into());
    };
    let signer = cell.get().await.map_err(token_failure)?;
    let minted = signer
        .mint(channel.as_str(), playback_url, &request, Utc::now())
        .map_err(token_failure)?;
    Ok(Reply::ok(json!({
        "token": minted.token.expose(),
        "playbackUrl": minted.playback_url.expose(),
        "expiresAt": minted.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        // A token is only checked on private channels: say so when this one is public.
        "channelAuthorized": authorized,
    })))
}

fn token_failure(e: TokenError) -> Failure {
    match e.fault() {
        Fault::Caller => ApiError::bad_request(e.to_string()).into(),
        Fault::Transient => ApiError {
            retry_after: Some(2),
            ..ApiError::new(
                503,
                "ServiceUnavailable",
                "the playback key could not be loaded; retry after the pause given in Retry-After",
            )
        }
        .into(),
        // The deployment's key is missing or unusable: no retry helps until an operator acts.
        // The reason (which never holds key material) tells them what to fix.
        Fault::Configuration => ApiError::new(
            503,
            "PlaybackKeyUnavailable",
            format!("playback tokens cannot be signed: {e}"),
        )
        .into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RevokeBody {
    viewer_id: String,
    viewer_session_versions_less_than_or_equal_to: Option<i32>,
}

fn viewer_id(field: &str, id: &str) -> std::result::Result<(), ApiError> {
    if (1..=40).contains(&id.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::bad_field(field, "must be 1 to 40 characters"))
    }
}

pub(crate) async fn revoke_viewer_session(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let body: RevokeBody = json_body(call.body)?;
    viewer_id("viewerId", &body.viewer_id)?;
    api.call("StartViewerSessionRevocation", RetryOn::Transient, |c| {
        c.start_viewer_session_revocation()
            .channel_arn(channel.as_str())
            .viewer_id(&body.viewer_id)
            .set_viewer_session_versions_less_than_or_equal_to(
                body.viewer_session_versions_less_than_or_equal_to,
            )
            .send()
    })
    .await?;
    Ok(Reply::no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct BatchRevokeItem {
    channel_id: String,
    viewer_id: String,
    viewer_session_versions_less_than_or_equal_to: Option<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct BatchRevokeBody {
    viewer_sessions: Vec<BatchRevokeItem>,
}

pub(crate) async fn batch_revoke_viewer_sessions(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let body: BatchRevokeBody = json_body(call.body)?;
    if body.viewer_sessions.is_empty() || body.viewer_sessions.len() > 20 {
        return Err(ApiError::bad_field("viewerSessions", "give 1 to 20 viewer sessions").into());
    }
    let mut sessions = Vec::with_capacity(body.viewer_sessions.len());
    for (i, s) in body.viewer_sessions.iter().enumerate() {
        let channel = call.arn_of(
            &format!("viewerSessions[{i}].channelId"),
            &s.channel_id,
            ResourceType::Channel,
        )?;
        viewer_id(&format!("viewerSessions[{i}].viewerId"), &s.viewer_id)?;
        let session = BatchStartViewerSessionRevocationViewerSession::builder()
            .channel_arn(channel.as_str())
            .viewer_id(&s.viewer_id)
            .set_viewer_session_versions_less_than_or_equal_to(
                s.viewer_session_versions_less_than_or_equal_to,
            )
            .build()
            .map_err(|e| ApiError::bad_field(&format!("viewerSessions[{i}]"), e))?;
        sessions.push(session);
    }
    let out = api
        .call(
            "BatchStartViewerSessionRevocation",
            RetryOn::Transient,
            |c| {
                c.batch_start_viewer_session_revocation()
                    .set_viewer_sessions(Some(sessions.clone()))
                    .send()
            },
        )
        .await?;
    let errors: Vec<Value> = out
        .errors()
        .iter()
        .map(|e| {
            json!({
                "channelArn": e.channel_arn(),
                "viewerId": e.viewer_id(),
                "code": e.code(),
                "message": e.message(),
            })
        })
        .collect();
    Ok(Reply::ok(json!({ "errors": errors })))
}
