//! The operator's side of the command line: its definition ([`args`]),
//! what each subcommand does ([`run`]), the commented example configuration `lockstep init`
//! writes ([`example`]), shell completions and the man page.

pub mod args;
pub mod example;
mod run;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, CommandFactory};

use crate::failure::Failure;

pub use args::{Cli, Command, MigrateArgs, ServeArgs, TokenArgs};
pub use run::run;

/// `lockstep init`.
#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Where to write the configuration file; `-` prints it instead.
    #[arg(long, short, value_name = "PATH", default_value = "lockstep.toml")]
    pub output: PathBuf,

    /// Overwrite the file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `lockstep completions`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Writes the commented example configuration (see [`example`]).
pub fn init(args: &InitArgs) -> Result<(), Failure> {
    let text = example::example_config(&Cli::command());
    if args.output.as_os_str() == "-" {
        print!("{text}");
        return Ok(());
    }
    let path = &args.output;
    let shown = path.display();
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let written = options
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()));
    match written {
        Ok(()) => {
            println!(
                "wrote {shown}: every setting, commented out with its default; \
                 start with `lockstep serve --config {shown}`"
            );
            Ok(())
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Err(Failure {
            problem: format!("{shown} already exists"),
            hint: "pass --force to overwrite it, or --output another path (`-` prints it)"
                .to_owned(),
        }),
        Err(error) => Err(Failure {
            problem: format!("cannot write {shown}: {error}"),
            hint: "choose another path with --output (`-` prints the file)".to_owned(),
        }),
    }
}

/// Prints the completion script for a shell.
pub fn completions(args: &CompletionsArgs) {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    clap_complete::generate(args.shell, &mut command, name, &mut std::io::stdout());
}

/// Prints the man page (roff) of `lockstep` and its subcommands.
pub fn man() -> std::io::Result<()> {
    let command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(command.clone()).render(&mut out)?;
    for sub in command.get_subcommands() {
        clap_mangen::Man::new(sub.clone())
            .title(format!("lockstep-{}", sub.get_name()))
            .render(&mut out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion_script(shell: clap_complete::Shell) -> String {
        let mut command = Cli::command();
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut command, "lockstep", &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn completions_cover_the_subcommands_and_flags() {
        use clap::ValueEnum;
        for shell in clap_complete::Shell::value_variants() {
            let script = completion_script(*shell);
            for word in ["serve", "migrate", "token", "init", "database-url"] {
                assert!(script.contains(word), "{shell}: no {word}");
            }
        }
    }

    #[test]
    fn init_refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().expect("tempdir");
        let output = dir.path().join("lockstep.toml");
        let args = InitArgs {
            output: output.clone(),
            force: false,
        };
        init(&args).expect("first write");
        let written = std::fs::read_to_string(&output).expect("read");
        assert!(written.contains("# heartbeat-interval = 25"), "{written}");
        let again = init(&args).expect_err("exists");
        assert!(again.to_string().contains("--force"), "{again}");
        init(&InitArgs {
            output,
            force: true,
        })
        .expect("forced");
    }
}
