//! The GATEWAY-HTTP conformance profile: which features are core and which extended, and how a
//! test is counted (as upstream's report does it: a test belongs to the profile when all its
//! features are in the profile, and is core when all are core features).

/// Core features of GATEWAY-HTTP.
pub const CORE: &[&str] = &["Gateway", "HTTPRoute", "ReferenceGrant"];

/// Extended features of GATEWAY-HTTP: the Gateway and HTTPRoute extended sets and the
/// BackendTLSPolicy features.
pub const EXTENDED: &[&str] = &[
    "BackendTLSPolicy",
    "BackendTLSPolicySANValidation",
    "GatewayAddressEmpty",
    "GatewayBackendClientCertificate",
    "GatewayFrontendClientCertificateValidation",
    "GatewayFrontendClientCertificateValidationInsecureFallback",
    "GatewayHTTPListenerIsolation",
    "GatewayHTTPSListenerDetectMisdirectedRequests",
    "GatewayInfrastructurePropagation",
    "GatewayPort8080",
    "GatewayStaticAddresses",
    "HTTPRoute303RedirectStatusCode",
    "HTTPRoute307RedirectStatusCode",
    "HTTPRoute308RedirectStatusCode",
    "HTTPRouteBackendProtocolH2C",
    "HTTPRouteBackendProtocolWebSocket",
    "HTTPRouteBackendRequestHeaderModification",
    "HTTPRouteBackendRequestRedirect",
    "HTTPRouteBackendTimeout",
    "HTTPRouteBackendURLRewrite",
    "HTTPRouteCORS",
    "HTTPRouteDestinationPortMatching",
    "HTTPRouteHostRewrite",
    "HTTPRouteMethodMatching",
    "HTTPRouteNamedRouteRule",
    "HTTPRouteParentRefPort",
    "HTTPRoutePathRedirect",
    "HTTPRoutePathRewrite",
    "HTTPRoutePortRedirect",
    "HTTPRouteQueryParamMatching",
    "HTTPRouteRequestMirror",
    "HTTPRouteRequestMultipleMirrors",
    "HTTPRouteRequestPercentageMirror",
    "HTTPRouteRequestTimeout",
    "HTTPRouteResponseHeaderModification",
    "HTTPRouteRetry",
    "HTTPRouteRetryBackendTimeout",
    "HTTPRouteRetryConnectionError",
    "HTTPRouteSchemeRedirect",
    "ListenerSet",
];

/// The profile's name in reports.
pub const PROFILE: &str = "GATEWAY-HTTP";

/// Where a test counts in the GATEWAY-HTTP profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Core,
    Extended,
    /// Some feature is outside the profile: the test runs but is not counted.
    Outside,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Core => "core",
            Level::Extended => "extended",
            Level::Outside => "outside the profile",
        }
    }
}

/// Classifies a test by its features.
pub fn level(features: &[String]) -> Level {
    if features.iter().all(|f| CORE.contains(&f.as_str())) {
        Level::Core
    } else if features
        .iter()
        .all(|f| CORE.contains(&f.as_str()) || EXTENDED.contains(&f.as_str()))
    {
        Level::Extended
    } else {
        Level::Outside
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn classifies_tests_as_upstream_reports_do() {
        assert_eq!(level(&names(&["Gateway", "HTTPRoute"])), Level::Core);
        assert_eq!(level(&names(&["Gateway"])), Level::Core);
        assert_eq!(
            level(&names(&["Gateway", "HTTPRoute", "HTTPRouteMethodMatching"])),
            Level::Extended
        );
        assert_eq!(
            level(&names(&["Gateway", "HTTPRoute", "TLSRoute"])),
            Level::Outside
        );
    }

    #[test]
    fn extended_list_is_sorted_and_disjoint_from_core() {
        let mut sorted = EXTENDED.to_vec();
        sorted.sort();
        assert_eq!(sorted, EXTENDED);
        assert!(EXTENDED.iter().all(|f| !CORE.contains(f)));
    }
}
