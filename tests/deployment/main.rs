//! What is deployed and how the code is laid out: `template.yaml` (dead-letter paths, route
//! authorization, each function's IAM policy against the IVS calls its code makes), its
//! EventBridge patterns against `events/`, and the crate layout of ARCHITECTURE.md.

/// The layout of ARCHITECTURE.md: no I/O in the domain, what each function links, no cycles.
mod architecture;
/// `template.yaml` read with CloudFormation's tags, and its intrinsics evaluated (a helper).
mod cfn;
/// The template's EventBridge patterns against `events/`, through moto's EventBridge.
mod event_patterns;
/// `template.yaml`'s lifecycle bus, metrics namespace, alarms and dashboard against the
/// metrics the code writes.
mod observability;
/// `template.yaml`: functions, dead-letter paths, authorization, policies against the code.
mod template;
