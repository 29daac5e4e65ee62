//! Playback key pairs: import (the public half only), list, get, delete.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::json;

use super::{list_query, name, page_reply, tags, Result};
use crate::error::ApiError;
use crate::input::json_body;
use crate::views;
use crate::{AdminApi, Call, Reply};
use domain::arn::ResourceType;
use ivs_adapter::ivs::RetryOn;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ImportKeyBody {
    name: Option<String>,
    public_key_material: String,
    tags: Option<HashMap<String, String>>,
}

/// The one `PUBLIC KEY` block of `material`, re-encoded: nothing else of the body reaches
/// IVS. A body holding a private key is refused without a word of it in the answer (the
/// key should then be treated as exposed and replaced).
fn public_key_only(material: &str) -> std::result::Result<String, ApiError> {
    const FIELD: &str = "publicKeyMaterial";
    // Any private key PEM label (`PRIVATE KEY`, `EC PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`, …).
    if material.contains("PRIVATE KEY") {
        return Err(ApiError::bad_field(
            FIELD,
            "holds a private key: send only the public half (-----BEGIN PUBLIC KEY-----), and \
             replace the private key, which has now left where it was kept",
        ));
    }
    match pem::parse_many(material).as_deref() {
        Ok([only]) if only.tag() == "PUBLIC KEY" => Ok(pem::encode_config(
            only,
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )),
        _ => Err(ApiError::bad_field(
            FIELD,
            "must be exactly one PEM public key (-----BEGIN PUBLIC KEY-----), the P-384 public half",
        )),
    }
}

pub(crate) async fn import_playback_key_pair(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let body: ImportKeyBody = json_body(call.body)?;
    if let Some(n) = &body.name {
        name("name", n)?;
    }
    let public_key = public_key_only(&body.public_key_material)?;
    if let Some(t) = &body.tags {
        tags("tags", t)?;
    }
    let out = api
        .call("ImportPlaybackKeyPair", RetryOn::Throttling, |c| {
            c.import_playback_key_pair()
                .set_name(body.name.clone())
                .public_key_material(&public_key)
                .set_tags(body.tags.clone())
                .send()
        })
        .await?;
    Ok(Reply::created(json!({
        "keyPair": out.key_pair().map(views::playback_key_pair),
    })))
}

pub(crate) async fn list_playback_key_pairs(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let page = list_query(call, &[], 100)?;
    let out = api
        .call("ListPlaybackKeyPairs", RetryOn::Transient, |c| {
            c.list_playback_key_pairs()
                .set_next_token(page.next_token.clone())
                .set_max_results(page.max_results)
                .send()
        })
        .await?;
    Ok(page_reply(
        "keyPairs",
        out.key_pairs(),
        views::playback_key_pair_summary,
        out.next_token(),
    ))
}

pub(crate) async fn get_playback_key_pair(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = call.arn("keyPairId", ResourceType::PlaybackKey)?;
    let out = api
        .call("GetPlaybackKeyPair", RetryOn::Transient, |c| {
            c.get_playback_key_pair().arn(arn.as_str()).send()
        })
        .await?;
    Ok(Reply::ok(json!({
        "keyPair": out.key_pair().map(views::playback_key_pair),
    })))
}

pub(crate) async fn delete_playback_key_pair(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = call.arn("keyPairId", ResourceType::PlaybackKey)?;
    api.call("DeletePlaybackKeyPair", RetryOn::Transient, |c| {
        c.delete_playback_key_pair().arn(arn.as_str()).send()
    })
    .await?;
    Ok(Reply::no_content())
}
