//! The conformance profiles gwsim implements, as data: each profile's core and extended
//! features, and how a test is counted in it (as upstream's report does it: a test belongs to a
//! profile when all its features are in the profile's core and extended sets, and is core when
//! all are core features). A test that needs only Gateway features belongs to every GATEWAY-
//! profile; the MESH- profiles take tests of the mesh's features.

/// A conformance profile: its name and feature sets, as upstream's suite defines them
/// (conformance/utils/suite/profiles.go): a few core features and a union of extended
/// feature groups.
#[derive(Debug, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    /// Core features, sorted.
    pub core: &'static [&'static str],
    /// Extended features: upstream's feature groups, each sorted, together disjoint from
    /// `core`.
    pub extended: &'static [&'static [&'static str]],
}

// --- upstream's feature groups (pkg/features) ---

/// GatewayExtendedFeatures, ListenerSet included: every GATEWAY- profile takes it in.
const GATEWAY_EXTENDED: &[&str] = &[
    "GatewayAddressEmpty",
    "GatewayBackendClientCertificate",
    "GatewayFrontendClientCertificateValidation",
    "GatewayFrontendClientCertificateValidationInsecureFallback",
    "GatewayHTTPListenerIsolation",
    "GatewayHTTPSListenerDetectMisdirectedRequests",
    "GatewayInfrastructurePropagation",
    "GatewayPort8080",
    "GatewayStaticAddresses",
    "ListenerSet",
];

/// BackendTLSPolicyCoreFeatures and BackendTLSPolicyExtendedFeatures: extended in
/// GATEWAY-HTTP, GATEWAY-GRPC and GATEWAY-TLS.
const BACKEND_TLS_POLICY: &[&str] = &["BackendTLSPolicy", "BackendTLSPolicySANValidation"];

/// HTTPRouteExtendedFeatures.
const HTTPROUTE_EXTENDED: &[&str] = &[
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
];

/// TLSRouteExtendedFeatures: TLSRoute's two modes beyond Passthrough.
const TLSROUTE_EXTENDED: &[&str] = &["TLSRouteModeMixed", "TLSRouteModeTerminate"];

/// MeshExtendedFeatures, which both mesh profiles take in.
const MESH_EXTENDED: &[&str] = &[
    "MeshClusterIPMatching",
    "MeshConsumerRoute",
    "MeshHTTPRouteBackendRequestHeaderModification",
    "MeshHTTPRouteNamedRouteRule",
    "MeshHTTPRouteQueryParamMatching",
    "MeshHTTPRouteRedirectPath",
    "MeshHTTPRouteRedirectPort",
    "MeshHTTPRouteRewritePath",
    "MeshHTTPRouteSchemeRedirect",
];

// --- the profiles ---

/// GATEWAY-HTTP: Gateways with HTTPRoutes.
pub const GATEWAY_HTTP: Profile = Profile {
    name: "GATEWAY-HTTP",
    core: &["Gateway", "HTTPRoute", "ReferenceGrant"],
    extended: &[GATEWAY_EXTENDED, HTTPROUTE_EXTENDED, BACKEND_TLS_POLICY],
};

/// GATEWAY-GRPC: Gateways with GRPCRoutes. Upstream leaves GRPCRoute's own extended features
/// (GRPCRouteNamedRouteRule, GRPCRouteRequestHeaderModifier) out of every profile.
pub const GATEWAY_GRPC: Profile = Profile {
    name: "GATEWAY-GRPC",
    core: &["GRPCRoute", "Gateway", "ReferenceGrant"],
    extended: &[GATEWAY_EXTENDED, BACKEND_TLS_POLICY],
};

/// GATEWAY-TLS: Gateways with TLSRoutes.
pub const GATEWAY_TLS: Profile = Profile {
    name: "GATEWAY-TLS",
    core: &["Gateway", "ReferenceGrant", "TLSRoute"],
    extended: &[GATEWAY_EXTENDED, TLSROUTE_EXTENDED, BACKEND_TLS_POLICY],
};

/// GATEWAY-TCP: Gateways with TCPRoutes. Upstream lists TCPRoute in both sets (it is the
/// only member of TCPRouteExtendedFeatures); here it is core only, which counts the same.
pub const GATEWAY_TCP: Profile = Profile {
    name: "GATEWAY-TCP",
    core: &["Gateway", "ReferenceGrant", "TCPRoute"],
    extended: &[GATEWAY_EXTENDED],
};

/// GATEWAY-UDP: Gateways with UDPRoutes (UDPRoute likewise core only).
pub const GATEWAY_UDP: Profile = Profile {
    name: "GATEWAY-UDP",
    core: &["Gateway", "ReferenceGrant", "UDPRoute"],
    extended: &[GATEWAY_EXTENDED],
};

/// MESH-HTTP: HTTPRoutes attached to Services (GAMMA). HTTPRoute's own extended features are
/// not in it (upstream's profiles.go), so mesh tests that need one count in no profile.
pub const MESH_HTTP: Profile = Profile {
    name: "MESH-HTTP",
    core: &["HTTPRoute", "Mesh"],
    extended: &[MESH_EXTENDED],
};

/// MESH-GRPC: GRPCRoutes attached to Services (GAMMA).
pub const MESH_GRPC: Profile = Profile {
    name: "MESH-GRPC",
    core: &["GRPCRoute", "Mesh"],
    extended: &[MESH_EXTENDED],
};

/// Every profile gwsim implements, in report order.
pub const PROFILES: &[&Profile] = &[
    &GATEWAY_HTTP,
    &GATEWAY_GRPC,
    &GATEWAY_TLS,
    &GATEWAY_TCP,
    &GATEWAY_UDP,
    &MESH_HTTP,
    &MESH_GRPC,
];

/// The profiles `names` names, in the order given, each once; no names: every profile. An
/// unknown name is an error that lists the known ones.
pub fn select(names: &[String]) -> Result<Vec<&'static Profile>, String> {
    if names.is_empty() {
        return Ok(PROFILES.to_vec());
    }
    let mut out: Vec<&'static Profile> = Vec::new();
    for name in names {
        let profile = PROFILES
            .iter()
            .copied()
            .find(|p| p.name.eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| {
                let known: Vec<&str> = PROFILES.iter().map(|p| p.name).collect();
                format!(
                    "--profile {name}: not a profile gwsim implements; known profiles: {}",
                    known.join(", ")
                )
            })?;
        if !out.contains(&profile) {
            out.push(profile);
        }
    }
    Ok(out)
}

impl Profile {
    /// The profile's extended features, group by group.
    pub fn extended_features(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.extended.iter().flat_map(|group| group.iter().copied())
    }

    /// Whether `feature` is one of the profile's extended features.
    pub fn is_extended(&self, feature: &str) -> bool {
        self.extended_features().any(|f| f == feature)
    }

    /// Where a test with these features counts in this profile.
    pub fn level(&self, features: &[String]) -> Level {
        let core = |f: &String| self.core.contains(&f.as_str());
        if features.iter().all(core) {
            Level::Core
        } else if features.iter().all(|f| core(f) || self.is_extended(f)) {
            Level::Extended
        } else {
            Level::Outside
        }
    }
}

/// Core features of GATEWAY-HTTP.
pub const CORE: &[&str] = GATEWAY_HTTP.core;

/// GATEWAY-HTTP's name in reports.
pub const PROFILE: &str = GATEWAY_HTTP.name;

/// Where a test counts in a profile.
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
            Level::Outside => "outside the profiles",
        }
    }
}

/// Classifies a test by its features in GATEWAY-HTTP.
pub fn level(features: &[String]) -> Level {
    GATEWAY_HTTP.level(features)
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
    fn feature_lists_are_sorted_and_extended_is_disjoint_from_core() {
        for p in PROFILES {
            for list in std::iter::once(p.core).chain(p.extended.iter().copied()) {
                let mut sorted = list.to_vec();
                sorted.sort();
                assert_eq!(sorted, list, "{}", p.name);
            }
            assert!(
                p.extended_features().all(|f| !p.core.contains(&f)),
                "{}",
                p.name
            );
            let mut all: Vec<&str> = p.extended_features().collect();
            let n = all.len();
            all.sort();
            all.dedup();
            assert_eq!(all.len(), n, "{}: a feature in two groups", p.name);
        }
    }

    #[test]
    fn listener_set_tests_count_in_every_gateway_profile() {
        let set = names(&["Gateway", "ListenerSet"]);
        for p in PROFILES {
            let want = match p.name.starts_with("GATEWAY-") {
                true => Level::Extended,
                false => Level::Outside,
            };
            assert_eq!(p.level(&set), want, "{}", p.name);
        }
        // ListenerSetAllowedRoutesSupportedKinds needs TLSRoute: GATEWAY-TLS only.
        let tls = names(&["Gateway", "ListenerSet", "TLSRoute"]);
        assert_eq!(GATEWAY_TLS.level(&tls), Level::Extended);
        assert_eq!(GATEWAY_HTTP.level(&tls), Level::Outside);
    }

    #[test]
    fn mesh_tests_count_in_the_mesh_profiles_only() {
        let basic = names(&["Mesh"]);
        assert_eq!(MESH_HTTP.level(&basic), Level::Core);
        assert_eq!(MESH_GRPC.level(&basic), Level::Core);
        assert_eq!(GATEWAY_HTTP.level(&basic), Level::Outside);
        let query = names(&["Mesh", "HTTPRoute", "MeshHTTPRouteQueryParamMatching"]);
        assert_eq!(MESH_HTTP.level(&query), Level::Extended);
        assert_eq!(MESH_GRPC.level(&query), Level::Outside);
        // An HTTPRoute extended feature puts a mesh test in no profile (MeshPorts).
        let ports = names(&["Mesh", "HTTPRoute", "HTTPRouteParentRefPort"]);
        assert!(PROFILES.iter().all(|p| p.level(&ports) == Level::Outside));
        // Gateway-only tests are not mesh tests.
        assert_eq!(MESH_HTTP.level(&names(&["Gateway"])), Level::Outside);
    }

    #[test]
    fn gateway_only_tests_count_in_every_gateway_profile() {
        let gateway = names(&["Gateway"]);
        let port = names(&["Gateway", "GatewayPort8080"]);
        for p in PROFILES.iter().filter(|p| p.name.starts_with("GATEWAY-")) {
            assert_eq!(p.level(&gateway), Level::Core, "{}", p.name);
            assert_eq!(p.level(&port), Level::Extended, "{}", p.name);
        }
        let grpc = names(&["Gateway", "GRPCRoute"]);
        assert_eq!(GATEWAY_GRPC.level(&grpc), Level::Core);
        assert_eq!(GATEWAY_HTTP.level(&grpc), Level::Outside);
        // GRPCRoute's extended features are in no profile, as upstream's.
        let named = names(&["Gateway", "GRPCRoute", "GRPCRouteNamedRouteRule"]);
        assert!(PROFILES.iter().all(|p| p.level(&named) == Level::Outside));
        assert_eq!(
            GATEWAY_GRPC.level(&names(&["Gateway", "HTTPRoute"])),
            Level::Outside
        );
        // TCP and UDP: their route is core, ListenerSet extended, the other's route outside.
        let tcp = names(&["Gateway", "TCPRoute"]);
        let udp_grant = names(&["Gateway", "ReferenceGrant", "UDPRoute"]);
        assert_eq!(GATEWAY_TCP.level(&tcp), Level::Core);
        assert_eq!(GATEWAY_UDP.level(&udp_grant), Level::Core);
        assert_eq!(GATEWAY_TCP.level(&udp_grant), Level::Outside);
        assert_eq!(GATEWAY_HTTP.level(&tcp), Level::Outside);
        let set = names(&["Gateway", "ListenerSet"]);
        assert_eq!(GATEWAY_TCP.level(&set), Level::Extended);
        assert_eq!(GATEWAY_UDP.level(&set), Level::Extended);
    }

    #[test]
    fn profiles_are_selected_by_name() {
        assert_eq!(select(&[]), Ok(PROFILES.to_vec()));
        let grpc = select(&names(&["gateway-grpc", "GATEWAY-GRPC"])).expect("known");
        assert_eq!(grpc, vec![&GATEWAY_GRPC]);
        let err = select(&names(&["GATEWAY-QUIC"])).expect_err("not a profile");
        assert!(
            err.contains("GATEWAY-QUIC")
                && err.contains("GATEWAY-HTTP, GATEWAY-GRPC, GATEWAY-TLS, GATEWAY-TCP, GATEWAY-UDP, MESH-HTTP, MESH-GRPC"),
            "{err}"
        );
        let mesh = select(&names(&["mesh-http", "MESH-GRPC"])).expect("known");
        assert_eq!(mesh, vec![&MESH_HTTP, &MESH_GRPC]);
    }
}
