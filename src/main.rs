//! The `mcpgw` command; all logic lives in the library.

fn main() -> std::process::ExitCode {
    mcpgw::run()
}
