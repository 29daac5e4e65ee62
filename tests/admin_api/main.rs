//! The admin API (`functions/admin-api`): its request fixtures through the real handler, every
//! route end to end against the emulator, its OpenAPI document against the router, playback
//! tokens, and the playback key read from the emulator's Secrets Manager.

/// Every route with real resources, and no secret in any log line.
mod end_to_end;
/// The lifecycle events of an operator's changes (suspend, resume, rotate), and the outbox.
mod lifecycle_events;
/// `functions/admin-api/openapi.json` against the router.
mod openapi_document;
/// Playback authorization tokens (`admin_api::token`): minting, key formats, loading.
mod playback_tokens;
/// Every request fixture in `events/admin-api/` through the real handler.
mod request_fixtures;
/// The emulator's Secrets Manager through the real SDK, and the playback key loaded from it.
mod secrets_manager;
