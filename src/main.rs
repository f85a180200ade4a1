fn main() {
    std::process::exit(dq::cli::main());
}
