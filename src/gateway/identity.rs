//! Who a request speaks for: the `agent_id` it gives, or the one identity the gateway (or the
//! HTTP token) is bound to.

use crate::gateway::operation::AgentParam;

/// How agent ids are taken from requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The one agent every request is judged as (`--agent`, or an HTTP bearer token).
    pub bound: Option<String>,
    /// Whether a default agent stands in for a missing `agent_id`.
    pub has_default: bool,
}

/// A request that named an agent other than the bound one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoofAttempt {
    /// The id the request claimed.
    pub claimed: String,
    /// The id the gateway is bound to.
    pub bound: String,
}

impl Identity {
    /// Whether the agent is known without arguments (bound, or a default agent): then the
    /// requests that carry no `agent_id` (resources, prompts, subscriptions, direct mode)
    /// can be served.
    pub fn known_without_arguments(&self) -> bool {
        self.bound.is_some() || self.has_default
    }

    /// How `agent_id` appears in the tool schemas.
    pub fn agent_param(&self) -> AgentParam {
        match (&self.bound, self.has_default) {
            (Some(_), _) => AgentParam::Absent,
            (None, true) => AgentParam::Optional,
            (None, false) => AgentParam::Required,
        }
    }

    /// The agent a request is judged as. With a bound identity, a request may omit
    /// `agent_id` or repeat the bound id; any other id is a spoofing attempt.
    pub fn resolve<'a>(&'a self, given: Option<&'a str>) -> Result<Option<&'a str>, SpoofAttempt> {
        let given = given.filter(|g| !g.is_empty());
        match (&self.bound, given) {
            (Some(bound), Some(g)) if g != bound => {
                Err(SpoofAttempt { claimed: g.chars().take(128).collect(), bound: bound.clone() })
            }
            (Some(bound), _) => Ok(Some(bound)),
            (None, g) => Ok(g),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_identity_refuses_others() {
        let id = Identity { bound: Some("ci".into()), has_default: false };
        assert_eq!(id.resolve(None), Ok(Some("ci")));
        assert_eq!(id.resolve(Some("")), Ok(Some("ci")));
        assert_eq!(id.resolve(Some("ci")), Ok(Some("ci")));
        assert_eq!(id.resolve(Some("admin")), Err(SpoofAttempt { claimed: "admin".into(), bound: "ci".into() }));
        assert_eq!(id.agent_param(), AgentParam::Absent);
        let free = Identity { bound: None, has_default: true };
        assert_eq!(free.resolve(Some("x")), Ok(Some("x")));
        assert_eq!(free.agent_param(), AgentParam::Optional);
    }
}
