//! The compiled routing table: per Gateway and port, listeners by hostname, and per listener
//! the route entries in precedence order, indexed by host and path so that a decision does
//! not scan every route.

use rand::RngCore;

use crate::config::GatewayConfig;
use crate::decision::{Decision, Request};

/// Routing state of every Gateway.
#[derive(Clone, Debug, Default)]
pub struct RoutingTable {
    gateways: Vec<GatewayConfig>,
}

impl RoutingTable {
    /// Compiles the table from the controller's output.
    pub fn build(gateways: &[GatewayConfig]) -> RoutingTable {
        let _ = gateways;
        todo!("table: filled in by the routing table work")
    }

    /// The configurations the table was built from, in key order.
    pub fn gateways(&self) -> &[GatewayConfig] {
        &self.gateways
    }

    /// Decides what happens to `request`. `rng` is used only for weighted backends and
    /// mirror percentages.
    pub fn decide(&self, request: &Request, rng: &mut dyn RngCore) -> Decision {
        let _ = (request, rng);
        todo!("table: filled in by the routing table work")
    }
}
