//! Build facts for `gwsim version`: the git commit, from `GWSIM_COMMIT` when set (release
//! builds from a tarball), else from `git rev-parse` (one quick process), else `unknown`.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=GWSIM_COMMIT");
    let commit = std::env::var("GWSIM_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=GWSIM_COMMIT={commit}");
}

/// The short commit of HEAD; the build script reruns when HEAD
/// or the branch it points to moves.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "--git-path", "HEAD"])?;
    println!("cargo:rerun-if-changed={head}");
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(path) = git(&["rev-parse", "--git-path", &branch])
    {
        println!("cargo:rerun-if-changed={path}");
    }
    git(&["rev-parse", "--short=12", "HEAD"])
}
