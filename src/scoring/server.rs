//! The HTTP scoring endpoint (axum): `POST /score`, `GET /health`, `GET /swagger.json`.
//!
//! - `POST /score` takes `{"data":[{...}], "return_proba": bool, "method": "predict" |
//!   "predict_proba", "explain": bool}` as `application/json` and answers `{"result":[...]}`,
//!   with `"explain": true` also `"explanations"` (each row's largest TreeSHAP contributions; see
//!   [`super::request`]); a forecasting model takes the future rows alone and `"quantiles"`
//!   (see [`super::forecast`]). The model is any [`Scorer`].
//! - `GET /health` answers `{"status":"healthy", ...}`; it never needs the key, so liveness
//!   probes work without secrets.
//! - `GET /swagger.json` is an OpenAPI 3.1 document of this model's input.
//!
//! With a key set, `/score` and `/swagger.json` need `Authorization: Bearer <key>` (401
//! otherwise; the scheme is case-insensitive), as Azure's key-authenticated endpoints do; an
//! empty key is refused at start-up. Every error is a 4xx/5xx with a `{"error": "..."}` body and
//! the server keeps serving. Batches above [`INLINE_ROWS`] rows are scored on tokio's blocking
//! pool so they cannot stall other requests.
//!
//! Slow or stalled clients are bounded: request headers must arrive within
//! [`HEADER_READ_TIMEOUT`] (the connection is closed otherwise), a body within
//! [`BODY_READ_TIMEOUT`] (408), and on shutdown the requests in flight get at most
//! [`SHUTDOWN_GRACE`] before the remaining connections are dropped.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::bundle::Predictor;
use super::request::parse_request;
use super::scorer::Scorer;
use crate::data::ColumnKind;
use crate::error::{AutotabError, Result};

/// Largest request body accepted (413 above it).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Requests with at most this many records are scored on the request's own task (a few
/// microseconds of work); larger ones go to the blocking pool.
pub const INLINE_ROWS: usize = 64;

/// Time a client has to send a request's headers (from the first byte of a request, or from
/// the connection's start); a connection that is slower is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Time a client has to send a request's body once its headers arrived (408 after it).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest wait for requests in flight after a shutdown signal; connections still open then are
/// dropped.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Shared state of the handlers.
struct AppState {
    scorer: Arc<dyn Scorer>,
    auth_key: Option<String>,
    swagger: Value,
}

/// An error answer: a status and a `{"error": message}` body.
struct ApiError {
    status: StatusCode,
    message: String,
    /// Answered before the request body was read: the connection closes after the answer.
    close_connection: bool,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            close_connection: false,
        }
    }

    /// The same error, answered with `Connection: close`: for refusals before the body is
    /// read, after which the connection cannot carry another request (keep-alive clients then
    /// reconnect instead of writing to a connection being closed).
    fn closing(self) -> ApiError {
        ApiError {
            close_connection: true,
            ..self
        }
    }
}

impl From<AutotabError> for ApiError {
    fn from(e: AutotabError) -> ApiError {
        let status = match e {
            AutotabError::InvalidData(_) | AutotabError::Predict(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if self.close_connection {
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

/// The routes for `scorer` (a [`Predictor`] or a forecasting model); with `auth_key`, `/score`
/// and `/swagger.json` need `Authorization: Bearer <key>` (an empty key matches no request).
pub fn router(scorer: Arc<dyn Scorer>, auth_key: Option<String>) -> Router {
    let swagger = scorer.openapi(auth_key.is_some());
    let state = Arc::new(AppState {
        scorer,
        auth_key,
        swagger,
    });
    Router::new()
        .route("/score", post(score))
        .route("/health", get(health))
        .route("/swagger.json", get(swagger_json))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Refuses an empty (or blank) key: it would otherwise be a key that turns authentication off.
pub fn check_auth_key(auth_key: Option<&str>) -> Result<()> {
    match auth_key {
        Some(key) if key.trim().is_empty() => Err(AutotabError::config(
            "the auth key is empty: give a non-empty key (--auth-key or AUTOTAB_AUTH_KEY), or \
             leave it out to serve without authentication",
        )),
        _ => Ok(()),
    }
}

/// Binds `addr` and serves `scorer` until `shutdown` completes, then finishes the requests
/// in flight (for at most [`SHUTDOWN_GRACE`]) and returns.
pub async fn serve(
    scorer: Arc<dyn Scorer>,
    addr: SocketAddr,
    auth_key: Option<String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    check_auth_key(auth_key.as_deref())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| AutotabError::config(format!("cannot listen on {addr}: {e}")))?;
    serve_listener(listener, scorer, auth_key, shutdown).await
}

/// Like [`serve`] on an already bound listener (tests and benchmarks bind port 0).
///
/// HTTP/1.1 with keep-alive, one task per connection; a connection whose request headers do
/// not arrive within [`HEADER_READ_TIMEOUT`] is closed, so a stalled client holds neither a
/// connection nor the shutdown.
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    scorer: Arc<dyn Scorer>,
    auth_key: Option<String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    check_auth_key(auth_key.as_deref())?;
    let app = router(scorer, auth_key);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // Out of file descriptors and the like: wait a little rather than spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away or times out ends its own connection only.
            let _ = connection.await;
        });
    }
    drop(listener);
    // Connections still open after the grace period are dropped with the runtime.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    Ok(())
}

/// Completes on Ctrl-C or (on Unix) SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed, only SIGTERM ends the server.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// An error and its causes as one string.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn check_auth(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(key) = &state.auth_key else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    match given {
        Some(token) if !key.is_empty() && constant_time_eq(token.as_bytes(), key.as_bytes()) => {
            Ok(())
        }
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the key in the Authorization header is not valid",
        )),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this endpoint needs a key: send the header 'Authorization: Bearer <key>'",
        )),
    }
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is case-insensitive
/// (RFC 9110 section 11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once([' ', '\t'])?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        let shown = if content_type.is_empty() {
            "none".to_string()
        } else {
            format!("'{content_type}'")
        };
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "the content type is {shown}: send the header 'Content-Type: application/json'"
            ),
        ))
    }
}

async fn score(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let headers = request.headers();
    check_auth(&state, headers).map_err(ApiError::closing)?;
    check_json_content_type(headers).map_err(ApiError::closing)?;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {MAX_BODY_BYTES} bytes: send smaller batches"),
        )
    };
    // A declared length over the limit is refused before anything is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large().closing());
    }
    let body = tokio::time::timeout(
        BODY_READ_TIMEOUT,
        axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES),
    )
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s",
                BODY_READ_TIMEOUT.as_secs()
            ),
        )
    })?
    .map_err(|e| {
        if error_chain(&e).contains("length limit") {
            too_large()
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {e}"),
            )
        }
    })?;
    let request = parse_request(&body)?;
    if request.data.len() <= INLINE_ROWS {
        return Ok(Json(state.scorer.score(&request)?));
    }
    let scorer = Arc::clone(&state.scorer);
    let answer = tokio::task::spawn_blocking(move || scorer.score(&request))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("scoring failed: {e}"),
            )
        })??;
    Ok(Json(answer))
}

async fn health(State(state): State<Arc<AppState>>) -> Json<Value> {
    let mut facts = json!({ "status": "healthy" });
    if let (Value::Object(fields), Value::Object(more)) = (&mut facts, state.scorer.health()) {
        fields.extend(more);
    }
    Json(facts)
}

async fn swagger_json(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    check_auth(&state, &headers)?;
    Ok(Json(state.swagger.clone()))
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no route {}: the routes are POST /score, GET /health, GET /swagger.json",
            uri.path()
        ),
    )
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{method} is not allowed on {}: use POST /score, GET /health, GET /swagger.json",
            uri.path()
        ),
    )
}

/// The OpenAPI 3.1 document of a tabular model: one property per input column, typed by its
/// kind, with the bundle's `sample_input.json` as the example.
pub(crate) fn openapi(predictor: &Predictor, with_auth: bool) -> Value {
    let info = predictor.info();
    let schema = &predictor.pipeline().schema;
    let mut properties = serde_json::Map::new();
    for name in &info.input_columns {
        let kind = schema
            .column(name)
            .map(|c| c.kind)
            .unwrap_or(ColumnKind::Categorical);
        properties.insert(name.clone(), column_schema(kind));
    }
    let sample = read_sample(predictor.dir());
    let mut record = json!({
        "type": "object",
        "required": info.input_columns,
        "properties": properties,
        "additionalProperties": true,
    });
    if let Some(first) = sample
        .as_ref()
        .and_then(|s| s.get("data"))
        .and_then(|d| d.get(0))
    {
        record["example"] = first.clone();
    }
    let prediction = if info.classes.is_empty() {
        json!({ "type": "number" })
    } else {
        json!({ "type": ["number", "string"], "enum": class_values(&info.classes) })
    };
    let mut request_body = json!({
        "required": true,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ScoreRequest" } } }
    });
    if let Some(sample) = &sample {
        request_body["content"]["application/json"]["example"] = sample.clone();
    }
    let score = json!({
        "summary": format!("Score records with the {} model ({})", info.algorithm, info.task),
        "operationId": "score",
        "requestBody": request_body,
        "responses": {
            "200": {
                "description": "One prediction per record; probabilities when asked for",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ScoreResponse" } } }
            },
            "400": { "description": "Malformed JSON, empty data, a missing field or a value of the wrong kind", "content": error_content() },
        }
    });
    let components = json!({
        "schemas": {
            "InputRecord": record,
            "ScoreRequest": {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "data": { "type": "array", "minItems": 1, "items": { "$ref": "#/components/schemas/InputRecord" } },
                    "return_proba": { "type": "boolean", "default": false, "description": "Add class probabilities" },
                    "method": { "type": "string", "enum": ["predict", "predict_proba"], "default": "predict" },
                    "explain": { "type": "boolean", "default": false, "description": "Add each record's largest TreeSHAP contributions per input column (tree models)" }
                }
            },
            "ScoreResponse": {
                "type": "object",
                "required": ["result"],
                "properties": {
                    "result": { "type": "array", "items": prediction, "description": "Predictions (method predict) or {class: probability} objects (method predict_proba)" },
                    "probabilities": { "type": "array", "items": { "type": "object", "additionalProperties": { "type": "number" } } }
                }
            }
        }
    });
    openapi_document(
        json!({
            "title": format!("autotab model: {} ({})", info.label, info.experiment),
            "version": info.autotab_version,
            "description": format!(
                "{} {} predicting '{}'; {} = {:.4}",
                info.task, info.algorithm, info.label, info.metric, info.score
            ),
        }),
        score,
        components,
        with_auth,
    )
}

/// The response content of every error: `{"error": "..."}` (the `Error` schema).
pub(crate) fn error_content() -> Value {
    json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } })
}

/// The OpenAPI 3.1 document around a model's `POST /score` operation (`score`, with its own
/// 200 and 400 responses) and its schemas (`components`): adds what every model's server
/// shares, the transport errors (401, 413, 415), the `Error` schema, `GET /health` and, with
/// `with_auth`, the bearer scheme.
pub(crate) fn openapi_document(
    info: Value,
    mut score: Value,
    mut components: Value,
    with_auth: bool,
) -> Value {
    let error = error_content();
    score["responses"]["401"] = json!({ "description": "Missing or wrong key", "content": error });
    score["responses"]["413"] =
        json!({ "description": "Body larger than 16 MB", "content": error });
    score["responses"]["415"] =
        json!({ "description": "Content type is not application/json", "content": error });
    components["schemas"]["Error"] = json!({ "type": "object", "required": ["error"], "properties": { "error": { "type": "string" } } });
    if with_auth {
        components["securitySchemes"] = json!({ "bearer": { "type": "http", "scheme": "bearer" } });
        score["security"] = json!([{ "bearer": [] }]);
    }
    json!({
        "openapi": "3.1.0",
        "info": info,
        "paths": {
            "/score": { "post": score },
            "/health": { "get": {
                "summary": "Liveness: never needs the key",
                "operationId": "health",
                "responses": { "200": { "description": "The server is up" } }
            } }
        },
        "components": components,
    })
}

fn column_schema(kind: ColumnKind) -> Value {
    match kind {
        ColumnKind::Numeric => json!({
            "type": ["number", "string", "null"],
            "format": "double",
            "description": "numeric; may be sent as a string such as \"1.40\"",
        }),
        ColumnKind::Boolean => json!({
            "type": ["boolean", "string", "integer", "null"],
            "description": "boolean: true/false, 1/0, yes/no (also as strings)",
        }),
        ColumnKind::Datetime => json!({
            "type": ["string", "null"],
            "format": "date-time",
            "description": "date or date-time, ISO 8601",
        }),
        ColumnKind::Categorical => json!({
            "type": ["string", "number", "boolean", "null"],
            "description": "category; values not seen in training are handled as unknown",
        }),
        ColumnKind::Text => json!({ "type": ["string", "null"], "description": "free text" }),
        ColumnKind::IdLike | ColumnKind::Constant => json!({
            "type": ["string", "number", "boolean", "null"],
            "description": "not used by the model",
        }),
    }
}

fn class_values(classes: &[String]) -> Vec<Value> {
    classes
        .iter()
        .map(|c| match c.parse::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => Value::String(c.clone()),
        })
        .collect()
}

/// The bundle's `sample_input.json` (a scoring request), when it has a readable one.
pub(crate) fn read_sample(dir: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join("sample_input.json")).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(name, HeaderValue::from_str(value).unwrap());
        map
    }

    #[test]
    fn json_content_types_are_accepted_others_refused() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/vnd.api+json",
        ] {
            assert!(
                check_json_content_type(&headers(header::CONTENT_TYPE, ok)).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ] {
            let e = check_json_content_type(&headers(header::CONTENT_TYPE, bad)).unwrap_err();
            assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
            assert!(e.message.contains(bad), "{}", e.message);
        }
        let e = check_json_content_type(&HeaderMap::new()).unwrap_err();
        assert!(e.message.contains("content type is none"), "{}", e.message);
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }

    #[test]
    fn an_empty_key_is_refused_and_never_matches() {
        assert!(check_auth_key(Some("")).is_err());
        assert!(check_auth_key(Some("  ")).is_err());
        assert!(check_auth_key(Some("k")).is_ok());
        assert!(check_auth_key(None).is_ok());
    }

    #[test]
    fn key_comparison_needs_equal_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn error_kinds_map_to_statuses() {
        let bad = ApiError::from(AutotabError::data("record 0: missing field 'age'"));
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        let internal = ApiError::from(AutotabError::Store("disk".into()));
        assert_eq!(internal.status, StatusCode::INTERNAL_SERVER_ERROR);
        let unauthorized = ApiError::new(StatusCode::UNAUTHORIZED, "no key").into_response();
        assert_eq!(unauthorized.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
