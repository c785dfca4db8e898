//! A blocking client of MLflow's REST tracking API over plain HTTP (ureq, no TLS): the
//! tracking URI, JSON calls and artifact uploads, every failure an error naming the server.

use std::time::Duration;

use base64::Engine;
use serde_json::Value;

use crate::error::{AutotabError, Result};

/// Where an MLflow tracking server listens: `http://host:port[/prefix]`, with optional
/// `user:password@` credentials (sent as HTTP basic auth, never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct TrackingUri {
    /// `http://host:port[/prefix]` without credentials and trailing `/`.
    base: String,
    /// Credentials given in the URI.
    userinfo: Option<(String, String)>,
}

impl std::fmt::Debug for TrackingUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrackingUri({})", self.base)
    }
}

impl std::fmt::Display for TrackingUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.base)
    }
}

impl TrackingUri {
    /// Parses a tracking URI as given to `--mlflow-tracking-uri` or `MLFLOW_TRACKING_URI`.
    /// Only `http://` servers are supported: `https://` (this build has no TLS), `file:`,
    /// `sqlite:`, `databricks` and plain paths are refused with an error saying so.
    pub fn parse(text: &str) -> Result<TrackingUri> {
        let text = text.trim();
        let shown = hide_password(text);
        let bad = |why: &str| AutotabError::config(format!("MLflow tracking URI '{shown}': {why}"));
        if text.is_empty() {
            return Err(AutotabError::config(
                "MLflow tracking URI is empty: give the address of an `mlflow server`, such as \
                 http://127.0.0.1:5000",
            ));
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(bad(
                "not an http:// address; autotab logs through MLflow's REST API, so start \
                 `mlflow server` and give its address, such as http://127.0.0.1:5000",
            ));
        };
        if scheme.eq_ignore_ascii_case("https") {
            return Err(bad(
                "https is not supported (this build has no TLS); use http://, for instance \
                 through a local TLS-terminating proxy",
            ));
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(bad(&format!(
                "'{scheme}://' is not supported; autotab logs through MLflow's REST API, so \
                 start `mlflow server` and give its http:// address"
            )));
        }
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if path.contains(['?', '#']) {
            return Err(bad("a query or fragment has no meaning here"));
        }
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((user, host)) => {
                let (name, password) = user.split_once(':').unwrap_or((user, ""));
                (Some((name.to_string(), password.to_string())), host)
            }
            None => (None, authority),
        };
        if host.is_empty() || host.starts_with(':') {
            return Err(bad("no host"));
        }
        if let Some((_, port)) = host.rsplit_once(':').filter(|_| !host.ends_with(']')) {
            if port.parse::<u16>().is_err() {
                return Err(bad(&format!(
                    "port '{port}' is not a number from 0 to 65535"
                )));
            }
        }
        Ok(TrackingUri {
            base: format!("http://{host}{}", path.trim_end_matches('/')),
            userinfo,
        })
    }

    /// The address of the MLflow UI page of run `run_id` of experiment `experiment_id`.
    pub fn run_page(&self, experiment_id: &str, run_id: &str) -> String {
        format!("{}/#/experiments/{experiment_id}/runs/{run_id}", self.base)
    }
}

/// `text` with the password of a `user:password@` part replaced by `***`.
pub(crate) fn hide_password(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((user, host)) => {
            let name = user.split_once(':').map(|(n, _)| n).unwrap_or(user);
            format!("{scheme}://{name}:***@{host}{}", &rest[end..])
        }
        None => text.to_string(),
    }
}

/// How to authenticate: none, a bearer token (`MLFLOW_TRACKING_TOKEN`), or a user name and
/// password (`MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`, or the URI's
/// `user:password@`).
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    /// No `Authorization` header.
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Token(String),
    /// `Authorization: Basic ...`.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credentials::None => "Credentials::None",
            Credentials::Token(_) => "Credentials::Token(***)",
            Credentials::Basic { .. } => "Credentials::Basic(***)",
        })
    }
}

impl Credentials {
    /// The `Authorization` header value, if any.
    fn header(&self) -> Option<String> {
        match self {
            Credentials::None => None,
            Credentials::Token(t) => Some(format!("Bearer {t}")),
            Credentials::Basic { user, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
        }
    }
}

/// An error answer of the REST API: HTTP status, MLflow's `error_code` and `message`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiFailure {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiFailure {
    /// Reads an error answer (MLflow's `{"error_code", "message"}`, or any body).
    fn of(status: u16, body: &str) -> ApiFailure {
        let parsed: Option<Value> = serde_json::from_str(body).ok();
        let field = |k: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(k))
                .and_then(Value::as_str)
                .map(String::from)
        };
        let mut message = field("message").unwrap_or_else(|| {
            let text: String = body.trim().chars().take(300).collect();
            if text.is_empty() {
                "no message".into()
            } else {
                text
            }
        });
        message = message.replace('\n', " ");
        ApiFailure {
            status,
            code: field("error_code").unwrap_or_default(),
            message,
        }
    }
}

/// The HTTP client of one tracking server.
pub(crate) struct Client {
    agent: ureq::Agent,
    uri: TrackingUri,
    authorization: Option<String>,
}

impl Client {
    /// A client of `uri`; the URI's own credentials win over `credentials`.
    pub fn new(uri: &TrackingUri, credentials: &Credentials) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(300)))
            .user_agent(concat!("autotab/", env!("CARGO_PKG_VERSION")))
            .build();
        let credentials = match &uri.userinfo {
            Some((user, password)) => Credentials::Basic {
                user: user.clone(),
                password: password.clone(),
            },
            None => credentials.clone(),
        };
        Client {
            agent: config.into(),
            uri: uri.clone(),
            authorization: credentials.header(),
        }
    }

    /// The error naming this server for `message`.
    pub fn error(&self, message: impl Into<String>) -> AutotabError {
        AutotabError::Mlflow {
            uri: self.uri.base.clone(),
            message: message.into(),
        }
    }

    /// The error for a failed `endpoint` call.
    pub fn api_error(&self, endpoint: &str, failure: &ApiFailure) -> AutotabError {
        let code = if failure.code.is_empty() {
            String::new()
        } else {
            format!(" {}", failure.code)
        };
        self.error(format!(
            "{endpoint} failed (HTTP {}{code}): {}",
            failure.status, failure.message
        ))
    }

    /// POST `body` to `/api/2.0/mlflow/<endpoint>`: the answer, or the API's error answer.
    pub fn try_post(&self, endpoint: &str, body: &Value) -> Result<Result<Value, ApiFailure>> {
        let url = format!("{}/api/2.0/mlflow/{endpoint}", self.uri.base);
        let mut request = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json");
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let sent = request.send(body.to_string().as_bytes());
        self.answer(endpoint, sent)
    }

    /// POST, with an API error as an error.
    pub fn post(&self, endpoint: &str, body: &Value) -> Result<Value> {
        self.try_post(endpoint, body)?
            .map_err(|failure| self.api_error(endpoint, &failure))
    }

    /// GET `/api/2.0/mlflow/<endpoint>?<query>`: the answer, or the API's error answer.
    pub fn try_get(
        &self,
        endpoint: &str,
        query: &[(&str, &str)],
    ) -> Result<Result<Value, ApiFailure>> {
        let url = format!("{}/api/2.0/mlflow/{endpoint}", self.uri.base);
        let mut request = self.agent.get(&url);
        for (k, v) in query {
            request = request.query(*k, *v);
        }
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let sent = request.call();
        self.answer(endpoint, sent)
    }

    /// PUT `bytes` at `path` (an artifact proxy path from
    /// [`artifact_path`](super::requests::artifact_path)).
    pub fn put(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let url = format!("{}{path}", self.uri.base);
        let mut request = self
            .agent
            .put(&url)
            .header("Content-Type", "application/octet-stream");
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let sent = request.send(bytes);
        self.answer("artifact upload", sent)?
            .map(|_| ())
            .map_err(|failure| self.api_error(&format!("artifact upload {path}"), &failure))
    }

    /// The JSON answer of a call, the API's error answer, or a transport error naming the
    /// server.
    fn answer(
        &self,
        endpoint: &str,
        sent: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Result<Value, ApiFailure>> {
        let mut response = sent.map_err(|e| self.error(transport_message(endpoint, &e)))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| self.error(format!("{endpoint}: cannot read the answer: {e}")))?;
        if !(200..300).contains(&status) {
            return Ok(Err(ApiFailure::of(status, &body)));
        }
        if body.trim().is_empty() {
            return Ok(Ok(Value::Object(Default::default())));
        }
        serde_json::from_str(&body).map(Ok).map_err(|e| {
            let start: String = body.chars().take(120).collect();
            self.error(format!(
                "{endpoint}: the answer is not JSON ({e}): {start} (is this an MLflow \
                 tracking server?)"
            ))
        })
    }
}

/// What a transport error means, for the person who gave the URI.
fn transport_message(endpoint: &str, e: &ureq::Error) -> String {
    let what = match e {
        ureq::Error::ConnectionFailed => {
            "cannot connect (is `mlflow server` running there?)".into()
        }
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is `mlflow server` running there?)".into()
        }
        other => other.to_string(),
    };
    format!("{endpoint}: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_uris_are_accepted_and_others_refused_clearly() {
        let uri = TrackingUri::parse(" http://127.0.0.1:5000/ ").unwrap();
        assert_eq!(uri.to_string(), "http://127.0.0.1:5000");
        assert_eq!(
            uri.run_page("3", "ab"),
            "http://127.0.0.1:5000/#/experiments/3/runs/ab"
        );
        assert_eq!(
            TrackingUri::parse("http://mlflow.local/prefix/")
                .unwrap()
                .to_string(),
            "http://mlflow.local/prefix"
        );
        for (text, expected) in [
            ("", "is empty"),
            ("https://x:5000", "https is not supported"),
            ("file:///tmp/mlruns", "'file://' is not supported"),
            ("databricks", "not an http:// address"),
            ("./mlruns", "not an http:// address"),
            ("http://", "no host"),
            ("http://h:port", "port 'port' is not a number"),
            ("http://h:5000/?x=1", "query or fragment"),
        ] {
            let err = TrackingUri::parse(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn passwords_in_the_uri_are_used_but_never_shown() {
        let uri = TrackingUri::parse("http://ann:s3cret@h:5000").unwrap();
        assert_eq!(uri.to_string(), "http://h:5000");
        assert!(!format!("{uri:?}").contains("s3cret"));
        let client = Client::new(&uri, &Credentials::Token("tok".into()));
        assert_eq!(
            client.authorization.as_deref(),
            Some("Basic YW5uOnMzY3JldA=="),
            "the URI's user wins over the environment's token"
        );
        let err = TrackingUri::parse("https://ann:s3cret@h")
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("s3cret") && err.contains("ann:***@h"),
            "{err}"
        );
        assert_eq!(
            Credentials::Token("t".into()).header().as_deref(),
            Some("Bearer t")
        );
        assert!(!format!("{:?}", Credentials::Token("t0k".into())).contains("t0k"));
    }

    #[test]
    fn api_errors_keep_mlflows_code_and_message() {
        let f = ApiFailure::of(
            404,
            r#"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Could not find\nit"}"#,
        );
        assert_eq!(f.code, "RESOURCE_DOES_NOT_EXIST");
        assert_eq!(f.message, "Could not find it");
        let f = ApiFailure::of(502, "<html>Bad gateway</html>");
        assert_eq!(
            (f.code.as_str(), f.message.as_str()),
            ("", "<html>Bad gateway</html>")
        );
        let client = Client::new(
            &TrackingUri::parse("http://h:1").unwrap(),
            &Credentials::None,
        );
        let err = client.api_error("runs/create", &f).to_string();
        assert_eq!(
            err,
            "MLflow tracking server http://h:1: runs/create failed (HTTP 502): <html>Bad gateway</html>"
        );
    }

    #[test]
    fn an_unreachable_server_is_one_clear_error() {
        // A port just bound and released: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let uri = TrackingUri::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let client = Client::new(&uri, &Credentials::None);
        let err = client
            .post("experiments/create", &serde_json::json!({}))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "MLflow tracking server http://127.0.0.1:{port}: experiments/create: "
            )),
            "{err}"
        );
        assert!(
            err.contains("mlflow server") || err.contains("refused"),
            "{err}"
        );
    }
}
