//! `backstage config print` and `backstage config check`, run as real processes in scratch
//! directories with a controlled environment.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

/// Exit code, stdout and stderr of one run.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `backstage ARGS` in `cwd` with only `env` (plus PATH) in the environment.
fn backstage(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_backstage"));
    command.args(args).current_dir(cwd).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.envs(env.iter().copied());
    let output = command.output().expect("the backstage binary runs");
    Run {
        code: output
            .status
            .code()
            .expect("exited normally, not by a signal"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let root = dir.path().canonicalize().expect("a canonical path");
    (dir, root)
}

fn write(root: &Path, relative: &str, text: &str) -> PathBuf {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create parent directories");
    }
    fs::write(&path, text).expect("write a scratch file");
    path
}

fn print_json(cwd: &Path, extra: &[&str], env: &[(&str, &str)]) -> Value {
    let mut args = vec!["config", "print", "--format", "json"];
    args.extend_from_slice(extra);
    let run = backstage(cwd, &args, env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).expect("the output is JSON")
}

#[test]
fn print_merges_default_files_and_environment() {
    let (_dir, root) = scratch();
    write(
        &root,
        "app-config.yaml",
        "app:\n  title: ${TITLE}\n  port: 3000\nbackend:\n  listen: 7007\n",
    );
    write(&root, "app-config.production.yaml", "app:\n  port: 443\n");
    write(
        &root,
        "app-config.local.yaml",
        "backend:\n  listen: { port: 8080 }\n",
    );
    let value = print_json(
        &root,
        &[],
        &[
            ("TITLE", "Portal"),
            ("BACKSTAGE_ENV", "production"),
            ("APP_CONFIG_backend_baseUrl", "http://localhost:8080"),
        ],
    );
    assert_eq!(
        value,
        json!({
            "app": { "title": "Portal", "port": 443 },
            "backend": { "listen": { "port": 8080 }, "baseUrl": "http://localhost:8080" }
        })
    );
}

#[test]
fn print_masks_secrets() {
    let (_dir, root) = scratch();
    write(
        &root,
        "app-config.yaml",
        "backend:\n  database:\n    connection:\n      user: me\n      password: hunter2\n  \
         auth:\n    keys:\n      - secret: abc\nintegrations:\n  github:\n    - host: github.com\n      \
         token: ghp_x\nauth:\n  providers:\n    google:\n      development:\n        clientSecret: cs\n",
    );
    let run = backstage(&root, &["config", "print"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for secret in ["hunter2", "abc", "ghp_x", "cs"] {
        assert!(
            !run.stdout.contains(secret),
            "{secret} leaked:\n{}",
            run.stdout
        );
    }
    assert!(run.stdout.contains("user: me"), "{}", run.stdout);
    assert!(run.stdout.contains("password: <secret>"), "{}", run.stdout);
    let value = print_json(&root, &[], &[]);
    assert_eq!(
        value["backend"]["auth"]["keys"],
        json!([{ "secret": "<secret>" }])
    );
    assert_eq!(
        value["auth"]["providers"]["google"]["development"]["clientSecret"],
        "<secret>"
    );
}

#[test]
fn print_yaml_round_trips() {
    let (_dir, root) = scratch();
    write(
        &root,
        "app-config.yaml",
        "a:\n  list: [1, two, null, true]\n  s: 'yes'\n  n: '017'\n",
    );
    let run = backstage(&root, &["config", "print"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    write(&root, "printed.yaml", &run.stdout);
    let again = print_json(&root, &["--config", "printed.yaml"], &[]);
    assert_eq!(
        again,
        json!({ "a": { "list": [1, "two", null, true], "s": "yes", "n": "017" } })
    );
}

#[test]
fn config_flags_replace_the_defaults_in_order() {
    let (_dir, root) = scratch();
    write(&root, "app-config.yaml", "a: default\n");
    write(&root, "conf/one.yaml", "a: one\nb: one\n");
    write(&root, "conf/two.yaml", "a: two\n");
    let value = print_json(
        &root,
        &["--config", "conf/one.yaml", "--config", "conf/two.yaml"],
        &[],
    );
    assert_eq!(value, json!({ "a": "two", "b": "one" }));
}

#[test]
fn a_missing_default_file_fails_with_exit_1() {
    let (_dir, root) = scratch();
    for sub in ["print", "check"] {
        let run = backstage(&root, &["config", sub], &[]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert_eq!(
            run.stderr.trim_end(),
            format!(
                "backstage: error: Config file \"{}\" does not exist",
                root.join("app-config.yaml").display()
            )
        );
    }
}

#[test]
fn check_accepts_a_good_config() {
    let (_dir, root) = scratch();
    write(
        &root,
        "app-config.yaml",
        "backend:\n  baseUrl: http://localhost:7007\n  listen:\n    port: 7007\n",
    );
    let run = backstage(
        &root,
        &["config", "check"],
        &[("APP_CONFIG_app_title", "x")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim_end(), "config OK (app-config.yaml, env)");
}

#[test]
fn check_reports_errors_in_files_with_file_and_key() {
    let (_dir, root) = scratch();
    write(
        &root,
        "app-config.yaml",
        "app:\n  secret:\n    $file: missing.txt\n",
    );
    let run = backstage(&root, &["config", "check"], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "Failed to read config file at \"{}\", error at .app.secret, failed to read file missing.txt",
            root.join("app-config.yaml").display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn check_reports_bad_listen_and_base_url() {
    let (_dir, root) = scratch();
    write(
        &root,
        "app-config.yaml",
        "backend:\n  listen: '::1:8080'\n  baseUrl: not a url\n",
    );
    let run = backstage(&root, &["config", "check"], &[]);
    assert_eq!(run.code, 1);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "backstage: error: backend.listen in 'app-config.yaml': Unable to parse listen address ::1:8080, expected <port> or <host>:<port>",
            "backstage: error: backend.baseUrl in 'app-config.yaml' is not a valid URL: \"not a url\" (relative URL without a base)",
        ]
    );

    write(&root, "app-config.yaml", "backend:\n  listen: 7007\n");
    let run = backstage(&root, &["config", "check"], &[]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.trim_end(),
        "backstage: error: Invalid type in config for key 'backend.listen' in 'app-config.yaml', got number, wanted object"
    );
}

#[test]
fn check_reports_bad_environment_overrides() {
    let (_dir, root) = scratch();
    write(&root, "app-config.yaml", "a: 1\n");
    let run = backstage(
        &root,
        &["config", "check"],
        &[("APP_CONFIG_backend__x", "1")],
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.trim_end(),
        "backstage: error: Invalid env config key 'backend__x'"
    );
}

#[test]
fn a_bad_format_is_a_usage_error() {
    let (_dir, root) = scratch();
    let run = backstage(&root, &["config", "print", "--format", "xml"], &[]);
    assert_eq!(run.code, 2);
}
