//! Reading requests: JSON bodies (size-limited, every rejection naming the field), query
//! parameters, pagination and resource ids.

use std::collections::HashMap;

use serde::de::DeserializeOwned;

use super::error::ApiError;
use domain::arn::{IvsArn, ResourceType};

/// Largest request body accepted. The largest legitimate body, a metadata batch, stays far
/// below it.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Parses a JSON body into `T`. An empty body reads as `{}` (for routes whose fields are all
/// optional). Oversized → 413; not JSON, a wrong type, an unknown or a missing field → 400
/// naming the field (`name`, `tags.env`, `items[3]`).
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    check_size(body)?;
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // Broken JSON is the body's fault; a wrong, missing or unknown value is its field's.
        let syntax = matches!(
            inner.classify(),
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof
        );
        let field = if syntax || path.is_empty() || path == "." {
            "body".to_owned()
        } else {
            path
        };
        ApiError::bad_field(&field, inner)
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::bad_field("body", e))?;
    Ok(value)
}

/// Refuses a body over [`MAX_BODY_BYTES`] with 413.
pub fn check_size(body: &[u8]) -> Result<(), ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            413,
            "PayloadTooLarge",
            format!(
                "the body is {} bytes; at most {MAX_BODY_BYTES} are accepted",
                body.len()
            ),
        ));
    }
    Ok(())
}

/// Query string parameters (all values of each name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query(HashMap<String, Vec<String>>);

impl Query {
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            map.entry(k).or_default().push(v);
        }
        Query(map)
    }

    /// The one value of `name`; repeating it is an error.
    pub fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(name).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([v]) => Ok(Some(v.as_str())),
            Some(_) => Err(ApiError::bad_field(name, "given more than once")),
        }
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .get(name)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Refuses parameters other than `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        let mut unknown: Vec<&str> = self
            .0
            .keys()
            .map(String::as_str)
            .filter(|k| !known.contains(k))
            .collect();
        unknown.sort_unstable();
        match unknown.first() {
            None => Ok(()),
            Some(k) => Err(ApiError::bad_field(
                k,
                format!(
                    "unknown query parameter (known here: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            )),
        }
    }

    /// `nextToken` and `maxResults` (1..=`max`), as IVS's list operations take them.
    pub fn page(&self, max: i32) -> Result<Page, ApiError> {
        let next_token = self.one("nextToken")?.map(str::to_owned);
        if next_token
            .as_ref()
            .is_some_and(|t| t.is_empty() || t.len() > 1024)
        {
            return Err(ApiError::bad_field(
                "nextToken",
                "must be 1 to 1024 characters",
            ));
        }
        let max_results = match self.one("maxResults")? {
            None => None,
            Some(v) => Some(
                v.parse::<i32>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_field(
                            "maxResults",
                            format!("must be a whole number from 1 to {max}"),
                        )
                    })?,
            ),
        };
        Ok(Page {
            next_token,
            max_results,
        })
    }
}

/// A page request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    pub next_token: Option<String>,
    pub max_results: Option<i32>,
}

/// The ARN a path parameter names: an IVS id (built into an ARN with the function's region
/// and account) or a full ARN of the right type (URL-encoded in the path).
pub fn resource(
    param: &str,
    value: &str,
    kind: ResourceType,
    region: &str,
    account: &str,
) -> Result<IvsArn, ApiError> {
    if value.starts_with("arn:") {
        let arn =
            IvsArn::parse_as(value, kind).map_err(|e| ApiError::bad_field(param, e.problem))?;
        // The function manages one account's resources in one region (its IAM policy says
        // so): another's would only fail later, at IVS, as a bare 500.
        if arn.account() != account || arn.region() != region {
            return Err(ApiError::bad_field(
                param,
                format!(
                    "the ARN names account {} in {}; this API manages IVS resources of account {account} in {region}",
                    arn.account(),
                    arn.region()
                ),
            ));
        }
        return Ok(arn);
    }
    if value.is_empty() || value.len() > 64 || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::bad_field(
            param,
            format!("must be a {kind} id (letters and digits) or a {kind} ARN"),
        ));
    }
    IvsArn::build(kind, region, account, value).map_err(|e| ApiError::bad_field(param, e.problem))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Body {
        #[allow(dead_code)]
        name: String,
        #[serde(default)]
        #[allow(dead_code)]
        tags: HashMap<String, String>,
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = json_body::<Body>(br#"{"name": 5}"#).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.starts_with("name: invalid type"), "{}", e.message);
        let e = json_body::<Body>(br#"{"name": "x", "tags": {"a": 1}}"#).unwrap_err();
        assert!(e.message.starts_with("tags.a:"), "{}", e.message);
        let e = json_body::<Body>(br#"{"name": "x", "nope": 1}"#).unwrap_err();
        assert!(
            e.message.starts_with("nope: unknown field `nope`"),
            "{}",
            e.message
        );
        let e = json_body::<Body>(br#"{"name": "#).unwrap_err();
        assert!(e.message.starts_with("body: EOF"), "{}", e.message);
        let e = json_body::<Body>(br#"{}"#).unwrap_err();
        assert!(e.message.contains("missing field `name`"), "{}", e.message);
        let e = json_body::<Body>(b"{not json").unwrap_err();
        assert!(e.message.starts_with("body:"), "{}", e.message);
        let e = json_body::<Body>(br#"{"name": "x"} trailing"#).unwrap_err();
        assert!(e.message.starts_with("body:"), "{}", e.message);
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(json_body::<Body>(&big).unwrap_err().status, 413);
    }

    #[test]
    fn paging_is_bounded() {
        let q = Query::new([
            ("maxResults".into(), "50".into()),
            ("nextToken".into(), "t".into()),
        ]);
        assert_eq!(
            q.page(100).unwrap(),
            Page {
                next_token: Some("t".into()),
                max_results: Some(50)
            }
        );
        assert!(q.page(10).is_err());
        for bad in ["0", "-1", "x", "101"] {
            let q = Query::new([("maxResults".into(), bad.into())]);
            assert!(
                q.page(100).unwrap_err().message.starts_with("maxResults"),
                "{bad}"
            );
        }
        let twice = Query::new([("name".into(), "a".into()), ("name".into(), "b".into())]);
        assert!(twice.one("name").is_err());
        assert!(twice
            .only(&["other"])
            .unwrap_err()
            .message
            .starts_with("name"));
    }

    #[test]
    fn resources_by_id_or_arn() {
        let arn = resource(
            "channelId",
            "AbCd1234",
            ResourceType::Channel,
            "us-west-2",
            "111122223333",
        )
        .unwrap();
        assert_eq!(
            arn.as_str(),
            "arn:aws:ivs:us-west-2:111122223333:channel/AbCd1234"
        );
        let full = "arn:aws:ivs:us-west-2:111122223333:channel/Zz9";
        assert_eq!(
            resource(
                "channelId",
                full,
                ResourceType::Channel,
                "us-west-2",
                "111122223333"
            )
            .unwrap()
            .as_str(),
            full
        );
        // Another region's or another account's ARN: 400 naming the field, before any call.
        for foreign in [
            "arn:aws:ivs:eu-west-1:111122223333:channel/Zz9",
            "arn:aws:ivs:us-west-2:444455556666:channel/Zz9",
        ] {
            let e = resource(
                "channelId",
                foreign,
                ResourceType::Channel,
                "us-west-2",
                "111122223333",
            )
            .unwrap_err();
            assert_eq!(e.status, 400, "{foreign}");
            assert!(
                e.message.starts_with("channelId: the ARN names account"),
                "{}",
                e.message
            );
        }
        for bad in [
            "../etc/passwd",
            "a b",
            "",
            "x;drop",
            "arn:aws:ivs:us-west-2:111122223333:stream-key/k",
        ] {
            let e = resource(
                "channelId",
                bad,
                ResourceType::Channel,
                "us-west-2",
                "111122223333",
            )
            .unwrap_err();
            assert_eq!(e.status, 400, "{bad}");
            assert!(e.message.starts_with("channelId:"), "{}", e.message);
        }
    }
}
