//! Architecture checks over Cargo.lock: the pure crates stay pure.

use std::collections::{BTreeMap, BTreeSet};

/// Crates that do no I/O of their own and must never pull in a runtime or a network client.
const PURE: [&str; 2] = ["gwsim-engine", "gwsim-sim"];
/// What they must never depend on, even indirectly.
const FORBIDDEN: [&str; 6] = ["tokio", "hyper", "reqwest", "kube-client", "mio", "h2"];

/// Every package of the lock file with its dependencies' names.
fn packages(lock: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut name: Option<String> = None;
    let mut in_deps = false;
    for line in lock.lines() {
        let line = line.trim();
        if line == "[[package]]" {
            name = None;
            in_deps = false;
        } else if let Some(n) = line.strip_prefix("name = ") {
            let n = n.trim_matches('"').to_string();
            out.entry(n.clone()).or_default();
            name = Some(n);
        } else if line.starts_with("dependencies = [") {
            in_deps = true;
        } else if in_deps && line == "]" {
            in_deps = false;
        } else if in_deps && let Some(n) = &name {
            // `"name"` or `"name version"`.
            let dep = line.trim_matches(|c| c == '"' || c == ',');
            let dep = dep.split(' ').next().unwrap_or(dep).to_string();
            out.entry(n.clone()).or_default().push(dep);
        }
    }
    out
}

/// One message per pure crate that reaches a forbidden one, with the path.
pub fn pure_crates(lock: &str) -> Vec<String> {
    let packages = packages(lock);
    let mut problems = Vec::new();
    for root in PURE {
        let mut seen = BTreeSet::new();
        let mut stack = vec![(root.to_string(), vec![root.to_string()])];
        while let Some((name, path)) = stack.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            if FORBIDDEN.contains(&name.as_str()) {
                problems.push(format!("{root} depends on {name}: {}", path.join(" -> ")));
                continue;
            }
            for dep in packages.get(&name).into_iter().flatten() {
                let mut next = path.clone();
                next.push(dep.clone());
                stack.push((dep.clone(), next));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_and_sim_stay_pure() {
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))
            .expect("Cargo.lock");
        assert_eq!(pure_crates(&lock), Vec::<String>::new());
    }

    #[test]
    fn a_forbidden_dependency_is_found_through_others() {
        let lock = r#"
[[package]]
name = "gwsim-engine"
dependencies = [
 "serde",
 "helper 1.0.0",
]

[[package]]
name = "helper"
dependencies = [
 "tokio",
]

[[package]]
name = "tokio"
"#;
        assert_eq!(
            pure_crates(lock),
            [
                "gwsim-engine depends on tokio: gwsim-engine -> helper 1.0.0 -> tokio"
                    .replace(" 1.0.0", "")
            ]
        );
    }
}
