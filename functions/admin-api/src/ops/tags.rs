//! Tags of any IVS resource, by ARN: list, tag, untag.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::json;

use super::{tags, Result};
use crate::error::ApiError;
use crate::input::json_body;
use crate::{AdminApi, Call, Reply};
use domain::arn::IvsArn;
use ivs_adapter::ivs::RetryOn;

/// The resource of a tag route: any IVS ARN (every IVS resource type is taggable).
fn taggable(call: &Call<'_>) -> Result<IvsArn> {
    let raw = call.params.get("resourceArn").unwrap_or_default();
    IvsArn::parse(raw).map_err(|e| ApiError::bad_field("resourceArn", e.problem).into())
}

pub(crate) async fn list_tags(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    call.query.only(&[])?;
    let arn = taggable(call)?;
    Ok(Reply::ok(json!({ "tags": api.ivs().tags(&arn).await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagBody {
    tags: HashMap<String, String>,
}

pub(crate) async fn tag_resource(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = taggable(call)?;
    let body: TagBody = json_body(call.body)?;
    if body.tags.is_empty() {
        return Err(ApiError::bad_field("tags", "give at least one tag").into());
    }
    tags("tags", &body.tags)?;
    api.call("TagResource", RetryOn::Transient, |c| {
        c.tag_resource()
            .resource_arn(arn.as_str())
            .set_tags(Some(body.tags.clone()))
            .send()
    })
    .await?;
    Ok(Reply::no_content())
}

pub(crate) async fn untag_resource(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    call.query.only(&["tagKeys"])?;
    let arn = taggable(call)?;
    let keys: Vec<String> = call
        .query
        .all("tagKeys")
        .into_iter()
        .map(str::to_owned)
        .collect();
    if keys.is_empty() || keys.len() > 50 {
        return Err(ApiError::bad_field("tagKeys", "give 1 to 50 tagKeys query parameters").into());
    }
    api.call("UntagResource", RetryOn::Transient, |c| {
        c.untag_resource()
            .resource_arn(arn.as_str())
            .set_tag_keys(Some(keys.clone()))
            .send()
    })
    .await?;
    Ok(Reply::no_content())
}
