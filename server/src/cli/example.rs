//! The commented configuration file `lockstep init` writes: every setting
//! of `lockstep serve`, its explanation, its environment variable and its
//! default, all commented out so that the file changes nothing until a line
//! is uncommented. Generated from the command-line definition, so a new
//! flag appears here by itself (a test keeps the file complete and
//! parseable).

use std::fmt::Write as _;

/// Settings without a default, and the example value shown for each.
const EXAMPLES: &[(&str, &str)] = &[
    ("redis-url", "\"redis://127.0.0.1:6379\""),
    // Too short on purpose: uncommented as is, `serve` refuses it and says
    // how to generate a real one, rather than running on a published secret.
    ("jwt-secret", "\"run: openssl rand -hex 32\""),
    ("allowed-origins", "[\"https://app.example.com\"]"),
];

/// Flags that are not settings.
const NOT_SETTINGS: &[&str] = &["config", "help", "version"];

/// Comment lines are wrapped at this width.
const WIDTH: usize = 78;

/// The example file for `serve` (a subcommand of `cli`).
pub fn example_config(cli: &clap::Command) -> String {
    let mut out = String::from(
        "# Lockstep configuration: `lockstep serve --config lockstep.toml`.\n\
         #\n\
         # Keys are the long flags of `lockstep serve` (see `lockstep serve --help`).\n\
         # Precedence, highest first: command-line flag, environment variable, this\n\
         # file, built-in default. Every setting below is commented out and shows its\n\
         # default (or, where there is none, an example): uncomment what you change.\n\
         # `lockstep migrate` and `lockstep token` read their own keys from the same file.\n",
    );
    let Some(serve) = cli.find_subcommand("serve") else {
        return out;
    };
    for arg in serve.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if NOT_SETTINGS.contains(&long) {
            continue;
        }
        out.push('\n');
        let help = arg
            .get_long_help()
            .or_else(|| arg.get_help())
            .map(ToString::to_string)
            .unwrap_or_default();
        for paragraph in help.split("\n\n") {
            wrap_comment(&mut out, &paragraph.replace('\n', " "));
        }
        if let Some(env) = arg.get_env() {
            let _ = writeln!(out, "# Environment variable: {}", env.to_string_lossy());
        }
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|value| value.to_string_lossy().into_owned())
            .collect();
        let value = if defaults.is_empty() {
            EXAMPLES
                .iter()
                .find(|(key, _)| *key == long)
                .map_or_else(|| "\"\"".to_owned(), |(_, example)| (*example).to_owned())
        } else if arg.get_value_delimiter().is_some() {
            let items: Vec<String> = defaults
                .iter()
                .flat_map(|value| value.split(arg.get_value_delimiter().unwrap_or(',')))
                .map(toml_scalar)
                .collect();
            format!("[{}]", items.join(", "))
        } else {
            toml_scalar(&defaults.join(","))
        };
        let _ = writeln!(out, "# {long} = {value}");
    }
    out
}

/// A default value as TOML: numbers and booleans bare, anything else a
/// quoted string.
fn toml_scalar(text: &str) -> String {
    if text.parse::<i64>().is_ok() || matches!(text, "true" | "false") {
        return text.to_owned();
    }
    toml::Value::String(text.to_owned()).to_string()
}

/// Appends `text` as `# `-prefixed lines of at most [`WIDTH`] characters.
fn wrap_comment(out: &mut String, text: &str) {
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > WIDTH && line.len() > 1 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    if line.len() > 1 {
        out.push_str(&line);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::{Cli, Command, ServeArgs};
    use crate::config::ServeConfig;

    fn example() -> String {
        example_config(&Cli::command())
    }

    /// The settings lines of the example, uncommented.
    fn uncommented(text: &str) -> String {
        text.lines()
            .filter_map(|line| line.strip_prefix("# "))
            .filter(|line| {
                line.split_once(" = ")
                    .is_some_and(|(key, _)| !key.is_empty() && !key.contains(' '))
            })
            .map(|line| format!("{line}\n"))
            .collect()
    }

    #[test]
    fn the_example_names_every_setting_of_serve() {
        let text = example();
        let settings = uncommented(&text);
        let cli = Cli::command();
        let serve = cli.find_subcommand("serve").expect("serve");
        for arg in serve.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if NOT_SETTINGS.contains(&long) {
                continue;
            }
            assert!(
                settings
                    .lines()
                    .any(|line| line.starts_with(&format!("{long} = "))),
                "`{long}` is missing from the example config:\n{text}"
            );
            if let Some(env) = arg.get_env() {
                assert!(text.contains(&*env.to_string_lossy()), "{long}: no env var");
            }
        }
    }

    #[test]
    fn the_example_parses_as_is_and_with_every_line_uncommented() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = |text: &str| {
            let path = dir.path().join("lockstep.toml");
            std::fs::write(&path, text).expect("write");
            let cli = Cli::try_parse_with_config_file([
                "lockstep".as_ref(),
                "serve".as_ref(),
                "--config".as_ref(),
                path.as_os_str(),
            ])
            .unwrap_or_else(|error| panic!("{error}\n{text}"));
            match cli.command {
                Command::Serve(args) => ServeConfig::from(args),
                other => panic!("not serve: {other:?}"),
            }
        };
        let text = example();
        let as_is = run(&text);
        assert!(as_is.dev_mode, "everything is commented out");

        let settings = uncommented(&text);
        let all = run(&settings);
        // The uncommented defaults are the defaults.
        let defaults = ServeConfig::from(ServeArgs::defaults());
        assert_eq!(all.bind, defaults.bind);
        assert_eq!(all.database_url, defaults.database_url);
        assert_eq!(all.limits, defaults.limits);
        assert_eq!(all.heartbeat_interval, defaults.heartbeat_interval);
        assert_eq!(all.call_ring_timeout, defaults.call_ring_timeout);
        assert_eq!(all.log_format, defaults.log_format);
        assert!(!all.dev_mode, "the example secret configures one");
        assert!(
            all.jwt_secret.is_weak(),
            "the placeholder secret is refused by `serve` until replaced"
        );
        assert_eq!(all.redis_url.as_deref(), Some("redis://127.0.0.1:6379"));
    }
}
