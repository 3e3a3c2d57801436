//! Condition types and reasons (Gateway API `apis/v1` constants), and the merge that turns the
//! conditions the controller wants into the `Condition` list it writes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// Condition types the controller writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConditionType {
    Accepted,
    Programmed,
    ResolvedRefs,
    Conflicted,
    PartiallyInvalid,
    /// Gateway: a frontend validation mode lets clients in without a valid certificate
    /// (GEP-91).
    InsecureFrontendValidationMode,
}

impl ConditionType {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionType::Accepted => "Accepted",
            ConditionType::Programmed => "Programmed",
            ConditionType::ResolvedRefs => "ResolvedRefs",
            ConditionType::Conflicted => "Conflicted",
            ConditionType::PartiallyInvalid => "PartiallyInvalid",
            ConditionType::InsecureFrontendValidationMode => "InsecureFrontendValidationMode",
        }
    }
}

/// Condition reasons the controller writes (the union over GatewayClass, Gateway, ListenerSet,
/// Listener and route parent conditions; the names are the API's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    Accepted,
    Programmed,
    ResolvedRefs,
    InvalidParameters,
    ListenersNotValid,
    UnsupportedAddress,
    AddressNotUsable,
    AddressNotAssigned,
    Invalid,
    UnsupportedProtocol,
    UnsupportedValue,
    PortUnavailable,
    HostnameConflict,
    ProtocolConflict,
    NoConflicts,
    InvalidCertificateRef,
    InvalidRouteKinds,
    RefNotPermitted,
    NoMatchingParent,
    NotAllowedByListeners,
    NoMatchingListenerHostname,
    InvalidKind,
    BackendNotFound,
    NotAllowed,
    ParentNotAccepted,
    ParentNotProgrammed,
    NoValidCACertificate,
    InvalidCACertificateRef,
    InvalidCACertificateKind,
    ConfigurationChanged,
    /// Policies: another policy on the same target takes precedence (GEP-713).
    Conflicted,
    /// Gateway: `spec.tls.backend.clientCertificateRef` cannot be used.
    InvalidClientCertificateRef,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Accepted => "Accepted",
            Reason::Programmed => "Programmed",
            Reason::ResolvedRefs => "ResolvedRefs",
            Reason::InvalidParameters => "InvalidParameters",
            Reason::ListenersNotValid => "ListenersNotValid",
            Reason::UnsupportedAddress => "UnsupportedAddress",
            Reason::AddressNotUsable => "AddressNotUsable",
            Reason::AddressNotAssigned => "AddressNotAssigned",
            Reason::Invalid => "Invalid",
            Reason::UnsupportedProtocol => "UnsupportedProtocol",
            Reason::UnsupportedValue => "UnsupportedValue",
            Reason::PortUnavailable => "PortUnavailable",
            Reason::HostnameConflict => "HostnameConflict",
            Reason::ProtocolConflict => "ProtocolConflict",
            Reason::NoConflicts => "NoConflicts",
            Reason::InvalidCertificateRef => "InvalidCertificateRef",
            Reason::InvalidRouteKinds => "InvalidRouteKinds",
            Reason::RefNotPermitted => "RefNotPermitted",
            Reason::NoMatchingParent => "NoMatchingParent",
            Reason::NotAllowedByListeners => "NotAllowedByListeners",
            Reason::NoMatchingListenerHostname => "NoMatchingListenerHostname",
            Reason::InvalidKind => "InvalidKind",
            Reason::BackendNotFound => "BackendNotFound",
            Reason::NotAllowed => "NotAllowed",
            Reason::ParentNotAccepted => "ParentNotAccepted",
            Reason::ParentNotProgrammed => "ParentNotProgrammed",
            Reason::NoValidCACertificate => "NoValidCACertificate",
            Reason::InvalidCACertificateRef => "InvalidCACertificateRef",
            Reason::InvalidCACertificateKind => "InvalidCACertificateKind",
            Reason::ConfigurationChanged => "ConfigurationChanged",
            Reason::Conflicted => "Conflicted",
            Reason::InvalidClientCertificateRef => "InvalidClientCertificateRef",
        }
    }
}

/// A condition as the controller wants it, before generation and time are stamped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub type_: ConditionType,
    pub status: bool,
    pub reason: Reason,
    pub message: String,
}

impl Desired {
    pub fn new(
        type_: ConditionType,
        status: bool,
        reason: Reason,
        message: impl Into<String>,
    ) -> Self {
        Desired {
            type_,
            status,
            reason,
            message: message.into(),
        }
    }

    /// `type` True with a reason named like the type (`Accepted/Accepted`, ...).
    pub fn ok(type_: ConditionType, message: impl Into<String>) -> Self {
        let reason = match type_ {
            ConditionType::Accepted => Reason::Accepted,
            ConditionType::Programmed => Reason::Programmed,
            ConditionType::ResolvedRefs => Reason::ResolvedRefs,
            ConditionType::Conflicted => Reason::NoConflicts,
            ConditionType::PartiallyInvalid => Reason::UnsupportedValue,
            ConditionType::InsecureFrontendValidationMode => Reason::ConfigurationChanged,
        };
        // Conflicted is negative polarity: "no conflict" is status False.
        let status = type_ != ConditionType::Conflicted;
        Desired::new(type_, status, reason, message)
    }

    pub fn fail(type_: ConditionType, reason: Reason, message: impl Into<String>) -> Self {
        Desired::new(type_, false, reason, message)
    }
}

fn status_str(status: bool) -> &'static str {
    if status { "True" } else { "False" }
}

/// Stamps `desired` into conditions, in the given order. `lastTransitionTime` follows
/// apimachinery's `SetStatusCondition`: the stored time is kept when a stored condition of the
/// same type has the same status, otherwise it is `now`. Every condition carries
/// `observedGeneration = generation`.
pub fn materialize(
    stored: &[Condition],
    desired: Vec<Desired>,
    generation: i64,
    now: Timestamp,
) -> Vec<Condition> {
    desired
        .into_iter()
        .map(|d| {
            let status = status_str(d.status);
            let time = stored
                .iter()
                .find(|c| c.type_ == d.type_.as_str() && c.status == status)
                .map(|c| c.last_transition_time.clone())
                .unwrap_or(Time(now));
            Condition {
                last_transition_time: time,
                message: d.message,
                observed_generation: Some(generation),
                reason: d.reason.as_str().to_string(),
                status: status.to_string(),
                type_: d.type_.as_str().to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(type_: &str, status: &str, second: i64) -> Condition {
        Condition {
            last_transition_time: Time(Timestamp::from_second(second).expect("valid time")),
            message: String::new(),
            observed_generation: Some(1),
            reason: "Whatever".into(),
            status: status.into(),
            type_: type_.into(),
        }
    }

    #[test]
    fn last_transition_time_kept_only_when_status_unchanged() {
        let now = Timestamp::from_second(1000).expect("valid time");
        struct Case {
            name: &'static str,
            stored: Vec<Condition>,
            desired: Desired,
            expected_second: i64,
        }
        let cases = [
            Case {
                name: "same status keeps time (reason change does not matter)",
                stored: vec![stored("Accepted", "True", 10)],
                desired: Desired::ok(ConditionType::Accepted, "ok"),
                expected_second: 10,
            },
            Case {
                name: "status flips",
                stored: vec![stored("Accepted", "False", 10)],
                desired: Desired::ok(ConditionType::Accepted, "ok"),
                expected_second: 1000,
            },
            Case {
                name: "no stored condition of that type",
                stored: vec![stored("Programmed", "True", 10)],
                desired: Desired::ok(ConditionType::Accepted, "ok"),
                expected_second: 1000,
            },
            Case {
                name: "Unknown pending becomes True",
                stored: vec![stored("Accepted", "Unknown", 0)],
                desired: Desired::ok(ConditionType::Accepted, "ok"),
                expected_second: 1000,
            },
        ];
        for case in cases {
            let out = materialize(&case.stored, vec![case.desired], 7, now);
            assert_eq!(out.len(), 1, "{}", case.name);
            assert_eq!(
                out[0].last_transition_time.0.as_second(),
                case.expected_second,
                "{}",
                case.name
            );
            assert_eq!(out[0].observed_generation, Some(7), "{}", case.name);
        }
    }

    #[test]
    fn conflicted_ok_is_false_no_conflicts() {
        let d = Desired::ok(ConditionType::Conflicted, "");
        assert!(!d.status);
        assert_eq!(d.reason, Reason::NoConflicts);
    }
}
