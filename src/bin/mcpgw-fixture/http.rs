//! Serving streamable HTTP on `/mcp`: rmcp's tower service mounted in axum, behind an optional
//! header check so tests can prove that a gateway sends its configured headers.

use std::{error::Error, net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::{Request, State as Shared},
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse as _, Response},
};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};

use crate::{cli::RequiredHeader, server::Fixture, state::State};

/// Like the stdio line cap: far above rmcp's 4 MiB default, so big requests are accepted.
const MAX_BODY_BYTES: usize = 1 << 30;

/// Binds `addr`, prints `listening on http://ADDR/mcp` to stderr, and serves until killed.
pub async fn serve(state: Arc<State>, addr: SocketAddr, required: Vec<RequiredHeader>) -> Result<(), Box<dyn Error>> {
    // The factory runs per session (or per request for stateless clients), so every handler
    // shares one `State`: a tool added in one session is visible in all of them.
    let service = StreamableHttpService::new(
        move || Ok(Fixture::new(state.clone())),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_max_request_body_bytes(MAX_BODY_BYTES),
    );
    let app = Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(Arc::new(required), require_headers));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("listening on http://{}/mcp", listener.local_addr()?);
    // Small SSE writes would otherwise wait for the client's delayed ACK (~40 ms per call on a
    // kept-alive connection), which would make the fixture a poor baseline.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}

/// Answers 401 unless every `--require-header` is present with its exact value.
async fn require_headers(Shared(required): Shared<Arc<Vec<RequiredHeader>>>, request: Request, next: Next) -> Response {
    for header in required.iter() {
        if request.headers().get(&header.name) != Some(&header.value) {
            let message = format!("missing or wrong header `{}`", header.name);
            return (StatusCode::UNAUTHORIZED, message).into_response();
        }
    }
    next.run(request).await
}
