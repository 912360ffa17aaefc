//! Serving over streamable HTTP (to be written).

use std::sync::Arc;

use crate::cli::ServeArgs;
use crate::gateway::Gateway;

/// Serves the gateway on `/mcp` over streamable HTTP.
pub async fn serve_http(_gw: Arc<Gateway>, _args: &ServeArgs) -> Result<(), String> {
    Err("the HTTP transport is not implemented yet".to_owned())
}
