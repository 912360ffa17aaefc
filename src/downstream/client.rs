//! The gateway's client side towards one downstream: names itself, forwards progress, and
//! drops the cached tool list when the server says it changed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwapOption;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProgressNotificationParam, ProtocolVersion, Tool};
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, RoleClient};

use crate::downstream::progress::ProgressRoutes;

/// A downstream's tool list, cached until `notifications/tools/list_changed`.
///
/// A generation counter keeps a listing that was started before a change notification from
/// being cached after it: such a list may already be stale.
#[derive(Default)]
pub struct ToolCache {
    tools: ArcSwapOption<Vec<Tool>>,
    generation: AtomicU64,
}

impl ToolCache {
    /// The cached list, if it is fresh.
    pub fn get(&self) -> Option<Arc<Vec<Tool>>> {
        self.tools.load_full()
    }

    /// The generation to pass to [`set`](Self::set) for a listing started now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Caches a list that was requested at `generation`, unless the list changed since.
    pub fn set(&self, tools: Vec<Tool>, generation: u64) -> Arc<Vec<Tool>> {
        let tools = Arc::new(tools);
        if self.generation() == generation {
            self.tools.store(Some(tools.clone()));
            // An invalidation may have slipped in between the check and the store.
            if self.generation() != generation {
                self.tools.store(None);
            }
        }
        tools
    }

    /// Forgets the list so the next use lists again.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
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
