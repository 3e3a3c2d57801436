//! The `message` of every `x-kubernetes-validations` rule under `spec` of the
//! experimental-channel CRDs gwsim models, as (kind, schema path, message), in the CRDs' order.
//! Taken from the v1.6.1 CRDs; v1.5.1's are identical (docs/versions.md). These are interface
//! facts: the API server writes them verbatim, so gwsim must too.

pub(super) const CRD_RULE_MESSAGES: &[(&str, &str, &str)] = &[
    (
        "GatewayClass",
        ".spec.controllerName",
        r#"Value is immutable"#,
    ),
    (
        "Gateway",
        ".spec.addresses",
        r#"IPAddress values must be unique"#,
    ),
    (
        "Gateway",
        ".spec.addresses",
        r#"Hostname values must be unique"#,
    ),
    (
        "Gateway",
        ".spec.addresses[]",
        r#"Hostname value must be empty or contain only valid characters (matching ^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$)"#,
    ),
    (
        "Gateway",
        ".spec.infrastructure.annotations",
        r#"Annotation keys must be in the form of an optional DNS subdomain prefix followed by a required name segment of up to 63 characters."#,
    ),
    (
        "Gateway",
        ".spec.infrastructure.annotations",
        r#"If specified, the annotation key's prefix must be a DNS subdomain not longer than 253 characters in total."#,
    ),
    (
        "Gateway",
        ".spec.infrastructure.labels",
        r#"Label keys must be in the form of an optional DNS subdomain prefix followed by a required name segment of up to 63 characters."#,
    ),
    (
        "Gateway",
        ".spec.infrastructure.labels",
        r#"If specified, the label key's prefix must be a DNS subdomain not longer than 253 characters in total."#,
    ),
    (
        "Gateway",
        ".spec.listeners",
        r#"tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"#,
    ),
    (
        "Gateway",
        ".spec.listeners",
        r#"tls mode must be Terminate for protocol HTTPS"#,
    ),
    (
        "Gateway",
        ".spec.listeners",
        r#"tls mode must be set for protocol TLS"#,
    ),
    (
        "Gateway",
        ".spec.listeners",
        r#"hostname must not be specified for protocols ['TCP', 'UDP']"#,
    ),
    (
        "Gateway",
        ".spec.listeners",
        r#"Listener name must be unique within the Gateway"#,
    ),
    (
        "Gateway",
        ".spec.listeners",
        r#"Combination of port, protocol and hostname must be unique for each listener"#,
    ),
    (
        "Gateway",
        ".spec.listeners[].tls",
        r#"certificateRefs or options must be specified when mode is Terminate"#,
    ),
    (
        "Gateway",
        ".spec.tls.frontend.perPort",
        r#"Port for TLS configuration must be unique within the Gateway"#,
    ),
    (
        "ListenerSet",
        ".spec.listeners",
        r#"tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"#,
    ),
    (
        "ListenerSet",
        ".spec.listeners",
        r#"tls mode must be Terminate for protocol HTTPS"#,
    ),
    (
        "ListenerSet",
        ".spec.listeners",
        r#"tls mode must be set for protocol TLS"#,
    ),
    (
        "ListenerSet",
        ".spec.listeners",
        r#"hostname must not be specified for protocols ['TCP', 'UDP']"#,
    ),
    (
        "ListenerSet",
        ".spec.listeners",
        r#"Listener name must be unique within the Gateway"#,
    ),
    (
        "ListenerSet",
        ".spec.listeners",
        r#"Combination of port, protocol and hostname must be unique for each listener"#,
    ),
    (
        "ListenerSet",
        ".spec.listeners[].tls",
        r#"certificateRefs or options must be specified when mode is Terminate"#,
    ),
    (
        "HTTPRoute",
        ".spec.parentRefs",
        r#"sectionName or port must be specified when parentRefs includes 2 or more references to the same parent"#,
    ),
    (
        "HTTPRoute",
        ".spec.parentRefs",
        r#"sectionName or port must be unique when parentRefs includes 2 or more references to the same parent"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules",
        r#"While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules",
        r#"Rule name must be unique within the route"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[]",
        r#"RequestRedirect filter must not be used together with backendRefs"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[]",
        r#"When using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[]",
        r#"When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[]",
        r#"Within backendRefs, when using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[]",
        r#"Within backendRefs, When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[]",
        r#"Must have port for Service reference"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters",
        r#"May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters",
        r#"CORS filter cannot be repeated"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters",
        r#"RequestHeaderModifier filter cannot be repeated"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters",
        r#"ResponseHeaderModifier filter cannot be repeated"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters",
        r#"RequestRedirect filter cannot be repeated"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters",
        r#"URLRewrite filter cannot be repeated"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.cors must be nil if the filter.type is not CORS"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.cors must be specified for CORS filter.type"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.requestHeaderModifier must be nil if the filter.type is not RequestHeaderModifier"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.requestHeaderModifier must be specified for RequestHeaderModifier filter.type"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.responseHeaderModifier must be nil if the filter.type is not ResponseHeaderModifier"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.responseHeaderModifier must be specified for ResponseHeaderModifier filter.type"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.requestMirror must be nil if the filter.type is not RequestMirror"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.requestMirror must be specified for RequestMirror filter.type"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.requestRedirect must be nil if the filter.type is not RequestRedirect"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.requestRedirect must be specified for RequestRedirect filter.type"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.urlRewrite must be nil if the filter.type is not URLRewrite"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.urlRewrite must be specified for URLRewrite filter.type"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.extensionRef must be nil if the filter.type is not ExtensionRef"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.extensionRef must be specified for ExtensionRef filter.type"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.externalAuth must be nil if the filter.type is not ExternalAuth"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.externalAuth must be specified for ExternalAuth filter.type"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].cors.allowHeaders",
        r#"AllowHeaders cannot contain '*' alongside other methods"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].cors.allowMethods",
        r#"AllowMethods cannot contain '*' alongside other methods"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].cors.allowOrigins",
        r#"AllowOrigins cannot contain '*' alongside other origins"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].externalAuth",
        r#"grpc must be specified when protocol is set to 'GRPC'"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].externalAuth",
        r#"protocol must be 'GRPC' when grpc is set"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].externalAuth",
        r#"http must be specified when protocol is set to 'HTTP'"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].externalAuth",
        r#"protocol must be 'HTTP' when http is set"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].externalAuth.backendRef",
        r#"Must have port for Service reference"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].requestMirror",
        r#"Only one of percent or fraction may be specified in HTTPRequestMirrorFilter"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].requestMirror.backendRef",
        r#"Must have port for Service reference"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].requestMirror.fraction",
        r#"numerator must be less than or equal to denominator"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].requestRedirect.path",
        r#"replaceFullPath must be specified when type is set to 'ReplaceFullPath'"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].requestRedirect.path",
        r#"type must be 'ReplaceFullPath' when replaceFullPath is set"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].requestRedirect.path",
        r#"replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].requestRedirect.path",
        r#"type must be 'ReplacePrefixMatch' when replacePrefixMatch is set"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].urlRewrite.path",
        r#"replaceFullPath must be specified when type is set to 'ReplaceFullPath'"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].urlRewrite.path",
        r#"type must be 'ReplaceFullPath' when replaceFullPath is set"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].urlRewrite.path",
        r#"replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].backendRefs[].filters[].urlRewrite.path",
        r#"type must be 'ReplacePrefixMatch' when replacePrefixMatch is set"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters",
        r#"May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters",
        r#"CORS filter cannot be repeated"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters",
        r#"RequestHeaderModifier filter cannot be repeated"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters",
        r#"ResponseHeaderModifier filter cannot be repeated"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters",
        r#"RequestRedirect filter cannot be repeated"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters",
        r#"URLRewrite filter cannot be repeated"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[]",
        r#"filter.cors must be nil if the filter.type is not CORS"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[]",
        r#"filter.cors must be specified for CORS filter.type"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[]",
        r#"filter.requestHeaderModifier must be nil if the filter.type is not RequestHeaderModifier"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[]",
        r#"filter.requestHeaderModifier must be specified for RequestHeaderModifier filter.type"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[]",
        r#"filter.responseHeaderModifier must be nil if the filter.type is not ResponseHeaderModifier"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[]",
        r#"filter.responseHeaderModifier must be specified for ResponseHeaderModifier filter.type"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[]",
        r#"filter.requestMirror must be nil if the filter.type is not RequestMirror"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[]",
        r#"filter.requestMirror must be specified for RequestMirror filter.type"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[]",
        r#"filter.requestRedirect must be nil if the filter.type is not RequestRedirect"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[]",
        r#"filter.requestRedirect must be specified for RequestRedirect filter.type"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[]",
        r#"filter.urlRewrite must be nil if the filter.type is not URLRewrite"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[]",
        r#"filter.urlRewrite must be specified for URLRewrite filter.type"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[]",
        r#"filter.extensionRef must be nil if the filter.type is not ExtensionRef"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[]",
        r#"filter.extensionRef must be specified for ExtensionRef filter.type"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[]",
        r#"filter.externalAuth must be nil if the filter.type is not ExternalAuth"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[]",
        r#"filter.externalAuth must be specified for ExternalAuth filter.type"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].cors.allowHeaders",
        r#"AllowHeaders cannot contain '*' alongside other methods"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].cors.allowMethods",
        r#"AllowMethods cannot contain '*' alongside other methods"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].cors.allowOrigins",
        r#"AllowOrigins cannot contain '*' alongside other origins"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].externalAuth",
        r#"grpc must be specified when protocol is set to 'GRPC'"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].externalAuth",
        r#"protocol must be 'GRPC' when grpc is set"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].externalAuth",
        r#"http must be specified when protocol is set to 'HTTP'"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].externalAuth",
        r#"protocol must be 'HTTP' when http is set"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].externalAuth.backendRef",
        r#"Must have port for Service reference"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].requestMirror",
        r#"Only one of percent or fraction may be specified in HTTPRequestMirrorFilter"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].requestMirror.backendRef",
        r#"Must have port for Service reference"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].requestMirror.fraction",
        r#"numerator must be less than or equal to denominator"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].requestRedirect.path",
        r#"replaceFullPath must be specified when type is set to 'ReplaceFullPath'"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].requestRedirect.path",
        r#"type must be 'ReplaceFullPath' when replaceFullPath is set"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].requestRedirect.path",
        r#"replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].requestRedirect.path",
        r#"type must be 'ReplacePrefixMatch' when replacePrefixMatch is set"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].urlRewrite.path",
        r#"replaceFullPath must be specified when type is set to 'ReplaceFullPath'"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].urlRewrite.path",
        r#"type must be 'ReplaceFullPath' when replaceFullPath is set"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].urlRewrite.path",
        r#"replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].filters[].urlRewrite.path",
        r#"type must be 'ReplacePrefixMatch' when replacePrefixMatch is set"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].matches[].path",
        r#"value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].matches[].path",
        r#"must not contain '//' when type one of ['Exact', 'PathPrefix']"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].matches[].path",
        r#"must not contain '/./' when type one of ['Exact', 'PathPrefix']"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].matches[].path",
        r#"must not contain '/../' when type one of ['Exact', 'PathPrefix']"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].matches[].path",
        r#"must not contain '%2f' when type one of ['Exact', 'PathPrefix']"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].matches[].path",
        r#"must not contain '%2F' when type one of ['Exact', 'PathPrefix']"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].matches[].path",
        r#"must not contain '#' when type one of ['Exact', 'PathPrefix']"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].matches[].path",
        r#"must not end with '/..' when type one of ['Exact', 'PathPrefix']"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].matches[].path",
        r#"must not end with '/.' when type one of ['Exact', 'PathPrefix']"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].matches[].path",
        r#"type must be one of ['Exact', 'PathPrefix', 'RegularExpression']"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].matches[].path",
        r#"must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].sessionPersistence",
        r#"AbsoluteTimeout must be specified when cookie lifetimeType is Permanent"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].sessionPersistence",
        r#"cookieConfig can only be set with type Cookie"#,
    ),
    (
        "HTTPRoute",
        ".spec.rules[].timeouts",
        r#"backendRequest timeout cannot be longer than request timeout"#,
    ),
    (
        "GRPCRoute",
        ".spec.parentRefs",
        r#"sectionName or port must be specified when parentRefs includes 2 or more references to the same parent"#,
    ),
    (
        "GRPCRoute",
        ".spec.parentRefs",
        r#"sectionName or port must be unique when parentRefs includes 2 or more references to the same parent"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules",
        r#"While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules",
        r#"Rule name must be unique within the route"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].backendRefs[]",
        r#"Must have port for Service reference"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].backendRefs[].filters",
        r#"RequestHeaderModifier filter cannot be repeated"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].backendRefs[].filters",
        r#"ResponseHeaderModifier filter cannot be repeated"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.requestHeaderModifier must be nil if the filter.type is not RequestHeaderModifier"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.requestHeaderModifier must be specified for RequestHeaderModifier filter.type"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.responseHeaderModifier must be nil if the filter.type is not ResponseHeaderModifier"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.responseHeaderModifier must be specified for ResponseHeaderModifier filter.type"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.requestMirror must be nil if the filter.type is not RequestMirror"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.requestMirror must be specified for RequestMirror filter.type"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.extensionRef must be nil if the filter.type is not ExtensionRef"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].backendRefs[].filters[]",
        r#"filter.extensionRef must be specified for ExtensionRef filter.type"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].backendRefs[].filters[].requestMirror",
        r#"Only one of percent or fraction may be specified in HTTPRequestMirrorFilter"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].backendRefs[].filters[].requestMirror.backendRef",
        r#"Must have port for Service reference"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].backendRefs[].filters[].requestMirror.fraction",
        r#"numerator must be less than or equal to denominator"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].filters",
        r#"RequestHeaderModifier filter cannot be repeated"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].filters",
        r#"ResponseHeaderModifier filter cannot be repeated"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].filters[]",
        r#"filter.requestHeaderModifier must be nil if the filter.type is not RequestHeaderModifier"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].filters[]",
        r#"filter.requestHeaderModifier must be specified for RequestHeaderModifier filter.type"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].filters[]",
        r#"filter.responseHeaderModifier must be nil if the filter.type is not ResponseHeaderModifier"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].filters[]",
        r#"filter.responseHeaderModifier must be specified for ResponseHeaderModifier filter.type"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].filters[]",
        r#"filter.requestMirror must be nil if the filter.type is not RequestMirror"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].filters[]",
        r#"filter.requestMirror must be specified for RequestMirror filter.type"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].filters[]",
        r#"filter.extensionRef must be nil if the filter.type is not ExtensionRef"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].filters[]",
        r#"filter.extensionRef must be specified for ExtensionRef filter.type"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].filters[].requestMirror",
        r#"Only one of percent or fraction may be specified in HTTPRequestMirrorFilter"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].filters[].requestMirror.backendRef",
        r#"Must have port for Service reference"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].filters[].requestMirror.fraction",
        r#"numerator must be less than or equal to denominator"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].matches[].method",
        r#"One or both of 'service' or 'method' must be specified"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].matches[].method",
        r#"service must only contain valid characters (matching ^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$)"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].matches[].method",
        r#"method must only contain valid characters (matching ^[A-Za-z_][A-Za-z_0-9]*$)"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].sessionPersistence",
        r#"AbsoluteTimeout must be specified when cookie lifetimeType is Permanent"#,
    ),
    (
        "GRPCRoute",
        ".spec.rules[].sessionPersistence",
        r#"cookieConfig can only be set with type Cookie"#,
    ),
    (
        "BackendTLSPolicy",
        ".spec.targetRefs",
        r#"sectionName must be specified when targetRefs includes 2 or more references to the same target"#,
    ),
    (
        "BackendTLSPolicy",
        ".spec.targetRefs",
        r#"sectionName must be unique when targetRefs includes 2 or more references to the same target"#,
    ),
    (
        "BackendTLSPolicy",
        ".spec.validation",
        r#"must not contain both CACertificateRefs and WellKnownCACertificates"#,
    ),
    (
        "BackendTLSPolicy",
        ".spec.validation",
        r#"must specify either CACertificateRefs or WellKnownCACertificates"#,
    ),
    (
        "BackendTLSPolicy",
        ".spec.validation.subjectAltNames[]",
        r#"SubjectAltName element must contain Hostname, if Type is set to Hostname"#,
    ),
    (
        "BackendTLSPolicy",
        ".spec.validation.subjectAltNames[]",
        r#"SubjectAltName element must not contain Hostname, if Type is not set to Hostname"#,
    ),
    (
        "BackendTLSPolicy",
        ".spec.validation.subjectAltNames[]",
        r#"SubjectAltName element must contain URI, if Type is set to URI"#,
    ),
    (
        "BackendTLSPolicy",
        ".spec.validation.subjectAltNames[]",
        r#"SubjectAltName element must not contain URI, if Type is not set to URI"#,
    ),
];
