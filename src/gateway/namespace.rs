//! How the resources and prompts of many servers share one namespace.
//!
//! Two servers may both offer `file:///a`, or a prompt `review`. The gateway's own lists name
//! a resource `mcpgw://SERVER/URI` (the server's URI kept whole after the server) and a
//! prompt `SERVER__PROMPT` (the direct-mode separator), so a read or a get goes to exactly one
//! server. A URI as a server wrote it (a `resource_link` in a tool result) is read too: it
//! goes to the one server among the agent's that lists it (see [`crate::gateway::lists`]).

use crate::gateway::servers::ServerSet;

/// The scheme of the gateway's resource URIs.
pub const SCHEME: &str = "mcpgw://";

/// The gateway's URI for `uri` on `server`.
pub fn wrap_uri(server: &str, uri: &str) -> String {
    format!("{SCHEME}{server}/{uri}")
}

/// The server and the server's own URI of a gateway URI, if it is one of a configured server.
pub fn unwrap_uri<'a>(uri: &'a str, servers: &ServerSet) -> Option<(&'a str, &'a str)> {
    let rest = uri.strip_prefix(SCHEME)?;
    let (server, inner) = rest.split_once('/')?;
    (servers.get(server).is_some() && !inner.is_empty()).then_some((server, inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_uri_keeps_the_servers_uri_whole() {
        assert_eq!(wrap_uri("files", "file:///srv/a b?x#y"), "mcpgw://files/file:///srv/a b?x#y");
        let set = ServerSet::default();
        assert_eq!(unwrap_uri("mcpgw://files/file:///a", &set), None, "an unknown server is no gateway URI");
    }
}
