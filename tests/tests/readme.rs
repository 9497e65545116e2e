//! The README's commands are the ones the suite runs: every `scripts/…` command
//! in its shell blocks is run by CI (`.ci/run` runs `scripts/test.sh`, which
//! runs `install.sh` into a scratch prefix and, through `check-run.sh`, `run.sh`
//! with no UI toolchain), so a newcomer's first commands are tested ones.

use std::path::Path;

fn read(root: &Path, file: &str) -> String {
    std::fs::read_to_string(root.join(file)).unwrap_or_else(|err| panic!("{file}: {err}"))
}

/// The scripts the README's ```sh blocks run.
fn readme_scripts(readme: &str) -> Vec<String> {
    let mut in_shell = false;
    let mut scripts = Vec::new();
    for line in readme.lines() {
        match line.trim() {
            "```sh" => in_shell = true,
            "```" => in_shell = false,
            command if in_shell && command.starts_with("scripts/") => {
                let script = command.split_whitespace().next().unwrap_or_default();
                if !scripts.iter().any(|s| s == script) {
                    scripts.push(script.to_owned());
                }
            }
            _ => {}
        }
    }
    scripts
}

#[test]
fn every_command_the_readme_gives_is_one_the_suite_runs() {
    let root = tests::workspace_root();
    let scripts = readme_scripts(&read(&root, "README.md"));
    for expected in ["scripts/install.sh", "scripts/run.sh", "scripts/test.sh"] {
        assert!(scripts.iter().any(|s| s == expected), "the README gives {expected}: {scripts:?}");
    }
    // Who runs each: CI runs test.sh; test.sh and the scripts it calls run the rest.
    let ci = read(&root, ".ci/run");
    let suite = format!("{}{}", read(&root, "scripts/test.sh"), read(&root, "scripts/check-run.sh"));
    // Benchmarks are not tests (BENCHMARKS.md): run by hand, never in CI.
    for script in scripts.iter().filter(|s| *s != "scripts/bench.sh") {
        let run_by = if script == "scripts/test.sh" { &ci } else { &suite };
        assert!(
            run_by.lines().any(|line| !line.trim_start().starts_with('#') && line.contains(script.as_str())),
            "{script} is in the README but no test runs it"
        );
    }
}

#[test]
fn the_readme_commands_are_found_in_its_shell_blocks_only() {
    let text =
        "run `scripts/nope.sh` here\n```sh\nscripts/run.sh --bind x\nscripts/run.sh\n```\nscripts/not.sh\n";
    assert_eq!(readme_scripts(text), ["scripts/run.sh"]);
}
