//! Records the git revision the binary was built from (`MXCENSUS_GIT_REVISION`), so every
//! snapshot's manifest names the exact code that measured it. A `-dirty` suffix marks
//! uncommitted changes. Outside a git checkout (a crates.io tarball, say) nothing is set and
//! the manifest says `null`. An explicit `MXCENSUS_GIT_REVISION` in the environment wins
//! (for builds from a source archive whose revision is known).
use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=MXCENSUS_GIT_REVISION");
    if std::env::var_os("MXCENSUS_GIT_REVISION").is_some() {
        return;
    }
    let Some(top) = git(&["rev-parse", "--show-toplevel"]) else {
        return;
    };
    let git_dir = Path::new(&top).join(".git");
    for watched in ["HEAD", "index", "refs/heads"] {
        let path = git_dir.join(watched);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let Some(rev) = git(&["rev-parse", "HEAD"]) else {
        return;
    };
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    let suffix = if dirty { "-dirty" } else { "" };
    println!("cargo:rustc-env=MXCENSUS_GIT_REVISION={rev}{suffix}");
}
