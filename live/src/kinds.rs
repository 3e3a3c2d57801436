//! The kinds gwsim models, as the API server serves them.

use gwsim_engine::object::Kind;
use kube::api::{ApiResource, GroupVersionKind};

/// The resource of `kind` in the version gwsim writes (`gateway.networking.k8s.io/v1`, ...).
pub fn api_resource(kind: Kind) -> ApiResource {
    let (group, version) = match kind.api_version().split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", kind.api_version()),
    };
    let plural = match kind {
        Kind::Namespace => "namespaces",
        Kind::GatewayClass => "gatewayclasses",
        Kind::Gateway => "gateways",
        Kind::ListenerSet => "listenersets",
        Kind::HttpRoute => "httproutes",
        Kind::GrpcRoute => "grpcroutes",
        Kind::TlsRoute => "tlsroutes",
        Kind::TcpRoute => "tcproutes",
        Kind::UdpRoute => "udproutes",
        Kind::ReferenceGrant => "referencegrants",
        Kind::BackendTlsPolicy => "backendtlspolicies",
        Kind::Service => "services",
        Kind::EndpointSlice => "endpointslices",
        Kind::Deployment => "deployments",
        Kind::Pod => "pods",
        Kind::Secret => "secrets",
        Kind::ConfigMap => "configmaps",
    };
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, version, kind.as_str()),
        plural,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_group_version_and_plural() {
        let route = api_resource(Kind::HttpRoute);
        assert_eq!(route.api_version, "gateway.networking.k8s.io/v1");
        assert_eq!(route.plural, "httproutes");
        let service = api_resource(Kind::Service);
        assert_eq!(
            (service.group.as_str(), service.version.as_str()),
            ("", "v1")
        );
        assert_eq!(api_resource(Kind::EndpointSlice).group, "discovery.k8s.io");
        for kind in Kind::ALL {
            let resource = api_resource(kind);
            assert_eq!(resource.kind, kind.as_str());
            assert!(resource.plural.ends_with('s'), "{kind}");
        }
    }
}
