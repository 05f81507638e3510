//! What every fake external service shares: a real HTTP server on 127.0.0.1:0, a log of what
//! it received, and a queue of faults to inject into the next requests.
//!
//! A fake is an axum `Router` for the service's real endpoints, wrapped by [`FakeServer::start`]
//! in a layer that records every request (method, path, query, headers, body) and, when a fault
//! is queued for a path, answers with it instead: 429 with `Retry-After`, a 5xx, a malformed
//! body, a delay (for timeouts) or a cut connection, either instead of the endpoint or after
//! it acted ([`Fault::Acted`]: the post exists, the client never hears of it).
//! [`FakeServer::refuse_connections`] closes the listening socket (connections are refused)
//! until [`FakeServer::accept_connections`] opens it again on the same port. Tests assert on
//! [`FakeServer::requests`].

#![allow(dead_code)]

pub mod bluesky;
pub mod discord;
pub mod mastodon;
pub mod slack;
pub mod tickets;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;

pub mod x;

/// One request a fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The HTTP method.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The raw query string.
    pub query: String,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// When it arrived (the end-to-end bench times against it).
    pub at: std::time::Instant,
    /// When it arrived on tokio's clock (paused-time tests measure waits with it).
    pub clock: tokio::time::Instant,
}

impl Recorded {
    /// The body as JSON (panics in tests when it isn't).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// A fault to answer with instead of the real endpoint.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 429 with `Retry-After: seconds` (and any extra headers).
    RateLimited {
        /// The `Retry-After` value.
        retry_after_secs: u64,
    },
    /// This status with this body.
    Status(u16, &'static str),
    /// 200 with a body that is not the JSON the client expects.
    Malformed,
    /// Wait this long, then answer normally (longer than the client's timeout: a timeout).
    Delay(Duration),
    /// 200 and the headers, then the connection is cut before the body (as a reset would).
    Reset,
    /// The endpoint acts (creates the post), then the answer is replaced by this fault
    /// (`Status`, `Malformed` or `Reset`; a `Delay` delays the real answer).
    Acted(Box<Fault>),
}

impl Fault {
    /// Every fault a fake can answer a request with, in the order tests queue them: 429 with
    /// a 3 s `Retry-After`, a 503, a cut connection, a timeout (a 60 s delay) and a malformed
    /// body.
    pub fn every_http() -> Vec<Fault> {
        vec![
            Fault::RateLimited {
                retry_after_secs: 3,
            },
            Fault::Status(503, "{\"error\":\"over capacity\"}"),
            Fault::Reset,
            Fault::Delay(Duration::from_secs(60)),
            Fault::Malformed,
        ]
    }

    /// This fault, after the endpoint has acted.
    pub fn after_acting(self) -> Fault {
        Fault::Acted(Box::new(self))
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Recorded>>,
    /// One-off faults: (only this method, path prefix, fault).
    faults: Mutex<VecDeque<(Option<Method>, String, Fault)>>,
    /// A fault for every request under a path prefix until lifted (an outage).
    outage: Mutex<Option<(String, Fault)>>,
}

/// A running fake.
#[derive(Clone)]
pub struct FakeServer {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The address.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    app: Router,
    serving: Arc<Mutex<Option<Serving>>>,
}

/// The accept loop while the fake listens.
struct Serving {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    /// Serves `router` on 127.0.0.1:0 with recording and fault injection.
    pub async fn start(router: Router) -> FakeServer {
        let shared = Arc::new(Shared::default());
        let app = router.layer(middleware::from_fn_with_state(
            shared.clone(),
            record_and_fault,
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a fake");
        let addr = listener.local_addr().expect("fake address");
        let serving = serve(listener, app.clone());
        FakeServer {
            base_url: format!("http://{addr}"),
            addr,
            shared,
            app,
            serving: Arc::new(Mutex::new(Some(serving))),
        }
    }

    /// Closes the listening socket: from now on connections to the fake are refused (as to a
    /// port nobody listens on). Open connections are closed once their request is answered,
    /// and this waits for that: don't call it while a delayed request or a stream is open.
    pub async fn refuse_connections(&self) {
        let serving = self.serving.lock().unwrap().take();
        if let Some(serving) = serving {
            let _ = serving.stop.send(());
            let _ = serving.task.await;
        }
    }

    /// Listens again on the same port after [`FakeServer::refuse_connections`].
    pub async fn accept_connections(&self) {
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("bind the fake's port again");
        let serving = serve(listener, self.app.clone());
        *self.serving.lock().unwrap() = Some(serving);
    }

    /// Everything received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The requests to one path (and method).
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method.as_str() == method && r.path == path)
            .collect()
    }

    /// Answers the next request whose path starts with `path_prefix` with `fault`.
    pub fn inject(&self, path_prefix: &str, fault: Fault) {
        self.shared
            .faults
            .lock()
            .unwrap()
            .push_back((None, path_prefix.to_string(), fault));
    }

    /// Answers the next POST whose path starts with `path_prefix` with `fault` (reads of the
    /// same path, e.g. Mastodon's `GET /api/v1/statuses/:id`, are left alone).
    pub fn inject_post(&self, path_prefix: &str, fault: Fault) {
        self.inject_on(Method::POST, path_prefix, fault);
    }

    /// Answers the next `method` request whose path starts with `path_prefix` with `fault`.
    pub fn inject_on(&self, method: Method, path_prefix: &str, fault: Fault) {
        self.shared.faults.lock().unwrap().push_back((
            Some(method),
            path_prefix.to_string(),
            fault,
        ));
    }

    /// Answers every request whose path starts with `path_prefix` with `fault` (after any
    /// queued one-off faults) until `None` lifts it: an outage.
    pub fn set_outage(&self, path_prefix: &str, fault: Option<Fault>) {
        *self.shared.outage.lock().unwrap() = fault.map(|fault| (path_prefix.to_string(), fault));
    }
}

/// Waits (up to 15 s, on tokio's clock) until `ready`: for what a fake received.
pub async fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn serve(listener: tokio::net::TcpListener, app: Router) -> Serving {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Serving { stop, task }
}

async fn record_and_fault(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let at = std::time::Instant::now();
    shared.requests.lock().unwrap().push(Recorded {
        at,
        clock: tokio::time::Instant::now(),
        method: parts.method.clone(),
        path: path.clone(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts.headers.clone(),
        body: bytes.clone(),
    });
    let fault = {
        let mut faults = shared.faults.lock().unwrap();
        let index = faults.iter().position(|(method, prefix, _)| {
            path.starts_with(prefix)
                && method
                    .as_ref()
                    .map_or(true, |method| method == parts.method)
        });
        index
            .and_then(|index| faults.remove(index))
            .map(|(_, _, fault)| fault)
            .or_else(|| {
                shared
                    .outage
                    .lock()
                    .unwrap()
                    .as_ref()
                    .filter(|(prefix, _)| path.starts_with(prefix.as_str()))
                    .map(|(_, fault)| fault.clone())
            })
    };
    match fault {
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::Acted(fault)) => {
            let answer = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            return match *fault {
                Fault::Delay(delay) => {
                    tokio::time::sleep(delay).await;
                    answer
                }
                fault => fault_answer(&fault).unwrap_or(answer),
            };
        }
        Some(fault) => {
            if let Some(answer) = fault_answer(&fault) {
                return answer;
            }
        }
        None => {}
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// What a fault answers instead of the endpoint (`None` for a delay, which answers normally).
fn fault_answer(fault: &Fault) -> Option<Response> {
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                r#"{"error":"Too many requests"}"#,
            )
                .into_response();
            response.headers_mut().insert(
                "retry-after",
                HeaderValue::from_str(&retry_after_secs.to_string()).unwrap(),
            );
            Some(response)
        }
        Fault::Status(status, body) => {
            Some((StatusCode::from_u16(*status).unwrap(), *body).into_response())
        }
        Fault::Malformed => Some(
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                "{\"oops\": [",
            )
                .into_response(),
        ),
        Fault::Reset => {
            let cut = futures_util::stream::once(async {
                Err::<Bytes, _>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset by the fake",
                ))
            });
            Some(
                (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    Body::from_stream(cut),
                )
                    .into_response(),
            )
        }
        Fault::Delay(_) => None,
        Fault::Acted(fault) => fault_answer(fault),
    }
}
