//! Which Gateway API release admission behaves as, and which kinds and versions that release
//! serves.
//!
//! gwsim admits as a cluster with the experimental-channel CRDs of one release installed: v1.6.1
//! by default, v1.5.1 on request. The schema differences between the two are in
//! docs/versions.md; each is marked where the schema is built (`version.rs` callers match on
//! [`GatewayApiVersion`]).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::object::GATEWAY_GROUP;

/// The group of the experimental-only `X` kinds (XBackendTrafficPolicy, XMesh, XBackend).
pub const GATEWAY_X_GROUP: &str = "gateway.networking.x-k8s.io";

/// A Gateway API release whose experimental-channel CRDs admission reproduces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum GatewayApiVersion {
    /// v1.5.1.
    #[serde(rename = "v1.5")]
    V1_5,
    /// v1.6.1, the latest release: the default.
    #[default]
    #[serde(rename = "v1.6")]
    V1_6,
}

impl GatewayApiVersion {
    /// Every supported release, oldest first.
    pub const ALL: [GatewayApiVersion; 2] = [GatewayApiVersion::V1_5, GatewayApiVersion::V1_6];

    /// `v1.6`: how the release is selected on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayApiVersion::V1_5 => "v1.5",
            GatewayApiVersion::V1_6 => "v1.6",
        }
    }

    /// `v1.6.1`: the exact release whose CRDs the rules follow.
    pub fn release(self) -> &'static str {
        match self {
            GatewayApiVersion::V1_5 => "v1.5.1",
            GatewayApiVersion::V1_6 => "v1.6.1",
        }
    }

    /// What the release serves for a Gateway API `group/version` and kind. `None` when the
    /// group is not a Gateway API group (the caller treats such kinds as other groups do).
    pub fn serves(self, group: &str, version: &str, kind: &str) -> Option<Served> {
        let versions: &[&str] = match (group, kind) {
            (GATEWAY_GROUP, "GatewayClass" | "Gateway" | "HTTPRoute" | "ReferenceGrant") => {
                &["v1", "v1beta1"]
            }
            (GATEWAY_GROUP, "GRPCRoute" | "ListenerSet") => &["v1"],
            (GATEWAY_GROUP, "BackendTLSPolicy") => &["v1", "v1alpha3"],
            (GATEWAY_GROUP, "TLSRoute") => &["v1", "v1alpha2", "v1alpha3"],
            (GATEWAY_GROUP, "TCPRoute" | "UDPRoute") => match self {
                // v1.6.0 promoted TCPRoute and UDPRoute to v1; v1alpha2 stays served in the
                // experimental channel.
                GatewayApiVersion::V1_5 => &["v1alpha2"],
                GatewayApiVersion::V1_6 => &["v1", "v1alpha2"],
            },
            (GATEWAY_X_GROUP, "XBackendTrafficPolicy" | "XMesh") => &["v1alpha1"],
            (GATEWAY_X_GROUP, "XBackend") => match self {
                GatewayApiVersion::V1_5 => &[],
                GatewayApiVersion::V1_6 => &["v1alpha1"],
            },
            (GATEWAY_GROUP | GATEWAY_X_GROUP, _) => &[],
            _ => return None,
        };
        Some(if versions.contains(&version) {
            Served::Yes
        } else {
            Served::NoMatch
        })
    }
}

/// Whether a release serves a kind at a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    Yes,
    /// No CRD of the release serves it: kubectl refuses the document before sending it.
    NoMatch,
}

impl fmt::Display for GatewayApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A release name that gwsim has no rule set for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unsupported Gateway API version {0:?}: use v1.5 or v1.6")]
pub struct UnknownVersion(pub String);

impl FromStr for GatewayApiVersion {
    type Err = UnknownVersion;

    /// `v1.6`, `1.6` and `v1.6.1` all select v1.6.1 (likewise for v1.5).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix('v').unwrap_or(s) {
            "1.5" | "1.5.1" => Ok(GatewayApiVersion::V1_5),
            "1.6" | "1.6.1" => Ok(GatewayApiVersion::V1_6),
            _ => Err(UnknownVersion(s.to_string())),
        }
    }
}

/// Settings of admission: the API server gwsim stands in for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AdmissionOptions {
    /// The Gateway API release whose CRDs are installed.
    pub gateway_api_version: GatewayApiVersion,
}

impl AdmissionOptions {
    pub fn new(gateway_api_version: GatewayApiVersion) -> Self {
        AdmissionOptions {
            gateway_api_version,
        }
    }
}

/// `group/version` split as Kubernetes does: no slash means the core group.
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}
