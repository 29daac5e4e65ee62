//! Playback restriction policy operations: CreatePlaybackRestrictionPolicy,
//! GetPlaybackRestrictionPolicy, ListPlaybackRestrictionPolicies, UpdatePlaybackRestrictionPolicy,
//! DeletePlaybackRestrictionPolicy.

use serde::Serialize;

use super::{check_quota, found, json, list_output, set, OpResult, Output};
use crate::error::IvsError;
use crate::ids::ResourceKind;
use crate::model::PlaybackRestrictionPolicy;
use crate::pagination;
use crate::state::State;
use crate::validate::{self, Input};

fn countries(input: &Input) -> Result<Option<Vec<String>>, IvsError> {
    let Some(countries) = input.opt_str_list("allowedCountries")? else {
        return Ok(None);
    };
    for (index, country) in countries.iter().enumerate() {
        let field = format!("allowedCountries.{}", index + 1);
        validate::length(&field, country, 2, 2)?;
        if !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(validate::constraint(
                &field,
                "Member must be an ISO 3166-1 alpha-2 country code",
            ));
        }
    }
    Ok(Some(countries))
}

fn origins(input: &Input) -> Result<Option<Vec<String>>, IvsError> {
    let Some(origins) = input.opt_str_list("allowedOrigins")? else {
        return Ok(None);
    };
    for (index, origin) in origins.iter().enumerate() {
        validate::length(&format!("allowedOrigins.{}", index + 1), origin, 0, 128)?;
    }
    Ok(Some(origins))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyResponse<'a> {
    playback_restriction_policy: &'a PlaybackRestrictionPolicy,
}

/// CreatePlaybackRestrictionPolicy.
pub(super) fn create(state: &mut State, input: &Input) -> OpResult {
    let allowed_countries = countries(input)?.unwrap_or_default();
    let allowed_origins = origins(input)?.unwrap_or_default();
    let strict = input
        .opt_bool("enableStrictOriginEnforcement")?
        .unwrap_or(false);
    let name = input.opt_name("name")?.unwrap_or_default();
    let tags = input.opt_tags("tags")?.unwrap_or_default();
    check_quota(
        state.playback_restriction_policies.len(),
        state.quotas.playback_restriction_policies,
        "playback restriction policies",
    )?;
    let arn = state.new_arn(ResourceKind::PlaybackRestrictionPolicy);
    let policy = PlaybackRestrictionPolicy {
        arn: arn.clone(),
        allowed_countries,
        allowed_origins,
        enable_strict_origin_enforcement: strict,
        name,
        tags,
    };
    let output = json(&PolicyResponse {
        playback_restriction_policy: &policy,
    });
    state.playback_restriction_policies.insert(arn, policy);
    output
}

/// GetPlaybackRestrictionPolicy.
pub(super) fn get(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("arn", ResourceKind::PlaybackRestrictionPolicy)?;
    let policy = found(state.playback_restriction_policies.get(&arn), &arn)?;
    json(&PolicyResponse {
        playback_restriction_policy: policy,
    })
}

/// ListPlaybackRestrictionPolicies.
pub(super) fn list(state: &mut State, input: &Input) -> OpResult {
    let (token, page_size) = pagination::request(input, 100, 100)?;
    let policies = state
        .playback_restriction_policies
        .values()
        .map(|p| (p.arn.clone(), p));
    let page = pagination::paginate(
        "ListPlaybackRestrictionPolicies",
        policies,
        token.as_deref(),
        page_size,
    )?;
    list_output("playbackRestrictionPolicies", page)
}

/// UpdatePlaybackRestrictionPolicy: changes the given members.
pub(super) fn update(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("arn", ResourceKind::PlaybackRestrictionPolicy)?;
    let allowed_countries = countries(input)?;
    let allowed_origins = origins(input)?;
    let strict = input.opt_bool("enableStrictOriginEnforcement")?;
    let name = input.opt_name("name")?;
    let policy = found(state.playback_restriction_policies.get_mut(&arn), &arn)?;
    set(&mut policy.allowed_countries, allowed_countries);
    set(&mut policy.allowed_origins, allowed_origins);
    set(&mut policy.enable_strict_origin_enforcement, strict);
    set(&mut policy.name, name);
    json(&PolicyResponse {
        playback_restriction_policy: policy,
    })
}

/// DeletePlaybackRestrictionPolicy: refused while a channel uses it.
pub(super) fn delete(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("arn", ResourceKind::PlaybackRestrictionPolicy)?;
    found(state.playback_restriction_policies.get(&arn), &arn)?;
    if let Some(channel) = state
        .channels
        .values()
        .find(|c| c.playback_restriction_policy_arn == arn)
    {
        return Err(IvsError::conflict(format!(
            "Playback restriction policy: {arn} is used by channel {}",
            channel.arn
        )));
    }
    state.playback_restriction_policies.remove(&arn);
    Ok(Output::Empty)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::error::ErrorKind;
    use crate::ops::test_support::{call, error_kind, state};
    use crate::ops::Operation;

    #[test]
    fn policies_lifecycle() {
        let mut st = state();
        let out = call(
            &mut st,
            Operation::CreatePlaybackRestrictionPolicy,
            json!({"allowedCountries": ["US"], "allowedOrigins": ["https://example.com"], "name": "p"}),
        )
        .unwrap();
        let arn = out["playbackRestrictionPolicy"]["arn"].clone();
        assert_eq!(
            out["playbackRestrictionPolicy"]["enableStrictOriginEnforcement"],
            false
        );
        let bad = json!({"allowedCountries": ["usa"]});
        assert_eq!(
            error_kind(&mut st, Operation::CreatePlaybackRestrictionPolicy, bad),
            ErrorKind::Validation
        );
        let updated = call(
            &mut st,
            Operation::UpdatePlaybackRestrictionPolicy,
            json!({"arn": arn, "enableStrictOriginEnforcement": true}),
        )
        .unwrap();
        assert_eq!(
            updated["playbackRestrictionPolicy"]["allowedCountries"],
            json!(["US"])
        );
        assert_eq!(
            updated["playbackRestrictionPolicy"]["enableStrictOriginEnforcement"],
            true
        );
        call(
            &mut st,
            Operation::CreateChannel,
            json!({"playbackRestrictionPolicyArn": arn}),
        )
        .unwrap();
        assert_eq!(
            error_kind(
                &mut st,
                Operation::DeletePlaybackRestrictionPolicy,
                json!({"arn": arn})
            ),
            ErrorKind::Conflict
        );
        let listed = call(
            &mut st,
            Operation::ListPlaybackRestrictionPolicies,
            json!({}),
        )
        .unwrap();
        assert_eq!(
            listed["playbackRestrictionPolicies"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}
