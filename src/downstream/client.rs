//! The gateway's client side towards one downstream: names itself, forwards progress, and
//! drops the cached tool list when the server says it changed.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProgressNotificationParam, ProtocolVersion, Tool};
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, RoleClient};

use crate::downstream::progress::ProgressRoutes;

/// A downstream's tool list, cached until `notifications/tools/list_changed`.
#[derive(Default)]
pub struct ToolCache {
    tools: ArcSwapOption<Vec<Tool>>,
}

impl ToolCache {
    /// The cached list, if it is fresh.
    pub fn get(&self) -> Option<Arc<Vec<Tool>>> {
        self.tools.load_full()
    }

    /// Stores a freshly listed set of tools.
    pub fn set(&self, tools: Vec<Tool>) -> Arc<Vec<Tool>> {
        let tools = Arc::new(tools);
        self.tools.store(Some(tools.clone()));
        tools
    }

    /// Forgets the list so the next use lists again.
    pub fn invalidate(&self) {
        self.tools.store(None);
    }
}

/// The `ClientHandler` of one downstream connection.
#[derive(Clone)]
pub struct ProxyClient {
    /// The server's name, for logs.
    pub server: Arc<str>,
    /// Where progress goes.
    pub routes: Arc<ProgressRoutes>,
    /// The tool list to invalidate.
    pub tools: Arc<ToolCache>,
}

impl ClientHandler for ProxyClient {
    fn get_info(&self) -> ClientConfig {
        // The initialize handshake works with every server version; 2026-07-28 alone has none.
        ClientConfig::new(ClientCapabilities::default(), Implementation::new("mcpgw", env!("CARGO_PKG_VERSION")))
            .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }

    async fn on_progress(&self, params: ProgressNotificationParam, _context: NotificationContext<RoleClient>) {
        self.routes.forward(params).await;
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        tracing::info!(server = %self.server, "tool list changed; cache dropped");
        self.tools.invalidate();
    }
}
