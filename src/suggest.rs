//! "Did you mean": the closest of a set of names to what the user wrote.

/// The candidate closest to `wanted`, when it is close enough to be a likely misspelling:
/// compared case-insensitively, by edit distance, or as a part of a longer name.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted_lower = wanted.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let lower = candidate.to_lowercase();
        let mut distance = strsim::levenshtein(&lower, &wanted_lower);
        // A part of the name typed (`MethodMatch` for `HTTPRouteMethodMatching`).
        if wanted_lower.chars().count() >= 4 && lower.contains(&wanted_lower) {
            distance = distance.min(2);
        }
        // At most a third of the name may differ.
        let bound = wanted.chars().count().max(candidate.chars().count()) / 3;
        if distance <= bound.max(1) && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// ` (did you mean X?)`, or nothing.
pub fn did_you_mean<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match closest(wanted, candidates) {
        Some(c) => format!("; did you mean {c}?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_misspellings_and_nothing_far_off() {
        let names = [
            "HTTPRouteSimpleSameNamespace",
            "HTTPRouteMethodMatching",
            "GatewayTLS",
        ];
        assert_eq!(
            closest("HTTPRouteMethodMatchng", names),
            Some("HTTPRouteMethodMatching")
        );
        assert_eq!(closest("gatewaytls", names), Some("GatewayTLS"));
        assert_eq!(closest("NoSuchTest", names), None);
        assert_eq!(
            closest("MethodMatching", names),
            Some("HTTPRouteMethodMatching")
        );
        // A longer name that contains a candidate is not that candidate.
        assert_eq!(
            closest(
                "HTTPRouteQueryParamMatchng",
                ["HTTPRoute", "HTTPRouteQueryParamMatching"]
            ),
            Some("HTTPRouteQueryParamMatching")
        );
        assert_eq!(did_you_mean("Bogus", names), "");
    }
}
