//! The association: key material an agent and its controller both store, so that every
//! connection between them is authenticated and gets fresh keys (seed 001's security
//! association, kept through restarts and a host in trouble).
//!
//! Each generation has an epoch. The controller keeps its current generation and the one
//! before; the agent keeps its current one, the one before, and a next one it was offered but
//! not yet told is in use. A connection offers the agent's epochs in its clear hello and the
//! controller picks the newest it holds too, so whatever step of a refresh either side died
//! at, some generation both hold remains, and no interleaving of crashes locks an agent out.
//!
//! A refresh (the controller's, on a schedule) commits in three steps, each after the step
//! before is stored: *ready* (the controller offers the next generation; the agent stores it
//! as next), *acknowledge* (the controller stores it as current, the old one as previous),
//! *confirm* (the agent makes it current). A connection made at the agent's next epoch is a
//! confirmation too.

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A pre-shared key: the association's secret, mixed into every handshake.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Psk([u8; 32]);

impl Psk {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl core::fmt::Debug for Psk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Psk(<redacted>)")
    }
}

/// One generation of the association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    pub epoch: u64,
    pub psk: Psk,
}

/// What the agent stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentAssociations {
    pub current: Association,
    pub previous: Option<Association>,
    /// Offered by a refresh and stored, not yet confirmed.
    pub next: Option<Association>,
}

impl AgentAssociations {
    pub fn new(first: Association) -> Self {
        Self { current: first, previous: None, next: None }
    }

    /// The epochs a connection offers, newest first.
    pub fn offered(&self) -> Vec<u64> {
        let mut epochs: Vec<u64> = [Some(&self.current), self.previous.as_ref(), self.next.as_ref()]
            .into_iter()
            .flatten()
            .map(|a| a.epoch)
            .collect();
        epochs.sort_unstable_by(|a, b| b.cmp(a));
        epochs.dedup();
        epochs
    }

    pub fn get(&self, epoch: u64) -> Option<&Association> {
        [Some(&self.current), self.next.as_ref(), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|a| a.epoch == epoch)
    }

    /// A connection succeeded at `epoch`: that generation is current from now on. Returns
    /// whether anything changed (and so must be stored).
    pub fn adopt(&mut self, epoch: u64) -> bool {
        if self.current.epoch == epoch {
            // The controller did not take the offered next one: it will offer again.
            return self.next.take().is_some();
        }
        let Some(chosen) = self.get(epoch).cloned() else { return false };
        let old = std::mem::replace(&mut self.current, chosen);
        if old.epoch < epoch {
            self.previous = Some(old);
        }
        if self.next.as_ref().is_some_and(|next| next.epoch <= epoch) {
            self.next = None;
        }
        true
    }

    /// The first step of a refresh, on the agent: keep `next` beside the current generation.
    pub fn stage(&mut self, next: Association) {
        self.next = Some(next);
    }

    /// The last step: the controller confirmed `epoch`. Returns whether anything changed.
    pub fn confirm(&mut self, epoch: u64) -> bool {
        if self.next.as_ref().is_some_and(|next| next.epoch == epoch) {
            self.adopt(epoch)
        } else {
            false
        }
    }
}

/// What the controller stores for each agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerAssociations {
    pub current: Association,
    pub previous: Option<Association>,
}

impl ControllerAssociations {
    pub fn new(first: Association) -> Self {
        Self { current: first, previous: None }
    }

    /// The newest generation the controller holds that the agent offered.
    pub fn choose(&self, offered: &[u64]) -> Option<&Association> {
        [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .filter(|a| offered.contains(&a.epoch))
            .max_by_key(|a| a.epoch)
    }

    /// The second step of a refresh: the agent acknowledged `next`.
    pub fn commit(&mut self, next: Association) {
        self.previous = Some(std::mem::replace(&mut self.current, next));
    }
}
