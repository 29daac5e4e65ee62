//! Who is calling. API Gateway authorizes every route (IAM by default, a JWT authorizer as an
//! option); the function checks again (defence in depth): a request whose context carries no
//! authenticated identity is refused, and under a JWT authorizer write routes need the admin
//! scope or group.

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
        groups: Vec<String>,
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

/// Who may write under a JWT authorizer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteAccess {
    /// An OAuth scope that grants write access (`ADMIN_SCOPE`).
    pub scope: String,
    /// A group (Cognito `cognito:groups` claim) that grants write access (`ADMIN_GROUP`).
    pub group: String,
}

impl Default for WriteAccess {
    fn default() -> Self {
        WriteAccess {
            scope: "ivs-automation/admin".to_owned(),
            group: "ivs-admins".to_owned(),
        }
    }
}

impl WriteAccess {
    /// Whether `caller` may use write routes. IAM callers are governed by their IAM policy
    /// (API Gateway checked `execute-api:Invoke` on the route), so they may.
    pub fn allows(&self, caller: &Caller) -> bool {
        match caller {
            Caller::Iam { .. } => true,
            Caller::Jwt { scopes, groups, .. } => {
                scopes.contains(&self.scope) || groups.contains(&self.group)
            }
        }
    }
}

/// The caller of a request, from its API Gateway request context; `None` when the context
/// carries no authenticated identity.
pub fn caller(context: Option<&RequestContext>) -> Option<Caller> {
    match context? {
        RequestContext::ApiGatewayV2(ctx) => {
            let authorizer = ctx.authorizer.as_ref()?;
            if let Some(iam) = &authorizer.iam {
                let arn = iam.user_arn.clone().filter(|a| !a.is_empty())?;
                return Some(Caller::Iam { arn });
            }
            let jwt = authorizer.jwt.as_ref()?;
            let subject = jwt.claims.get("sub").filter(|s| !s.is_empty())?.clone();
            let mut scopes = jwt.scopes.clone().unwrap_or_default();
            if let Some(scope) = jwt.claims.get("scope") {
                scopes.extend(scope.split_whitespace().map(str::to_owned));
            }
            let groups = jwt
                .claims
                .get("cognito:groups")
                .map(|g| list_claim(g))
                .unwrap_or_default();
            Some(Caller::Jwt {
                subject,
                scopes,
                groups,
            })
        }
        RequestContext::ApiGatewayV1(ctx) => {
            if let Some(arn) = ctx.identity.user_arn.clone().filter(|a| !a.is_empty()) {
                return Some(Caller::Iam { arn });
            }
            // A Cognito user pool authorizer puts the token's claims under `claims`.
            let claims = ctx.authorizer.fields.get("claims")?;
            let subject = claims.get("sub")?.as_str().filter(|s| !s.is_empty())?;
            let field = |name: &str| claims.get(name).and_then(|v| v.as_str()).unwrap_or("");
            Some(Caller::Jwt {
                subject: subject.to_owned(),
                scopes: field("scope")
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                groups: list_claim(field("cognito:groups")),
            })
        }
        _ => None,
    }
}

/// A list claim as API Gateway renders it in a string: `[a b]`, `["a","b"]` or `a,b`.
fn list_claim(value: &str) -> Vec<String> {
    value
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|s| s.trim_matches('"'))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_claims_in_every_rendering() {
        assert_eq!(
            list_claim("[ivs-admins viewers]"),
            ["ivs-admins", "viewers"]
        );
        assert_eq!(
            list_claim(r#"["ivs-admins","viewers"]"#),
            ["ivs-admins", "viewers"]
        );
        assert_eq!(list_claim("ivs-admins"), ["ivs-admins"]);
        assert!(list_claim("[]").is_empty());
    }

    #[test]
    fn write_access_under_jwt_needs_the_scope_or_the_group() {
        let access = WriteAccess::default();
        let jwt = |scopes: &[&str], groups: &[&str]| Caller::Jwt {
            subject: "user-1".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
        };
        assert!(access.allows(&jwt(&["ivs-automation/admin"], &[])));
        assert!(access.allows(&jwt(&[], &["ivs-admins"])));
        assert!(!access.allows(&jwt(&["ivs-automation/read"], &["viewers"])));
        assert!(access.allows(&Caller::Iam {
            arn: "arn:aws:iam::111122223333:role/ops".into()
        }));
    }
}
