//! What the gateway declares it serves beyond tools (DESIGN section 12): resources, their
//! subscriptions, prompts and completions, each only when one of the agent's servers may
//! offer it. A running server says what it offers in its capabilities. A server not started
//! yet may offer anything, and the gateway starts servers on first use, not to answer a
//! handshake, so such a server counts as offering all. In direct mode the handshake starts the
//! agent's servers anyway (for their instructions), so there the declaration is exact.

use crate::gateway::fan_out::allowed;
use crate::gateway::identity::Identity;
use crate::gateway::state::Gateway;

/// The capabilities beyond tools that the agent's servers offer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offered {
    /// `resources`.
    pub resources: bool,
    /// `resources.subscribe`.
    pub subscribe: bool,
    /// `prompts`.
    pub prompts: bool,
    /// `completions`.
    pub completions: bool,
}

impl Offered {
    /// Everything.
    pub const ALL: Offered = Offered { resources: true, subscribe: true, prompts: true, completions: true };
}

impl Gateway {
    /// What `identity`'s servers offer beyond tools, as far as is known without starting any.
    pub fn offered(&self, identity: &Identity) -> Offered {
        let agent = identity.resolve(None).ok().flatten();
        let mut offered = Offered::default();
        for d in allowed(agent, &self.policy(), &self.servers(), None) {
            let Some(conn) = d.live() else { return Offered::ALL };
            let info = conn.info();
            offered.resources |= info.declares("resources");
            offered.subscribe |= info.declares_flag("resources", "subscribe");
            offered.prompts |= info.declares("prompts");
            offered.completions |= info.declares("completions");
        }
        offered
    }
}
