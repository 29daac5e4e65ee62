//! The admin HTTP API (API Gateway HTTP API, payload 2.0; REST API events work too): every IVS
//! operation the project uses, plus composite operations (channel status, key rotation,
//! suspend and resume, metadata batches, viewer tokens), as JSON in and out.
//!
//! - [`router`]: the route table (also the source of truth the OpenAPI document is tested
//!   against);
//! - [`auth`]: the caller's identity from the request context (defence in depth);
//! - [`input`]: bodies, query strings, resource ids;
//! - [`error`]: how every failure is answered;
//! - [`views`]: the JSON of IVS's types;
//! - `ops`: one handler per route, by resource, and the IVS call they share;
//! - [`token`]: playback tokens for private channels.
//!
//! Resources are addressed by id in paths (the ARN is built from the function's region and
//! account), or by a full URL-encoded ARN.

pub mod auth;
pub mod error;
pub mod input;
mod ops;
pub mod router;
pub mod token;
pub mod views;

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, X_CONTENT_TYPE_OPTIONS};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;
use tracing::{error, info, warn};

use crate::token::SignerCell;
use domain::arn::{IvsArn, ResourceType};
use domain::lifecycle::Lifecycle;
use domain::rate::{RateSettings, ADMIN_RATE_SHARE};
use ivs_adapter::error::Error;
use ivs_adapter::https::WARM_UP_BUDGET;
use ivs_adapter::ivs::{aws_from_env, env_var, warm_up_wanted, Ivs, RateBudget};
use ivs_adapter::metrics::Metrics;
use ivs_adapter::publish::{Outbox, Publisher, LIFECYCLE_EVENT_BUS};
use ivs_adapter::queue::EventQueue;

pub use auth::{AdminAccess, Caller};
pub use error::ApiError;
pub use router::{Op, Route, ROUTES};

/// Environment variables of the admin function.
pub mod env {
    /// Secrets Manager secret id of the playback private key (PEM, SEC1 or PKCS#8).
    pub const PLAYBACK_KEY_SECRET_ID: &str = "PLAYBACK_KEY_SECRET_ID";
    /// How often, in seconds, a container checks that secret for a new version.
    pub const PLAYBACK_KEY_REFRESH_SECONDS: &str = crate::token::PLAYBACK_KEY_REFRESH_SECONDS;
    /// OAuth scope that grants the routes that change resources or answer with secrets,
    /// under a JWT authorizer.
    pub const ADMIN_SCOPE: &str = "ADMIN_SCOPE";
    /// Account of the IVS resources addressed by id (default: the function's own account).
    pub const IVS_ACCOUNT_ID: &str = "IVS_ACCOUNT_ID";
    /// Region of the IVS resources addressed by id (default: the function's own region).
    pub const IVS_REGION: &str = "IVS_REGION";
    /// The queue where lifecycle events EventBridge did not take are kept as an outbox
    /// record (the stream-events queue: its function publishes them).
    pub const LIFECYCLE_OUTBOX_QUEUE_URL: &str = "LIFECYCLE_OUTBOX_QUEUE_URL";
}

/// Where ids in paths live: the account and region their ARNs are built with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Overrides; otherwise the invoked function's ARN gives them.
    pub account: Option<String>,
    pub region: Option<String>,
}

/// The longest an admin request waits for a slot in the admin API's share of IVS's quotas
/// before it is answered 429 with `Retry-After`. Long enough for an operator's few commands
/// in a row on the slowest quota (playback key pairs: 3 TPS × 0.1 = one call per 3.3 s), well
/// inside the function's 28 s timeout and API Gateway's 30 s.
pub const ADMIN_MAX_RATE_WAIT: Duration = Duration::from_secs(10);

/// The admin API, built once per container.
pub struct AdminApi {
    ivs: Ivs,
    /// `None` when no playback key secret is configured.
    signer: Option<SignerCell>,
    admin_access: AdminAccess,
    scope: Scope,
    publisher: Publisher,
    /// Where what EventBridge does not take is kept: the queue and its URL.
    outbox: Option<(EventQueue, String)>,
    metrics: Arc<Metrics>,
}

/// A successful answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Reply {
            status: 200,
            body: Some(body),
        }
    }
    pub fn created(body: Value) -> Self {
        Reply {
            status: 201,
            body: Some(body),
        }
    }
    pub fn no_content() -> Self {
        Reply {
            status: 204,
            body: None,
        }
    }
}

/// Why a handler did not succeed: an answer for the caller, or something unexpected that is
/// logged in full and answered with a bare 500.
#[derive(Debug)]
pub(crate) enum Failure {
    Api(ApiError),
    Internal(String),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match ApiError::from_error(&e) {
            Some(api) => Failure::Api(api),
            None => Failure::Internal(e.to_string()),
        }
    }
}

/// What a handler gets: the matched route's parameters, the query, the body and where ids
/// live.
pub(crate) struct Call<'a> {
    pub params: router::Params,
    pub query: input::Query,
    pub body: &'a [u8],
    pub account: String,
    pub region: String,
    /// The invocation's request id (makes an operator's lifecycle events' ids stable).
    pub request_id: String,
}

impl Call<'_> {
    /// The ARN named by path parameter `param` (an id or a full ARN of `kind`).
    pub fn arn(&self, param: &str, kind: ResourceType) -> Result<IvsArn, ApiError> {
        let value = self
            .params
            .get(param)
            .ok_or_else(|| ApiError::bad_field(param, "missing"))?;
        input::resource(param, value, kind, &self.region, &self.account)
    }

    /// An id or ARN given in a body field.
    pub fn arn_of(&self, field: &str, value: &str, kind: ResourceType) -> Result<IvsArn, ApiError> {
        input::resource(field, value, kind, &self.region, &self.account)
    }
}

impl AdminApi {
    pub fn new(
        ivs: Ivs,
        signer: Option<SignerCell>,
        admin_access: AdminAccess,
        scope: Scope,
    ) -> Self {
        let metrics = Arc::new(Metrics::from_env("admin-api"));
        AdminApi {
            ivs: ivs.with_metrics(metrics.clone()),
            signer,
            admin_access,
            scope,
            publisher: Publisher::off(),
            outbox: None,
            metrics,
        }
    }

    /// The same API, publishing the lifecycle events of the operators' changes (suspend,
    /// resume, rotate) with `publisher`; what EventBridge does not take goes to `outbox` (a
    /// queue and its URL) as an outbox record.
    pub fn with_lifecycle(
        mut self,
        publisher: Publisher,
        outbox: Option<(EventQueue, String)>,
    ) -> Self {
        self.publisher = publisher;
        self.outbox = outbox;
        self
    }

    /// The figures counted since the last flush.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Publishes an operator's change's lifecycle events. What EventBridge does not take is
    /// kept in the outbox queue; when that fails too, `Err` if `must_keep` (the change is
    /// idempotent: the operator repeats the request, answered 503), else logged and counted
    /// (a rotation: repeating it would make another key, and the new key must reach the
    /// operator).
    pub(crate) async fn announce(&self, facts: &[Lifecycle], must_keep: bool) -> Result<(), Error> {
        let Err(e) = self.publisher.publish(facts, Some(&self.metrics)).await else {
            return Ok(());
        };
        let kept = match &self.outbox {
            Some((queue, url)) => {
                let body = serde_json::to_string(&Outbox::new(&e.unpublished)).unwrap_or_default();
                queue.send_outbox(url, &body).await
            }
            None => Err(format!("{} is not set", env::LIFECYCLE_OUTBOX_QUEUE_URL)),
        };
        match kept {
            Ok(()) => {
                warn!(error = %e, "lifecycle events not published: kept in the outbox queue");
                Ok(())
            }
            Err(why) => {
                let ids: Vec<&str> = e.unpublished.iter().map(|u| u.id.as_str()).collect();
                error!(error = %e, outbox_error = %why, ids = ?ids, "lifecycle events neither published nor kept");
                if must_keep {
                    Err(e.into())
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Everything from the environment, once per container. The playback key is loaded on
    /// the first token request, not here, to keep cold starts short. Fails only for an
    /// invalid `TLS_TRUST_ROOTS`.
    pub async fn from_env() -> Result<Self, Error> {
        let aws = aws_from_env().await?;
        let secret_id = std::env::var(env::PLAYBACK_KEY_SECRET_ID)
            .ok()
            .filter(|s| !s.trim().is_empty());
        let refresh = SignerCell::refresh_from_lookup(|name| std::env::var(name).ok())
            .map_err(Error::Config)?;
        let signer = secret_id.map(|id| {
            SignerCell::with_refresh(
                aws_sdk_secretsmanager::Client::new(&aws.config),
                id,
                refresh,
            )
        });
        let publisher = Publisher::new(&aws.config, env_var(LIFECYCLE_EVENT_BUS));
        if warm_up_wanted()? {
            // At full speed, during init (ivs_adapter::https): the TLS session to IVS, and
            // the signing key read (which opens the one to Secrets Manager) and parsed. A key
            // that cannot be loaded now is loaded by the first request that needs it. Not
            // EventBridge's: the admin API publishes on suspend, resume and rotate only, and a
            // second handshake would lengthen every cold start for them (BENCHMARKS.md).
            let endpoint = aws.ivs_endpoint().await;
            let preload = async {
                if let Some(cell) = &signer {
                    cell.preload(WARM_UP_BUDGET).await;
                }
            };
            tokio::join!(aws.warm_up(endpoint.as_slice()), preload);
        }
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        // The admin API's share of IVS's quotas (AdminRateShare ÷ AdminConcurrency): a call
        // waits at most ADMIN_MAX_RATE_WAIT for its slot, else the caller gets 429 and
        // Retry-After, like IVS's own throttling.
        let rate = RateSettings::from_lookup(env_var, ADMIN_RATE_SHARE)?;
        let budget = RateBudget::new(rate).with_max_wait(ADMIN_MAX_RATE_WAIT);
        let outbox = var(env::LIFECYCLE_OUTBOX_QUEUE_URL)
            .map(|url| (EventQueue::new(&aws.config, None), url));
        Ok(AdminApi::new(
            Ivs::new(aws_sdk_ivs::Client::new(&aws.config)).with_budget(Arc::new(budget)),
            signer,
            AdminAccess {
                scope: var(env::ADMIN_SCOPE).unwrap_or_else(|| AdminAccess::default().scope),
            },
            Scope {
                account: var(env::IVS_ACCOUNT_ID),
                region: var(env::IVS_REGION),
            },
        )
        .with_lifecycle(publisher, outbox))
    }

    pub(crate) fn ivs(&self) -> &Ivs {
        &self.ivs
    }

    pub(crate) fn signer(&self) -> Option<&SignerCell> {
        self.signer.as_ref()
    }

    /// Answers one request. Never fails: every outcome is an HTTP answer.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let request_id = request
            .lambda_context_ref()
            .map(|c| c.request_id.clone())
            .unwrap_or_default();
        let method = request.method().as_str().to_owned();
        let context = request.request_context_ref();
        // The raw path: REST API events keep the stage out of it (lambda_http adds the stage
        // to the URI); an HTTP API's named stage is stripped by `api_path`.
        let path = api_path(request.raw_http_path(), context);
        let caller = auth::caller(context);
        let (outcome, route_path) = match self.answer(&request, &method, &path, &caller).await {
            (Ok(reply), route) => (Ok(reply), route),
            (Err(Failure::Api(e)), route) => (Err(e), route),
            (Err(Failure::Internal(detail)), route) => {
                error!(request_id = %request_id, method = %method, route = route, error = %detail, "admin request failed unexpectedly");
                (Err(ApiError::internal(&request_id)), route)
            }
        };
        let response = match outcome {
            Ok(reply) => respond(reply.status, reply.body.as_ref(), None),
            Err(e) => respond(e.status, Some(&e.body()), e.retry_after),
        };
        info!(
            method = %method,
            route = route_path,
            status = response.status().as_u16(),
            caller = caller.as_ref().map(Caller::describe).unwrap_or_default(),
            duration_ms = started.elapsed().as_millis() as u64,
            "admin request"
        );
        // The request's figures, once, at its end (EMF lines on stdout).
        self.metrics.flush();
        response
    }

    async fn answer(
        &self,
        request: &Request,
        method: &str,
        path: &str,
        caller: &Result<Caller, auth::Refusal>,
    ) -> (Result<Reply, Failure>, &'static str) {
        // Identity first: an unauthenticated request learns nothing, not even which routes
        // exist.
        let caller = match caller {
            Ok(caller) => caller,
            Err(refusal) => {
                warn!(
                    reason = refusal.message(),
                    "request without an accepted identity refused"
                );
                return (
                    Err(ApiError::new(401, "Unauthenticated", refusal.message()).into()),
                    "",
                );
            }
        };
        let (route, params) = match router::route(method, path) {
            Ok(found) => found,
            Err(router::NoRoute::NotFound) => {
                return (
                    Err(ApiError::new(404, "NotFound", "no such route").into()),
                    "",
                )
            }
            Err(router::NoRoute::MethodNotAllowed { allowed }) => {
                return (
                    Err(ApiError::new(
                        405,
                        "MethodNotAllowed",
                        format!("use {} on this path", allowed.join(" or ")),
                    )
                    .into()),
                    "",
                )
            }
            Err(router::NoRoute::BadPath(why)) => {
                return (
                    Err(ApiError::bad_request(format!("path: {why}")).into()),
                    "",
                )
            }
        };
        if route.needs_admin() && !self.admin_access.allows(caller) {
            let what = if route.write {
                "this route changes resources"
            } else {
                "this route answers with secrets"
            };
            return (
                Err(ApiError::new(
                    403,
                    "Forbidden",
                    format!("{what}: it needs the {} scope", self.admin_access.scope),
                )
                .into()),
                route.path,
            );
        }
        let Some((account, region)) = self.scope_of(request) else {
            return (
                Err(Failure::Internal(
                    "neither the invoked function's ARN nor IVS_ACCOUNT_ID/IVS_REGION give the account and region".into(),
                )),
                route.path,
            );
        };
        let query = input::Query::new(
            request
                .query_string_parameters_ref()
                // Every (name, value) pair, repeated names included.
                .map(|q| {
                    q.iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        );
        let call = Call {
            params,
            query,
            body: request.body().as_ref(),
            account,
            region,
            request_id: request
                .lambda_context_ref()
                .map(|c| c.request_id.clone())
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        };
        // Boxed: the dispatch future is as large as the largest of the route handlers' futures,
        // too large for a small (2 MiB) thread stack in unoptimised builds.
        let reply = Box::pin(router::dispatch(self, route.op, &call)).await;
        (reply, route.path)
    }

    /// The account and region ids in paths belong to.
    fn scope_of(&self, request: &Request) -> Option<(String, String)> {
        let from_arn = request.lambda_context_ref().and_then(|c| {
            let parts: Vec<&str> = c.invoked_function_arn.split(':').collect();
            match parts.as_slice() {
                ["arn", _, "lambda", region, account, ..]
                    if !region.is_empty() && !account.is_empty() =>
                {
                    Some((account.to_string(), region.to_string()))
                }
                _ => None,
            }
        });
        let account = self
            .scope
            .account
            .clone()
            .or_else(|| from_arn.as_ref().map(|(a, _)| a.clone()))?;
        let region = self
            .scope
            .region
            .clone()
            .or_else(|| from_arn.map(|(_, r)| r))?;
        Some((account, region))
    }
}

/// The path below the stage: an HTTP API stage other than `$default` prefixes the raw path
/// with its name.
fn api_path(path: &str, context: Option<&RequestContext>) -> String {
    let stage = match context {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.as_deref(),
        _ => None,
    };
    match stage {
        Some(stage) if stage != "$default" && !stage.is_empty() => {
            let prefix = format!("/{stage}");
            match path.strip_prefix(&prefix) {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => rest.to_owned(),
                _ => path.to_owned(),
            }
        }
        _ => path.to_owned(),
    }
}

fn respond(status: u16, body: Option<&Value>, retry_after: Option<u32>) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        // Answers can carry stream keys and tokens: never cached on the way.
        .header(CACHE_CONTROL, "no-store")
        // JSON is JSON: no browser may sniff it into something it would run.
        .header(X_CONTENT_TYPE_OPTIONS, "nosniff");
    if let Some(seconds) = retry_after {
        builder = builder.header(RETRY_AFTER, seconds.to_string());
    }
    let response = match body {
        Some(body) => builder
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => builder.body(Body::Empty),
    };
    // Building can only fail on an invalid status or header, none of which is possible here;
    // answer a bare 500 rather than panic.
    response.unwrap_or_else(|_| {
        let mut fallback = Response::new(Body::Empty);
        *fallback.status_mut() = lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}
