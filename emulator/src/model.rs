//! The IVS resources as the emulator keeps them, serialized with the service model's member names.
//!
//! Summaries (what the `List*` operations return) are views borrowing from the full resources.
//! A stream key's value only appears through [`StreamKeyView::with_value`].

use std::time::Instant;

use serde::Serialize;

use crate::validate::Tags;

/// `ChannelLatencyMode` values.
pub const LATENCY_MODES: &[&str] = &["NORMAL", "LOW"];
/// `ChannelType` values.
pub const CHANNEL_TYPES: &[&str] = &["BASIC", "STANDARD", "ADVANCED_SD", "ADVANCED_HD"];
/// `TranscodePreset` values.
pub const PRESETS: &[&str] = &[
    "HIGHER_BANDWIDTH_DELIVERY",
    "CONSTRAINED_BANDWIDTH_DELIVERY",
];
/// `ContainerFormat` values.
pub const CONTAINER_FORMATS: &[&str] = &["TS", "FRAGMENTED_MP4"];
/// `MultitrackPolicy` values.
pub const MULTITRACK_POLICIES: &[&str] = &["ALLOW", "REQUIRE"];
/// `MultitrackMaximumResolution` values.
pub const MULTITRACK_RESOLUTIONS: &[&str] = &["SD", "HD", "FULL_HD"];
/// `StreamHealth` values.
pub const STREAM_HEALTHS: &[&str] = &["HEALTHY", "STARVING", "UNKNOWN"];
/// `RecordingMode` values.
pub const RECORDING_MODES: &[&str] = &["DISABLED", "INTERVAL"];
/// `ThumbnailConfigurationResolution` and `RenditionConfigurationRendition` values.
pub const RESOLUTIONS: &[&str] = &["SD", "HD", "FULL_HD", "LOWEST_RESOLUTION"];
/// `ThumbnailConfigurationStorage` values.
pub const THUMBNAIL_STORAGES: &[&str] = &["SEQUENTIAL", "LATEST"];
/// `RenditionConfigurationRenditionSelection` values.
pub const RENDITION_SELECTIONS: &[&str] = &["ALL", "NONE", "CUSTOM"];

/// A channel (`Channel`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    pub arn: String,
    pub name: String,
    pub latency_mode: String,
    #[serde(rename = "type")]
    pub channel_type: String,
    pub recording_configuration_arn: String,
    pub ingest_endpoint: String,
    pub playback_url: String,
    pub authorized: bool,
    pub tags: Tags,
    pub insecure_ingest: bool,
    pub preset: String,
    pub srt: Srt,
    pub playback_restriction_policy_arn: String,
    pub multitrack_input_configuration: MultitrackInputConfiguration,
    pub container_format: String,
    /// `""` when the channel has no ad configuration.
    pub ad_configuration_arn: String,
    /// Always `""`: failover slate configurations are not emulated.
    pub failover_slate_configuration_arn: String,
}

impl Channel {
    /// The `ChannelSummary` view.
    pub fn summary(&self) -> ChannelSummary<'_> {
        ChannelSummary {
            arn: &self.arn,
            name: &self.name,
            latency_mode: &self.latency_mode,
            authorized: self.authorized,
            recording_configuration_arn: &self.recording_configuration_arn,
            tags: &self.tags,
            insecure_ingest: self.insecure_ingest,
            channel_type: &self.channel_type,
            preset: &self.preset,
            playback_restriction_policy_arn: &self.playback_restriction_policy_arn,
            ad_configuration_arn: &self.ad_configuration_arn,
            failover_slate_configuration_arn: &self.failover_slate_configuration_arn,
        }
    }
}

/// SRT ingest details of a channel (`Srt`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Srt {
    pub endpoint: String,
    /// Absent when the channel allows insecure ingest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
}

/// `MultitrackInputConfiguration`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MultitrackInputConfiguration {
    pub enabled: bool,
    pub policy: String,
    pub maximum_resolution: String,
}

impl Default for MultitrackInputConfiguration {
    fn default() -> Self {
        Self {
            enabled: false,
            policy: "ALLOW".to_owned(),
            maximum_resolution: "FULL_HD".to_owned(),
        }
    }
}

/// `ChannelSummary`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelSummary<'a> {
    pub arn: &'a str,
    pub name: &'a str,
    pub latency_mode: &'a str,
    pub authorized: bool,
    pub recording_configuration_arn: &'a str,
    pub tags: &'a Tags,
    pub insecure_ingest: bool,
    #[serde(rename = "type")]
    pub channel_type: &'a str,
    pub preset: &'a str,
    pub playback_restriction_policy_arn: &'a str,
    pub ad_configuration_arn: &'a str,
    pub failover_slate_configuration_arn: &'a str,
}

/// A stream key. Its `Debug` output leaves the value out.
#[derive(Clone)]
pub struct StreamKey {
    pub arn: String,
    pub value: String,
    pub channel_arn: String,
    pub tags: Tags,
}

impl std::fmt::Debug for StreamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamKey")
            .field("arn", &self.arn)
            .field("value", &"<redacted>")
            .field("channel_arn", &self.channel_arn)
            .field("tags", &self.tags)
            .finish()
    }
}

impl StreamKey {
    /// The full `StreamKey` shape, value included (CreateChannel, CreateStreamKey, GetStreamKey,
    /// BatchGetStreamKey only).
    pub fn with_value(&self) -> StreamKeyView<'_> {
        self.view(Some(&self.value))
    }

    /// The `StreamKeySummary` view (no value).
    pub fn summary(&self) -> StreamKeyView<'_> {
        self.view(None)
    }

    fn view<'a>(&'a self, value: Option<&'a str>) -> StreamKeyView<'a> {
        StreamKeyView {
            arn: &self.arn,
            value,
            channel_arn: &self.channel_arn,
            tags: &self.tags,
        }
    }
}

/// `StreamKey` or `StreamKeySummary`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamKeyView<'a> {
    pub arn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a str>,
    pub channel_arn: &'a str,
    pub tags: &'a Tags,
}

/// `PlaybackKeyPair`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybackKeyPair {
    pub arn: String,
    pub name: String,
    pub fingerprint: String,
    pub tags: Tags,
}

impl PlaybackKeyPair {
    /// The `PlaybackKeyPairSummary` view.
    pub fn summary(&self) -> PlaybackKeyPairSummary<'_> {
        PlaybackKeyPairSummary {
            arn: &self.arn,
            name: &self.name,
            tags: &self.tags,
        }
    }
}

/// `PlaybackKeyPairSummary`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybackKeyPairSummary<'a> {
    pub arn: &'a str,
    pub name: &'a str,
    pub tags: &'a Tags,
}

/// `RecordingConfigurationState` values.
pub const RECORDING_CONFIGURATION_CREATING: &str = "CREATING";
/// See [`RECORDING_CONFIGURATION_CREATING`].
pub const RECORDING_CONFIGURATION_ACTIVE: &str = "ACTIVE";

/// `RecordingConfiguration`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingConfiguration {
    pub arn: String,
    pub name: String,
    pub destination_configuration: DestinationConfiguration,
    pub state: String,
    pub tags: Tags,
    pub thumbnail_configuration: ThumbnailConfiguration,
    pub recording_reconnect_window_seconds: i64,
    pub rendition_configuration: RenditionConfiguration,
    /// While `CREATING`: when the configuration becomes `ACTIVE`.
    #[serde(skip)]
    pub active_at: Option<Instant>,
}

impl RecordingConfiguration {
    /// Becomes `ACTIVE` if it is `CREATING` and its time has come.
    pub fn settle(&mut self, now: Instant) {
        if self.active_at.is_some_and(|at| at <= now) {
            self.active_at = None;
            RECORDING_CONFIGURATION_ACTIVE.clone_into(&mut self.state);
        }
    }

    /// The `RecordingConfigurationSummary` view.
    pub fn summary(&self) -> RecordingConfigurationSummary<'_> {
        RecordingConfigurationSummary {
            arn: &self.arn,
            name: &self.name,
            destination_configuration: &self.destination_configuration,
            state: &self.state,
            tags: &self.tags,
        }
    }

    /// The S3 bucket recordings go to.
    pub fn bucket(&self) -> &str {
        &self.destination_configuration.s3.bucket_name
    }
}

/// `DestinationConfiguration`.
#[derive(Clone, Debug, Serialize)]
pub struct DestinationConfiguration {
    pub s3: S3DestinationConfiguration,
}

/// `S3DestinationConfiguration`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct S3DestinationConfiguration {
    pub bucket_name: String,
}

/// `ThumbnailConfiguration`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThumbnailConfiguration {
    pub recording_mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_interval_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    pub storage: Vec<String>,
}

impl Default for ThumbnailConfiguration {
    fn default() -> Self {
        Self {
            recording_mode: "INTERVAL".to_owned(),
            target_interval_seconds: Some(60),
            resolution: None,
            storage: vec!["SEQUENTIAL".to_owned()],
        }
    }
}

/// `RenditionConfiguration`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenditionConfiguration {
    pub rendition_selection: String,
    pub renditions: Vec<String>,
}

impl Default for RenditionConfiguration {
    fn default() -> Self {
        Self {
            rendition_selection: "ALL".to_owned(),
            renditions: Vec::new(),
        }
    }
}

/// `RecordingConfigurationSummary`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingConfigurationSummary<'a> {
    pub arn: &'a str,
    pub name: &'a str,
    pub destination_configuration: &'a DestinationConfiguration,
    pub state: &'a str,
    pub tags: &'a Tags,
}

/// `AdConfiguration` (also its summary: the two shapes have the same members).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdConfiguration {
    pub arn: String,
    pub name: String,
    pub media_tailor_playback_configurations: Vec<MediaTailorPlaybackConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_roll_configuration: Option<PostRollConfiguration>,
    pub tags: Tags,
}

/// `MediaTailorPlaybackConfiguration`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaTailorPlaybackConfiguration {
    /// Optional in the service model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playback_configuration_arn: Option<String>,
}

/// `PostRollConfiguration`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostRollConfiguration {
    pub duration_seconds: i64,
    pub enabled: bool,
}

/// `PlaybackRestrictionPolicy` (also its summary: the two shapes have the same members).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybackRestrictionPolicy {
    pub arn: String,
    pub allowed_countries: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub enable_strict_origin_enforcement: bool,
    pub name: String,
    pub tags: Tags,
}

/// `Stream` (GetStream).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamView<'a> {
    pub channel_arn: &'a str,
    pub stream_id: &'a str,
    pub playback_url: &'a str,
    pub start_time: String,
    pub state: &'static str,
    pub health: &'static str,
    pub viewer_count: u64,
}

/// `StreamSummary` (ListStreams).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamSummary<'a> {
    pub channel_arn: &'a str,
    pub stream_id: &'a str,
    pub state: &'static str,
    pub health: &'static str,
    pub viewer_count: u64,
    pub start_time: String,
}

/// `StreamEvent`, an entry of a session's `truncatedEvents`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamEvent {
    pub name: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub event_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// `VideoConfiguration`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoConfiguration {
    pub avc_profile: String,
    pub avc_level: String,
    pub codec: String,
    pub encoder: String,
    pub target_bitrate: i64,
    pub target_framerate: i64,
    pub video_height: i64,
    pub video_width: i64,
    pub level: String,
    pub track: String,
    pub profile: String,
}

/// `AudioConfiguration`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioConfiguration {
    pub codec: String,
    pub target_bitrate: i64,
    pub sample_rate: i64,
    pub channels: i64,
    pub track: String,
}

/// `IngestConfiguration`: what the simulated encoder sends (a 1080p30 H.264 + AAC stereo feed).
#[derive(Clone, Debug, Serialize)]
pub struct IngestConfiguration {
    pub video: VideoConfiguration,
    pub audio: AudioConfiguration,
}

impl Default for IngestConfiguration {
    fn default() -> Self {
        Self {
            video: VideoConfiguration {
                avc_profile: "High".to_owned(),
                avc_level: "4.2".to_owned(),
                codec: "avc1.64002A".to_owned(),
                encoder: "ivs-emulator".to_owned(),
                target_bitrate: 6_000_000,
                target_framerate: 30,
                video_height: 1080,
                video_width: 1920,
                level: "4.2".to_owned(),
                track: "Track0".to_owned(),
                profile: "High".to_owned(),
            },
            audio: AudioConfiguration {
                codec: "mp4a.40.2".to_owned(),
                target_bitrate: 160_000,
                sample_rate: 48_000,
                channels: 2,
                track: "Track0".to_owned(),
            },
        }
    }
}

/// `IngestConfigurations`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestConfigurations {
    pub video_configurations: Vec<VideoConfiguration>,
    pub audio_configurations: Vec<AudioConfiguration>,
}

/// `StreamSession` (GetStreamSession).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamSessionView<'a> {
    pub stream_id: &'a str,
    pub start_time: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<&'a str>,
    pub channel: &'a Channel,
    pub ingest_configuration: IngestConfiguration,
    pub ingest_configurations: IngestConfigurations,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_configuration: Option<&'a RecordingConfiguration>,
    pub truncated_events: Vec<&'a StreamEvent>,
}

/// `StreamSessionSummary` (ListStreamSessions).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamSessionSummary<'a> {
    pub stream_id: &'a str,
    pub start_time: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<&'a str>,
    pub has_error_event: bool,
}

/// `BatchError`.
#[derive(Debug, Serialize)]
pub struct BatchError {
    pub arn: String,
    pub code: String,
    pub message: String,
}

/// `BatchStartViewerSessionRevocationError`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevocationError {
    pub channel_arn: String,
    pub viewer_id: String,
    pub code: String,
    pub message: String,
}
