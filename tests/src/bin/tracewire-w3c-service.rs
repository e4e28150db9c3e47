//! The test service of the W3C Trace Context test suite (github.com/w3c/trace-context,
//! `test/README.md`), built on tracewire's public API alone: `POST /test` takes a JSON array of
//! `{"url": …, "arguments": […]}` and, for each, POSTs `arguments` to `url`, each call in a
//! span of its own under the request's span, its headers written by `inject_current`.
//!
//! `tracewire-w3c-service [--listen ADDR]` (default `127.0.0.1:0`); the bound address is logged
//! in the `service listening` line. Run the suite against `http://ADDR/test`:
//! `SPEC_LEVEL=2 STRICT_LEVEL=2 python3 test.py http://ADDR/test`.

use std::process::ExitCode;

use axum::{routing::post, Json, Router};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};
use serde::Deserialize;
use tracewire_runtime::{http::TraceLayer, propagation::inject_current, serve};
use tracing::{info, info_span, warn, Instrument};

/// One callback the harness asks for.
#[derive(Debug, Deserialize)]
struct Action {
    url: String,
    #[serde(default)]
    arguments: serde_json::Value,
}

type HttpClient = Client<HttpConnector, Full<bytes::Bytes>>;

async fn test(Json(actions): Json<Vec<Action>>) -> Json<serde_json::Value> {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    for action in actions {
        let call = async {
            let mut request = http::Request::post(&action.url)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Full::new(action.arguments.to_string().into()))?;
            inject_current(request.headers_mut());
            let response = client.request(request).await?;
            let status = response.status();
            response.into_body().collect().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(status)
        };
        match call
            .instrument(info_span!("callback", url = %action.url))
            .await
        {
            Ok(status) => info!(url = action.url, status = status.as_u16(), "called back"),
            Err(e) => warn!(url = action.url, error = %e, "callback failed"),
        }
    }
    Json(serde_json::json!({}))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let listen = match (args.next().as_deref(), args.next()) {
        (None, _) => "127.0.0.1:0".to_owned(),
        (Some("--listen"), Some(addr)) => addr,
        _ => {
            eprintln!("usage: tracewire-w3c-service [--listen ADDR]");
            return ExitCode::from(2);
        }
    };
    serve::run_main("w3c-service", || async move {
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        info!(addr = %listener.local_addr()?, "service listening");
        let app = Router::new()
            .route("/test", post(test))
            .layer(TraceLayer::new());
        serve::serve(
            listener,
            app,
            serve::shutdown_signal(),
            serve::ServeOptions::default(),
        )
        .await
    })
}
