//! The MCP server: `ServerHandler` written by hand (no macros), so it doubles as a readable
//! example of the rmcp 3 server API. Tool behaviour is in `tools/`.

use std::sync::Arc;

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult, PaginatedRequestParams,
        ServerCapabilities, ServerConfig, Tool,
    },
    service::RequestContext,
};

use crate::{state::State, tools};

/// One handler per connection (stdio) or per session (HTTP); all of them share the [`State`].
#[derive(Clone)]
pub struct Fixture {
    state: Arc<State>,
}

impl Fixture {
    /// A handler over the shared state.
    pub fn new(state: Arc<State>) -> Self {
        Self { state }
    }
}

impl ServerHandler for Fixture {
    fn get_info(&self) -> ServerConfig {
        // Logging is advertised because `storm` falls back to log messages when the request
        // carries no progress token. rmcp marks logging deprecated (SEP-2577).
        #[allow(deprecated)]
        let capabilities =
            ServerCapabilities::builder().enable_logging().enable_tools().enable_tool_list_changed().build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(self.state.name.clone(), env!("CARGO_PKG_VERSION")))
            .with_instructions("mcpgw test fixture: every tool provokes one behaviour; see its description.")
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.state.tools()))
    }

    /// rmcp's HTTP transport uses this to validate `Mcp-Param-*` headers against the schema.
    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.state.tool(name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        tools::call(&self.state, request, context).await.map(Into::into)
    }
}
