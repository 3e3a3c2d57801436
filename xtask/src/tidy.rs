//! Architecture checks: the pure crates stay pure.
//!
//! The check reads `cargo tree -p CRATE -e normal --prefix depth`, not Cargo.lock: the lock file
//! lists every optional dependency any member enables (a test's `kube` with the client features
//! makes the lock say `kube -> kube-client` for everyone), and it does not tell normal from dev
//! edges. `cargo tree` resolves features for the selected crate alone and follows only the
//! edges a build of that crate uses.

use std::process::Command;

/// Crates that do no I/O of their own and must never pull in a runtime or a network client.
pub const PURE: [&str; 2] = ["gwsim-engine", "gwsim-sim"];
/// What they must never depend on, even indirectly.
const FORBIDDEN: [&str; 6] = ["tokio", "hyper", "reqwest", "kube-client", "mio", "h2"];

/// `cargo tree`'s normal dependencies of `krate`, one `DEPTH NAME vVERSION ...` line each.
pub fn normal_tree(cargo: &str, krate: &str) -> Result<String, String> {
    let output = Command::new(cargo)
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "depth",
        ])
        .args(["--format", "{p}", "-p", krate])
        .output()
        .map_err(|e| format!("cannot run {cargo} tree: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{cargo} tree -p {krate} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("cargo tree output: {e}"))
}

/// One message per forbidden crate `root` reaches in `tree` (the output of [`normal_tree`]),
/// with the path to it. `cargo tree` prints a crate's dependencies once and marks later
/// appearances `(*)`, so every crate reached is on some line.
pub fn forbidden_in(root: &str, tree: &str) -> Vec<String> {
    let mut problems = Vec::new();
    // The chain of names from the root to the current line, by depth.
    let mut path: Vec<String> = Vec::new();
    for line in tree.lines() {
        let digits = line.chars().take_while(char::is_ascii_digit).count();
        let Ok(depth) = line[..digits].parse::<usize>() else {
            continue;
        };
        let name = line[digits..]
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        path.truncate(depth);
        path.push(name.clone());
        if FORBIDDEN.contains(&name.as_str()) {
            let problem = format!("{root} depends on {name}: {}", path.join(" -> "));
            if !problems.contains(&problem) {
                problems.push(problem);
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cargo() -> String {
        std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
    }

    #[test]
    fn engine_and_sim_stay_pure() {
        for root in PURE {
            let tree = normal_tree(&cargo(), root).expect("cargo tree runs");
            assert!(
                tree.starts_with(&format!("0{root} v")),
                "not the tree of {root}: {tree}"
            );
            assert_eq!(forbidden_in(root, &tree), Vec::<String>::new());
        }
    }

    #[test]
    fn the_binary_does_reach_a_runtime() {
        // The same reading of a crate that really uses tokio and kube's client finds them: the
        // check is not vacuous on this workspace's real output.
        let tree = normal_tree(&cargo(), "gwsim-live").expect("cargo tree runs");
        let problems = forbidden_in("gwsim-live", &tree);
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("gwsim-live depends on tokio: ")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("gwsim-live depends on kube-client: gwsim-live -> ")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_forbidden_dependency_is_found_through_others() {
        let tree = "\
0gwsim-engine v0.1.0 (/w/engine)
1serde v1.0.0
2serde_derive v1.0.0
1helper v1.0.0
2kube v4.2.0
3kube-client v4.2.0
4tokio v1.0.0
1other v1.0.0
";
        assert_eq!(
            forbidden_in("gwsim-engine", tree),
            [
                "gwsim-engine depends on kube-client: gwsim-engine -> helper -> kube -> kube-client",
                "gwsim-engine depends on tokio: gwsim-engine -> helper -> kube -> kube-client -> tokio",
            ]
        );
        assert_eq!(
            forbidden_in("gwsim-engine", "0gwsim-engine v0.1.0\n1serde v1.0.0\n"),
            Vec::<String>::new()
        );
    }
}
