//! The `--config` TOML file: its settings become `--key=value` arguments
//! for whatever neither a flag nor an environment variable set, so every
//! value goes through its flag's own parser.

use std::ffi::OsString;
use std::path::Path;

use clap::ArgMatches;
use clap::parser::ValueSource;

/// The `--key=value` arguments the config file at `path` adds to the
/// subcommand `name`: one for each key whose setting came from neither the
/// command line nor the environment.
pub fn flags_from_config_file(
    cli: &clap::Command,
    name: &str,
    matches: &ArgMatches,
    path: &Path,
) -> Result<Vec<OsString>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read the config file {shown}: {error}"))?;
    let table: toml::Table = text.parse().map_err(|error: toml::de::Error| {
        let line = error.span().map_or(String::new(), |span| {
            format!(" line {}", line_of(&text, span.start))
        });
        format!(
            "the config file {shown}{line} is not valid TOML: {}",
            error.message().trim_end()
        )
    })?;
    let (Some(serve), Some(this)) = (cli.find_subcommand("serve"), cli.find_subcommand(name))
    else {
        return Ok(Vec::new());
    };
    let by_long = |command: &clap::Command, long: &str| {
        command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(long))
            .cloned()
    };
    let mut flags = Vec::new();
    for (key, value) in &table {
        let long = key.replace('_', "-");
        let at = format!("{shown} line {}", key_line(&text, key));
        if matches!(long.as_str(), "config" | "help" | "version") {
            return Err(format!("{at}: `{key}` cannot be set in a config file"));
        }
        if by_long(serve, &long).is_none() {
            let known: Vec<&str> = serve.get_arguments().filter_map(|a| a.get_long()).collect();
            let suggestion = nearest_key(&long, &known)
                .map_or(String::new(), |near| format!("did you mean `{near}`? "));
            return Err(format!(
                "{at}: unknown key `{key}` ({suggestion}the keys are the long flags of `lockstep serve --help`)"
            ));
        }
        // A setting of `serve` that this subcommand does not have.
        let Some(arg) = by_long(this, &long) else {
            continue;
        };
        if matches!(
            matches.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let value_text = config_value_text(key, value, arg.get_value_delimiter())
            .map_err(|message| format!("{at}: {message}"))?;
        check_config_value(&arg, &value_text)
            .map_err(|reason| format!("{at}: `{key} = {value}`: {reason}"))?;
        flags.push(OsString::from(format!("--{long}={value_text}")));
    }
    Ok(flags)
}

/// Runs `text` through the flag's own value parser (each item for a list),
/// so that a bad value is reported with the file and line rather than as a
/// flag nobody typed.
fn check_config_value(arg: &clap::Arg, text: &str) -> Result<(), String> {
    let items: Vec<&str> = match arg.get_value_delimiter() {
        Some(delimiter) => text.split(delimiter).collect(),
        None => vec![text],
    };
    // The flag alone, on a command of its own: `parse_ref` is not public.
    let alone = clap::Command::new("lockstep")
        .no_binary_name(true)
        .arg(arg.clone().required(false).env(None::<&str>));
    let long = arg.get_long().unwrap_or_default();
    for item in items {
        alone
            .clone()
            .try_get_matches_from([format!("--{long}={item}")])
            .map_err(|error| {
                let rendered = error.to_string();
                let first = rendered.lines().next().unwrap_or_default();
                let reason = first.strip_prefix("error: ").unwrap_or(first);
                // "invalid value 'x' for '--flag <V>': why" → "why", the
                // flag being the key the file already names.
                match reason.split_once("': ") {
                    Some((_, why)) if reason.starts_with("invalid value") => {
                        format!("invalid value: {why}")
                    }
                    _ => reason.to_owned(),
                }
            })?;
    }
    Ok(())
}

/// The 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.get(..at)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

/// The line on which the top-level `key` is set (1 if not found).
fn key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            let rest = line
                .strip_prefix(key)
                .or_else(|| line.strip_prefix(&format!("\"{key}\"")))
                .or_else(|| line.strip_prefix(&format!("'{key}'")));
            rest.is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(1, |index| index + 1)
}

/// The known key closest to `key`, if one is close enough to be a typo.
fn nearest_key<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|candidate| (strsim::jaro_winkler(key, candidate), *candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// A TOML value as the text a flag would take. Arrays are allowed for
/// flags that take a list (joined with their delimiter).
fn config_value_text(
    key: &str,
    value: &toml::Value,
    delimiter: Option<char>,
) -> Result<String, String> {
    let scalar = |value: &toml::Value| match value {
        toml::Value::String(text) => Ok(text.clone()),
        toml::Value::Integer(number) => Ok(number.to_string()),
        toml::Value::Float(number) => Ok(number.to_string()),
        toml::Value::Boolean(flag) => Ok(flag.to_string()),
        toml::Value::Datetime(at) => Ok(at.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            Err(format!("`{key}` takes a single value, not a list or table"))
        }
    };
    match (value, delimiter) {
        (toml::Value::Array(items), Some(delimiter)) => {
            let items = items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?;
            Ok(items.join(&delimiter.to_string()))
        }
        (value, _) => scalar(value),
    }
}
