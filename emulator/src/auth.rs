//! Request authentication as AWS's front end does it, minus the cryptography: every IVS request
//! carries a SigV4 `Authorization` header, scoped to this region and to the `ivs` service (the
//! API Gateway emulator checks its requests the same way, for the `execute-api` service).
//! Signatures themselves are not verified (any credentials work).
//!
//! - no `Authorization` header: 403 `MissingAuthenticationTokenException`;
//! - a header that is not a complete SigV4 header, or no `X-Amz-Date`/`Date`: 403
//!   `IncompleteSignatureException`;
//! - a credential scoped to another region or service: 403 `InvalidSignatureException`.

use axum::http::HeaderMap;

use crate::error::{ErrorKind, IvsError};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The signing name of the IVS API.
pub(crate) const IVS: &str = "ivs";
/// The signing name of API Gateway's invoke endpoints.
pub(crate) const EXECUTE_API: &str = "execute-api";

fn incomplete(message: &str) -> IvsError {
    IvsError::new(ErrorKind::IncompleteSignature, message)
}

/// Checks the SigV4 authorization of an IVS request for `region`.
pub fn check(headers: &HeaderMap, region: &str) -> Result<(), IvsError> {
    authenticate(headers, region, IVS).map(drop)
}

/// The access key id of a request whose `Authorization` header is a well-formed SigV4 header
/// scoped to `region` and `service`; the error AWS's front end answers otherwise.
pub(crate) fn authenticate(
    headers: &HeaderMap,
    region: &str,
    service: &str,
) -> Result<String, IvsError> {
    let Some(value) = headers.get("authorization") else {
        return Err(IvsError::new(
            ErrorKind::MissingAuthenticationToken,
            "Missing Authentication Token",
        ));
    };
    let value = value
        .to_str()
        .map_err(|_| incomplete("The Authorization header is not valid ASCII"))?;
    let Some(parameters) = value
        .strip_prefix(ALGORITHM)
        .filter(|rest| rest.starts_with(' '))
    else {
        return Err(incomplete(&format!(
            "Authorization header requires the {ALGORITHM} algorithm followed by Credential, SignedHeaders and Signature"
        )));
    };
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in parameters
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {
                return Err(incomplete(&format!(
                    "Authorization header has a malformed parameter: '{part}'"
                )))
            }
        }
    }
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signed_headers.is_none_or(str::is_empty) {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    if signature.is_none() {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if !headers.contains_key("x-amz-date") && !headers.contains_key("date") {
        missing.push(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        );
    }
    if !missing.is_empty() {
        return Err(incomplete(&missing.join(" ")));
    }
    if !signature.is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(incomplete(
            "The Signature parameter must be 64 hexadecimal digits",
        ));
    }
    // Credential=<access key id>/<yyyymmdd>/<region>/<service>/aws4_request
    let scope: Vec<&str> = credential.unwrap_or_default().split('/').collect();
    let [access_key, date, scope_region, scope_service, "aws4_request"] = scope.as_slice() else {
        return Err(incomplete(
            "Credential must have the form <access key id>/<yyyymmdd>/<region>/<service>/aws4_request",
        ));
    };
    if access_key.is_empty() || date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(incomplete(
            "Credential must have the form <access key id>/<yyyymmdd>/<region>/<service>/aws4_request",
        ));
    }
    if *scope_service != service {
        return Err(IvsError::new(
            ErrorKind::InvalidSignature,
            format!("Credential should be scoped to correct service: '{service}'."),
        ));
    }
    if *scope_region != region {
        return Err(IvsError::new(
            ErrorKind::InvalidSignature,
            format!("Credential should be scoped to a valid region, not '{scope_region}'. This endpoint serves '{region}'."),
        ));
    }
    Ok((*access_key).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const GOOD: &str =
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260105/us-west-2/ivs/aws4_request, \
        SignedHeaders=content-type;host;x-amz-date, \
        Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

    fn headers(authorization: Option<&str>, date: bool) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert("authorization", HeaderValue::from_str(value).unwrap());
        }
        if date {
            headers.insert("x-amz-date", HeaderValue::from_static("20260105T100000Z"));
        }
        headers
    }

    fn kind(authorization: Option<&str>, date: bool) -> Option<ErrorKind> {
        check(&headers(authorization, date), "us-west-2")
            .err()
            .map(|e| e.kind)
    }

    #[test]
    fn accepts_any_well_formed_signature() {
        assert_eq!(kind(Some(GOOD), true), None);
    }

    #[test]
    fn refuses_missing_and_malformed_headers() {
        assert_eq!(
            kind(None, true),
            Some(ErrorKind::MissingAuthenticationToken)
        );
        assert_eq!(
            kind(Some(GOOD), false),
            Some(ErrorKind::IncompleteSignature)
        );
        for bad in [
            "Bearer abc",
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 Credential=AKID/20260105/us-west-2/ivs/aws4_request",
            "AWS4-HMAC-SHA256 Credential=AKID/20260105/us-west-2/ivs/aws4_request, SignedHeaders=host, Signature=xyz",
            "AWS4-HMAC-SHA256 Credential=AKID/2026/us-west-2/ivs/aws4_request, SignedHeaders=host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
            "AWS4-HMAC-SHA256 Credential=AKID/20260105/us-west-2/ivs, SignedHeaders=host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
            "AWS4-HMAC-SHA256 garbage",
        ] {
            assert_eq!(kind(Some(bad), true), Some(ErrorKind::IncompleteSignature), "{bad}");
        }
    }

    #[test]
    fn refuses_other_scopes() {
        let other_region = GOOD.replace("us-west-2", "eu-west-1");
        assert_eq!(
            kind(Some(&other_region), true),
            Some(ErrorKind::InvalidSignature)
        );
        let other_service = GOOD.replace("/ivs/", "/s3/");
        assert_eq!(
            kind(Some(&other_service), true),
            Some(ErrorKind::InvalidSignature)
        );
    }

    #[test]
    fn authenticates_other_services_and_names_the_access_key() {
        let gateway = GOOD.replace("/ivs/", "/execute-api/");
        assert_eq!(
            authenticate(&headers(Some(&gateway), true), "us-west-2", EXECUTE_API).as_deref(),
            Ok("AKIDEXAMPLE")
        );
        let refused =
            authenticate(&headers(Some(GOOD), true), "us-west-2", EXECUTE_API).unwrap_err();
        assert_eq!(refused.kind, ErrorKind::InvalidSignature);
        assert!(
            refused.message.contains("'execute-api'"),
            "{}",
            refused.message
        );
    }
}
