//! The Gateway controller: a pure function from a [`Snapshot`] to statuses and the data
//! plane's configuration.

use std::collections::BTreeMap;

use gateway_api::apis::experimental::{
    gatewayclasses::GatewayClassStatus, gateways::GatewayStatus, grpcroutes::GrpcRouteStatus,
    httproutes::HttpRouteStatus,
};
use k8s_openapi::jiff::Timestamp;

use crate::config::GatewayConfig;
use crate::object::{ObjectKey, Snapshot};

/// The controller name gwsim's GatewayClasses must name.
pub const CONTROLLER_NAME: &str = "gateway.gwsim.dev/controller";

/// Settings of one controller run.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// `spec.controllerName` this controller owns.
    pub controller_name: String,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            controller_name: CONTROLLER_NAME.to_string(),
        }
    }
}

/// The status the controller writes for one object.
#[derive(Clone, Debug, PartialEq)]
pub enum StatusUpdate {
    GatewayClass(GatewayClassStatus),
    Gateway(GatewayStatus),
    HttpRoute(HttpRouteStatus),
    GrpcRoute(GrpcRouteStatus),
}

/// What one reconcile produces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reconciliation {
    /// The full status of every object this controller owns, by key. Objects the controller
    /// does not own (another class's Gateway) are absent. A status equal to the stored one
    /// still appears; callers compare.
    pub statuses: BTreeMap<ObjectKey, StatusUpdate>,
    /// Every Gateway of this controller, in key order, as the data plane sees it.
    pub gateways: Vec<GatewayConfig>,
}

/// Reconciles the whole snapshot. `now` stamps `lastTransitionTime` of conditions that change;
/// unchanged conditions keep the time stored in the snapshot's current status.
pub fn reconcile(snapshot: &Snapshot, config: &ControllerConfig, now: Timestamp) -> Reconciliation {
    let _ = (snapshot, config, now);
    todo!("controller: filled in by the controller work")
}
