//! Cedar's side of the comparison: the entity store, the requests, and the four ways of
//! handing the translated policy to Cedar's `Authorizer`.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Instant;

use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet as CedarPolicySet,
    Request as CedarRequest, RestrictedExpression,
};
use mcpgw::policy::PolicySet;
use mcpgw::policy::testkit::generate::OwnedRequest as Req;

use crate::die;
use crate::to_cedar::{self, Encoding};

/// The pieces every Cedar call needs: entity types, the one action, the entity store.
pub struct CedarEnv {
    pub authorizer: Authorizer,
    pub agent_type: EntityTypeName,
    pub tool_type: EntityTypeName,
    pub action: EntityUid,
    /// Every tool any request of this run names: what a gateway would build from its
    /// downstream servers' `tools/list`.
    pub catalog: Entities,
}

impl CedarEnv {
    pub fn new(reqs: &[&Req]) -> Self {
        let parse = |t: &str| EntityTypeName::from_str(t).unwrap_or_else(|e| die(e));
        let agent_type = parse("Agent");
        let tool_type = parse("Tool");
        let action = EntityUid::from_type_name_and_id(parse("Action"), EntityId::new("call"));
        let mut env =
            CedarEnv { authorizer: Authorizer::new(), agent_type, tool_type, action, catalog: Entities::empty() };
        let mut seen = HashSet::new();
        let tools: Vec<Entity> =
            reqs.iter().filter(|r| seen.insert((&r.server, r.tool_name()))).map(|r| env.tool_entity(r)).collect();
        env.catalog = Entities::from_entities(tools, None).unwrap_or_else(|e| die(e));
        env
    }

    pub fn tool_uid(&self, r: &Req) -> EntityUid {
        EntityUid::from_type_name_and_id(
            self.tool_type.clone(),
            EntityId::new(to_cedar::resource_id(&r.server, r.tool_name())),
        )
    }

    pub fn tool_entity(&self, r: &Req) -> Entity {
        let attrs = HashMap::from([
            ("server".to_owned(), RestrictedExpression::new_string(r.server.clone())),
            ("tool".to_owned(), RestrictedExpression::new_string(r.tool_name().to_owned())),
        ]);
        Entity::new(self.tool_uid(r), attrs, HashSet::new()).unwrap_or_else(|e| die(e))
    }

    pub fn request(&self, r: &Req) -> CedarRequest {
        let principal = EntityUid::from_type_name_and_id(self.agent_type.clone(), EntityId::new(r.agent_id()));
        CedarRequest::new(principal, self.action.clone(), self.tool_uid(r), Context::empty(), None)
            .unwrap_or_else(|e| die(e))
    }
}

/// One way of handing the translated policy to Cedar.
pub struct CedarSetup {
    pub name: &'static str,
    /// The whole policy set, or `None` when sliced by agent.
    pub whole: Option<CedarPolicySet>,
    /// The policies of each agent, when the application slices the set by principal.
    pub sliced: HashMap<String, CedarPolicySet>,
    pub empty: CedarPolicySet,
    pub policies: usize,
    pub parse_ms: f64,
}

impl CedarSetup {
    pub fn build(name: &'static str, policy: &PolicySet, enc: Encoding, sliced: bool) -> Self {
        let texts: Vec<(String, String)> =
            policy.agents.iter().map(|a| (a.key.text.clone(), to_cedar::agent_policies(a, enc))).collect();
        let parse = |text: &str| CedarPolicySet::from_str(text).unwrap_or_else(|e| die(format!("{name}: {e:?}")));
        let t = Instant::now();
        let (whole, map) = if sliced {
            (None, texts.iter().map(|(agent, text)| (agent.clone(), parse(text))).collect::<HashMap<_, _>>())
        } else {
            (Some(parse(&texts.iter().map(|(_, t)| t.as_str()).collect::<String>())), HashMap::new())
        };
        let parse_ms = t.elapsed().as_secs_f64() * 1e3;
        let policies = match &whole {
            Some(set) => set.policies().count(),
            None => map.values().map(|s| s.policies().count()).sum(),
        };
        CedarSetup { name, whole, sliced: map, empty: CedarPolicySet::new(), policies, parse_ms }
    }

    pub fn set_for(&self, agent: &str) -> &CedarPolicySet {
        match &self.whole {
            Some(set) => set,
            None => self.sliced.get(agent).unwrap_or(&self.empty),
        }
    }

    pub fn decide(&self, env: &CedarEnv, req: &CedarRequest, agent: &str) -> cedar_policy::Response {
        env.authorizer.is_authorized(req, self.set_for(agent), &env.catalog)
    }
}
