//! Tagging operations on any IVS resource: ListTagsForResource (`GET /tags/{resourceArn}`),
//! TagResource (`POST`), UntagResource (`DELETE ...?tagKeys=a&tagKeys=b`).

use serde::Serialize;

use super::{empty_structure, found, json, OpResult};
use crate::error::IvsError;
use crate::state::State;
use crate::validate::{self, Input, Tags, MAX_TAGS};

fn resource_arn(input: &Input) -> Result<String, IvsError> {
    let arn = input.req_str("resourceArn")?;
    validate::resource_arn("resourceArn", arn)?;
    Ok(arn.to_owned())
}

#[derive(Serialize)]
struct TagsResponse<'a> {
    tags: &'a Tags,
}

/// ListTagsForResource.
pub(super) fn list(state: &mut State, input: &Input) -> OpResult {
    let arn = resource_arn(input)?;
    let tags = found(state.tags_mut(&arn), &arn)?;
    json(&TagsResponse { tags })
}

/// TagResource: adds or replaces tags; at most 50 in all.
pub(super) fn tag(state: &mut State, input: &Input) -> OpResult {
    let arn = resource_arn(input)?;
    let new_tags = input.opt_tags("tags")?.ok_or_else(|| {
        IvsError::validation("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
    })?;
    let tags = found(state.tags_mut(&arn), &arn)?;
    let mut merged = tags.clone();
    merged.extend(new_tags);
    if merged.len() > MAX_TAGS {
        return Err(IvsError::validation(format!(
            "A resource can have at most {MAX_TAGS} tags; this request would leave it with {}",
            merged.len()
        )));
    }
    *tags = merged;
    empty_structure()
}

/// UntagResource: removes the given keys (absent keys are ignored).
pub(super) fn untag(state: &mut State, input: &Input) -> OpResult {
    let arn = resource_arn(input)?;
    let keys = input.req_str_list("tagKeys", 0, MAX_TAGS)?;
    for (index, key) in keys.iter().enumerate() {
        validate::tag_key(&format!("tagKeys.{}", index + 1), key)?;
    }
    let tags = found(state.tags_mut(&arn), &arn)?;
    for key in &keys {
        tags.remove(key);
    }
    empty_structure()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::error::ErrorKind;
    use crate::ops::test_support::{call, error_kind, state};
    use crate::ops::Operation;
    use crate::state::State;

    #[test]
    fn tag_untag_and_limits() {
        let mut st = state();
        let created = call(
            &mut st,
            Operation::CreateChannel,
            json!({"tags": {"a": "1"}}),
        )
        .unwrap();
        let arn = created["channel"]["arn"].clone();
        call(
            &mut st,
            Operation::TagResource,
            json!({"resourceArn": arn, "tags": {"b": "2"}}),
        )
        .unwrap();
        let list_tags = |st: &mut State| {
            call(
                st,
                Operation::ListTagsForResource,
                json!({"resourceArn": arn}),
            )
            .unwrap()
        };
        assert_eq!(list_tags(&mut st), json!({"tags": {"a": "1", "b": "2"}}));
        call(
            &mut st,
            Operation::UntagResource,
            json!({"resourceArn": arn, "tagKeys": ["a", "zzz"]}),
        )
        .unwrap();
        assert_eq!(list_tags(&mut st), json!({"tags": {"b": "2"}}));
        let many: serde_json::Map<_, _> = (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
        let too_many = json!({"resourceArn": arn, "tags": many});
        assert_eq!(
            error_kind(&mut st, Operation::TagResource, too_many),
            ErrorKind::Validation
        );
        let reserved = json!({"resourceArn": arn, "tags": {"aws:x": "1"}});
        assert_eq!(
            error_kind(&mut st, Operation::TagResource, reserved),
            ErrorKind::Validation
        );
        let missing = json!({"resourceArn": "arn:aws:ivs:us-west-2:111122223333:channel/nope"});
        assert_eq!(
            error_kind(&mut st, Operation::ListTagsForResource, missing),
            ErrorKind::ResourceNotFound
        );
        let malformed = json!({"resourceArn": "not-an-arn"});
        assert_eq!(
            error_kind(&mut st, Operation::ListTagsForResource, malformed),
            ErrorKind::Validation
        );
        let key_tags = json!({"resourceArn": created["streamKey"]["arn"]});
        assert_eq!(
            call(&mut st, Operation::ListTagsForResource, key_tags).unwrap(),
            json!({"tags": {}})
        );
    }
}
