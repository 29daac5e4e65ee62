//! Key rotation exactly once per stream, without a database: the key created by a rotation
//! carries the id of the stream it was rotated after and that stream's end time (tags). The
//! rule that reads those tags lives here, once, for the event path and the sweeper alike.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

/// Tag on a rotated key: the stream id it was rotated after.
pub const TAG_ROTATED_AFTER_STREAM: &str = "ivs-automation:rotated-after-stream";
/// Tag on a rotated key: when that stream ended (RFC 3339, UTC).
pub const TAG_ROTATED_AFTER_TIME: &str = "ivs-automation:rotated-after-time";
/// Tag on every key the automation creates, and put by the sweeper on keys it finds without
/// one: when the key was created (RFC 3339, UTC). IVS keeps no creation time; the sweeper's
/// idle-key rotation reads this one.
pub const TAG_CREATED_AT: &str = "ivs-automation:key-created-at";

/// Which stream a rotation follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationMarker {
    pub stream_id: String,
    /// When the stream ended (the event's time); lets a late event for an older stream be
    /// told from a new one.
    pub ended_at: Option<DateTime<Utc>>,
}

impl RotationMarker {
    /// Whether a key carrying `key_tags` already settles the rotation for this marker.
    pub fn settled_by(&self, key_tags: &HashMap<String, String>) -> Option<Settled> {
        let rotated_after = key_tags.get(TAG_ROTATED_AFTER_STREAM);
        if rotated_after == Some(&self.stream_id) {
            return Some(Settled::Done);
        }
        let key_time = time_tag(key_tags, TAG_ROTATED_AFTER_TIME)?;
        supersedes(key_time, self.ended_at?).then(|| Settled::Superseded {
            rotated_after_stream: rotated_after.cloned(),
        })
    }
}

/// Why a rotation needs nothing more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// A key was rotated after this very stream.
    Done,
    /// A key was rotated after another stream that ended later than this one: this request
    /// is stale (a late or reordered event, or a missed end the sweeper
    /// finds after a newer one was handled). The other stream's id, when the key names it.
    Superseded {
        rotated_after_stream: Option<String>,
    },
}

/// THE rule: a rotation made after another stream that ended at `key_time` settles the
/// rotation for a stream that ended at `ended_at` only when `key_time > ended_at`. Equal
/// times do not: EventBridge event times and the time tags are to the second, and two
/// streams of one channel can end within the same second (an encoder that reconnects at
/// once), so at equal times only the stream id can tell, and a different id means this
/// stream's rotation is still to do. (The sweeper used `>=` before this rule had one home,
/// and would have skipped such a second stream's rotation.)
pub fn supersedes(key_time: DateTime<Utc>, ended_at: DateTime<Utc>) -> bool {
    key_time > ended_at
}

/// An RFC 3339 time tag, in UTC.
pub fn time_tag(tags: &HashMap<String, String>, name: &str) -> Option<DateTime<Utc>> {
    tags.get(name)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_767_607_200 + seconds, 0)
            .single()
            .unwrap()
    }

    fn key(stream: &str, time: DateTime<Utc>) -> HashMap<String, String> {
        HashMap::from([
            (TAG_ROTATED_AFTER_STREAM.to_owned(), stream.to_owned()),
            (
                TAG_ROTATED_AFTER_TIME.to_owned(),
                time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
        ])
    }

    /// One table for the event path and the sweeper: the boundary (`>=`) included.
    #[test]
    fn the_rotation_rule_at_its_boundary() {
        let marker = RotationMarker {
            stream_id: "st-2".into(),
            ended_at: Some(at(0)),
        };
        let superseded = |by: &str| {
            Some(Settled::Superseded {
                rotated_after_stream: Some(by.to_owned()),
            })
        };
        let table: &[(HashMap<String, String>, Option<Settled>)] = &[
            // This very stream: done, whatever the time.
            (key("st-2", at(-60)), Some(Settled::Done)),
            (key("st-2", at(60)), Some(Settled::Done)),
            // Another stream that ended later: superseded.
            (key("st-3", at(1)), superseded("st-3")),
            // Another stream that ended in the same second: only the id tells, and it differs.
            (key("st-3", at(0)), None),
            // Another stream that ended earlier: still to do.
            (key("st-1", at(-1)), None),
            // Only the time tag (the id tag removed by hand): the time decides.
            (
                HashMap::from([(
                    TAG_ROTATED_AFTER_TIME.to_owned(),
                    at(1).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                )]),
                Some(Settled::Superseded {
                    rotated_after_stream: None,
                }),
            ),
            (
                HashMap::from([(
                    TAG_ROTATED_AFTER_TIME.to_owned(),
                    at(0).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                )]),
                None,
            ),
            // A key without the automation's tags, or with an unreadable time: still to do.
            (HashMap::new(), None),
            (
                HashMap::from([
                    (TAG_ROTATED_AFTER_STREAM.to_owned(), "st-3".to_owned()),
                    (TAG_ROTATED_AFTER_TIME.to_owned(), "yesterday".to_owned()),
                ]),
                None,
            ),
        ];
        for (tags, expected) in table {
            assert_eq!(&marker.settled_by(tags), expected, "{tags:?}");
        }
        // A marker without an end time is settled only by its own stream id.
        let timeless = RotationMarker {
            stream_id: "st-2".into(),
            ended_at: None,
        };
        assert_eq!(timeless.settled_by(&key("st-3", at(60))), None);
        assert_eq!(
            timeless.settled_by(&key("st-2", at(60))),
            Some(Settled::Done)
        );
        assert!(!supersedes(at(0), at(0)));
        assert!(supersedes(at(1), at(0)));
        assert!(!supersedes(at(-1), at(0)));
    }
}
