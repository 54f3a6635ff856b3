//! The `arachne` command line: see `arachne crawl --help`.

fn main() -> std::process::ExitCode {
    arachne::cli::main()
}
