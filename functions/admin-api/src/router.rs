//! The admin API's routes: one table, each route written once with its method, path, access
//! and handler; used to match and dispatch requests, and checked against the OpenAPI document
//! by a test.

use std::fmt;

use crate::ops::{
    channels, metadata, playback_keys, recording, stream_keys, streams, tags, viewers,
};
use crate::{AdminApi, Call, Failure, Reply};

/// One route: method, path template (`{name}` is a path parameter), whether it changes
/// anything and whether its answer carries a secret (a stream key's value, a playback token
/// or a tokenized playback URL). Routes that do either need the admin scope under a JWT
/// authorizer ([`Route::needs_admin`]); IAM callers are governed by their IAM policy
/// (SECURITY.md has a read-only operator's policy that excludes them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub op: Op,
    pub write: bool,
    pub secret: bool,
}

impl Route {
    /// Whether a JWT caller needs the admin scope for this route: it changes something or
    /// answers with a secret.
    pub const fn needs_admin(&self) -> bool {
        self.write || self.secret
    }
}

const fn route_of(
    method: &'static str,
    path: &'static str,
    op: Op,
    write: bool,
    secret: bool,
) -> Route {
    Route {
        method,
        path,
        op,
        write,
        secret,
    }
}

/// Reads nothing secret.
const fn read(method: &'static str, path: &'static str, op: Op) -> Route {
    route_of(method, path, op, false, false)
}

/// Reads that answer with secrets (stream key values).
const fn secret_read(method: &'static str, path: &'static str, op: Op) -> Route {
    route_of(method, path, op, false, true)
}

/// Changes something; answers with no secret.
const fn write(method: &'static str, path: &'static str, op: Op) -> Route {
    route_of(method, path, op, true, false)
}

/// Changes something and answers with a secret (a new stream key's value, which operators
/// need once to configure the encoder; a playback token).
const fn secret_write(method: &'static str, path: &'static str, op: Op) -> Route {
    route_of(method, path, op, true, true)
}

/// Declares the routes, each once: `access("METHOD", "/path", Op => handler)` makes the
/// variant of [`Op`], the entry of [`ROUTES`] (`access` is [`read`], [`secret_read`],
/// [`write`] or [`secret_write`]) and the arm of `dispatch` that runs the handler (in `ops`).
macro_rules! routes {
    ($($access:ident($method:literal, $path:literal, $op:ident => $handler:path)),* $(,)?) => {
        /// What a route does.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Op {
            $($op),*
        }

        /// Every route of the admin API.
        pub const ROUTES: &[Route] = &[$($access($method, $path, Op::$op)),*];

        /// Runs the handler of `op`.
        pub(crate) async fn dispatch(
            api: &AdminApi,
            op: Op,
            call: &Call<'_>,
        ) -> Result<Reply, Failure> {
            match op {
                $(Op::$op => $handler(api, call).await),*
            }
        }
    };
}

routes! {
    // Channels
    secret_write("POST", "/channels",
        CreateChannel => channels::create_channel),
    read("GET", "/channels",
        ListChannels => channels::list_channels),
    read("POST", "/channels/batch-get",
        BatchGetChannels => channels::batch_get_channels),
    read("GET", "/channels/{channelId}",
        GetChannel => channels::get_channel),
    write("PATCH", "/channels/{channelId}",
        UpdateChannel => channels::update_channel),
    write("DELETE", "/channels/{channelId}",
        DeleteChannel => channels::delete_channel),
    read("GET", "/channels/{channelId}/status",
        ChannelStatus => channels::channel_status),
    // Stream keys
    secret_write("POST", "/channels/{channelId}/stream-keys",
        CreateStreamKey => stream_keys::create_stream_key),
    read("GET", "/channels/{channelId}/stream-keys",
        ListStreamKeys => stream_keys::list_stream_keys),
    secret_read("POST", "/stream-keys/batch-get",
        BatchGetStreamKeys => stream_keys::batch_get_stream_keys),
    secret_read("GET", "/stream-keys/{streamKeyId}",
        GetStreamKey => stream_keys::get_stream_key),
    write("DELETE", "/stream-keys/{streamKeyId}",
        DeleteStreamKey => stream_keys::delete_stream_key),
    secret_write("POST", "/channels/{channelId}/rotate-key",
        RotateStreamKey => stream_keys::rotate_stream_key),
    write("POST", "/channels/{channelId}/suspend",
        SuspendChannel => stream_keys::suspend_channel),
    secret_write("POST", "/channels/{channelId}/resume",
        ResumeChannel => stream_keys::resume_channel),
    // Streams
    read("GET", "/channels/{channelId}/stream",
        GetStream => streams::get_stream),
    read("GET", "/streams",
        ListStreams => streams::list_streams),
    read("GET", "/channels/{channelId}/sessions",
        ListStreamSessions => streams::list_stream_sessions),
    read("GET", "/channels/{channelId}/sessions/latest",
        GetLatestStreamSession => streams::get_latest_stream_session),
    read("GET", "/channels/{channelId}/sessions/{streamId}",
        GetStreamSession => streams::get_stream_session),
    write("POST", "/channels/{channelId}/stop",
        StopStream => streams::stop_stream),
    write("POST", "/channels/{channelId}/metadata",
        PutMetadata => metadata::put_metadata),
    write("POST", "/channels/{channelId}/metadata/batch",
        PutMetadataBatch => metadata::put_metadata_batch),
    // Playback key pairs
    write("POST", "/playback-key-pairs",
        ImportPlaybackKeyPair => playback_keys::import_playback_key_pair),
    read("GET", "/playback-key-pairs",
        ListPlaybackKeyPairs => playback_keys::list_playback_key_pairs),
    read("GET", "/playback-key-pairs/{keyPairId}",
        GetPlaybackKeyPair => playback_keys::get_playback_key_pair),
    write("DELETE", "/playback-key-pairs/{keyPairId}",
        DeletePlaybackKeyPair => playback_keys::delete_playback_key_pair),
    // Recording configurations
    write("POST", "/recording-configurations",
        CreateRecordingConfiguration => recording::create_recording_configuration),
    read("GET", "/recording-configurations",
        ListRecordingConfigurations => recording::list_recording_configurations),
    read("GET", "/recording-configurations/{recordingConfigurationId}",
        GetRecordingConfiguration => recording::get_recording_configuration),
    write("DELETE", "/recording-configurations/{recordingConfigurationId}",
        DeleteRecordingConfiguration => recording::delete_recording_configuration),
    // Tags of any taggable resource, by ARN
    read("GET", "/tags/{resourceArn}",
        ListTags => tags::list_tags),
    write("POST", "/tags/{resourceArn}",
        TagResource => tags::tag_resource),
    write("DELETE", "/tags/{resourceArn}",
        UntagResource => tags::untag_resource),
    // Viewers of private channels
    secret_write("POST", "/channels/{channelId}/playback-token",
        MintPlaybackToken => viewers::mint_playback_token),
    write("POST", "/channels/{channelId}/revoke-viewer",
        RevokeViewerSession => viewers::revoke_viewer_session),
    write("POST", "/viewer-revocations/batch",
        BatchRevokeViewerSessions => viewers::batch_revoke_viewer_sessions),
}

/// Path parameters of a matched route, percent-decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why no route matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoRoute {
    NotFound,
    MethodNotAllowed {
        allowed: Vec<&'static str>,
    },
    /// A path segment is not valid percent-encoded UTF-8.
    BadPath(String),
}

impl fmt::Display for NoRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoRoute::NotFound => f.write_str("no such route"),
            NoRoute::MethodNotAllowed { allowed } => {
                write!(
                    f,
                    "method not allowed here (allowed: {})",
                    allowed.join(", ")
                )
            }
            NoRoute::BadPath(why) => write!(f, "bad path: {why}"),
        }
    }
}

/// Finds the route for `method` and `path` (a trailing slash is ignored). The most specific
/// templates matching the path win (most literal segments: `/sessions/latest` over
/// `/sessions/{streamId}`, `/channels/batch-get` over `/channels/{channelId}`); among them,
/// the one of `method`, else 405 with their methods.
pub fn route(method: &str, path: &str) -> Result<(&'static Route, Params), NoRoute> {
    // An empty segment (`//stream-keys/k`) is no route: IAM policies match the request path
    // as sent, so a path that only the router would tidy up could slip past a Deny written
    // for `GET/stream-keys/*`.
    if path.trim_end_matches('/').contains("//") {
        return Err(NoRoute::NotFound);
    }
    let segments = join_arns(split(path));
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let mut candidates: Vec<(&'static Route, Params, usize)> = Vec::new();
    for candidate in ROUTES {
        if let Some((params, literals)) = matches(candidate.path, &segments)? {
            candidates.push((candidate, params, literals));
        }
    }
    let Some(most) = candidates.iter().map(|(_, _, l)| *l).max() else {
        return Err(NoRoute::NotFound);
    };
    candidates.retain(|(_, _, l)| *l == most);
    let mut allowed: Vec<&'static str> = candidates.iter().map(|(r, _, _)| r.method).collect();
    match candidates.into_iter().find(|(r, _, _)| r.method == method) {
        Some((route, params, _)) => Ok((route, params)),
        None => {
            allowed.sort_unstable();
            allowed.dedup();
            Err(NoRoute::MethodNotAllowed { allowed })
        }
    }
}

/// API Gateway HTTP APIs deliver the path percent-decoded, so a URL-encoded ARN arrives with
/// its `/` (`…:channel/AbCd`) splitting it in two segments. An IVS ARN holds exactly one `/`,
/// between its resource type and its id: a segment that starts with `arn:` is joined with the
/// next one. (REST APIs keep the encoding: their ARN segments start with `arn%3A` and are left
/// alone, to be decoded whole.)
fn join_arns(segments: Vec<&str>) -> Vec<String> {
    let mut joined = Vec::with_capacity(segments.len());
    let mut rest = segments.into_iter();
    while let Some(segment) = rest.next() {
        if segment.starts_with("arn:") && !segment.contains('/') {
            if let Some(id) = rest.next() {
                joined.push(format!("{segment}/{id}"));
                continue;
            }
        }
        joined.push(segment.to_owned());
    }
    joined
}

/// Whether `template` matches `segments`: its decoded parameters and its number of literal
/// segments.
fn matches(template: &'static str, segments: &[&str]) -> Result<Option<(Params, usize)>, NoRoute> {
    let parts = split(template);
    if parts.len() != segments.len() {
        return Ok(None);
    }
    let mut params = Vec::new();
    let mut literals = 0;
    for (t, s) in parts.iter().zip(segments) {
        if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            let decoded = decode(s).map_err(NoRoute::BadPath)?;
            if decoded.is_empty() {
                return Ok(None);
            }
            params.push((name_of(template, name), decoded));
        } else if t == s {
            literals += 1;
        } else {
            return Ok(None);
        }
    }
    Ok(Some((Params(params), literals)))
}

/// The `&'static str` of a parameter name, taken from the route table.
fn name_of(path: &'static str, name: &str) -> &'static str {
    path.split('/')
        .filter_map(|t| t.strip_prefix('{').and_then(|t| t.strip_suffix('}')))
        .find(|n| *n == name)
        .unwrap_or("")
}

fn split(path: &str) -> Vec<&str> {
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect()
}

/// Percent-decodes one path segment (API Gateway passes the raw, encoded path).
fn decode(segment: &str) -> Result<String, String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "a '%' is not followed by two hexadecimal digits".to_owned())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a segment is not UTF-8 once decoded".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_with_decoded_parameters() {
        let (r, p) = route("GET", "/channels/AbCdEf123456").unwrap();
        assert_eq!(r.op, Op::GetChannel);
        assert_eq!(p.get("channelId"), Some("AbCdEf123456"));
        let (r, p) = route(
            "GET",
            "/tags/arn%3Aaws%3Aivs%3Aus-west-2%3A111122223333%3Achannel%2FAbCdEf123456/",
        )
        .unwrap();
        assert_eq!(r.op, Op::ListTags);
        assert_eq!(
            p.get("resourceArn"),
            Some("arn:aws:ivs:us-west-2:111122223333:channel/AbCdEf123456")
        );
    }

    #[test]
    fn arns_decoded_by_an_http_api_are_joined_again() {
        let arn = "arn:aws:ivs:us-west-2:111122223333:channel/AbCdEf123456";
        let (r, p) = route("GET", &format!("/tags/{arn}")).unwrap();
        assert_eq!(r.op, Op::ListTags);
        assert_eq!(p.get("resourceArn"), Some(arn));
        let (r, p) = route("GET", &format!("/channels/{arn}/status")).unwrap();
        assert_eq!(r.op, Op::ChannelStatus);
        assert_eq!(p.get("channelId"), Some(arn));
        let (r, p) = route("GET", &format!("/channels/{arn}/sessions/st-1")).unwrap();
        assert_eq!(r.op, Op::GetStreamSession);
        assert_eq!(p.get("channelId"), Some(arn));
        assert_eq!(p.get("streamId"), Some("st-1"));
        // The same ARN still encoded (REST APIs) is one segment, decoded whole.
        let (_, p) = route(
            "GET",
            "/tags/arn%3Aaws%3Aivs%3Aus-west-2%3A111122223333%3Achannel%2FAbCdEf123456",
        )
        .unwrap();
        assert_eq!(p.get("resourceArn"), Some(arn));
    }

    #[test]
    fn literal_segments_win_over_parameters() {
        assert_eq!(
            route("GET", "/channels/c1/sessions/latest").unwrap().0.op,
            Op::GetLatestStreamSession
        );
        assert_eq!(
            route("GET", "/channels/c1/sessions/st-1").unwrap().0.op,
            Op::GetStreamSession
        );
        assert_eq!(
            route("POST", "/channels/batch-get").unwrap().0.op,
            Op::BatchGetChannels
        );
        assert_eq!(
            route("GET", "/channels/batch-get"),
            Err(NoRoute::MethodNotAllowed {
                allowed: vec!["POST"]
            })
        );
    }

    #[test]
    fn unknown_paths_and_methods_are_told_apart() {
        assert_eq!(route("GET", "/nope"), Err(NoRoute::NotFound));
        // Empty segments are refused, not tidied: an IAM Deny on `GET/stream-keys/*` would
        // not match `GET//stream-keys/k`.
        for path in ["//stream-keys/k", "/stream-keys//k", "/channels//c1"] {
            assert_eq!(route("GET", path), Err(NoRoute::NotFound), "{path}");
        }
        assert_eq!(
            route("GET", "/stream-keys/k/").unwrap().0.op,
            Op::GetStreamKey
        );
        assert_eq!(route("GET", "/channels/a/b/c/d"), Err(NoRoute::NotFound));
        assert_eq!(
            route("PUT", "/channels/c1"),
            Err(NoRoute::MethodNotAllowed {
                allowed: vec!["DELETE", "GET", "PATCH"]
            })
        );
        assert!(matches!(
            route("GET", "/channels/%zz"),
            Err(NoRoute::BadPath(_))
        ));
        assert!(matches!(
            route("GET", "/channels/%C3%28"),
            Err(NoRoute::BadPath(_))
        ));
    }

    #[test]
    fn every_route_is_reachable_and_unique() {
        for r in ROUTES {
            let path = r.path.replace('{', "x").replace('}', "");
            let (found, _) = route(r.method, &path).unwrap();
            assert_eq!(found, r, "{} {}", r.method, r.path);
        }
    }
}
