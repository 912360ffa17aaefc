//! The configured downstream servers, in config order.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::servers::{ServerSpec, ServersConfig};
use crate::downstream::{Downstream, DownstreamSettings};

/// The configured downstream servers, in config order.
#[derive(Default)]
pub struct ServerSet {
    list: Vec<Arc<Downstream>>,
    by_name: HashMap<String, usize>,
}

impl ServerSet {
    /// A set from already built downstreams, in order.
    pub fn from_list(list: Vec<Arc<Downstream>>) -> Self {
        let by_name = list.iter().enumerate().map(|(i, d)| (d.name().to_owned(), i)).collect();
        ServerSet { list, by_name }
    }

    /// A set of fresh (not started) downstreams for a config.
    pub fn new(config: &ServersConfig, settings: &Arc<DownstreamSettings>) -> Self {
        Self::from_list(
            config
                .servers
                .iter()
                .map(|s: &ServerSpec| Arc::new(Downstream::new(s.clone(), settings.clone())))
                .collect(),
        )
    }

    /// The downstream named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Downstream>> {
        self.by_name.get(name).and_then(|&i| self.list.get(i))
    }

    /// Every downstream, in config order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Downstream>> {
        self.list.iter()
    }

    /// How many servers are configured.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether no server is configured.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}
