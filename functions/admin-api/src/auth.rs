//! Who is calling. API Gateway authorizes every route (IAM by default, a JWT authorizer as an
//! option); the function checks again (defence in depth), before anything else, routing
//! included:
//!
//! - a request whose context carries no authenticated identity is refused (401), and so is an
//!   unauthenticated Cognito identity-pool identity (guest credentials signed with SigV4);
//! - under a JWT authorizer, routes that change resources or answer with a secret
//!   ([`super::Route::needs_admin`]) need the admin scope (403). Group claims
//!   (`cognito:groups`) grant nothing: the template's gateway checks scopes only, so a group
//!   rule here could never agree with it (SECURITY.md says how to map a group to the scope).

use lambda_http::request::RequestContext;

/// The authenticated caller, as API Gateway's authorizer saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A SigV4-signed request (IAM authorization).
    Iam { arn: String },
    /// A request carrying a JWT validated by a JWT (or Cognito) authorizer.
    Jwt {
        subject: String,
        scopes: Vec<String>,
    },
}

impl Caller {
    /// A short description for logs (never a token).
    pub fn describe(&self) -> String {
        match self {
            Caller::Iam { arn } => format!("iam:{arn}"),
            Caller::Jwt { subject, .. } => format!("jwt:{subject}"),
        }
    }
}

/// Who may use the routes that change resources or answer with secrets, under a JWT
/// authorizer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminAccess {
    /// The OAuth scope that grants them (`ADMIN_SCOPE`), matched exactly.
    pub scope: String,
}

impl Default for AdminAccess {
    fn default() -> Self {
        AdminAccess {
            scope: "ivs-automation/admin".to_owned(),
        }
    }
}

impl AdminAccess {
    /// Whether `caller` may use admin routes. IAM callers are governed by their IAM policy
    /// (API Gateway checked `execute-api:Invoke` on the request's method and path), so they
    /// may; SECURITY.md has a read-only operator's policy that excludes those routes.
    pub fn allows(&self, caller: &Caller) -> bool {
        match caller {
            Caller::Iam { .. } => true,
            Caller::Jwt { scopes, .. } => scopes.contains(&self.scope),
        }
    }
}

/// Why a request's context names no caller the function accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No authorizer identity at all (the route was not authorized by API Gateway, or the
    /// function was invoked directly with a hand-made event).
    NoIdentity,
    /// A Cognito identity pool's guest (unauthenticated) identity.
    UnauthenticatedCognitoIdentity,
}

impl Refusal {
    pub fn message(self) -> &'static str {
        match self {
            Refusal::NoIdentity => "the request carries no authenticated identity",
            Refusal::UnauthenticatedCognitoIdentity => {
                "unauthenticated (guest) Cognito identities may not call the admin API"
            }
        }
    }
}

/// The caller of a request, from its API Gateway request context.
pub fn caller(context: Option<&RequestContext>) -> Result<Caller, Refusal> {
    match context.ok_or(Refusal::NoIdentity)? {
        RequestContext::ApiGatewayV2(ctx) => {
            let authorizer = ctx.authorizer.as_ref().ok_or(Refusal::NoIdentity)?;
            if let Some(iam) = &authorizer.iam {
                let guest = iam
                    .cognito_identity
                    .as_ref()
                    .is_some_and(|c| c.amr.iter().any(|a| a == "unauthenticated"));
                if guest {
                    return Err(Refusal::UnauthenticatedCognitoIdentity);
                }
                let arn = iam
                    .user_arn
                    .clone()
                    .filter(|a| !a.is_empty())
                    .ok_or(Refusal::NoIdentity)?;
                return Ok(Caller::Iam { arn });
            }
            let jwt = authorizer.jwt.as_ref().ok_or(Refusal::NoIdentity)?;
            let subject = jwt
                .claims
                .get("sub")
                .filter(|s| !s.is_empty())
                .ok_or(Refusal::NoIdentity)?
                .clone();
            // API Gateway gives the access token's scopes as a list; ID tokens have none.
            let mut scopes = jwt.scopes.clone().unwrap_or_default();
            if let Some(scope) = jwt.claims.get("scope") {
                scopes.extend(scope.split_whitespace().map(str::to_owned));
            }
            Ok(Caller::Jwt { subject, scopes })
        }
        RequestContext::ApiGatewayV1(ctx) => {
            if ctx
                .identity
                .cognito_authentication_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("unauthenticated"))
            {
                return Err(Refusal::UnauthenticatedCognitoIdentity);
            }
            if let Some(arn) = ctx.identity.user_arn.clone().filter(|a| !a.is_empty()) {
                return Ok(Caller::Iam { arn });
            }
            // A Cognito user pool authorizer puts the token's claims under `claims`.
            let claims = ctx
                .authorizer
                .fields
                .get("claims")
                .ok_or(Refusal::NoIdentity)?;
            let subject = claims
                .get("sub")
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .ok_or(Refusal::NoIdentity)?;
            let scopes = claims
                .get("scope")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            Ok(Caller::Jwt {
                subject: subject.to_owned(),
                scopes,
            })
        }
        _ => Err(Refusal::NoIdentity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(scopes: &[&str]) -> Caller {
        Caller::Jwt {
            subject: "user-1".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn admin_access_under_jwt_needs_exactly_the_scope() {
        let access = AdminAccess::default();
        assert!(access.allows(&jwt(&["openid", "ivs-automation/admin"])));
        for scopes in [
            &[][..],
            &["ivs-automation/read"],
            &["ivs-automation/admin2"],
            &["ivs-automation/ADMIN"],
            &["x,ivs-automation/admin"],
            &["ivs-automation/admin "],
        ] {
            assert!(!access.allows(&jwt(scopes)), "{scopes:?}");
        }
        assert!(access.allows(&Caller::Iam {
            arn: "arn:aws:iam::111122223333:role/ops".into()
        }));
    }
}
