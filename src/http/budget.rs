//! A budget of request-body bytes in flight, per agent and in all: one 100 MiB body is
//! allowed (the cap on one message is 128 MiB), but many at once are not, since each is held
//! in memory while it is served.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget's sizes.
#[derive(Debug, Clone, Copy)]
pub struct BudgetLimits {
    /// Bytes in flight per agent.
    pub per_agent: usize,
    /// Bytes in flight in all.
    pub total: usize,
}

impl Default for BudgetLimits {
    fn default() -> Self {
        BudgetLimits { per_agent: 192 << 20, total: 384 << 20 }
    }
}

/// Why a body does not fit.
#[derive(Debug, Clone, Copy, thiserror::Error)]
pub enum OverBudget {
    /// The agent's own bodies in flight fill its share.
    #[error("too many request bytes are in flight for this agent; retry when its other requests finish")]
    Agent,
    /// Every agent's bodies together fill the budget.
    #[error("too many request bytes are in flight; retry shortly")]
    Total,
}

/// The shared budget.
pub struct BodyBudget {
    limits: BudgetLimits,
    total: Arc<Semaphore>,
    agents: Mutex<HashMap<Option<String>, Arc<Semaphore>>>,
}

/// The bytes one body holds; given back when dropped.
pub struct BodyPermit {
    total: Arc<Semaphore>,
    agent: Arc<Semaphore>,
    held: Vec<OwnedSemaphorePermit>,
}

fn units(bytes: usize) -> u32 {
    // Kilobytes, so that the semaphore's u32 counts hold gigabytes.
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
}

impl BodyBudget {
    /// A budget of `limits`.
    pub fn new(limits: BudgetLimits) -> BodyBudget {
        BodyBudget { limits, total: Arc::new(Semaphore::new(units(limits.total) as usize)), agents: Mutex::default() }
    }

    /// An empty permit for a body of `agent`'s.
    pub fn permit(&self, agent: Option<&str>) -> BodyPermit {
        let agent = self
            .agents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(agent.map(str::to_owned))
            .or_insert_with(|| Arc::new(Semaphore::new(units(self.limits.per_agent) as usize)))
            .clone();
        BodyPermit { total: self.total.clone(), agent, held: Vec::new() }
    }
}

impl BodyPermit {
    /// Takes `bytes` more from the budget, or says which share is full.
    pub fn grow(&mut self, bytes: usize) -> Result<(), OverBudget> {
        let n = units(bytes).max(1);
        let agent = self.agent.clone().try_acquire_many_owned(n).map_err(|_| OverBudget::Agent)?;
        let total = self.total.clone().try_acquire_many_owned(n).map_err(|_| OverBudget::Total)?;
        self.held.push(agent);
        self.held.push(total);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_share_the_budget() {
        let b = BodyBudget::new(BudgetLimits { per_agent: 100 << 10, total: 150 << 10 });
        let mut a1 = b.permit(Some("a"));
        a1.grow(80 << 10).unwrap();
        let mut a2 = b.permit(Some("a"));
        assert!(matches!(a2.grow(40 << 10), Err(OverBudget::Agent)));
        let mut c = b.permit(Some("c"));
        assert!(matches!(c.grow(80 << 10), Err(OverBudget::Total)));
        drop(a1);
        a2.grow(40 << 10).unwrap();
        c.grow(80 << 10).unwrap();
    }
}
