//! What every REST route shares: the contract's error body, the caller's
//! authentication, and the decoding of query strings, path parameters and
//! JSON bodies against the contract (`lockstep_contract::rest`).
//!
//! Every way a request can go wrong answers the contract's `RestError`
//! (`{ "error": CODE, "message": TEXT }`) with a contract code: axum's own
//! rejections (a body that is not JSON, a missing content type, a body over
//! the size limit, a query string that does not split into pairs) are mapped
//! here, and [`not_found`] and [`method_not_allowed`] are the router's
//! fallbacks, so no request gets the framework's plain-text or empty answers.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use lockstep_contract::rest::Route;
use lockstep_contract::types::{self, ErrorCode};
use lockstep_contract::validate::Refusal;
use serde::de::DeserializeOwned;

use crate::auth::TokenVerifier;
use crate::session::now;
use crate::store::StoreError;

/// A REST error: a status, a contract code and a human message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// `400 VALIDATION_ERROR`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::ValidationError, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = types::RestError {
            error: self.code,
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

/// A request the contract refuses (bad query string, path parameter or
/// body): `400` with the refusal's code.
impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        Self::new(StatusCode::BAD_REQUEST, refusal.code, refusal.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => {
                tracing::warn!(%error, "storage unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::StorageUnavailable,
                    "storage is unavailable; retry later",
                )
            }
            StoreError::Invalid(rule) => Self::invalid(rule),
            other => {
                tracing::error!(error = %other, "storage failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::InternalError,
                    "internal error",
                )
            }
        }
    }
}

/// axum refused the body: no JSON content type (415), too large (413), or
/// not JSON at all (400).
impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        match status {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::new(
                status,
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with `Content-Type: application/json`",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => Self::new(
                status,
                ErrorCode::PayloadTooLarge,
                "the body is larger than the server accepts",
            ),
            _ => Self::invalid(format!(
                "the body is not the expected JSON: {}",
                rejection.body_text()
            )),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::invalid(format!(
            "the query string does not parse: {}",
            rejection.body_text()
        ))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::invalid(format!(
            "the path does not parse: {}",
            rejection.body_text()
        ))
    }
}

/// The authenticated caller of a REST request.
pub struct Caller {
    pub profileid: String,
}

/// The state of a router whose routes take a [`Caller`]: it knows how to
/// check a token.
pub trait Authenticates {
    fn token_verifier(&self) -> &TokenVerifier;
}

impl<S: Authenticates + Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match crate::auth::authenticate_request(state.token_verifier(), &parts.headers, now()) {
            Ok(session) => Ok(Caller {
                profileid: session.claims.profileid,
            }),
            Err(failure) => {
                tracing::warn!(code = failure.code(), path = %parts.uri.path(), "REST authentication failed");
                let refusal = failure.refusal();
                Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    refusal.code,
                    refusal.message,
                ))
            }
        }
    }
}

/// The query string's `(name, value)` pairs, in order and percent-decoded,
/// before the contract decodes them (see [`query`]): duplicates are kept so
/// that the contract can refuse them.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state).await?;
        Ok(Self(pairs))
    }
}

/// The query string of `route`, checked against the contract and decoded.
pub fn query<T: DeserializeOwned>(route: &Route, pairs: &QueryPairs) -> Result<T, ApiError> {
    Ok(route.decode_query(&pairs.0)?)
}

/// Refuses any query parameter on a route whose contract has no query
/// string.
pub fn no_query(route: &Route, pairs: &QueryPairs) -> Result<(), ApiError> {
    route.decode_query::<serde_json::Value>(&pairs.0)?;
    Ok(())
}

/// The single path parameter of a route, not yet checked against the
/// contract (handlers answer a malformed id as the route's "not found").
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(value) = Path::<String>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// A JSON body, parsed but not yet checked against the contract (see
/// [`body`]).
pub struct JsonBody(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<serde_json::Value>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

/// The body of `route`, checked against the contract and decoded.
pub fn body<T: DeserializeOwned>(route: &Route, body: JsonBody) -> Result<T, ApiError> {
    Ok(route.decode_body(body.0)?)
}

/// Installs the fallbacks that answer unknown paths and wrong methods with
/// the contract's error body.
pub fn with_fallbacks<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// No route has this path: `404 ROUTE_NOT_FOUND`.
pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::RouteNotFound,
        "no route has this path",
    )
}

/// The path exists with other methods: `405 METHOD_NOT_ALLOWED` (axum adds
/// the `Allow` header).
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "this route does not take this method",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    async fn answer(
        router: Router,
        request: axum::http::Request<Body>,
    ) -> (StatusCode, serde_json::Value) {
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    fn router() -> Router {
        async fn echo(JsonBody(value): JsonBody) -> Json<serde_json::Value> {
            Json(value)
        }
        with_fallbacks(
            Router::new()
                .route("/x", post(echo))
                .route("/y", get(|| async { "y" })),
        )
    }

    fn request(
        method: &str,
        uri: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> axum::http::Request<Body> {
        let mut builder = axum::http::Request::builder().method(method).uri(uri);
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        builder.body(Body::from(body.to_owned())).unwrap()
    }

    #[tokio::test]
    async fn framework_rejections_answer_the_contract_error_body() {
        let cases = [
            (request("GET", "/nowhere", None, ""), 404, "ROUTE_NOT_FOUND"),
            (request("DELETE", "/y", None, ""), 405, "METHOD_NOT_ALLOWED"),
            (
                request("POST", "/x", None, "{}"),
                415,
                "UNSUPPORTED_MEDIA_TYPE",
            ),
            (
                request("POST", "/x", Some("application/json"), "{"),
                400,
                "VALIDATION_ERROR",
            ),
        ];
        for (request, status, code) in cases {
            let label = format!("{} {}", request.method(), request.uri());
            let (got, body) = answer(router(), request).await;
            assert_eq!(got.as_u16(), status, "{label}: {body}");
            assert_eq!(body["error"], code, "{label}");
            assert!(
                body["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{label}"
            );
        }
    }
}
