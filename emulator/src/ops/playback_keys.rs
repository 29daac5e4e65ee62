//! Playback key pair operations: ImportPlaybackKeyPair, GetPlaybackKeyPair, ListPlaybackKeyPairs,
//! DeletePlaybackKeyPair. At most three key pairs per account; the same public key cannot be
//! imported twice.

use serde::Serialize;

use super::{check_quota, empty_structure, found, json, list_output, OpResult};
use crate::error::IvsError;
use crate::ids::ResourceKind;
use crate::keys;
use crate::model::PlaybackKeyPair;
use crate::pagination;
use crate::state::State;
use crate::validate::Input;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyPairResponse<'a> {
    key_pair: &'a PlaybackKeyPair,
}

/// ImportPlaybackKeyPair.
pub(super) fn import(state: &mut State, input: &Input) -> OpResult {
    let material = input.req_str("publicKeyMaterial")?;
    let name = input.opt_name("name")?.unwrap_or_default();
    let tags = input.opt_tags("tags")?.unwrap_or_default();
    let der = keys::parse_public_key_pem(material)
        .map_err(|err| IvsError::validation(err.to_string()))?;
    let fingerprint = keys::fingerprint(&der);
    if let Some(existing) = state
        .playback_key_pairs
        .values()
        .find(|pair| pair.fingerprint == fingerprint)
    {
        return Err(IvsError::conflict(format!(
            "This public key is already imported as {}",
            existing.arn
        )));
    }
    check_quota(
        state.playback_key_pairs.len(),
        state.quotas.playback_key_pairs,
        "playback key pairs",
    )?;
    let arn = state.new_arn(ResourceKind::PlaybackKeyPair);
    let pair = PlaybackKeyPair {
        arn: arn.clone(),
        name,
        fingerprint,
        tags,
    };
    tracing::info!(playback_key_pair_arn = %arn, "playback key pair imported");
    let output = json(&KeyPairResponse { key_pair: &pair });
    state.playback_key_pairs.insert(arn, pair);
    output
}

/// GetPlaybackKeyPair.
pub(super) fn get(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("arn", ResourceKind::PlaybackKeyPair)?;
    let pair = found(state.playback_key_pairs.get(&arn), &arn)?;
    json(&KeyPairResponse { key_pair: pair })
}

/// ListPlaybackKeyPairs.
pub(super) fn list(state: &mut State, input: &Input) -> OpResult {
    let (token, page_size) = pagination::request(input, 100, 100)?;
    let pairs = state
        .playback_key_pairs
        .values()
        .map(|pair| (pair.arn.clone(), pair.summary()));
    let page = pagination::paginate("ListPlaybackKeyPairs", pairs, token.as_deref(), page_size)?;
    list_output("keyPairs", page)
}

/// DeletePlaybackKeyPair (answers 200 with an empty structure).
pub(super) fn delete(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("arn", ResourceKind::PlaybackKeyPair)?;
    found(state.playback_key_pairs.remove(&arn), &arn)?;
    empty_structure()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::error::ErrorKind;
    use crate::keys::TEST_P384_PEM;
    use crate::ops::test_support::{call, error_kind, state};
    use crate::ops::Operation;

    #[test]
    fn import_validates_dedupes_and_enforces_the_quota() {
        let mut st = state();
        let out = call(
            &mut st,
            Operation::ImportPlaybackKeyPair,
            json!({"publicKeyMaterial": TEST_P384_PEM, "name": "k"}),
        )
        .unwrap();
        let fingerprint = out["keyPair"]["fingerprint"].as_str().unwrap();
        assert_eq!(fingerprint.split(':').count(), 16);
        let again = json!({"publicKeyMaterial": TEST_P384_PEM});
        assert_eq!(
            error_kind(&mut st, Operation::ImportPlaybackKeyPair, again),
            ErrorKind::Conflict
        );
        let bad = json!({"publicKeyMaterial": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"});
        assert_eq!(
            error_kind(&mut st, Operation::ImportPlaybackKeyPair, bad),
            ErrorKind::Validation
        );
        assert_eq!(
            error_kind(&mut st, Operation::ImportPlaybackKeyPair, json!({})),
            ErrorKind::Validation
        );
        st.quotas.playback_key_pairs = 1;
        let other = json!({"publicKeyMaterial": "-----BEGIN PUBLIC KEY-----\nMHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEeYn761tdhyfPyDgUJKzhmp8QhbMfbpq+\nJqW4Q4aGH9dnOV4ZRwlF6m3epwTgfJBOnSwBANt35N87SCnIMCGw4+iV6l7OAo8l\nmh74tqJVZZvHwJVfn54dLrIln+gFW4mF\n-----END PUBLIC KEY-----"});
        assert_eq!(
            error_kind(&mut st, Operation::ImportPlaybackKeyPair, other),
            ErrorKind::ServiceQuotaExceeded
        );
        let arn = out["keyPair"]["arn"].clone();
        assert_eq!(
            call(
                &mut st,
                Operation::DeletePlaybackKeyPair,
                json!({"arn": arn})
            )
            .unwrap(),
            json!({})
        );
        assert_eq!(
            error_kind(&mut st, Operation::GetPlaybackKeyPair, json!({"arn": arn})),
            ErrorKind::ResourceNotFound
        );
    }
}
