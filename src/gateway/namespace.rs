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
    parse_uri(uri).filter(|(server, _)| servers.get(server).is_some())
}

/// The server and the server's own URI of a gateway URI, whether or not that server is
/// configured: a request that names one is judged like any other, so that a server the agent
/// may not use and one that does not exist are refused alike.
pub fn parse_uri(uri: &str) -> Option<(&str, &str)> {
    let (server, inner) = uri.strip_prefix(SCHEME)?.split_once('/')?;
    (!server.is_empty() && !inner.is_empty()).then_some((server, inner))
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
