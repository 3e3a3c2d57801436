//! GatewayClasses: which are ours, and their status.

use gateway_api::apis::experimental::gatewayclasses::{
    GatewayClass, GatewayClassStatus, GatewayClassStatusSupportedFeatures,
};
use k8s_openapi::jiff::Timestamp;

use super::SUPPORTED_FEATURES;
use super::conditions::{ConditionType, Desired, Reason, materialize};

/// The outcome for one class of this controller.
pub struct ClassOutcome {
    /// Whether Gateways of this class are ours to reconcile.
    pub accepted: bool,
    pub status: GatewayClassStatus,
}

/// Evaluates one class whose `spec.controllerName` is ours. `assume_parameters`: standing in
/// for another implementation, whose parameter kinds gwsim does not model, a parametersRef is
/// assumed to resolve.
pub fn evaluate(class: &GatewayClass, assume_parameters: bool, now: Timestamp) -> ClassOutcome {
    // gwsim has no parameter kinds of its own, so any parametersRef names something it cannot
    // resolve: GatewayClass Accepted False InvalidParameters (gatewayclass_types.go).
    let accepted = match &class.spec.parameters_ref {
        None => Desired::ok(ConditionType::Accepted, "Accepted by gwsim"),
        Some(_) if assume_parameters => Desired::ok(
            ConditionType::Accepted,
            "Accepted by gwsim (parametersRef assumed to resolve: not modelled)",
        ),
        Some(p) => Desired::fail(
            ConditionType::Accepted,
            Reason::InvalidParameters,
            format!(
                "gwsim supports no parameters; cannot resolve {}/{} {}",
                p.group, p.kind, p.name
            ),
        ),
    };
    let is_accepted = accepted.status;
    let stored = class
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let generation = class.metadata.generation.unwrap_or(0);
    let status = GatewayClassStatus {
        conditions: Some(materialize(stored, vec![accepted], generation, now)),
        supported_features: Some(
            SUPPORTED_FEATURES
                .iter()
                .map(|name| GatewayClassStatusSupportedFeatures {
                    name: (*name).to_string(),
                })
                .collect(),
        ),
    };
    ClassOutcome {
        accepted: is_accepted,
        status,
    }
}
