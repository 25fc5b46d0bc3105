//! The `dispatcher` binary: a thin wrapper around [`dispatcher::cli`].

fn main() -> std::process::ExitCode {
    dispatcher::cli::main()
}
